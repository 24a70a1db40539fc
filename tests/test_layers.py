"""The building blocks in cmva_keras/layers."""

import keras
import numpy as np
import pytest

from cmva_keras.layers import MLP, GaussianEncoder, GaussianHead, Mapper


def test_gaussian_head_initial_log_var_sets_the_starting_scale():
    head = GaussianHead(4, initial_log_var=-4.0)
    mean, log_var = head(np.zeros((2, 3), "float32"))
    assert tuple(mean.shape) == tuple(log_var.shape) == (2, 4)
    # With zero features the log-variance is its bias: -4, i.e. sigma = exp(-2).
    np.testing.assert_allclose(keras.ops.convert_to_numpy(log_var), -4.0)
    clone = GaussianHead.from_config(head.get_config())
    assert clone.initial_log_var == -4.0


def test_mlp_has_the_hidden_layers_asked_for():
    mlp = MLP(63, hidden_units=(512,) * 5)
    out = mlp(np.zeros((2, 30), "float32"))
    assert tuple(out.shape) == (2, 63)
    kernels = [w for w in mlp.weights if "kernel" in w.path]
    assert [tuple(k.shape) for k in kernels] == [(30, 512)] + [(512, 512)] * 4 + [(512, 63)]


def test_mapper_variational_encoder_sees_mean_and_sigma():
    mapper = Mapper(6, intermediate_dim=5)
    mu, log_var = np.ones((2, 8), "float32"), np.zeros((2, 8), "float32")
    mu_v, lv_v = mapper.encode(mu, log_var)
    mu_m, lv_m = mapper.decode(mu_v)
    assert tuple(mu_v.shape) == (2, 5) and tuple(mu_m.shape) == (2, 6)
    ve_kernel = [w for w in mapper.weights if "variational_encoder_head/mean/kernel" in w.path][0]
    assert tuple(ve_kernel.shape) == (16, 5)  # [mu1, sigma1]: twice the source latent size
    # VE's input is sigma = exp(0.5 * log_var), not the log-variance: with all
    # weights on the second half, the output is the sum of the sigmas (8 * 1).
    kernel = np.zeros((16, 5), "float32")
    kernel[8:] = 1.0
    ve_kernel.assign(kernel)
    mu_v, _ = mapper.encode(mu, log_var)
    bias = [w for w in mapper.weights if "variational_encoder_head/mean/bias" in w.path][0]
    np.testing.assert_allclose(keras.ops.convert_to_numpy(mu_v) - keras.ops.convert_to_numpy(bias.value), 8.0, rtol=1e-6)


@pytest.mark.parametrize("layer", [
    GaussianEncoder(4, hidden_units=(6,), initial_log_var=-2.0),
    GaussianEncoder(4, backbone=keras.Sequential([keras.layers.Dense(5)])),
    MLP(3, hidden_units=(7,)),
    Mapper(4, hidden_units=(8,)),
])
def test_layers_round_trip_through_their_config(layer):
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
