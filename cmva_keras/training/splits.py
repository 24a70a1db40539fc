"""Which examples train and which validate (docs/architecture.md, "Watching a run").

`examples(task, source, config, split)` is the one place a run reads a split:

- "validation": the dataset's own validation split where it has one
  (Recipe1M); else, with `train.validation_fraction > 0`, the held-out part
  of the training split; else there is none (`has_validation` is False).
- "train": the training split, minus the held-out part when one is held out.
- any other split: read as it is.

Held-out membership is a hash of each example's stable id salted with the
seed: TFDS's `tfds_id` (file and record), which does not depend on the order
files are read in. A source without ids (a user task not read through
TFDS) falls back to the example's index in the split's fixed order.
"""

import tensorflow as tf

VALIDATION = "validation"
_ID = "tfds_id"
_BUCKETS = 1_000_000
_SALT = "cmva-keras/validation/v1/"


def validation_fraction(config):
    """`train.validation_fraction` as a float checked to lie in [0, 1)."""
    fraction = float(config.train.get("validation_fraction", 0.0) or 0.0)
    if not 0.0 <= fraction < 1.0:
        raise ValueError(
            f"train.validation_fraction={fraction} must be in [0, 1): the part of the training split "
            "held out for validation (e.g. --set train.validation_fraction=0.1), 0 for none."
        )
    return fraction


def source_splits(source):
    """The split names a prepared TFDS builder has, or None when `source` is not one."""
    info = getattr(source, "info", None)
    splits = getattr(info, "splits", None)
    return tuple(splits) if splits is not None else None


def has_own_validation(source):
    """True when the dataset itself has a validation split."""
    return VALIDATION in (source_splits(source) or ())


def holds_out(source, config):
    """True when this run holds out part of the training split for validation."""
    return validation_fraction(config) > 0.0 and not has_own_validation(source)


def has_validation(source, config):
    """True when the run has validation examples (the dataset's split, or held out)."""
    return has_own_validation(source) or holds_out(source, config)


def examples(task, source, config, split, shuffle_files=False):
    """The examples of `split` for this run, before the task's pipeline (see the module docstring)."""
    if split == VALIDATION and not has_validation(source, config):
        raise ValueError(
            f"The {config.data.dataset} dataset has no validation split and this run held none out: set "
            "train.validation_fraction (e.g. --set train.validation_fraction=0.1) when training, or "
            "evaluate another split (--split test)."
        )
    if split in ("train", VALIDATION) and holds_out(source, config):
        return held_out(task, source, config, keep=split == VALIDATION, shuffle_files=shuffle_files)
    return task.examples(source, split, shuffle_files=shuffle_files)


def held_out(task, source, config, *, keep, shuffle_files=False):
    """The training split's held-out part (`keep=True`) or the rest (`keep=False`)."""
    fraction, seed = validation_fraction(config), int(config.seed)
    ds, by_index = _with_ids(task, source, shuffle_files)
    if by_index:
        ds = ds.enumerate().map(lambda index, ex: (tf.strings.as_string(index), ex))
    else:
        ds = ds.map(lambda ex: (ex[_ID], {k: v for k, v in ex.items() if k != _ID}))
    limit = int(round(fraction * _BUCKETS))

    def chosen(key, _):
        bucket = tf.strings.to_hash_bucket_strong(
            tf.strings.join([_SALT, tf.strings.as_string(seed), "/", key]), _BUCKETS, [0x5EED, 0xC0FFEE]
        )
        in_validation = bucket < limit
        return in_validation if keep else tf.logical_not(in_validation)

    return ds.filter(chosen).map(lambda _, ex: ex)


def _with_ids(task, source, shuffle_files):
    """`(examples, by_index)`: the training split with `tfds_id`s, or in fixed order when ids are not available."""
    from cmva_keras import datasets
    from cmva_keras.tasks.task import Task

    if source_splits(source) is not None and type(task).examples is Task.examples:
        return datasets.as_dataset(source, "train", shuffle_files=shuffle_files, with_ids=True), False
    return task.examples(source, "train", shuffle_files=False), True


def held_out_count(task, source, config):
    """Number of held-out validation examples (counts by reading the ids; for logs and tests)."""
    return int(held_out(task, source, config, keep=True).reduce(0, lambda n, _: n + 1))
