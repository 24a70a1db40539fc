"""The food task's input pipeline (docs/method.md, "Food task").

Per example (from the `yummly28k` or `recipe1m` builder):

- image: Yummly's `image`; for Recipe1M's `images` (one recipe, several
  photos, loaded undecoded by `cmva_keras.datasets.load`) a random one when
  training and the first one otherwise;
- resize to `image_size` ((height, width), e.g. (240, 360) for Yummly-28K;
  or an int: the short side, e.g. 256 for Recipe1M), antialiased;
- training: random `crop_size` square crop, horizontal flip with probability
  0.5, rotation by up to +-10 degrees about the crop centre (reflected
  borders); test: the central `crop_size` crop;
- target: the multi-hot vector of the recipe's ingredient classes, `(K,)`.

Images come out float32 in [0, 255]. Decoding and resizing are the
deterministic part (`prepare_example`, cached when `cache` is set); the crop,
flip and rotation are drawn afresh each epoch (`augment_example`).
"""

import tensorflow as tf

from cmva_keras.pipelines import common, geometry


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
    """Antialiased resize to (height, width), or of the short side to an int `image_size`."""
    image = tf.cast(image, tf.float32)
    if isinstance(image_size, int):
        shape = tf.cast(tf.shape(image)[:2], tf.float32)
        scale = float(image_size) / tf.reduce_min(shape)
        size = tf.maximum(image_size, tf.cast(tf.round(shape * scale), tf.int32))
    else:
        size = tf.constant(image_size, tf.int32)
    return tf.image.resize(image, size, method="bilinear", antialias=True)


def prepare_example(example, image_size):
    """The deterministic part of an example's pipeline: its one image decoded and resized (float32).

    A recipe with several photos (Recipe1M's `images`) keeps them encoded:
    which one is used is random, so it is decoded after the pick.
    """
    if "image" not in example:
        return example
    return dict(example, image=resize(common.decode(example["image"]), image_size))


def augment_example(example, seed, *, training, image_size, crop_size, num_classes,
                    max_rotation_degrees=10.0, flip_probability=0.5):
    """The random part, on a `prepare_example` output: (image float32 (crop, crop, 3), multi-hot (K,))."""
    pick_seed, crop_seed, flip_seed, angle_seed = tf.unstack(common.split_seed(seed, 4))
    if "image" in example:
        image = example["image"]
    else:
        image = resize(_pick_image(example, pick_seed, training), image_size)
    if training:
        image = tf.image.stateless_random_crop(image, (crop_size, crop_size, 3), crop_seed)
        flip = tf.random.stateless_uniform((), flip_seed) < flip_probability
        image = tf.cond(flip, lambda: tf.image.flip_left_right(image), lambda: image)
        limit = max_rotation_degrees * geometry.DEG
        angle = tf.random.stateless_uniform((), angle_seed, -limit, limit)
        H = geometry.rotation_homography(angle, (crop_size, crop_size))
        image = geometry.warp_image(image, H, (crop_size, crop_size), fill_mode="REFLECT")
    else:
        shape = tf.shape(image)
        top, left = (shape[0] - crop_size) // 2, (shape[1] - crop_size) // 2
        image = tf.image.crop_to_bounding_box(image, top, left, crop_size, crop_size)
    image = tf.ensure_shape(tf.clip_by_value(image, 0.0, 255.0), (crop_size, crop_size, 3))
    return image, multi_hot(example["ingredients"], num_classes)


def food_example(example, seed, *, training, image_size, crop_size, num_classes,
                 max_rotation_degrees=10.0, flip_probability=0.5):
    """One example's (image float32 (crop, crop, 3), multi-hot (K,)); eager or in tf.data."""
    return augment_example(
        prepare_example(example, image_size), seed, training=training, image_size=image_size, crop_size=crop_size,
        num_classes=num_classes, max_rotation_degrees=max_rotation_degrees, flip_probability=flip_probability)


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
    common.hide_gpus_from_tensorflow()
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
    # Decoding and resizing are the same every epoch: done once when cached; the random part comes after.
    ds = ds.map(lambda ex: prepare_example(ex, image_size), num_parallel_calls=common.AUTOTUNE,
                deterministic=deterministic)
    ds = common.cache(ds, cache)
    if training:
        ds = common.shuffle(ds, shuffle_buffer, seed)
    ds = common.with_seeds(ds, seed)

    def transform(example, example_seed):
        return augment_example(example, example_seed, training=training, image_size=image_size,
                            crop_size=int(crop_size), num_classes=int(num_classes),
                            max_rotation_degrees=max_rotation_degrees, flip_probability=flip_probability)

    ds = ds.map(transform, num_parallel_calls=common.AUTOTUNE, deterministic=deterministic)
    if drop_remainder is None:
        drop_remainder = training
    return common.finish(ds, batch_size=batch_size, drop_remainder=drop_remainder, deterministic=deterministic)
