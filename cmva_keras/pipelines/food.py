"""The food task's input pipeline (docs/method.md, "Food task").

Per example (from the `yummly28k` or `recipe1m` builder):

- image: Yummly's `image`; for Recipe1M's `images` (one recipe, several
  photos, loaded undecoded by `cmva_keras.datasets.load`) a random one when
  training and the first one otherwise;
- resize to `image_size` ((height, width), e.g. (240, 360) for Yummly-28K;
  or an int: the short side, e.g. 256 for Recipe1M), antialiased;
- training: random `crop_size` square crop, horizontal flip with probability
  0.5, rotation by up to +-10 degrees about the crop centre, as one warp
  (`random_views`); test: the central `crop_size` crop;
- target: the multi-hot vector of the recipe's ingredient classes, `(K,)`.

Images come out float32 in [0, 255] (whole grey levels: the resized image is
kept as uint8). Decoding, resizing and the multi-hot target are the
deterministic part (`prepare_example`, cached when `cache` is
set); the crop, flip and rotation are drawn afresh each epoch. When every
prepared image has the same size (an `image_size` of (height, width) and one
photo per example: Yummly-28K, the offline default), the pipeline batches
first and makes a batch's views with one XLA-compiled warp and one random
draw (`random_views`); otherwise (Recipe1M, a short side) example by example
(`augment_example`).
"""

import tensorflow as tf

from cmva_keras.pipelines import common, geometry, warp

# What `prepare_example` caches, versioned: a file cache's name includes it (`tasks.common.training_cache`).
PREPARED_VERSION = 1


def multi_hot(class_ids, num_classes):
    """`(K,)` float32 with ones at `class_ids` (duplicates and an empty list are fine)."""
    class_ids = tf.cast(tf.reshape(class_ids, [-1]), tf.int32)
    hot = tf.reduce_sum(tf.one_hot(class_ids, num_classes, dtype=tf.float32), axis=0)
    return tf.minimum(hot, 1.0)


def _pick_image(example, seed, training):
    if "image" in example:
        return common.decode(example["image"])
    images = example["images"]
    count = tf.shape(images)[0]
    index = tf.random.stateless_uniform((), seed, 0, count, dtype=tf.int32) if training else 0
    return common.decode(images[index])


def resize(image, image_size):
    """Antialiased resize to (height, width), or of the short side to an int `image_size`; uint8.

    The result is rounded back to uint8 (at most half a grey level): the cache
    then holds a quarter of the bytes (Yummly-28K at 240x360: 7 GB, not 28),
    and a batch moves a quarter of them.
    """
    image = tf.cast(image, tf.float32)
    if isinstance(image_size, int):
        shape = tf.cast(tf.shape(image)[:2], tf.float32)
        scale = float(image_size) / tf.reduce_min(shape)
        size = tf.maximum(image_size, tf.cast(tf.round(shape * scale), tf.int32))
    else:
        size = tf.constant(image_size, tf.int32)
    resized = tf.image.resize(image, size, method="bilinear", antialias=True)
    return tf.cast(tf.round(tf.clip_by_value(resized, 0.0, 255.0)), tf.uint8)


def prepare_example(example, image_size, num_classes):
    """The deterministic part of an example's pipeline: its one image decoded and resized (uint8), and its
    multi-hot target 'labels' `(K,)`.

    A recipe with several photos (Recipe1M's `images`) keeps them encoded:
    which one is used is random, so it is decoded after the pick.
    """
    prepared = {k: v for k, v in example.items() if k != "ingredients"}
    prepared["labels"] = multi_hot(example["ingredients"], num_classes)
    if "image" in example:
        prepared["image"] = resize(common.decode(example["image"]), image_size)
    return prepared


