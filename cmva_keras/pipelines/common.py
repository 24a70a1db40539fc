"""What both input pipelines share: per-example random seeds, batching, device hygiene.

Randomness: every example is zipped with its own seed pair from
`tf.data.Dataset.random(seed, rerandomize_each_iteration=True)` and all its
augmentations use stateless ops on that pair. So a fixed `seed` gives the
same augmentations run after run (and different ones each epoch), whatever
the number of parallel map calls, and the augmentation of an example does
not depend on the order in which the parallel map returns examples.

Caching (`cache`): each pipeline decodes (and, for food, resizes) its images in
a deterministic map, caches that, and only then shuffles and augments. So the
decoding runs once per run, while the augmentation stays random per epoch, and
for a fixed seed a cached pipeline yields the same batches as an uncached one.
"""

import hashlib
import json
import os

import tensorflow as tf
from absl import logging

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
    ds = ds.batch(batch_size, drop_remainder=drop_remainder, num_parallel_calls=AUTOTUNE,
                  deterministic=bool(deterministic))
    return finish_batches(ds, deterministic=deterministic)


def finish_batches(ds, *, deterministic):
    """Prefetches batches and sets the determinism option."""
    options = tf.data.Options()
    options.deterministic = bool(deterministic)
    # Each op of the pipeline runs on the thread of its map call, not on the intra-op pool it shares with the
    # training step: a batch's warp split over that pool would queue the step's own ops behind it.
    options.threading.max_intra_op_parallelism = 1
    return ds.prefetch(AUTOTUNE).with_options(options)


def shuffle(ds, buffer_size, seed):
    return ds.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)


NO_CACHE = ("", "none")
MEMORY = "memory"


def cache_setting(value):
    """`data.cache` checked: "memory", "none" (or ""), or a folder for file caches; returns it."""
    value = "" if value is None else str(value)
    if value.lower() in NO_CACHE:
        return ""
    return value


def cache_file(folder, *parts):
    """A file-cache prefix in `folder`, named by a hash of `parts` (what decides the cached content).

    Two runs whose pipelines cache the same content share the file; a change of
    dataset, split, image size or held-out fraction gives another file, so a stale cache is never read.
    """
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return os.path.join(os.path.expanduser(folder), f"cmva-cache-{digest}")


def cache(ds, where):
    """`ds` cached and filled completely, here and now; `ds` itself when `where` is "" or "none".

    Args:
        ds: the decoded, not yet augmented examples (deterministic: the same
            elements in the same order on every pass).
        where: "memory" (in RAM), "" / "none" (no cache), or a file prefix
            (tf.data's file cache: `<where>.index` and `<where>.data-*`; an
            existing complete cache is read back instead of decoding again).

    The cache is filled by one full pass before it is returned. tf.data throws
    a cache away, with the warning "The calling iterator did not fully read the
    dataset being cached", whenever the first iterator to read it stops early:
    Keras building the model on one batch, `steps_per_epoch` shorter than the
    split, `take`. Once the cache is complete, an iterator that stops early
    costs nothing. The pass runs the decoding map in parallel; its time is the
    decoding the first epoch would have spent anyway.
    """
    where = cache_setting(where)
    if not where:
        return ds
    if where != MEMORY:
        os.makedirs(os.path.dirname(os.path.abspath(where)), exist_ok=True)
    ds = ds.cache("" if where == MEMORY else where)
    count = int(ds.reduce(tf.constant(0, tf.int64), lambda n, _: n + 1))
    logging.info("Cached %d decoded examples (%s).", count, "in memory" if where == MEMORY else where)
    return ds
