"""`model.input_normalization` reaches each task's backbone: "imagenet" feeds ImageNet-normalised pixels."""

import keras
import numpy as np
import pytest

from cmva_keras import tasks
from cmva_keras.backbones import IMAGENET_MEAN, IMAGENET_STD
from cmva_keras.training.config import resolve_config


@pytest.mark.parametrize("task_name", ["food", "hand"])
def test_imagenet_normalization_from_the_config_is_the_unit_model_on_normalised_pixels(task_name):
    task = tasks.get(task_name)
    configs = {n: resolve_config(task_name, "smoke", overrides=[f"model.input_normalization={n}"])
               for n in ("unit", "imagenet")}
    shape = tuple(task.input_shape(configs["unit"]))
    features = {}
    for name, config in configs.items():
        keras.utils.set_random_seed(0)
        features[name] = task.image_features(config, shape)
        features[name].build((None,) + shape)
    features["imagenet"].set_weights(features["unit"].get_weights())
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, size=(2,) + shape).astype("float32")
    # "unit" divides by 255; so feeding it 255 * (x / 255 - mean) / std is the "imagenet" model on x.
    normalised = 255.0 * (images / 255.0 - np.array(IMAGENET_MEAN, "float32")) / np.array(IMAGENET_STD, "float32")
    got = keras.ops.convert_to_numpy(features["imagenet"](images, training=False))
    expected = keras.ops.convert_to_numpy(features["unit"](normalised, training=False))
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)
    assert not np.allclose(got, keras.ops.convert_to_numpy(features["unit"](images, training=False)), atol=1e-3)


def test_an_unknown_input_normalization_names_the_choices():
    config = resolve_config("hand", "smoke", overrides=["model.input_normalization=bgr"])
    task = tasks.get("hand")
    with pytest.raises(ValueError, match="imagenet"):
        task.build_model(config, tuple(task.input_shape(config)), (21, 3))
