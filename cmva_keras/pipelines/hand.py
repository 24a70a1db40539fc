"""The hand task's input pipeline (docs/method.md, "Hand task"): crops, augmentation, targets.

Per example (from the `rhd` or `stb` builder):

1. Re-centring: the rotation `R_c` that moves the hand's 3D centroid onto the
   camera's z axis; the image moves by the homography `K R_c K^-1`, and the
   centroid then projects onto the principal point.
2. Crop: a square around the principal point, large enough to hold every
   keypoint's projection at any in-plane rotation (twice the largest distance
   to the centre, times `margin`), resized to `image_size`. The crop's
   intrinsics are `K' = [[s fx, 0, (S-1)/2], [0, s fy, (S-1)/2], [0, 0, 1]]`,
   `s = S / side`: the principal point at the crop centre.
3. Training only: a rotation by up to +-`max_rotation_degrees` about the optical
   axis (`R_z`), and with probability `flip_probability` a vertical flip
   (`F = diag(1, -1, 1)`: a mirror, so the hand side swaps).
   With the hand side as an input (`side_as_input`, the paper's protocol: the
   side is given at training and test time), a left hand (after the flip) is
   then mirrored horizontally (`M = diag(-1, 1, 1)`), so the model only ever
   sees right hands; a mirror of the crop about its centre keeps the
   principal point, so the same homography carries it.
4. One warp of the original image by `H = K' (M F R_z R_c) K^-1`; the 3D pose
   is transformed by `R = M F R_z R_c`, so projecting it with `K'` gives the
   warped 2D keypoints (checked by the tests to 0.5 px).
5. Target: the pose relative to the palm (keypoint 0), divided by the length
   of the middle finger's MCP-PIP bone (keypoints 12, 11), in the re-centred
   camera frame. `scale` (that length, mm) turns it back into millimetres.

Large downscales are antialiased: when the crop shrinks the hand by more than
`MAX_WARP_SHRINK` (1.5x), the image is first resized (antialiased) so that
the warp shrinks it by exactly 1.5x, and the homography adjusted. Why 1.5:
the bilinear warp reads four pixels per output pixel, so it aliases when it
shrinks by much more than 1x, and a resize to 1x followed by a second
interpolation blurs. Against a reference crop (the frame warped at four
times the crop's resolution, then averaged over 4x4 blocks), 1.5x is about
as close as 2x (the earlier setting): closer on RHD-like renders, whose
sharp edges the 2x warp aliases, within 10% on STB-like frames, and far
closer than 1x (tested in tests/datasets/test_hand_pipeline.py). Its
windows are smaller: on the offline default (64-pixel crops of hands some
130 frame pixels across), 149 pixels a side on average against 177 (the
cache 0.41 GB against 0.58), and the training pipeline costs about a
quarter less CPU per batch (docs/benchmarks.md).

What is cached (`prepare_example`): everything that does not depend on the
random rotation and flips: the decoding, `R_c`, `K'` and the crop side, the
antialiased shrink, and only the window of the (shrunk) frame that any
augmented crop can sample (`_reachable_box`). So each epoch's work is a few
3x3 products and one warp of the window, and the cache holds the window, not
the frame. `make_dataset` does that work a batch at a time: the geometry as
`(B, 3, 3)` products (`augment_geometry`) in one XLA-compiled call, the
windows zero-padded to the batch's largest and warped by another
(`warp.warp_images`);
`hand_example` / `augment_example` do the same for one example with TF's
warp. The shrunk window is rounded back to uint8 (at most 0.5 of a grey
level); the tests check the crops against warps of the whole frame, at
rotations up to 45 degrees, with flips and mirrors.
"""

import math

import tensorflow as tf

from cmva_keras.keypoints import MIDDLE_MCP, MIDDLE_PIP, ROOT
from cmva_keras.pipelines import common, geometry, warp

