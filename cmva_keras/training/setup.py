"""From a config to the run's datasets and model, for both tasks.

`build_datasets(config)` resolves the dataset (the synthetic offline default,
generated on first use, or a real one from `manual_dir`), prepares it with its
TFDS builder and returns the task's `tf.data` pipelines; `build_model(config,
data)` builds the task's CMVA for that data.
"""

import dataclasses
import os

from absl import logging

DATASETS = {"food": ("synthetic", "yummly28k", "recipe1m"), "hand": ("synthetic", "rhd", "stb")}
# The builder that reads each task's synthetic set: they are written in these datasets' native layouts.
SYNTHETIC_FORMAT = {"food": "yummly28k", "hand": "rhd"}
TEST_SPLIT = {"yummly28k": "test", "recipe1m": "test", "rhd": "test", "stb": "test"}


@dataclasses.dataclass
class TaskData:
    """The datasets of one run and what the model needs to know about them."""

    builder_name: str
    manual_dir: str
    data_dir: str
    train: object  # tf.data.Dataset of (image, target) batches
    validation: object  # tf.data.Dataset or None
    train_steps: object  # int or None (the whole split)
    validation_steps: object
    input_shape: tuple  # one source input, e.g. (64, 64, 3)
    target_shape: tuple  # one target, e.g. (K,) or (21, 3)
    vocabulary: list = dataclasses.field(default_factory=list)  # food: ingredient names


def cache_dir():
    """`$CMVA_CACHE_DIR`, else `~/.cache/cmva_keras`: synthetic sets and prepared TFDS data."""
    return os.environ.get("CMVA_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "cmva_keras")


def resolve_dataset(config):
    """`(builder_name, manual_dir, data_dir)` for the config's dataset, generating the synthetic one if needed."""
    from cmva_keras import synthetic

    task, name = config.task, config.data.dataset
    if name not in DATASETS[task]:
        raise ValueError(f"Unknown dataset {name!r} for task {task!r}: choose one of {', '.join(DATASETS[task])}.")
    data_dir = config.data.data_dir or os.path.join(cache_dir(), "tensorflow_datasets")
    if name == "synthetic":
        manual_dir = synthetic.ensure_default(task, cache_dir=cache_dir(), **synthetic_sizes(config))
        return SYNTHETIC_FORMAT[task], manual_dir, os.path.join(data_dir, "synthetic", os.path.basename(manual_dir))
    if not config.data.manual_dir:
        raise ValueError(
            f"Dataset {name!r} is read from the folder you downloaded it to: pass --manual_dir "
            f"(or --set data.manual_dir=PATH). See `cmva_keras.datasets` for each dataset's layout."
        )
    return name, os.path.expanduser(config.data.manual_dir), data_dir


def synthetic_sizes(config):
    """Keyword arguments of `synthetic.ensure_default` for this config."""
    if config.task == "food":
        return {"num_recipes": config.data.synthetic_recipes}
    return {"num_train": config.data.synthetic_train, "num_eval": config.data.synthetic_eval}


def build_datasets(config):
    """The run's `TaskData`: prepared TFDS splits mapped through the task's pipeline."""
    from cmva_keras import datasets
    from cmva_keras.pipelines import food as food_pipeline
    from cmva_keras.pipelines import hand as hand_pipeline

    name, manual_dir, data_dir = resolve_dataset(config)
    logging.info("Dataset %s from %s (prepared data in %s).", name, manual_dir, data_dir)
    splits = datasets.load(name, manual_dir=manual_dir, data_dir=data_dir)
    batch_size = config.train.batch_size
    common = dict(batch_size=batch_size, seed=config.seed, deterministic=config.data.deterministic)
    vocabulary = []
    if config.task == "food":
        vocabulary = list(splits.vocabulary)
        crop = config.data.crop_size
        make = lambda split, training: food_pipeline.make_dataset(  # noqa: E731
            split, training=training, image_size=tuple(config.data.image_size), crop_size=crop,
            num_classes=len(vocabulary), **common,
        )
        input_shape, target_shape = (crop, crop, 3), (len(vocabulary),)
    else:
        size = config.data.image_size
        make = lambda split, training: hand_pipeline.make_dataset(  # noqa: E731
            split, training=training, image_size=size, **common,
        )
        input_shape, target_shape = (size, size, 3), (21, 3)
    steps = config.train.steps_per_epoch or None
    train = make(splits.train, True)
    if steps:
        train = train.repeat()
    return TaskData(
        builder_name=name, manual_dir=manual_dir, data_dir=data_dir,
        train=train, validation=None, train_steps=steps, validation_steps=None,
        input_shape=input_shape, target_shape=target_shape, vocabulary=vocabulary,
    )


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
