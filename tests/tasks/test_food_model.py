"""`build_food_model`: the paper's wiring, its sizes, a three-phase fit, `.keras` reload."""

import keras
import numpy as np
import pytest

from cmva_keras import CMVA, tasks
from cmva_keras.backbones import build_backbone
from cmva_keras.layers import MLP, GaussianEncoder, Mapper
from cmva_keras.tasks import build_food_image_features, build_food_model

from .helpers import assert_keras_round_trip, dense_parameters, fit_three_phases, part_parameters


def _expected_head_parameters(features, latent, ingredients):
    """Everything but the image feature extractor, from the paper's single-layer parts."""
    return (
        2 * dense_parameters(features, latent)  # E1's mean and log-variance heads
        + 2 * dense_parameters(ingredients, latent)  # E2: one layer on the multi-hot vector
        + 2 * dense_parameters(latent, ingredients)  # D1 and D2
        + 2 * dense_parameters(2 * latent, latent)  # VE on [mu1, sigma1]
        + 2 * dense_parameters(latent, latent)  # VD
    )


def test_paper_variant_sizes():
    # DenseNet-121 (7,037,504) + 1x1 conv 1024->512 + 3x3 conv 512->512, no
    # biases, each with a BatchNorm (4 values per channel); then the heads, d = 512.
    model = tasks.get("food").build_model(tasks.get("food").get_config("paper"), (224, 224, 3), (265,))
    model.build((None, 224, 224, 3))
    features = 7_037_504 + (1024 * 512 + 4 * 512) + (9 * 512 * 512 + 4 * 512)
    assert model.source_encoder.backbone.count_params() == features
    assert part_parameters(model) == features + _expected_head_parameters(512, 512, 265)
    assert model.target_shape == (265,) and model.task == "classification"


def test_parts_are_single_layers():
    model = build_food_model(num_ingredients=5, image_size=32, backbone="convnet_tiny", latent_dim=4,
                             extra_conv_filters=(8, 6))
    assert isinstance(model, CMVA)
    assert isinstance(model.source_encoder, GaussianEncoder) and model.source_encoder.hidden_units == ()
    assert isinstance(model.target_encoder, GaussianEncoder) and model.target_encoder.backbone is None
    assert model.target_encoder.hidden_units == ()
    for decoder in (model.source_decoder, model.target_decoder):
        assert isinstance(decoder, MLP) and decoder.hidden_units == () and decoder.output_dim == 5
    assert isinstance(model.mapper, Mapper) and model.mapper.hidden_units == ()
    assert model.mapper.latent_dim == model.mapper.intermediate_dim == 4


def test_image_features_are_two_convolutions_then_average_pooling():
    features = build_food_image_features(image_size=(32, 48), backbone="convnet_tiny",
                                         extra_conv_filters=(8, 6), extra_conv_kernel_sizes=(1, 3))
    convolutions = [layer for layer in features.layers if isinstance(layer, keras.layers.Conv2D)]
    assert [(c.filters, c.kernel_size) for c in convolutions] == [(8, (1, 1)), (6, (3, 3))]
    assert isinstance(features.layers[-1], keras.layers.GlobalAveragePooling2D)
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 48, 3)).astype("float32")
    assert tuple(features(images).shape) == (2, 6)
    with pytest.raises(ValueError, match="one entry per extra convolution"):
        build_food_image_features(image_size=32, backbone="convnet_tiny", extra_conv_filters=(8, 8, 8))


def test_a_keras_model_can_replace_the_named_backbone():
    own = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(5, 3, strides=2)], name="own")
    model = build_food_model(num_ingredients=3, image_size=16, backbone=own, latent_dim=4, extra_conv_filters=(6, 7))
    assert model.source_encoder.backbone.layers[0] is own
    images = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 3)).astype("float32")
    assert tuple(model(images).shape) == (2, 3)
    with pytest.raises(ValueError, match="backbone_weights is for named backbones"):
        build_food_model(num_ingredients=3, image_size=16, backbone=own, backbone_weights="w.weights.h5")
    with pytest.raises(TypeError, match="backbone name or a Keras model"):
        build_food_model(num_ingredients=3, image_size=16, backbone=3)


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="num_ingredients"):
        build_food_model(num_ingredients=0, image_size=32, backbone="convnet_tiny")
    with pytest.raises(ValueError, match="image_size"):
        build_food_model(num_ingredients=3, image_size=(32, 32, 3), backbone="convnet_tiny")


def test_tiny_food_model_fits_three_phases_and_reloads(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    ingredients, latent = 7, 8
    # A DenseNet with two one-layer blocks, passed as a ready model: the
    # keras-cv DenseNet class inside a CMVA fit, with few ops to compile.
    backbone = build_backbone("densenet_tiny", input_shape=(32, 32, 3), stackwise_num_repeats=[1, 1])
    model = build_food_model(num_ingredients=ingredients, image_size=32, backbone=backbone,
                             latent_dim=latent, extra_conv_filters=(8, 8), seed=1)
    images = rng.integers(0, 256, (8, 32, 32, 3)).astype("uint8")
    labels = (rng.random((8, ingredients)) < 0.3).astype("float32")
    model.build((None, 32, 32, 3))
    features = model.source_encoder.backbone.count_params()
    assert part_parameters(model) == features + _expected_head_parameters(8, latent, ingredients)
    before = [keras.ops.convert_to_numpy(v).copy() for v in model.trainable_variables]

    history = fit_three_phases(model, images, labels)

    assert history.history["phase"] == [1, 2, 3]
    assert all(np.isfinite(history.history["loss"]))
    after = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    probabilities = keras.ops.convert_to_numpy(model(images))
    assert probabilities.shape == (8, ingredients)
    assert np.all((probabilities >= 0) & (probabilities <= 1))
    assert_keras_round_trip(model, images, tmp_path)
