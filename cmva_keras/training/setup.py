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

from cmva_keras.training.config import check_config


@dataclasses.dataclass
class TaskData:
    """The datasets of one run and what the model needs to know about them."""

    train: object  # tf.data.Dataset of (image, target) batches
    train_steps: object  # batches per epoch, or None (the whole split)
    input_shape: tuple  # one source input, e.g. (64, 64, 3)
    target_shape: tuple  # one target, e.g. (K,) or (21, 3)
    vocabulary: list = dataclasses.field(default_factory=list)  # classification: label names


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


def build_datasets(config):
    """The run's `TaskData`: the prepared training split through the task's augmenting pipeline."""
    task = task_of(config)
    source = task.open_source(config)
    vocabulary = task.vocabulary(source) or []
    target_shape = tuple(task.target_shape(vocabulary))
    train = task.pipeline(
        config, task.examples(source, "train", shuffle_files=True), training=True,
        batch_size=config.train.batch_size, num_classes=len(vocabulary) or None,
    )
    steps = config.train.steps_per_epoch or None
    if steps:
        train = train.repeat()
    return TaskData(
        train=train, train_steps=steps, input_shape=tuple(task.input_shape(config)), target_shape=target_shape,
        vocabulary=vocabulary,
    )


def evaluation_dataset(config, split="test", tta=False):
    """One split through the test-time pipeline (no augmentation, fixed order), yielding `(x, y, extras)`.

    With `tta`, the images are what the task's `tta_views` cut their views from.
    """
    task = task_of(config)
    source = task.open_source(config)
    vocabulary = task.vocabulary(source) or []
    return task.pipeline(
        config, task.examples(source, split), training=False, batch_size=config.train.batch_size,
        for_evaluation=True, tta=tta, num_classes=len(vocabulary) or None,
    )


def build_model(config, data):
    """The task's model for `config.method` with the config's model settings, for `data`."""
    return task_of(config).build_model(config, tuple(data.input_shape), tuple(data.target_shape))
