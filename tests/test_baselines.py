"""The paper's two baselines, `CMVAE` (Spurr et al.) and `CADAVAE` (Schönfeld et al.), and their image decoder.

The NumPy references below are written from the original papers' formulas (and
the CMVA paper's section 4.1.2), not from the library's code, in float64:

- reparameterisation `z = mu + exp(lv / 2) * eps`, one draw per latent dimension;
- KL(N(mu, sigma^2) || N(0, I)) summed over latent dimensions, batch mean;
- CM-VAE ("Var. 4"): image MSE to x / 255, target and cross task losses
  averaged over dimensions (CMVA's conventions);
- CADA-VAE: L1 and task losses SUMMED over dimensions (the official code's
  relative scales), the 2-Wasserstein distance
  `sqrt(||mu_i - mu_t||^2 + ||sigma_i - sigma_t||^2)`, and the latent head on
  the sampled latents of both modalities.
"""

import os

import keras
import numpy as np
import pytest
from test_objective_reference import conv_then_average, kl, relu
from tiny import same

from cmva_keras.callbacks.phase_schedule import PhaseSchedule
from cmva_keras.layers import MLP, ConvImageDecoder, GaussianEncoder, Mapper
from cmva_keras.models import CADAVAE, CMVAE, WithMapper
from cmva_keras.models import cadavae as cadavae_module

IMAGE_SHAPE = (8, 8, 3)
NUM_LABELS = 5
LATENT = 6
FEATURES = 6
BATCH = 8


# ------------------------------------------------------------------ builders
def _target_shape(task):
    return (NUM_LABELS,) if task == "classification" else (3, 2)


def _backbone(filters, batch_norm):
    layers = [keras.layers.Rescaling(1.0 / 255.0), keras.layers.Conv2D(filters, 3, strides=2, activation="relu")]
    if batch_norm:
        layers.append(keras.layers.BatchNormalization())
    layers.append(keras.layers.GlobalAveragePooling2D())
    return keras.Sequential(layers)


def build_cmvae(task="classification", batch_norm=True, loss_weights=None, seed=1):
    target_dim = int(np.prod(_target_shape(task)))
    return CMVAE(
        image_encoder=GaussianEncoder(LATENT, backbone=_backbone(4, batch_norm)),
        image_decoder=ConvImageDecoder(IMAGE_SHAPE, filters=(4, 3, 2)),
        target_encoder=GaussianEncoder(LATENT, hidden_units=(8,)),
        target_decoder=MLP(target_dim),
        target_shape=_target_shape(task), task=task, loss_weights=loss_weights, seed=seed,
    )


def build_cadavae(task="classification", batch_norm=True, loss_weights=None, seed=1, **parts):
    target_dim = int(np.prod(_target_shape(task)))
    parts = {
        "feature_extractor": _backbone(FEATURES, batch_norm),
        "feature_head": keras.layers.Dense(target_dim),
        "image_encoder": GaussianEncoder(LATENT, hidden_units=(8,)),
        "image_decoder": MLP(FEATURES, hidden_units=(8,)),
        "target_encoder": GaussianEncoder(LATENT, hidden_units=(8,)),
        "target_decoder": MLP(target_dim),
        "latent_head": keras.layers.Dense(target_dim),
        **parts,
    }
    return CADAVAE(**parts, target_shape=_target_shape(task), task=task, loss_weights=loss_weights, seed=seed)


BUILDERS = {"CMVAE": build_cmvae, "CADAVAE": build_cadavae}
PHASE_EPOCHS = {"CMVAE": (1,), "CADAVAE": (1, 1, 1)}


def baseline_data(n=32, task="classification", seed=0):
    """Pixels in [0, 255] (as float32); the first channel carries the first label."""
    rng = np.random.default_rng(seed)
    if task == "classification":
        y = (rng.random((n, NUM_LABELS)) > 0.5).astype("float32")
    else:
        y = rng.normal(size=(n, 3, 2)).astype("float32")
    x = rng.integers(0, 256, size=(n,) + IMAGE_SHAPE).astype("float32")
    if task == "classification":
        x[..., 0] = 0.5 * x[..., 0] + 127.0 * y[:, :1, None]
    return x, y