LEFT, RIGHT = 0, 1  # the datasets' `hand_side`


def _features(example):
    """The fields the pipeline uses, in float32 / int32 / bool; the image decoded (uint8), the same every epoch."""
    return {
        "image": common.decode(example["image"]),
        "xyz": tf.cast(example["keypoints_xyz_mm"], tf.float32),
        "uv": tf.cast(example["keypoints_uv"], tf.float32),
        "visible": tf.cast(example["keypoints_visible"], tf.bool),
        "K": tf.cast(example["camera_K"], tf.float32),
        "hand_side": tf.cast(example["hand_side"], tf.int32),
    }


def crop_geometry(xyz, K, image_size, *, margin=1.25, min_side=16.0):
    """The deterministic part of the crop (steps 1-2): re-centring rotation, crop intrinsics, crop side.

    Args:
        xyz: `(21, 3)` keypoints, camera frame (any length unit).
        K: `(3, 3)` intrinsics of the original image.
        image_size: output side `S`, pixels.
        margin: crop side over the keypoints' diameter.
        min_side: smallest crop side, original pixels.

    Returns:
        (recentre (3, 3): the rotation `R_c`; K_crop (3, 3); side: the crop side in original pixels).
    """
    xyz = tf.cast(xyz, tf.float32)
    K = tf.cast(K, tf.float32)
    size = float(image_size)
    recentre = geometry.rotation_to_z_axis(tf.reduce_mean(xyz, axis=0))
    uv = geometry.project(tf.matmul(xyz, recentre, transpose_b=True), K)
    radius = tf.reduce_max(tf.norm(uv - K[:2, 2][None], axis=1))
    side = tf.maximum(2.0 * radius * margin, min_side)
    s = size / side
    c = (size - 1.0) / 2.0
    K_crop = tf.stack([
        tf.stack([s * K[0, 0], s * K[0, 1], c]),
        tf.stack([0.0, s * K[1, 1], c]),
        tf.constant([0.0, 0.0, 1.0]),
    ])
    return recentre, K_crop, side


def augmentation_rotation(recentre, *, angle=0.0, flip=False, mirror_x=False):
    """`R = M F R_z R_c` (step 3): original camera frame -> output frame, `(..., 3, 3)`.

    `angle` in radians; `flip` (vertical) and `mirror_x` (horizontal) bool tensors; all of one shape `(...)`
    (one example, or a batch), `recentre` `(..., 3, 3)`.
    """
    angle = tf.cast(angle, tf.float32)
    one = tf.ones_like(angle)
    mirror = tf.stack([
        tf.where(tf.cast(mirror_x, tf.bool), -one, one), tf.where(tf.cast(flip, tf.bool), -one, one), one,
    ], axis=-1)
    return tf.linalg.diag(mirror) @ geometry.rotation_about_z(angle) @ recentre


def crop_transform(xyz, K, image_size, *, angle=0.0, flip=False, mirror_x=False, margin=1.25, min_side=16.0):
    """The rotation, crop intrinsics and homography of one example (steps 1-4).

    Returns:
        (R (3, 3): original camera frame -> output frame; K_crop (3, 3);
        H (3, 3): original pixels -> output pixels; side: crop side in
        original pixels).
    """
    recentre, K_crop, side = crop_geometry(xyz, K, image_size, margin=margin, min_side=min_side)
    R = augmentation_rotation(recentre, angle=angle, flip=flip, mirror_x=mirror_x)
    H = K_crop @ R @ tf.linalg.inv(tf.cast(K, tf.float32))
    return R, K_crop, H, side


_CIRCLE_POINTS = 32
WINDOW_STEP = 16  # prepared windows are padded to multiples of this many pixels
RING = 1  # pixels of zeros around each prepared window (see prepare_example)
# What `prepare_example` caches, versioned: a file cache's name includes it (`tasks.common.training_cache`).
# 2: windows of frames shrunk for a warp of at most MAX_WARP_SHRINK = 1.5 (1: 2.0).
PREPARED_VERSION = 2
MAX_WARP_SHRINK = 1.5  # the most the warp shrinks a frame; beyond it the frame is resized first (docstring)


