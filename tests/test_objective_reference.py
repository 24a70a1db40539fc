"""`CMVA.compute_objective` against a float64 NumPy reference of all seven terms and their weighted sum.

The reference is written from docs/method.md's formulas, not from the library's
code: reparameterisation `z = mu + exp(lv / 2) * eps`, KL to N(0, I),
reconstruction (binary cross-entropy of sigmoid outputs, or mean squared
error), the mapper path `[mu1, sigma1] -> VE -> z_v -> VD -> z_m -> D2`, and
`w2 = mean(sqrt(||mu_m - mu2||^2 + ||sigma_m - sigma2||^2 + eps))`; each phase
weights only its own terms. It reads the tiny model's weights (a strided conv
and global average pooling in E1, relu hidden layers in E2) and runs on fixed
noise, so both sides compute the same numbers. Runs under the process's
KERAS_BACKEND (`scripts/run_tests.sh` runs all three).
"""

import keras
import numpy as np
import pytest
from tiny import IMAGE_SHAPE, LATENT, build_tiny_cmva, tiny_data

BATCH = 8
# Not the defaults, and all different, so that a term weighted wrongly shows up in "loss".
WEIGHTS = {"rec_1": 1.0, "kl_1": 0.03, "rec_2": 0.7, "kl_2": 0.05, "rec_m": 1.3, "kl_m": 0.02, "w2": 0.4}
# docs/method.md, "Training phases": which terms each phase optimises.
ACTIVE_TERMS = {
    1: ("rec_1", "kl_1", "rec_2", "kl_2"),
    2: ("rec_m", "kl_m", "w2"),
    3: ("rec_1", "kl_1", "rec_2", "kl_2", "rec_m", "kl_m", "w2"),
}


def _array(variable):
    return np.asarray(keras.ops.convert_to_numpy(variable), dtype="float64")


def _dense(layer):
    return _array(layer.kernel), _array(layer.bias)


def _gaussian(hidden_layers, head):
    return {
        "hidden": [_dense(layer) for layer in hidden_layers],
        "mean": _dense(head.mean_layer),
        "log_var": _dense(head.log_var_layer),
    }


def float64_params(model):
    """The tiny CMVA's weights as float64 arrays (E1's backbone: one relu Conv2D, then global average pooling)."""
    backbone = model.source_encoder.backbone
    conv, pool = backbone.layers
    assert isinstance(conv, keras.layers.Conv2D) and isinstance(pool, keras.layers.GlobalAveragePooling2D)
    assert conv.padding == "valid" and conv.data_format == "channels_last"
    assert conv.activation is keras.activations.relu
    for part in (model.source_encoder, model.target_encoder):
        assert all(layer.activation is keras.activations.relu for layer in part.hidden)
    for part in (model.source_decoder, model.target_decoder):
        assert all(layer.activation is keras.activations.relu for layer in part.hidden_layers)
    mapper = model.mapper
    assert len(mapper.variational_encoder) == len(mapper.variational_decoder) == 1  # heads only
    return {
        "conv": (*_dense(conv), conv.strides),
        "source_encoder": _gaussian(model.source_encoder.hidden, model.source_encoder.head),
        "target_encoder": _gaussian(model.target_encoder.hidden, model.target_encoder.head),
        "source_decoder": {"hidden": [_dense(layer) for layer in model.source_decoder.hidden_layers],
                           "output": _dense(model.source_decoder.output_layer)},
        "target_decoder": {"hidden": [_dense(layer) for layer in model.target_decoder.hidden_layers],
                           "output": _dense(model.target_decoder.output_layer)},
        "mapper_encoder": _gaussian([], mapper.variational_encoder[-1]),
        "mapper_decoder": _gaussian([], mapper.variational_decoder[-1]),
    }


def relu(h):
    return np.maximum(h, 0.0)


def conv_then_average(images, kernel, bias, strides):
    """Valid, strided cross-correlation (channels last), relu, then the mean over positions."""
    kh, kw = kernel.shape[:2]
    sh, sw = strides
    rows = (images.shape[1] - kh) // sh + 1
    cols = (images.shape[2] - kw) // sw + 1
    out = np.empty((images.shape[0], rows, cols, kernel.shape[-1]))
    for i in range(rows):
        for j in range(cols):
            patch = images[:, i * sh:i * sh + kh, j * sw:j * sw + kw, :]
            out[:, i, j, :] = np.einsum("nhwc,hwco->no", patch, kernel) + bias
    return relu(out).mean(axis=(1, 2))


