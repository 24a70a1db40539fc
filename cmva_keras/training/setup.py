"""From a config to the run's datasets and model, for any registered task and method.

`build_datasets(config)` resolves the dataset (the synthetic offline default,
generated on first use, or a real one from `manual_dir`), prepares it with its
TFDS builder and returns the task's `tf.data` pipeline; `build_model(config,
data)` builds the task's model for `config.method`. Everything task-specific
comes from the `Task` object (`cmva_keras.tasks.get(config.task)`).
"""

import dataclasses
import os

from absl import logging

from cmva_keras.training import splits
from cmva_keras.training.config import check_config


@dataclasses.dataclass
class TaskData:
    """The datasets of one run and what the model needs to know about them."""

    train: object  # tf.data.Dataset of (image, target) batches
    train_steps: object  # batches per epoch, or None (the whole split)
    input_shape: tuple  # one source input, e.g. (64, 64, 3)
    target_shape: tuple  # one target, e.g. (K,) or (21, 3)
    vocabulary: list = dataclasses.field(default_factory=list)  # classification: label names
    # Validation (None without): `(x, y)` batches for fit's terms, `(x, y, extras)` for the task's metrics.
    validation: object = None
    validation_eval: object = None


def task_of(config):
    """The config's `Task`."""
    from cmva_keras import tasks

    return tasks.get(config.task)


def resolve_dataset(config):
    """`(builder_name, manual_dir, data_dir)` for the config's dataset, generating the synthetic one if needed.

    The synthetic sets live in the cache folder (`$CMVA_CACHE_DIR`, else
    `~/.cache/cmva_keras`) with their prepared TFDS copy beside them; a real
    dataset is prepared into `data.data_dir`, else TFDS's default folder.
    """
    check_config(config)
    task = task_of(config)
    if config.data.dataset == "synthetic":
        manual_dir = task.synthetic_manual_dir(config)
    else:
        manual_dir = os.path.expanduser(config.data.manual_dir)
    return task.builder_name(config), manual_dir, config.data.data_dir or None


def open_dataset(config):
    """The config's dataset, prepared (once) by its TFDS builder."""
    from cmva_keras import datasets

    name, manual_dir, data_dir = resolve_dataset(config)
    builder = datasets.prepare(name, manual_dir=manual_dir, data_dir=data_dir)
    logging.info("Dataset %s from %s (prepared in %s).", name, manual_dir, builder.data_dir)
    return builder


def build_datasets(config, num_replicas=1):
    """The run's `TaskData`: the prepared training split through the task's augmenting pipeline.

    `num_replicas`: the devices each batch is split over (data-parallel
    training); the validation examples are then cut to a multiple of it, so
    that every validation batch, the last one included, splits evenly.
    """
    task = task_of(config)
    source = task.open_source(config)
    vocabulary = task.vocabulary(source) or []
    target_shape = tuple(task.target_shape(vocabulary))
    train = task.pipeline(
        config, splits.examples(task, source, config, "train", shuffle_files=True), training=True,
        batch_size=config.train.batch_size, num_classes=len(vocabulary) or None,
    )
    steps = config.train.steps_per_epoch or None
    if steps:
        train = train.repeat()
    validation = validation_eval = None
    if splits.has_validation(source, config):
        # A held-out split is filtered, so of unknown length: count it once, for both uses below.
        count = splits.held_out_count(task, source, config) if splits.holds_out(source, config) else None
        validation_eval = _evaluation_pipeline(task, source, config, splits.VALIDATION, vocabulary,
                                               num_replicas=num_replicas, num_examples=count)
        if count is not None:
            validation_eval = _with_known_length(validation_eval, count - count % num_replicas, config)
        validation = validation_eval.map(lambda x, y, *_: (x, y))
        logging.info("Validating on %s.", "the dataset's validation split" if splits.has_own_validation(source)
                     else f"{splits.validation_fraction(config):.0%} of the training split, held out")
    elif config.train.get("keep_best", False):
        raise ValueError(
            "train.keep_best keeps each phase's best epoch on validation data, and this run has none: the "
            f"{config.data.dataset} dataset has no validation split. Hold part of the training split out "
            "(--set train.validation_fraction=0.1), or drop train.keep_best."
        )
    return TaskData(
        train=train, train_steps=steps, input_shape=tuple(task.input_shape(config)), target_shape=target_shape,
        vocabulary=vocabulary, validation=validation, validation_eval=validation_eval,
    )


def _with_known_length(dataset, num_examples, config):
    """`dataset` (filtered, so of unknown length) told its number of batches.

    Keras' epoch iterators warn that the input "ran out of data" when a
    dataset's length is unknown; the held-out count is known, so say it.
    """
    import math

    import tensorflow as tf

    if num_examples == 0:
        raise ValueError(
            f"train.validation_fraction={splits.validation_fraction(config)} held out no example of the "
            f"{config.data.dataset} training split: raise it, or set it to 0 for no validation."
        )
    batches = math.ceil(num_examples / int(config.train.batch_size))
    return dataset.apply(tf.data.experimental.assert_cardinality(batches))


def _divisible(examples, num_replicas, split, count=None):
    """`examples` without its last `count % num_replicas`, so that batches of a multiple of `num_replicas` split evenly.

    JAX's data-parallel step cannot shard a batch whose size the devices do
    not divide (and TensorFlow would average unequal shares), so up to
    `num_replicas - 1` examples of the split are left out, with a warning.
    """
    if count is None:
        count = int(examples.cardinality())
    if count < 0:  # unknown (a filtered split) and not counted by the caller: count it once
        count = int(examples.reduce(0, lambda n, _: n + 1))
    kept = count - count % num_replicas
    if kept < count:
        logging.warning("Data-parallel over %d devices: %d of the %d %s examples are used (a multiple of %d).",
                        num_replicas, kept, count, split, num_replicas)
    return examples.take(kept)


def _evaluation_pipeline(task, source, config, split, vocabulary, tta=False, num_replicas=1, num_examples=None):
    """One split of the run through the task's test-time pipeline: `(x, y, extras)` batches in a fixed order.

    `num_examples`: the split's size when the caller has counted it already (a held-out split).
    """
    examples = splits.examples(task, source, config, split)
    if num_replicas > 1:
        examples = _divisible(examples, num_replicas, split, num_examples)
    return task.pipeline(
        config, examples, training=False, batch_size=config.train.batch_size,
        for_evaluation=True, tta=tta, num_classes=len(vocabulary) or None,
    )


def evaluation_dataset(config, split="test", tta=False):
    """One split through the test-time pipeline (no augmentation, fixed order), yielding `(x, y, extras)`.

    With `tta`, the images are what the task's `tta_views` cut their views from.
    """
    task = task_of(config)
    source = task.open_source(config)
    return _evaluation_pipeline(task, source, config, split, task.vocabulary(source) or [], tta=tta)


def build_model(config, data):
    """The task's model for `config.method` with the config's model settings, for `data`."""
    return task_of(config).build_model(config, tuple(data.input_shape), tuple(data.target_shape))