def _reachable_box(image_size, K_crop, recentre, source_to_ray, in_size):
    """The pixel box `(x0, y0, x1, y1)` of the source image holding every pixel any augmented crop samples.

    Every augmentation (rotation about the optical axis, vertical flip,
    horizontal mirror) maps the output square, in the output frame's
    normalised rays `t = K_crop^-1 p`, into the disc about the axis whose
    radius is the square's farthest corner (plus a pixel for bilinear
    neighbours). Its image in the source is the region; the box bounds a
    polygon circumscribing the disc, sent back through `R_c^-1` and the
    source's `ray -> pixel` map. A ray at or behind the camera (a crop
    reaching the horizon) gives the whole image.
    """
    size = float(image_size)
    corner = tf.constant([[-1.5, -1.5, 1.0], [size + 0.5, -1.5, 1.0], [-1.5, size + 0.5, 1.0],
                          [size + 0.5, size + 0.5, 1.0]])
    t = tf.matmul(corner, tf.linalg.inv(K_crop), transpose_b=True)
    rho = tf.reduce_max(tf.norm(t[:, :2] / t[:, 2:3], axis=1)) / math.cos(math.pi / _CIRCLE_POINTS)
    phi = tf.range(_CIRCLE_POINTS, dtype=tf.float32) * (2.0 * math.pi / _CIRCLE_POINTS)
    rays = tf.stack([rho * tf.cos(phi), rho * tf.sin(phi), tf.ones_like(phi)], axis=1)
    to_pixels = tf.linalg.inv(source_to_ray) @ tf.transpose(recentre)  # output-frame ray -> source pixel
    p = tf.matmul(rays, to_pixels, transpose_b=True)
    height, width = in_size[0], in_size[1]
    in_front = tf.reduce_all(p[:, 2] > 1e-6)
    xy = p[:, :2] / tf.where(in_front, p[:, 2:3], 1.0)
    lo = tf.cast(tf.floor(tf.reduce_min(xy, axis=0)), tf.int32) - 2
    hi = tf.cast(tf.math.ceil(tf.reduce_max(xy, axis=0)), tf.int32) + 3
    lo = tf.where(in_front, lo, 0)
    hi = tf.where(in_front, hi, tf.stack([width, height]))
    x0 = tf.clip_by_value(lo[0], 0, width)
    y0 = tf.clip_by_value(lo[1], 0, height)
    x1 = tf.clip_by_value(hi[0], x0, width)
    y1 = tf.clip_by_value(hi[1], y0, height)
    return x0, y0, x1, y1