def gaussian(part, h):
    for w, b in part["hidden"]:
        h = relu(h @ w + b)
    return h @ part["mean"][0] + part["mean"][1], h @ part["log_var"][0] + part["log_var"][1]


def decoder(part, h):
    for w, b in part["hidden"]:
        h = relu(h @ w + b)
    return h @ part["output"][0] + part["output"][1]


def kl(mu, lv):
    """KL(N(mu, exp(lv)) || N(0, I)), summed over dimensions, batch mean."""
    return np.mean(0.5 * np.sum(np.exp(lv) + mu**2 - lv - 1.0, axis=-1))


def reconstruction(task, y, out):
    if task == "classification":
        p = 1.0 / (1.0 + np.exp(-out))
        return np.mean(-y * np.log(p) - (1.0 - y) * np.log(1.0 - p))
    return np.mean((y - out) ** 2)


def numpy_objective(params, task, x, y, noise, weights, phase, eps=1e-8):
    """The seven terms and the phase's weighted loss in float64, from docs/method.md's formulas."""
    x = np.float64(x)
    y = np.float64(y).reshape(len(y), -1)
    noise = {k: np.float64(v) for k, v in noise.items()}
    sigma = lambda lv: np.exp(lv / 2)  # noqa: E731

    mu1, lv1 = gaussian(params["source_encoder"], conv_then_average(x, *params["conv"]))
    mu2, lv2 = gaussian(params["target_encoder"], y)
    out_1 = decoder(params["source_decoder"], mu1 + sigma(lv1) * noise["z1"])
    out_2 = decoder(params["target_decoder"], mu2 + sigma(lv2) * noise["z2"])
    mu_v, lv_v = gaussian(params["mapper_encoder"], np.concatenate([mu1, sigma(lv1)], axis=-1))
    mu_m, lv_m = gaussian(params["mapper_decoder"], mu_v + sigma(lv_v) * noise["z_v"])
    out_m = decoder(params["target_decoder"], mu_m + sigma(lv_m) * noise["z_m"])
    distance = np.sum((mu_m - mu2) ** 2, -1) + np.sum((sigma(lv_m) - sigma(lv2)) ** 2, -1)
    terms = {
        "rec_1": reconstruction(task, y, out_1), "kl_1": kl(mu1, lv1),
        "rec_2": reconstruction(task, y, out_2), "kl_2": kl(mu2, lv2),
        "rec_m": reconstruction(task, y, out_m), "kl_m": kl(mu_v, lv_v),
        "w2": np.mean(np.sqrt(distance + eps)),
    }
    terms["loss"] = sum(weights[k] * terms[k] for k in ACTIVE_TERMS[phase])
    return terms


@pytest.mark.parametrize("phase", [1, 2, 3])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_compute_objective_matches_a_float64_numpy_reference(task, phase):
    model = build_tiny_cmva(task=task, batch_norm=False, loss_weights=WEIGHTS)
    model.build((None,) + IMAGE_SHAPE)
    model.set_phase(phase)
    x, y = tiny_data(n=BATCH, task=task)
    rng = np.random.default_rng(3)
    noise = {k: rng.standard_normal((BATCH, LATENT)).astype("float32") for k in ("z1", "z2", "z_v", "z_m")}

    terms, _ = model.compute_objective(x, y, training=True, noise=noise)
    got = {k: float(keras.ops.convert_to_numpy(v)) for k, v in terms.items()}
    reference = numpy_objective(float64_params(model), task, x, y, noise, WEIGHTS, phase)

    assert set(got) == set(reference)
    for term, value in reference.items():
        np.testing.assert_allclose(got[term], value, rtol=1e-5, atol=1e-7, err_msg=term)
    # Guard against a vacuous pass: every term is a real, non-zero number.
    assert all(np.isfinite(v) and v != 0.0 for v in reference.values())
