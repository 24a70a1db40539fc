"""From a config to the run's datasets and model, for both tasks.

`build_datasets(config)` resolves the dataset (the synthetic offline default,
generated on first use, or a real one from `manual_dir`), prepares it with its
TFDS builder and returns the task's `tf.data` pipelines; `build_model(config,
data)` builds the task's CMVA for that data.
"""

import dataclasses
import os

from absl import logging

from cmva_keras.training.config import check_dataset

# The builder that reads each task's synthetic set: they are written in these datasets' native layouts.
SYNTHETIC_FORMAT = {"food": "yummly28k", "hand": "rhd"}


@dataclasses.dataclass
class TaskData:
    """The datasets of one run and what the model needs to know about them."""

    train: object  # tf.data.Dataset of (image, target) batches
    train_steps: object  # batches per epoch, or None (the whole split)
    input_shape: tuple  # one source input, e.g. (64, 64, 3)
    target_shape: tuple  # one target, e.g. (K,) or (21, 3)
    vocabulary: list = dataclasses.field(default_factory=list)  # food: ingredient names


def resolve_dataset(config):
    """`(builder_name, manual_dir, data_dir)` for the config's dataset, generating the synthetic one if needed.

    The synthetic sets live in the cache folder (`$CMVA_CACHE_DIR`, else
    `~/.cache/cmva_keras`) with their prepared TFDS copy beside them; a real
    dataset is prepared into `data.data_dir`, else TFDS's default folder.
    """
    from cmva_keras import synthetic

    check_dataset(config)
    if config.data.dataset == "synthetic":
        manual_dir = synthetic.ensure_default(config.task, **synthetic_sizes(config))
        return SYNTHETIC_FORMAT[config.task], manual_dir, config.data.data_dir or None
    return config.data.dataset, os.path.expanduser(config.data.manual_dir), config.data.data_dir or None


def synthetic_sizes(config):
    """Generator arguments of `synthetic.ensure_default` for this config."""
    if config.task == "food":
        return {"num_recipes": config.data.synthetic_recipes}
    return {"num_train": config.data.synthetic_train, "num_eval": config.data.synthetic_eval}


def _open(config):
    """The config's dataset, prepared (once) by its TFDS builder."""
    from cmva_keras import datasets

    name, manual_dir, data_dir = resolve_dataset(config)
    builder = datasets.prepare(name, manual_dir=manual_dir, data_dir=data_dir)
    logging.info("Dataset %s from %s (prepared in %s).", name, manual_dir, builder.data_dir)
    return builder


def _pipeline(config, builder, split, training, batch_size, with_metadata=False):
    """The task's `tf.data` pipeline over one split; returns `(dataset, input_shape, target_shape, vocabulary)`."""
    from cmva_keras import datasets
    from cmva_keras.pipelines import food as food_pipeline
    from cmva_keras.pipelines import hand as hand_pipeline

    examples = datasets.as_dataset(builder, split, shuffle_files=training)
    common = dict(batch_size=batch_size, seed=config.seed, deterministic=config.data.deterministic or not training)
    if config.task == "food":
        vocabulary = datasets.vocabulary(builder)
        crop = config.data.crop_size
        image_size = config.data.image_size
        image_size = image_size if isinstance(image_size, int) else tuple(image_size)
        dataset = food_pipeline.make_dataset(
            examples, training=training, image_size=image_size, crop_size=crop,
            num_classes=len(vocabulary), **common,
        )
        return dataset, (crop, crop, 3), (len(vocabulary),), vocabulary
    size = config.data.image_size
    dataset = hand_pipeline.make_dataset(examples, training=training, image_size=size, with_metadata=with_metadata, **common)
    return dataset, (size, size, 3), (21, 3), []


def build_datasets(config):
    """The run's `TaskData`: the prepared training split through the task's augmenting pipeline."""
    builder = _open(config)
    train, input_shape, target_shape, vocabulary = _pipeline(
        config, builder, "train", training=True, batch_size=config.train.batch_size,
    )
    steps = config.train.steps_per_epoch or None
    if steps:
        train = train.repeat()
    return TaskData(
        train=train, train_steps=steps, input_shape=input_shape, target_shape=target_shape, vocabulary=vocabulary,
    )


def evaluation_dataset(config, split="test", tta=False):
    """One split through the test-time pipeline (no augmentation, fixed order); hands with metadata.

    With `tta`, food images are the largest centre square of the resized image
    (the test-time augmentation cuts its crops from it).
    """
    builder = _open(config)
    if tta and config.task == "food":
        config = config.copy_and_resolve_references()
        with config.unlocked():
            size = config.data.image_size
            config.data.crop_size = int(size if isinstance(size, int) else min(size))
    dataset, *_ = _pipeline(
        config, builder, split, training=False, batch_size=config.train.batch_size, with_metadata=True,
    )
    return dataset


def build_model(config, data):
    """The task's CMVA (cmva_keras.tasks) with the config's model settings, for `data`."""
    from cmva_keras import tasks

    model_config = config.model
    common = dict(
        backbone=model_config.backbone,
        backbone_weights=model_config.backbone_weights or None,
        latent_dim=model_config.latent_dim,
        loss_weights=model_config.loss_weights.to_dict(),
        squared_wasserstein=model_config.squared_wasserstein,
        seed=config.seed,
    )
    if config.task == "food":
        return tasks.build_food_model(
            num_ingredients=data.target_shape[0], image_size=data.input_shape[:2],
            extra_conv_filters=tuple(model_config.extra_conv_filters), **common,
        )
    return tasks.build_hand_model(
        image_size=data.input_shape[:2], hidden_units=tuple(model_config.hidden_units), **common,
    )