def prepare_example(features, image_size, *, margin=1.25, min_side=16.0):
    """The deterministic part of an example (cached when the pipeline caches): what no augmentation changes.

    Decodes the image; computes the re-centring `R_c`, the crop intrinsics and
    side (`crop_geometry`); for a crop that shrinks the hand more than
    `MAX_WARP_SHRINK`, shrinks the whole frame first (antialiased, rounded
    back to uint8) so that the warp shrinks it by exactly that; and
    keeps only the window of the frame that any augmented crop can sample
    (`_reachable_box`), about a third of a 320x320 frame for a 64-pixel crop.

    Returns:
        the `features` fields, with 'image' replaced by 'pixels' (uint8, the
        window inside a ring of `RING` zero pixels, zero-padded to multiples
        of `WINDOW_STEP`), and 'recentre',
        'crop_K', 'source_to_ray' (3, 3): the window's
        pixels to rays of the original camera, so that `crop_K R source_to_ray`
        is the homography from the window to the output crop.
    """
    image = common.decode(features["image"])
    K = features["K"]
    recentre, K_crop, side = crop_geometry(features["xyz"], K, image_size, margin=margin, min_side=min_side)
    shrink = tf.minimum(1.0, MAX_WARP_SHRINK * float(image_size) / side)
    in_size = tf.shape(image)[:2]
    K_inv = tf.linalg.inv(K)

    def small():
        new_size = tf.maximum(1, tf.cast(tf.round(tf.cast(in_size, tf.float32) * shrink), tf.int32))
        resized = tf.image.resize(tf.cast(image, tf.float32), new_size, method="bilinear", antialias=True)
        resized = tf.cast(tf.round(tf.clip_by_value(resized, 0.0, 255.0)), tf.uint8)
        return resized, K_inv @ tf.linalg.inv(geometry.pixel_scale_matrix(in_size, new_size))

    image, source_to_ray = tf.cond(shrink < 0.999, small, lambda: (image, K_inv))
    x0, y0, x1, y1 = _reachable_box(image_size, K_crop, recentre, source_to_ray, tf.shape(image)[:2])
    offset = tf.stack([  # window pixels -> source pixels (the window starts with its ring)
        tf.stack([1.0, 0.0, tf.cast(x0 - RING, tf.float32)]),
        tf.stack([0.0, 1.0, tf.cast(y0 - RING, tf.float32)]),
        tf.constant([0.0, 0.0, 1.0]),
    ])
    pixels = image[y0:y1, x0:x1]
    # A ring of zeros, then zeros up to a multiple of WINDOW_STEP. A sample beyond the window lies outside the
    # frame and reads zeros; with the ring, so does the nearest window pixel to any point beyond it, so the warp
    # clamps instead of testing bounds (fill="nearest", 40% of the cost). The batches' padded shapes come from a
    # small set (one XLA compilation each).
    pad = -(tf.shape(pixels)[:2] + 2 * RING) % WINDOW_STEP
    pixels = tf.pad(pixels, [[RING, RING + pad[0]], [RING, RING + pad[1]], [0, 0]])
    prepared = {k: v for k, v in features.items() if k != "image"}
    prepared.update(pixels=pixels, recentre=recentre, crop_K=K_crop, source_to_ray=source_to_ray @ offset)
    return prepared


def augment_geometry(prepared, seed, *, training, image_size, max_rotation_degrees=45.0, flip_probability=0.5,
                     side_as_input=False):
    """The random part's geometry for a batch of `prepare_example` outputs: (H, normalised poses, metadata).

    Args:
        prepared: `prepare_example` fields with a leading batch dimension B
            ('pixels' is not used).
        seed: `(2,)` stateless seed: the B rotations and flips come from one
            draw on it (ignored when not training).

    Returns:
        H `(B, 3, 3)`: each prepared window's pixels -> its output crop's;
        poses `(B, 21, 3)`; the metadata dict of `hand_example`, batched.
    """
    draws = random_draws(prepared, seed) if training else None
    return _geometry(prepared, draws, max_rotation_degrees=max_rotation_degrees,
                     flip_probability=flip_probability, side_as_input=side_as_input)


def random_draws(prepared, seed):
    """The uniform draws `(B, 2)` (angle, flip) of a batch's augmentation, from one stateless draw on `seed`.

    Drawn outside the XLA-compiled geometry: XLA's stateless generator
    gives other numbers for the same seed, and a seed must give the same
    augmentation whichever path warps it.
    """
    return tf.random.stateless_uniform(tf.stack([tf.shape(prepared["hand_side"])[0], 2]), seed)


