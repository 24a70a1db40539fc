"""Bilinear warps of whole batches, compiled with XLA, for the pipelines' per-epoch augmentation.

Why: after the decoding is cached, the random warp is most of what an epoch's
input costs, and the input shares the CPU with the training step. TF's
`ImageProjectiveTransformV3` evaluates every output value on its own
(projection, four bounds-checked reads, per channel): about 0.17 ms per
80x80 food view on one core. The same bilinear sampling written as tensor
ops and compiled by XLA (`tf.function(jit_compile=True)`, which runs inside
`tf.data` maps) fuses into one loop: about 0.04 ms (measured in a tf.data
map on one private thread; docs/benchmarks.md).

Both functions take `transforms` `(B, 8)` in TF's convention: output pixel
`(x, y)` (pixel centres at integers) samples input point
`((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)` with `k = c0 x + c1 y + 1`.
Bilinear: `(1 - fy) ((1 - fx) v00 + fx v01) + fy ((1 - fx) v10 + fx v11)`.

`warp_images` takes a batch `(B, H, W, C)`, float32 or uint8 (converted
after the gather, so only the samples are converted); neighbours beyond the
border are reflected (half-sample symmetric: `-1 -> 0`, `W -> W - 1`;
once, so exact within an image size of the border), read 0, or read the
nearest border pixel.

XLA compiles once per distinct input shape (about 0.1 s). The food
pipeline's batches all have one shape; the hand pipeline pads its windows
to multiples of 16 pixels, so that its batches take a handful of shapes.
"""

import tensorflow as tf


def _sample_points(transforms, size):
    """The input points `(x, y)`, each `(B, S, S)`, that the `size` x `size` output pixels sample."""
    ys, xs = tf.meshgrid(tf.range(size, dtype=tf.float32), tf.range(size, dtype=tf.float32), indexing="ij")
    t = tf.cast(transforms, tf.float32)[:, :, None, None]
    k = t[:, 6] * xs + t[:, 7] * ys + 1.0
    return (t[:, 0] * xs + t[:, 1] * ys + t[:, 2]) / k, (t[:, 3] * xs + t[:, 4] * ys + t[:, 5]) / k


def _bilinear(x, y, tap):
    """Bilinear interpolation at points `(x, y)` from `tap(row, col)` -> values `(..., C)` float32."""
    x0, y0 = tf.floor(x), tf.floor(y)
    fx, fy = (x - x0)[..., None], (y - y0)[..., None]
    x0, y0 = tf.cast(x0, tf.int32), tf.cast(y0, tf.int32)
    x1, y1 = x0 + 1, y0 + 1
    top = tap(y0, x0) * (1.0 - fx) + tap(y0, x1) * fx
    bottom = tap(y1, x0) * (1.0 - fx) + tap(y1, x1) * fx
    return top * (1.0 - fy) + bottom * fy


def _reflect(index, length):
    """Half-sample symmetric reflection of integer indices into [0, length), once at each border.

    Exact for indices within `length` of the image (a crop rotated inside
    its image never samples farther out); farther ones read the border
    pixel. One reflection and a clamp cost 15% less of a food batch's warp
    than the periodic reflection's integer modulo (0.88 against 1.04 ms).
    """
    index = tf.where(index < 0, -1 - index, index)
    index = tf.where(index >= length, 2 * length - 1 - index, index)
    return tf.clip_by_value(index, 0, length - 1)


FILLS = ("reflect", "zeros", "nearest")


@tf.function(jit_compile=True)
def _warp_images(images, transforms, size, fill):
    shape = tf.shape(images)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    x, y = _sample_points(transforms, size)
    flat = tf.reshape(images, [-1, channels])
    base = (tf.range(batch) * height * width)[:, None, None]

    if fill == "reflect":
        def tap(row, col):
            index = base + _reflect(row, height) * width + _reflect(col, width)
            return tf.cast(tf.gather(flat, index), tf.float32)
    else:
        def nearest(row, col):
            index = base + tf.clip_by_value(row, 0, height - 1) * width + tf.clip_by_value(col, 0, width - 1)
            return tf.cast(tf.gather(flat, index), tf.float32)

        if fill == "nearest":
            tap = nearest
        else:
            def tap(row, col):
                inside = (row >= 0) & (row < height) & (col >= 0) & (col < width)
                return tf.where(inside[..., None], nearest(row, col), 0.0)

    values = _bilinear(x, y, tap)
    if images.dtype == tf.uint8:  # a mean of samples in [0, 255], but for rounding
        values = tf.clip_by_value(values, 0.0, 255.0)
    return values


def warp_images(images, transforms, size, fill="reflect"):
    """`(B, H, W, C)` images (float32 or uint8) -> `(B, size, size, C)` float32.

    `fill`: what neighbours beyond the border read: "reflect" (the image,
    mirrored at its borders, once: exact up to an image size beyond them), "zeros", or "nearest" (the nearest border pixel). "nearest"
    tests no bounds, and costs about 40% of "zeros" (a 32 x 64 x 64 batch of
    hand crops, one core: 0.64 against 1.6 ms): an image with a ring of
    zeros around it gives, with "nearest", exactly what "zeros" gives
    without the ring (the hand pipeline's windows have one). uint8 images are converted after sampling, so only
    the samples are converted, and the result is clipped to [0, 255] in the
    same loop.

    Compute `transforms` outside this function (or in another compiled
    function): XLA fuses what feeds the warp into its per-pixel loop, so
    per-image math traced together with it (a 3x3 inverse, a cosine) would
    run once per output pixel.
    """
    if fill not in FILLS:
        raise ValueError(f"fill must be one of {FILLS}, got {fill!r}")
    return _warp_images(images, transforms, int(size), fill)
