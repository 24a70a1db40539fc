"""A task of your own, registered from your code without touching the package (README, "Your own task").

The task: 16x16 images holding up to three coloured squares (red, green,
blue); the target is which colours are present (multi-label). The data is
NumPy arrays made here; a real task would read its files in `open_source`.

    python scripts/train.py --config tests/colour_task.py --workdir runs/colours

(importing this module registers the task "colours"; `--config` imports it).
"""

import keras
import numpy as np
import tensorflow as tf

from cmva_keras import metrics, tasks
from cmva_keras.configs import common
from cmva_keras.layers import MLP, GaussianEncoder, Mapper
from cmva_keras.models import CMVA

COLOURS = ("red", "green", "blue")
SIZE = 16


def make_images(num, seed):
    """`(images uint8 (num, 16, 16, 3), labels float32 (num, 3))`: a 6x6 square per present colour."""
    rng = np.random.default_rng(seed)
    labels = (rng.random((num, len(COLOURS))) < 0.5).astype("float32")
    images = np.zeros((num, SIZE, SIZE, 3), "uint8")
    for i, present in enumerate(labels):
        for channel in np.flatnonzero(present):
            top, left = rng.integers(0, SIZE - 6, size=2)
            images[i, top : top + 6, left : left + 6, channel] = 255
    return images, labels


class ColourTask(tasks.Task):
    name = "colours"
    problem = "classification"
    datasets = ("synthetic",)
    VARIANTS = ("default",)
    primary_metric = "f1"
    table_metrics = ("f1", "iou")

    def get_config(self, variant="default"):
        config = common.run_block(self.name, variant)  # the keys every run has
        config.data.num_train, config.data.num_test = 256, 64
        config.model = common.model_block("", latent_dim=8)  # this task builds its own image encoder
        config.train = common.train_block(batch_size=32, phase_epochs=(4, 2, 2), verbose=0)
        return common.finish(config, variant)

    def open_source(self, config):
        return {"train": make_images(config.data.num_train, seed=1), "test": make_images(config.data.num_test, seed=2)}

    def examples(self, source, split, shuffle_files=False):
        images, labels = source[split]
        return tf.data.Dataset.from_tensor_slices({"image": images, "labels": labels})

    def vocabulary(self, source):
        return list(COLOURS)

    def input_shape(self, config):
        return (SIZE, SIZE, 3)

    def target_shape(self, vocabulary):
        return (len(vocabulary),)

    def pipeline(self, config, examples, *, training, batch_size, for_evaluation=False, tta=False, num_classes=None):
        dataset = examples.shuffle(256, seed=config.seed) if training else examples
        dataset = dataset.map(lambda ex: (tf.cast(ex["image"], tf.float32), ex["labels"]))
        return dataset.batch(batch_size)

    def image_features(self, config, input_shape):
        return keras.Sequential([
            keras.Input(input_shape),
            keras.layers.Rescaling(1 / 255),
            keras.layers.Conv2D(8, 3, strides=2, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
        ])

    def build_cmva(self, config, input_shape, target_shape):
        latent, k = config.model.latent_dim, target_shape[0]
        return CMVA(
            source_encoder=GaussianEncoder(latent, backbone=self.image_features(config, input_shape)),
            source_decoder=MLP(k), target_encoder=GaussianEncoder(latent), target_decoder=MLP(k),
            mapper=Mapper(latent), target_shape=target_shape, loss_weights=config.model.loss_weights.to_dict(),
            seed=config.seed,
        )

    def score(self, y, prediction, extras, threshold=0.5):
        return metrics.ingredient_scores(y, prediction, threshold=threshold)


TASK = tasks.register(ColourTask(), replace=True)
VARIANTS = TASK.VARIANTS
get_config = TASK.get_config
