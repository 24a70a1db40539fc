"""`build_hand_model`: the paper's wiring, its sizes, a three-phase fit, `.keras` reload."""

import keras
import numpy as np

from cmva_keras import CMVA, tasks
from cmva_keras.layers import MLP, GaussianEncoder, Mapper
from cmva_keras.tasks import build_hand_image_features, build_hand_model

from .helpers import assert_keras_round_trip, dense_parameters, fit_three_phases, mlp_parameters, part_parameters

POSE_VALUES = 21 * 3


def _expected_head_parameters(features, latent, hidden_units):
    """Everything but the image feature extractor."""
    return (
        2 * dense_parameters(features, latent)  # E1: ResNet's classifier replaced by the heads
        + mlp_parameters(POSE_VALUES, hidden_units, 2 * latent)  # E2: hidden layers, then mean and log-var
        + 2 * mlp_parameters(latent, hidden_units, POSE_VALUES)  # D1 and D2
        + 2 * dense_parameters(2 * latent, latent)  # VE on [mu1, sigma1]
        + 2 * dense_parameters(latent, latent)  # VD
    )


def test_paper_variant_sizes():
    # ResNet-18 (11,186,112 parameters, 512 pooled features), six 512-unit layers.
    config = tasks.get("hand").get_config("paper")
    model = tasks.get("hand").build_model(config, (256, 256, 3), (21, 3))
    model.build((None, 256, 256, 3))
    latent = config.model.latent_dim
    assert model.source_encoder.backbone.count_params() == 11_186_112
    assert part_parameters(model) == 11_186_112 + _expected_head_parameters(512, latent, (512,) * 5)
    assert model.target_shape == (21, 3) and model.task == "regression"


def test_pose_branches_have_six_dense_layers_and_mapper_one():
    model = build_hand_model(image_size=32, backbone="convnet_tiny", latent_dim=4)
    assert isinstance(model, CMVA)
    # E2: five hidden 512-unit layers, then the Gaussian head (one layer giving mean and log-variance).
    assert isinstance(model.target_encoder, GaussianEncoder) and model.target_encoder.hidden_units == (512,) * 5
    for decoder in (model.source_decoder, model.target_decoder):
        assert isinstance(decoder, MLP) and decoder.hidden_units == (512,) * 5
        assert len(decoder.hidden_layers) + 1 == 6 and decoder.output_dim == POSE_VALUES
    assert isinstance(model.mapper, Mapper) and model.mapper.hidden_units == ()
    assert model.source_encoder.hidden_units == ()


def test_image_features_are_the_pooled_backbone():
    features = build_hand_image_features(image_size=(32, 48), backbone="resnet_tiny")
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 48, 3)).astype("float32")
    pooled = keras.ops.convert_to_numpy(features(images))
    feature_map = keras.ops.convert_to_numpy(features.layers[0](images))
    np.testing.assert_allclose(pooled, feature_map.mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)


def test_tiny_hand_model_fits_three_phases_and_reloads(tmp_path):
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    latent, hidden = 6, (16,) * 5
    model = build_hand_model(image_size=32, backbone="resnet_tiny", latent_dim=latent, hidden_units=hidden, seed=1)
    images = rng.integers(0, 256, (8, 32, 32, 3)).astype("uint8")
    poses = rng.normal(size=(8, 21, 3)).astype("float32")
    model.build((None, 32, 32, 3))
    features = model.source_encoder.backbone.count_params()
    # resnet_tiny's pooled features have 64 channels.
    assert part_parameters(model) == features + _expected_head_parameters(64, latent, hidden)
    before = [keras.ops.convert_to_numpy(v).copy() for v in model.trainable_variables]

    history = fit_three_phases(model, images, poses)

    assert history.history["phase"] == [1, 2, 3]
    assert all(np.isfinite(history.history["loss"]))
    after = [keras.ops.convert_to_numpy(v) for v in model.trainable_variables]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after))
    assert tuple(model(images).shape) == (8, 21, 3)
    assert_keras_round_trip(model, images, tmp_path)