def snapshot(model):
    """Every variable of every part of `model` (BatchNorm statistics included), as NumPy arrays."""
    return {
        part: [np.array(keras.ops.convert_to_numpy(v.value)) for v in model.part(part).variables]
        for part in model.PARTS
    }


def numpy_of(tensor):
    return np.asarray(keras.ops.convert_to_numpy(tensor))


class Recorder(keras.callbacks.Callback):
    """At each epoch's end: every part's variables, the optimizer's step count and non-zero moments."""

    def __init__(self):
        super().__init__()
        self.snapshots, self.iterations, self.moving_moments = [], [], []

    def on_epoch_end(self, epoch, logs=None):
        self.snapshots.append(snapshot(self.model))
        optimizer = self.model.optimizer
        self.iterations.append(int(numpy_of(optimizer.iterations)))
        moments = [v for v in optimizer.variables if "momentum" in v.path or "velocity" in v.path]
        self.moving_moments.append(sum(bool(np.any(numpy_of(v.value) != 0)) for v in moments))


def fit_phases(model, phase_epochs, n=32, extra_callbacks=None):
    """Fits through `phase_epochs`; `extra_callbacks(schedule)` gives callbacks placed after the schedule."""
    x, y = baseline_data(n, task=model.task)
    model.compile()
    recorder = Recorder()
    schedule = PhaseSchedule(phase_epochs, verbose=0)
    extra = list(extra_callbacks(schedule)) if extra_callbacks else []
    history = model.fit(
        x, y, batch_size=8, epochs=sum(phase_epochs), verbose=0, callbacks=[schedule, *extra, recorder],
    )
    return history, recorder


_TRAINED = {}


def trained(name, task="classification"):
    """`(model, variables before, history, recorder)` of a baseline fitted through all its phases, once per module.

    The round-trip and "+ Mapper" tests reuse these models: neither changes them
    (the "+ Mapper" test checks that bit-exactly), and each fit costs a trace per phase.
    """
    key = (name, task)
    if key not in _TRAINED:
        model = BUILDERS[name](task=task, loss_weights={"rec_target": 0.5})
        model.build((None,) + IMAGE_SHAPE)
        before = snapshot(model)
        history, recorder = fit_phases(model, PHASE_EPOCHS[name])
        _TRAINED[key] = (model, before, history, recorder)
    return _TRAINED[key]


# ------------------------------------------------------- float64 references
def _array(variable):
    return np.asarray(keras.ops.convert_to_numpy(variable), dtype="float64")


def _dense(layer):
    return _array(layer.kernel), _array(layer.bias)


def _backbone_params(backbone):
    """Rescaling, one valid strided relu Conv2D, global average pooling (no BatchNorm)."""
    rescale, conv, pool = backbone.layers
    assert isinstance(rescale, keras.layers.Rescaling) and isinstance(pool, keras.layers.GlobalAveragePooling2D)
    assert conv.padding == "valid" and conv.activation is keras.activations.relu
    return float(rescale.scale), (*_dense(conv), conv.strides)


def _features(params, x):
    scale, conv = params
    return conv_then_average(np.float64(x) * scale, *conv)


def _gaussian(encoder, h):
    """Relu hidden layers, then two linear heads: `(mean, log_var)`."""
    for layer in encoder.hidden:
        assert layer.activation is keras.activations.relu
        w, b = _dense(layer)
        h = relu(h @ w + b)
    mean = h @ _dense(encoder.head.mean_layer)[0] + _dense(encoder.head.mean_layer)[1]
    log_var = h @ _dense(encoder.head.log_var_layer)[0] + _dense(encoder.head.log_var_layer)[1]
    return mean, log_var


def _mlp(mlp, h):
    for layer in mlp.hidden_layers:
        w, b = _dense(layer)
        h = relu(h @ w + b)
    w, b = _dense(mlp.output_layer)
    return h @ w + b


