"""What both input pipelines share: per-example random seeds, batching, device hygiene.

Randomness: every example is zipped with its own seed pair from
`tf.data.Dataset.random(seed, rerandomize_each_iteration=True)` and all its
augmentations use stateless ops on that pair. So a fixed `seed` gives the
same augmentations run after run (and different ones each epoch), whatever
the number of parallel map calls, and the augmentation of an example does
not depend on the order in which the parallel map returns examples.
"""

import tensorflow as tf

from cmva_keras.datasets.devices import hide_gpus_from_tensorflow  # noqa: F401  (re-exported)

AUTOTUNE = tf.data.AUTOTUNE


def decode(image):
    """A uint8 `(H, W, 3)` image, decoding it first if it is still encoded bytes.

    `cmva_keras.datasets.load` leaves images encoded, so that shuffle buffers
    hold compressed bytes and decoding runs in the parallel map.
    """
    if image.dtype == tf.string:
        image = tf.io.decode_image(image, channels=3, expand_animations=False)
        image.set_shape((None, None, 3))
    return image


def with_seeds(ds, seed):
    """Zips `ds` with a stream of stateless seed pairs `(2,) int64`."""
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)
    return tf.data.Dataset.zip((ds, seeds))


def split_seed(seed_pair, n):
    """`n` independent seed pairs derived from one."""
    return tf.random.experimental.stateless_split(tf.cast(seed_pair, tf.int64), num=n)


def finish(ds, *, batch_size, drop_remainder, deterministic):
    """Batches, prefetches, and sets the determinism option."""
    options = tf.data.Options()
    options.deterministic = bool(deterministic)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder, num_parallel_calls=AUTOTUNE,
                  deterministic=bool(deterministic))
    return ds.prefetch(AUTOTUNE).with_options(options)


def shuffle(ds, buffer_size, seed):
    return ds.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)
