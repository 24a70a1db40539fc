"""Camera geometry on TensorFlow tensors: rotations, projections, homographies.

Conventions: camera frame x right, y down, z forward; pixel (u, v) with the
centre of pixel (row i, column j) at u = j, v = i; a homography `H` maps
input pixels to output pixels (`p_out ~ H p_in`). A rotation `R` of the
camera frame about the camera centre moves pixels by `K' R K^-1`, which is
why every geometric augmentation here can carry the 3D target and the
intrinsics along exactly.
"""

import math

import tensorflow as tf


def rotation_to_z_axis(point):
    """The rotation `R` (3, 3) with `R @ point / |point| = (0, 0, 1)`.

    The smallest rotation taking the direction of `point` onto the optical
    axis: `R = I + [v]x + [v]x^2 / (1 + c)` with `v = d x e_z`, `c = d . e_z`
    (defined for every point in front of the camera, c > -1).
    """
    d = point / tf.norm(point)
    v = tf.linalg.cross(d, tf.constant([0.0, 0.0, 1.0], d.dtype))
    c = d[2]
    zero = tf.zeros((), d.dtype)
    vx = tf.stack([
        tf.stack([zero, -v[2], v[1]]),
        tf.stack([v[2], zero, -v[0]]),
        tf.stack([-v[1], v[0], zero]),
    ])
    return tf.eye(3, dtype=d.dtype) + vx + tf.matmul(vx, vx) / (1.0 + c)


def rotation_about_z(angle):
    """Rotation by `angle` radians about the optical axis (image rotation for fx = fy): `(..., 3, 3)` for
    `angle` of shape `(...)`."""
    c, s = tf.cos(angle), tf.sin(angle)
    zero, one = tf.zeros_like(c), tf.ones_like(c)
    return tf.stack([tf.stack([c, -s, zero], -1), tf.stack([s, c, zero], -1), tf.stack([zero, zero, one], -1)], -2)


def project(points, K):
    """Pinhole projection of `(N, 3)` camera points with `K` -> `(N, 2)` pixels."""
    uvw = tf.matmul(points, K, transpose_b=True)
    return uvw[:, :2] / uvw[:, 2:3]


def apply_homography(H, uv):
    """`(..., N, 2)` pixels mapped by the homography `H` `(..., 3, 3)`."""
    ones = tf.ones_like(uv[..., :1])
    p = tf.matmul(tf.concat([uv, ones], axis=-1), H, transpose_b=True)
    return p[..., :2] / p[..., 2:3]


def warp_image(image, H, output_size, fill_mode="CONSTANT", interpolation="BILINEAR"):
    """Warps `image` (H, W, C float32) with the input->output homography `H`.

    Args:
        image: float32 `(height, width, channels)`.
        H: `(3, 3)` homography, input pixels -> output pixels.
        output_size: (out_height, out_width).
        fill_mode: "CONSTANT" (zeros), "REFLECT", "NEAREST" or "WRAP".

    Returns:
        float32 `(out_height, out_width, channels)`.
    """
    warped = tf.raw_ops.ImageProjectiveTransformV3(
        images=image[None], transforms=output_to_input(H)[None],
        output_shape=tf.constant(output_size, tf.int32), fill_value=tf.constant(0.0),
        interpolation=interpolation, fill_mode=fill_mode,
    )
    return warped[0]


def output_to_input(H):
    """The `(..., 8)` output -> input transforms of TF's image ops for input -> output homographies `H`
    `(..., 3, 3)`."""
    inverse = tf.linalg.inv(tf.cast(H, tf.float32))
    inverse = inverse / inverse[..., 2:3, 2:3]
    return tf.reshape(inverse, tf.concat([tf.shape(inverse)[:-2], [9]], 0))[..., :8]


def pixel_scale_matrix(in_size, out_size):
    """Homography of a resize from `in_size` (h, w) to `out_size` (h, w), pixel-centre aligned.

    `u_out = (u_in + 0.5) * w_out / w_in - 0.5` (what `tf.image.resize` does).
    """
    sy = tf.cast(out_size[0], tf.float32) / tf.cast(in_size[0], tf.float32)
    sx = tf.cast(out_size[1], tf.float32) / tf.cast(in_size[1], tf.float32)
    zero, one = tf.zeros(()), tf.ones(())
    return tf.stack([
        tf.stack([sx, zero, 0.5 * sx - 0.5]),
        tf.stack([zero, sy, 0.5 * sy - 0.5]),
        tf.stack([zero, zero, one]),
    ])


DEG = math.pi / 180.0