def _conv_same(images, kernel, bias):
    """Stride-1 cross-correlation with "same" zero padding (odd kernel), channels last."""
    kh, kw = kernel.shape[:2]
    padded = np.pad(images, ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    out = np.zeros(images.shape[:3] + (kernel.shape[-1],))
    for i in range(kh):
        for j in range(kw):
            out += np.einsum("nhwc,co->nhwo", padded[:, i:i + images.shape[1], j:j + images.shape[2]], kernel[i, j])
    return out + bias


def _conv_transpose_same(images, kernel, bias, stride):
    """Stride-s transposed convolution, "same": each input pixel adds `x * kernel` to an s-spaced grid.

    Kernel `(kh, kw, out, in)`. The full output, `(H - 1) * s + k` wide, is
    cropped to `H * s`, dropping `floor((k - s) / 2)` rows/columns in front
    (the transpose of a "same" convolution from `H * s` to `H`).
    """
    n, h, w, _ = images.shape
    kh, kw, out_channels, _ = kernel.shape
    full = np.zeros((n, (h - 1) * stride + kh, (w - 1) * stride + kw, out_channels))
    for i in range(h):
        for j in range(w):
            full[:, i * stride:i * stride + kh, j * stride:j * stride + kw] += np.einsum(
                "nc,xyoc->nxyo", images[:, i, j], kernel
            )
    top, left = max(kh - stride, 0) // 2, max(kw - stride, 0) // 2
    return full[:, top:top + h * stride, left:left + w * stride] + bias


def _image_decoder(decoder, z):
    """CM-VAE's 7-layer CNN: relu Dense, reshape, (ConvT, conv) x 2, ConvT, sigmoid conv."""
    layers = [decoder.dense] + list(decoder.conv_layers)
    assert len(layers) == 7
    w, b = _dense(decoder.dense)
    h = relu(z @ w + b).reshape((len(z),) + decoder._start)
    for layer in decoder.conv_layers:
        kernel, bias = _dense(layer)
        if isinstance(layer, keras.layers.Conv2DTranspose):
            h = _conv_transpose_same(h, kernel, bias, layer.strides[0])
        else:
            h = _conv_same(h, kernel, bias)
        h = relu(h) if layer is not decoder.conv_layers[-1] else 1.0 / (1.0 + np.exp(-h))
    return h


def _sigma(log_var):
    return np.exp(log_var / 2)


def _bce(y, logits):
    """Per-label binary cross-entropy of sigmoid(logits), `(batch, K)`."""
    p = 1.0 / (1.0 + np.exp(-logits))
    return -y * np.log(p) - (1.0 - y) * np.log(1.0 - p)


def _task_mean(task, y, out):
    """CMVA's convention: averaged over the K dimensions and the batch."""
    return np.mean(_bce(y, out)) if task == "classification" else np.mean((y - out) ** 2)


def _task_sum(task, y, out):
    """CADA-VAE's convention: summed over the K dimensions, batch mean."""
    per = _bce(y, out) if task == "classification" else (y - out) ** 2
    return np.mean(np.sum(per, axis=-1))


def cmvae_reference(model, x, y, noise):
    """Spurr et al.'s Var. 4 terms: img->img, KL, target->target, KL, img->target."""
    x, y = np.float64(x), np.float64(y).reshape(len(y), -1)
    mu_i, lv_i = _gaussian(model.image_encoder, _features(_backbone_params(model.image_encoder.backbone), x))
    mu_t, lv_t = _gaussian(model.target_encoder, y)
    z_i = mu_i + _sigma(lv_i) * np.float64(noise["z_image"])
    z_t = mu_t + _sigma(lv_t) * np.float64(noise["z_target"])
    return {
        "rec_image": np.mean((_image_decoder(model.image_decoder, z_i) - x / 255.0) ** 2),
        "kl_image": kl(mu_i, lv_i),
        "rec_target": _task_mean(model.task, y, _mlp(model.target_decoder, z_t)),
        "kl_target": kl(mu_t, lv_t),
        "rec_cross": _task_mean(model.task, y, _mlp(model.target_decoder, z_i)),
    }


def cadavae_reference(model, x, y, noise, eps=1e-8):
    """Schönfeld et al.'s terms (four paths, KL, distance), the feature and latent heads."""
    x, y = np.float64(x), np.float64(y).reshape(len(y), -1)
    features = _features(_backbone_params(model.feature_extractor), x)
    mu_i, lv_i = _gaussian(model.image_encoder, features)
    mu_t, lv_t = _gaussian(model.target_encoder, y)
    z_i = mu_i + _sigma(lv_i) * np.float64(noise["z_image"])
    z_t = mu_t + _sigma(lv_t) * np.float64(noise["z_target"])
    l1 = lambda target, out: np.mean(np.sum(np.abs(target - out), axis=-1))  # noqa: E731
    head = lambda z: z @ _dense(model.latent_head)[0] + _dense(model.latent_head)[1]  # noqa: E731
    distance = np.sum((mu_i - mu_t) ** 2, -1) + np.sum((_sigma(lv_i) - _sigma(lv_t)) ** 2, -1)
    return {
        "rec_features": _task_sum(model.task, y, features @ _dense(model.feature_head)[0]
                                  + _dense(model.feature_head)[1]),
        "rec_image": l1(features, _mlp(model.image_decoder, z_i)),
        "rec_target": _task_sum(model.task, y, _mlp(model.target_decoder, z_t)),
        "kl_image": kl(mu_i, lv_i),
        "kl_target": kl(mu_t, lv_t),
        "cross_image": l1(features, _mlp(model.image_decoder, z_t)),
        "cross_target": _task_sum(model.task, y, _mlp(model.target_decoder, z_i)),
        "distance": np.mean(np.sqrt(distance + eps)),
        # Both modalities' samples, each with its own target: the mean over 2 * batch samples.
        "rec_head": 0.5 * (_task_sum(model.task, y, head(z_i)) + _task_sum(model.task, y, head(z_t))),
    }


# Not the defaults, all different, so a term weighted wrongly shows up in "loss".
REFERENCE_WEIGHTS = {
    "CMVAE": {"rec_image": 1.7, "kl_image": 0.03, "rec_target": 0.7, "kl_target": 0.05, "rec_cross": 1.3},
    "CADAVAE": {"rec_features": 1.1, "rec_image": 0.9, "rec_target": 0.7, "kl_image": 0.3, "kl_target": 0.2,
                "cross_image": 1.9, "cross_target": 2.3, "distance": 4.1, "rec_head": 1.3},
}
ACTIVE_TERMS = {  # the brief's phases, written out here rather than read from the class
    ("CMVAE", 1): ("rec_image", "kl_image", "rec_target", "kl_target", "rec_cross"),
    ("CADAVAE", 1): ("rec_features",),
    ("CADAVAE", 2): ("rec_image", "rec_target", "kl_image", "kl_target", "cross_image", "cross_target",
                     "distance"),
    ("CADAVAE", 3): ("rec_head",),
}
REFERENCES = {"CMVAE": cmvae_reference, "CADAVAE": cadavae_reference}


@pytest.mark.parametrize("name, phase", [("CMVAE", 1), ("CADAVAE", 1), ("CADAVAE", 2), ("CADAVAE", 3)])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_terms_match_a_float64_numpy_reference_of_the_papers_formulas(name, phase, task):
    weights = REFERENCE_WEIGHTS[name]
    model = BUILDERS[name](task=task, batch_norm=False, loss_weights=weights)
    model.build((None,) + IMAGE_SHAPE)
    model.set_phase(phase)
    x, y = baseline_data(BATCH, task=task)
    rng = np.random.default_rng(3)
    noise = {k: rng.standard_normal((BATCH, LATENT)).astype("float32") for k in ("z_image", "z_target")}

    terms, _ = model.compute_objective(x, y, training=True, noise=noise)
    got = {k: float(numpy_of(v)) for k, v in terms.items()}
    reference = REFERENCES[name](model, x, y, noise)
    reference["loss"] = sum(weights[t] * reference[t] for t in ACTIVE_TERMS[(name, phase)])

    assert set(got) == set(reference)
    for term, value in reference.items():
        np.testing.assert_allclose(got[term], value, rtol=2e-5, atol=1e-6, err_msg=term)
    assert all(np.isfinite(v) and v != 0.0 for v in reference.values())


def test_unknown_noise_keys_are_refused():
    model = build_cmvae()
    x, y = baseline_data(4)
    model.build((None,) + IMAGE_SHAPE)
    with pytest.raises(ValueError, match="z_image"):
        model.compute_objective(x, y, noise={"z1": np.zeros((4, LATENT), "float32")})


# ------------------------------------------------- phases, freezing, moments
def test_cmvae_trains_every_part_in_its_one_phase():
    model, before, history, recorder = trained("CMVAE")
    for name in ("loss",) + CMVAE.TERMS:
        assert len(history.history[name]) == 1 and np.all(np.isfinite(history.history[name])), name
    assert history.history["phase"] == [1]
    for part in CMVAE.PARTS:
        assert not same(before, recorder.snapshots[-1], part), part
    assert any("moving_mean" in v.path for v in model.image_encoder.variables)


def test_cadavae_phases_freeze_bit_exactly_and_restart_the_optimizer():
    model, before, history, recorder = trained("CADAVAE")
    assert history.history["phase"] == [1, 2, 3]
    for name in ("loss",) + CADAVAE.TERMS:
        assert len(history.history[name]) == 3 and np.all(np.isfinite(history.history[name])), name
    trained_parts = {
        1: ("feature_extractor", "feature_head"),
        2: ("image_encoder", "image_decoder", "target_encoder", "target_decoder"),
        3: ("latent_head",),
    }
    starts = [before] + recorder.snapshots[:-1]
    for phase, (start, end) in enumerate(zip(starts, recorder.snapshots), start=1):
        for part in CADAVAE.PARTS:
            assert same(start, end, part) != (part in trained_parts[phase]), (phase, part)
    # The BatchNorm statistics are among the variables compared above.
    assert any("moving_variance" in v.path for v in model.feature_extractor.variables)
    # Fresh Adam at each boundary: 4 steps per epoch, counted from 0 in each phase,
    # and only the phase's own parts have non-zero moments at its end.
    assert recorder.iterations == [4, 4, 4]
    for phase, count in zip((1, 2, 3), recorder.moving_moments):
        variables = sum(len(model.part(p).trainable_variables) for p in trained_parts[phase])
        assert count == 2 * variables, phase


def test_cadavae_loss_is_the_weighted_sum_of_each_phases_terms():
    weights = REFERENCE_WEIGHTS["CADAVAE"]
    model = build_cadavae(loss_weights=weights)
    model.compile()
    x, y = baseline_data(16)
    for phase in (1, 2, 3):
        model.set_phase(phase)
        logs = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
        active = ACTIVE_TERMS[("CADAVAE", phase)]
        assert logs["loss"] == pytest.approx(sum(weights[t] * logs[t] for t in active), rel=1e-5)


# ----------------------------------------------------------------- inference
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_inference_paths_are_the_documented_compositions(task):
    x, _ = baseline_data(6, task=task, seed=2)
    activate = (lambda t: 1.0 / (1.0 + np.exp(-t))) if task == "classification" else (lambda t: t)  # noqa: E731
    shape = (6,) + _target_shape(task)

    cmvae = build_cmvae(task=task)
    cmvae.build((None,) + IMAGE_SHAPE)
    mean, _ = cmvae.image_encoder(x, training=False)
    expected = activate(numpy_of(cmvae.target_decoder(mean))).reshape(shape)
    np.testing.assert_allclose(cmvae.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)

    cadavae = build_cadavae(task=task)
    cadavae.build((None,) + IMAGE_SHAPE)
    mean, _ = cadavae.image_encoder(cadavae.feature_extractor(x, training=False))
    classifier = activate(numpy_of(cadavae.latent_head(mean))).reshape(shape)
    cross = activate(numpy_of(cadavae.target_decoder(mean))).reshape(shape)
    np.testing.assert_allclose(cadavae.predict(x, verbose=0), classifier, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(cadavae.predict(x, path="cross", verbose=0), cross, rtol=1e-5, atol=1e-6)
    distributions = cadavae.latent_distributions(x, np.zeros(shape, "float32"))
    assert set(distributions) == {"source", "target"}
    np.testing.assert_allclose(numpy_of(distributions["source"][0]), numpy_of(mean), rtol=1e-6)


# ----------------------------------------------------------------- .keras files
@pytest.mark.parametrize("name", ["CMVAE", "CADAVAE"])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_keras_file_round_trip_keeps_every_path(tmp_path, name, task):
    model = trained(name, task)[0]
    path = os.path.join(tmp_path, f"{name}.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert type(loaded) is type(model) and loaded.phase == model.phase
    assert loaded.loss_weights["rec_target"] == 0.5
    x, _ = baseline_data(8, task=task, seed=5)
    for inference_path in model.INFERENCE_PATHS:
        np.testing.assert_array_equal(
            loaded.predict(x, path=inference_path, verbose=0), model.predict(x, path=inference_path, verbose=0)
        )
    for term in model.TERMS:
        assert numpy_of(loaded.loss_weight_variables[term].value) == numpy_of(model.loss_weight_variables[term].value)


# ---------------------------------------------------------------- + Mapper
@pytest.mark.parametrize("name", ["CMVAE", "CADAVAE"])
def test_with_mapper_trains_only_the_mapper_and_keeps_the_baseline_bit_exact(name):
    baseline = trained(name)[0]
    x, _ = baseline_data(8, seed=4)
    own = baseline.predict(x, verbose=0)
    base_variables = [np.array(numpy_of(v.value)) for v in baseline.variables]

    wrapped = WithMapper(baseline, Mapper(LATENT))
    wrapped.build((None,) + IMAGE_SHAPE)
    mapper_before = [np.array(numpy_of(v.value)) for v in wrapped.mapper.variables]
    history, _ = fit_phases(wrapped, (1,))
    assert all(np.isfinite(history.history[t]).all() for t in ("loss", "rec_m", "kl_m", "w2"))
    base_after = [np.array(numpy_of(v.value)) for v in baseline.variables]
    assert len(base_after) == len(base_variables)
    assert all(np.array_equal(a, b) for a, b in zip(base_variables, base_after))
    mapper_after = [np.array(numpy_of(v.value)) for v in wrapped.mapper.variables]
    assert not any(np.array_equal(a, b) for a, b in zip(mapper_before, mapper_after))
    np.testing.assert_array_equal(wrapped.predict(x, path="base", verbose=0), own)
    assert wrapped.predict(x, verbose=0).shape == own.shape


# ------------------------------------------------------------ CADA-VAE ramps
# The official schedule (edgarschnfld/CADA-VAE-PyTorch, 100 epochs): (start, end, maximum).
OFFICIAL = {"kl_image": (0, 93, 0.25), "kl_target": (0, 93, 0.25), "cross_image": (21, 75, 2.37),
            "cross_target": (21, 75, 2.37), "distance": (6, 22, 8.13)}


def official_weight(term, epoch, epochs=100):
    """`min(max((epoch - start) / (end - start) * factor, 0), factor)`, start/end scaled from 100 epochs."""
    start, end, factor = OFFICIAL[term]
    start, end = start * epochs / 100, end * epochs / 100
    return min(max((epoch - start) / (end - start) * factor, 0.0), factor)


def test_warmup_fractions_are_the_official_schedule():
    assert set(cadavae_module.WARMUPS) == set(OFFICIAL)
    for term, (start, end) in cadavae_module.WARMUPS.items():
        assert (start * 100, end * 100) == pytest.approx(OFFICIAL[term][:2])
        assert CADAVAE.DEFAULT_LOSS_WEIGHTS[term] == OFFICIAL[term][2]


def test_ramp_factors_give_the_official_weights():
    from cmva_keras.callbacks.loss_weight_ramp import ramp_factor

    schedule = PhaseSchedule((3, 100, 2), verbose=0)
    ramps = cadavae_module.warmup_callbacks(schedule, 100)
    assert [r.term for r in ramps] == list(cadavae_module.WARMUPS)
    for ramp in ramps:
        assert ramp.phase == 2 and ramp.schedule is schedule
        for epoch in (0, 3, 5, 6, 10, 14, 21, 22, 40, 50, 74, 75, 80, 92, 93, 99):
            weight = CADAVAE.DEFAULT_LOSS_WEIGHTS[ramp.term] * ramp_factor(epoch, ramp.start, ramp.end)
            assert weight == pytest.approx(official_weight(ramp.term, epoch), abs=1e-9), (ramp.term, epoch)
    assert official_weight("distance", 14) == pytest.approx(8.13 / 2)  # the reference itself, spot-checked


class WeightLog(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append({t: float(numpy_of(v.value)) for t, v in self.model.loss_weight_variables.items()})


def test_fit_with_warmup_callbacks_sets_the_ramped_weights():
    model = build_cadavae()
    log = WeightLog()
    vae_epochs = 5
    history, _ = fit_phases(
        model, (1, vae_epochs, 0),
        extra_callbacks=lambda schedule: cadavae_module.warmup_callbacks(schedule) + [log],
    )
    vae_logs = log.weights[1:]
    for epoch, weights in enumerate(vae_logs):
        for term in OFFICIAL:
            assert weights[term] == pytest.approx(official_weight(term, epoch, vae_epochs), rel=1e-6, abs=1e-7)
        assert weights["rec_image"] == weights["rec_target"] == 1.0
        assert weights["rec_features"] == weights["rec_head"] == 0.0
        # The step used these weights: the epoch's mean loss is their sum with the mean terms.
        i = epoch + 1
        expected = sum(weights[t] * history.history[t][i] for t in ACTIVE_TERMS[("CADAVAE", 2)])
        assert history.history["loss"][i] == pytest.approx(expected, rel=1e-5)
    assert vae_logs[0]["distance"] == 0.0 and vae_logs[-1]["distance"] == pytest.approx(8.13)
    assert 0.0 < vae_logs[2]["cross_image"] < 2.37
    # After fit the variables hold the last epoch's values.
    final = {t: float(numpy_of(v.value)) for t, v in model.loss_weight_variables.items()}
    assert final == pytest.approx(vae_logs[-1])


# ----------------------------------------------------------- the image decoder
def test_conv_image_decoder_has_seven_layers_and_outputs_images_in_0_1():
    decoder = ConvImageDecoder((16, 24), filters=(8, 4, 2))
    images = numpy_of(decoder(np.random.default_rng(0).normal(size=(2, 5)).astype("float32") * 10))
    assert images.shape == (2, 16, 24, 3)
    assert np.all((images >= 0) & (images <= 1))
    assert len([w for w in decoder.weights if w.path.endswith("kernel")]) == 7
    clone = ConvImageDecoder.from_config(decoder.get_config())
    assert clone.image_shape == (16, 24, 3) and clone.filters == (8, 4, 2)


def test_conv_image_decoder_matches_the_numpy_reference():
    decoder = ConvImageDecoder((16, 24, 2), filters=(8, 4, 2))
    z = np.random.default_rng(1).normal(size=(2, 5)).astype("float32")
    np.testing.assert_allclose(numpy_of(decoder(z)), _image_decoder(decoder, np.float64(z)), rtol=1e-5, atol=1e-6)


def test_conv_image_decoder_refuses_sizes_not_divisible_by_8():
    with pytest.raises(ValueError, match=r"multiples of 8; got 12x20.*8x16"):
        ConvImageDecoder((12, 20, 3))
    with pytest.raises(ValueError, match=r"\(H, W\) or \(H, W, C\)"):
        ConvImageDecoder((16,))


def test_cmvae_refuses_a_decoder_built_for_another_image_size():
    model = build_cmvae()
    with pytest.raises(ValueError, match=r"outputs images of shape \(8, 8, 3\).*inputs are \(16, 16, 3\)"):
        model.build((None, 16, 16, 3))


def test_cadavae_names_a_part_with_the_wrong_output_size():
    model = build_cadavae(image_decoder=MLP(FEATURES + 1))
    with pytest.raises(ValueError, match=r"image_decoder outputs shape .*expected \(batch, 6\)"):
        model.build((None,) + IMAGE_SHAPE)