def random_views(images, seed, *, crop_size, max_rotation_degrees=10.0, flip_probability=0.5, compiled=False):
    """Random `crop_size` squares of same-size `images` `(B, H, W, 3)`, each flipped left-right with
    `flip_probability` and rotated about its centre by up to `max_rotation_degrees`: `(B, crop, crop, 3)`.

    Each view is one affine map of its image, so a batch is one bilinear warp,
    not a crop, a flip and a warp of the crop per example: cheaper, and the
    corners a rotation uncovers show the image around the crop (reflected
    only at the image's own borders) instead of the crop's reflection. With
    no rotation, every output pixel is an input pixel (integer coordinates),
    so a view is exactly a window, mirrored or not.

    Output pixel `(x, y)`, relative to the crop centre `c = (crop - 1) / 2`,
    reads input pixel `(left + c + f (cos a x' + sin a y'), top + c - sin a x' + cos a y')`
    with `x' = x - c`, `y' = y - c` and `f = -1` when flipped: the window at
    `(top, left)`, flipped, rotated by `a`.

    The B views' crop positions, flips and angles come from one stateless
    draw on `seed` `(2,)`. `compiled`: warp with the XLA-compiled
    `warp.warp_images` (about 5x cheaper than TF's
    `ImageProjectiveTransformV3`; compiled once per image shape, so for
    batches of one shape); the two agree within 0.01 of a grey level.
    """
    draws = tf.random.stateless_uniform((tf.shape(images)[0], 4), seed)
    transforms = _view_transforms(tf.shape(images), draws, int(crop_size), float(max_rotation_degrees),
                                  float(flip_probability))
    if compiled:
        return warp.warp_images(images, transforms, crop_size)
    views = tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(images, tf.float32), transforms=transforms,
        output_shape=tf.constant((crop_size, crop_size), tf.int32),
        fill_value=tf.constant(0.0), interpolation="BILINEAR", fill_mode="REFLECT")
    return tf.clip_by_value(views, 0.0, 255.0)


@tf.function(jit_compile=True)
def _view_transforms(shape, draws, crop_size, max_rotation_degrees, flip_probability):
    """`random_views`' `(B, 8)` warp transforms, from images of `shape` and uniform `draws` `(B, 4)`.

    Compiled apart from the warp: one call instead of some twenty small ops,
    and not fused into the warp's per-pixel loop (see `warp.warp_images`).
    """
    room = tf.cast(shape[1:3] - crop_size + 1, tf.float32)  # positions a crop can take, per axis
    top = tf.minimum(tf.floor(draws[:, 0] * room[0]), room[0] - 1.0)
    left = tf.minimum(tf.floor(draws[:, 1] * room[1]), room[1] - 1.0)
    f = tf.where(draws[:, 2] < flip_probability, -1.0, 1.0)
    limit = max_rotation_degrees * geometry.DEG
    angle = (2.0 * draws[:, 3] - 1.0) * limit
    cos, sin = tf.cos(angle), tf.sin(angle)
    c = (crop_size - 1) / 2.0
    zero = tf.zeros_like(cos)
    return tf.stack([
        f * cos, f * sin, left + c - f * (cos * c + sin * c),
        -sin, cos, top + c - (cos * c - sin * c),
        zero, zero,
    ], axis=1)


def central_crops(images, crop_size):
    """The central `crop_size` squares of `(B, H, W, 3)` images (evaluation)."""
    shape = tf.shape(images)
    top, left = (shape[1] - crop_size) // 2, (shape[2] - crop_size) // 2
    return tf.clip_by_value(tf.cast(images[:, top:top + crop_size, left:left + crop_size], tf.float32), 0.0, 255.0)


def augment_example(prepared, seed, *, training, image_size, crop_size, max_rotation_degrees=10.0,
                    flip_probability=0.5):
    """The random part, on a `prepare_example` output: (image float32 (crop, crop, 3), multi-hot (K,))."""
    pick_seed, view_seed = tf.unstack(common.split_seed(seed, 2))
    if "image" in prepared:
        image = prepared["image"]
    else:
        image = resize(_pick_image(prepared, pick_seed, training), image_size)
    if training:
        image = random_views(image[None], view_seed, crop_size=crop_size, max_rotation_degrees=max_rotation_degrees,
                             flip_probability=flip_probability)[0]
    else:
        image = central_crops(image[None], crop_size)[0]
    return tf.ensure_shape(image, (crop_size, crop_size, 3)), prepared["labels"]


def food_example(example, seed, *, training, image_size, crop_size, num_classes,
                 max_rotation_degrees=10.0, flip_probability=0.5):
    """One example's (image float32 (crop, crop, 3), multi-hot (K,)); eager or in tf.data."""
    return augment_example(
        prepare_example(example, image_size, num_classes), seed, training=training, image_size=image_size,
        crop_size=crop_size, max_rotation_degrees=max_rotation_degrees, flip_probability=flip_probability)