def _geometry(prepared, draws, *, max_rotation_degrees, flip_probability, side_as_input):
    """`augment_geometry` after the draw; `draws` None: no augmentation (evaluation)."""
    hand_side = tf.cast(prepared["hand_side"], tf.int32)
    if draws is not None:
        limit = max_rotation_degrees * geometry.DEG
        angle = (2.0 * draws[:, 0] - 1.0) * limit
        flip = draws[:, 1] < flip_probability
    else:
        angle, flip = tf.zeros(tf.shape(hand_side), tf.float32), tf.zeros(tf.shape(hand_side), tf.bool)
    # The side of the hand the crop shows: a vertical flip (a mirror) swaps it.
    hand_side = tf.where(flip, 1 - hand_side, hand_side)
    mirror_x = tf.logical_and(tf.constant(bool(side_as_input)), tf.equal(hand_side, LEFT))
    R = augmentation_rotation(prepared["recentre"], angle=angle, flip=flip, mirror_x=mirror_x)
    K_crop = prepared["crop_K"]
    H = K_crop @ R @ prepared["source_to_ray"]
    xyz = tf.matmul(prepared["xyz"], R, transpose_b=True)
    root = xyz[:, ROOT]
    scale = tf.norm(xyz[:, MIDDLE_MCP] - xyz[:, MIDDLE_PIP], axis=-1)
    poses = (xyz - root[:, None]) / scale[:, None, None]
    metadata = {
        "scale": scale,
        "hand_side": hand_side,
        "K": prepared["K"],
        "crop_K": K_crop,
        "rotation": R,
        "uv": geometry.apply_homography(K_crop @ R @ tf.linalg.inv(prepared["K"]), prepared["uv"]),
        "visible": prepared["visible"],
        "root_mm": root,
        "xyz_mm": xyz,
        "flipped": flip,
        "mirrored": mirror_x,  # side_as_input: a left hand shown mirrored (as a right one)
        "angle": angle,
    }
    return H, poses, metadata


def augment_example(prepared, seed, *, training, image_size, max_rotation_degrees=45.0, flip_probability=0.5,
                    side_as_input=False):
    """The random part, on one `prepare_example` output: (image, normalised pose, metadata); see `hand_example`.

    `augment_geometry` on a batch of one, warped with TF's
    `ImageProjectiveTransformV3`; `make_dataset` warps whole batches of
    windows with the XLA-compiled `warp.warp_images` instead (the same crops
    within 0.01 of a grey level).
    """
    batch = {k: v[None] for k, v in prepared.items() if k != "pixels"}
    H, poses, metadata = augment_geometry(
        batch, seed, training=training, image_size=image_size, max_rotation_degrees=max_rotation_degrees,
        flip_probability=flip_probability, side_as_input=side_as_input)
    image = geometry.warp_image(tf.cast(prepared["pixels"], tf.float32), H[0], (image_size, image_size))
    image = tf.ensure_shape(tf.clip_by_value(image, 0.0, 255.0), (image_size, image_size, 3))
    return image, poses[0], {k: v[0] for k, v in metadata.items()}


def hand_example(features, seed, *, training, image_size, margin=1.25, max_rotation_degrees=45.0,
                 flip_probability=0.5, side_as_input=False):
    """One example's (image, normalised pose, metadata); usable eagerly and in tf.data.

    `prepare_example` then `augment_example`: what the pipeline does, cached or not.

    Args:
        features: dict with 'image' (H, W, 3) uint8 (or its encoded bytes), 'xyz' (21, 3) mm, 'uv'
            (21, 2), 'visible' (21,), 'K' (3, 3), 'hand_side' (0 left, 1 right).
        seed: `(2,)` int stateless seed (ignored when not training).
        training: apply the random rotation and flip.
        image_size: output side, pixels.
        side_as_input: mirror left hands into right ones (module docstring, step 3).

    Returns:
        (image float32 (S, S, 3) in [0, 255], pose float32 (21, 3), metadata dict).
    """
    return augment_example(
        prepare_example(features, image_size, margin=margin), seed, training=training, image_size=image_size,
        max_rotation_degrees=max_rotation_degrees, flip_probability=flip_probability, side_as_input=side_as_input)