def make_dataset(split_ds, *, training, image_size, crop_size, num_classes, batch_size, seed=None,
                 deterministic=False, max_rotation_degrees=10.0, flip_probability=0.5,
                 shuffle_buffer=1024, drop_remainder=None, cache=""):
    """Batches of food images and multi-hot ingredient vectors.

    Args:
        split_ds: a split of the `yummly28k` or `recipe1m` builder (for
            `recipe1m`, load it with `cmva_keras.datasets.load`, which leaves
            the images encoded so recipes with photos of different sizes batch).
        training: shuffle and augment (random crop, flip, rotation).
        image_size: (height, width) to resize to, or an int short side.
        crop_size: side of the square crops fed to the model (224 in the paper).
        num_classes: K, the vocabulary size (`len(cmva_keras.datasets.vocabulary(...))`).
        batch_size: examples per batch.
        seed: fixes shuffling and augmentation (None: different every run).
        deterministic: keep element order fixed despite parallel maps.
        drop_remainder: drop the last partial batch (default: when training).
        cache: where the decoded, resized images are cached before shuffling
            and augmentation (`common.cache`): "memory", "" (none) or a file
            prefix. The batches are the same with or without it.

    Returns:
        `tf.data.Dataset` of `(images float32 (B, crop, crop, 3) in [0, 255],
        multi_hot float32 (B, K))`.
    """
    if not isinstance(image_size, int):
        image_size = tuple(int(s) for s in image_size)
        if min(image_size) < crop_size:
            raise ValueError(f"crop_size {crop_size} is larger than image_size {image_size}")
    elif image_size < crop_size:
        raise ValueError(f"crop_size {crop_size} is larger than the short side {image_size}")
    keep = [k for k in ("image", "images", "ingredients") if k in split_ds.element_spec]
    if "ingredients" not in keep or not ({"image", "images"} & set(keep)):
        raise ValueError(f"expected a food split with 'image' or 'images' and 'ingredients', got {sorted(split_ds.element_spec)}")
    ds = split_ds.map(lambda ex: {k: ex[k] for k in keep}, num_parallel_calls=common.AUTOTUNE,
                      deterministic=deterministic)
    # Decoding, resizing and the targets are the same every epoch: done once when cached; the random part after.
    ds = ds.map(lambda ex: prepare_example(ex, image_size, int(num_classes)), num_parallel_calls=common.AUTOTUNE,
                deterministic=deterministic)
    ds = common.cache(ds, cache)
    if training:
        ds = common.shuffle(ds, shuffle_buffer, seed)
    if drop_remainder is None:
        drop_remainder = training
    crop_size = int(crop_size)
    if "image" in keep and not isinstance(image_size, int):
        # Every prepared image has the same size: batch first, then one warp (and one random draw) per batch.
        ds = common.with_seeds(ds.batch(batch_size, drop_remainder=drop_remainder), seed)

        def transform_batch(batch, batch_seed):
            if training:
                images = random_views(batch["image"], batch_seed, crop_size=crop_size, compiled=True,
                                      max_rotation_degrees=max_rotation_degrees, flip_probability=flip_probability)
            else:
                images = central_crops(batch["image"], crop_size)
            return tf.ensure_shape(images, (None, crop_size, crop_size, 3)), batch["labels"]

        ds = ds.map(transform_batch, num_parallel_calls=common.AUTOTUNE, deterministic=deterministic)
        return common.finish_batches(ds, deterministic=deterministic)
    # Recipe1M's photos of several sizes, or a short side: example by example, then batched.
    ds = common.with_seeds(ds, seed)

    def transform(example, example_seed):
        return augment_example(example, example_seed, training=training, image_size=image_size,
                               crop_size=crop_size, max_rotation_degrees=max_rotation_degrees,
                               flip_probability=flip_probability)

    ds = ds.map(transform, num_parallel_calls=common.AUTOTUNE, deterministic=deterministic)
    return common.finish(ds, batch_size=batch_size, drop_remainder=drop_remainder, deterministic=deterministic)