@tf.function(jit_compile=True)
def _compiled_geometry(batch, draws, *, training, max_rotation_degrees, flip_probability, side_as_input):
    """A batch's (warp transforms `(B, 8)`, poses, metadata): its some fifty small ops as one XLA call.

    Compiled apart from the warp, which XLA would otherwise fuse them into,
    computing each 3x3 inverse once per output pixel (`warp.warp_images`).
    """
    H, poses, metadata = _geometry(batch, draws if training else None, max_rotation_degrees=max_rotation_degrees,
                                   flip_probability=flip_probability, side_as_input=side_as_input)
    return geometry.output_to_input(H), poses, metadata


def make_dataset(split_ds, *, training, image_size, batch_size, seed=None, deterministic=False,
                 with_metadata=False, margin=1.25, max_rotation_degrees=45.0, flip_probability=0.5,
                 shuffle_buffer=1024, drop_remainder=None, side_as_input=False, cache=""):
    """Batches of hand crops and palm-rooted, bone-normalised 3D poses.

    Args:
        split_ds: a split of the `rhd` or `stb` builder (`builder.as_dataset(split=...)`).
        training: shuffle and augment (rotation, vertical flip).
        image_size: side of the square crops, pixels (256 in the paper).
        batch_size: examples per batch.
        seed: fixes shuffling and augmentation (None: different every run).
        deterministic: keep element order fixed despite parallel maps.
        with_metadata: also yield the metadata dict of `hand_example`
            (`scale` (B,) mm, `hand_side`, `K`, `crop_K`, `rotation`, `uv`, ...).
        margin, max_rotation_degrees, flip_probability, side_as_input: see module docstring.
        shuffle_buffer: training shuffle buffer.
        drop_remainder: drop the last partial batch (default: when training).
        cache: where the prepared examples (`prepare_example`: the crop
            geometry and the window of the decoded frame any augmentation can
            sample, uint8) are cached before shuffling and augmentation
            (`common.cache`): "memory", "" (none) or a file prefix. The
            batches are the same with or without it.

    Returns:
        `tf.data.Dataset` of `(images float32 (B, S, S, 3) in [0, 255], poses
        float32 (B, 21, 3))`, plus the metadata dict when `with_metadata`.
    """
    image_size = int(image_size)
    ds = split_ds.map(lambda example: prepare_example(_features(example), image_size, margin=margin),
                      num_parallel_calls=common.AUTOTUNE, deterministic=deterministic)
    ds = common.cache(ds, cache)  # decoding and the crop geometry run once when cached; the random warp after
    if training:
        ds = common.shuffle(ds, shuffle_buffer, seed)
    if drop_remainder is None:
        drop_remainder = training
    # A batch at a time: the windows zero-padded to the batch's largest; the geometry of the B examples as
    # (B, 3, 3) products; one XLA-compiled warp.
    ds = common.with_seeds(ds.padded_batch(batch_size, drop_remainder=drop_remainder), seed)

    def transform_batch(batch, batch_seed):
        fields = {k: v for k, v in batch.items() if k != "pixels"}  # the geometry compiles once, whatever the windows
        draws = random_draws(batch, batch_seed) if training else tf.zeros((0, 2))
        transforms, poses, metadata = _compiled_geometry(
            fields, draws, training=bool(training), max_rotation_degrees=float(max_rotation_degrees),
            flip_probability=float(flip_probability), side_as_input=bool(side_as_input))
        # "nearest" reads the windows' zero rings beyond them: the zero fill without its bounds tests.
        images = warp.warp_images(batch["pixels"], transforms, image_size, fill="nearest")  # clipped to 0..255
        images = tf.ensure_shape(images, (None, image_size, image_size, 3))
        return (images, poses, metadata) if with_metadata else (images, poses)

    ds = ds.map(transform_batch, num_parallel_calls=common.AUTOTUNE, deterministic=deterministic)
    return common.finish_batches(ds, deterministic=deterministic)
