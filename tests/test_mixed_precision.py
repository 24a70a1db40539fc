"""Mixed precision (`train.dtype_policy`, `cmva_keras/precision.py`) on the current backend.

Under `mixed_bfloat16` and `mixed_float16` a model trains with finite terms,
every term is float32, predictions stay within a stated tolerance of the same
weights in float32, `mixed_float16` trains through a `LossScaleOptimizer`
whose scale the backend step applies (its gradients match float32's), a
`.keras` file keeps the policy and the optimizer, and the exported SavedModel
still serves float32.
"""

import json
import os

import keras
import numpy as np
import pytest
import tiny

import cmva_keras as cm
from cmva_keras import precision, tasks
from cmva_keras.backend import keras_private
from cmva_keras.training import run_files
from cmva_keras.training.config import resolve_config, to_json
from cmva_keras.training.loop import train

BACKEND = keras.backend.backend()
MIXED = ("mixed_bfloat16", "mixed_float16")
# Largest |difference| of the tiny model's predicted probabilities (in [0, 1]) or values (up to about 2)
# from float32's, same weights. bfloat16 keeps 8 significant bits, float16 11; measured on the three
# backends (Keras 3.15.1, CPU): at most 6e-3 (bfloat16) and 8e-4 (float16), about 3x below these.
PREDICTION_TOLERANCE = {"mixed_bfloat16": 2e-2, "mixed_float16": 3e-3}


@pytest.fixture(autouse=True)
def _float32_afterwards():
    """Every test leaves Keras' global policy as it found it (float32)."""
    yield
    keras.config.set_dtype_policy("float32")


def numpy(x):
    return np.asarray(keras.ops.convert_to_numpy(x))


def tiny_model(policy, task="classification", batch_norm=True, seed=1):
    """The tests' tiny CMVA, built under `policy`."""
    with precision.policy_scope(policy):
        model = tiny.build_tiny_cmva(task=task, seed=seed, batch_norm=batch_norm)
        model.build((None,) + tiny.IMAGE_SHAPE)
    return model


def noise_for(model, n):
    rng = np.random.default_rng(3)
    return {key: rng.normal(size=(n, tiny.LATENT)).astype("float32") for key in model.NOISE_KEYS}


# ------------------------------------------------------------------ bad input
def test_an_unknown_policy_is_refused_with_the_valid_ones_before_anything_is_written(tmp_path):
    with pytest.raises(ValueError, match="float32, mixed_bfloat16, mixed_float16"):
        precision.check_policy("mixed_float64")
    config = resolve_config("food", "smoke", overrides=["train.dtype_policy=float64"])
    workdir = tmp_path / "run"
    with pytest.raises(ValueError) as info:
        train(config, str(workdir))
    message = str(info.value)
    assert "'float64'" in message and all(name in message for name in precision.POLICIES)
    assert "train.dtype_policy" in message
    assert not workdir.exists()
    assert keras.config.dtype_policy().name == "float32"


def test_the_config_key_defaults_to_float32():
    for task in ("food", "hand"):
        assert resolve_config(task, "smoke").train.dtype_policy == "float32"


def test_train_builds_and_fits_the_model_under_the_configs_policy(tmp_path, monkeypatch):
    """`train` with `train.dtype_policy=mixed_bfloat16`: the model it fits is mixed; the global policy is restored."""
    from cmva_keras.training import loop
    from cmva_keras.training.setup import TaskData

    seen = {}

    def fake_fit(model, *args, **kwargs):
        seen["policy"] = keras.config.dtype_policy().name
        seen["model"] = model
        return model, []

    data = TaskData(train=None, train_steps=1, input_shape=(32, 32, 3), target_shape=(7,),
                    vocabulary=[f"ingredient_{i}" for i in range(7)])
    monkeypatch.setattr(loop, "build_datasets", lambda *args, **kwargs: data)
    monkeypatch.setattr(loop, "_fit", fake_fit)
    train(resolve_config("food", "smoke", overrides=["train.dtype_policy=mixed_bfloat16"]), str(tmp_path))
    model = seen["model"]
    assert seen["policy"] == "mixed_bfloat16" and model.dtype_policy.name == "mixed_bfloat16"
    assert model.source_encoder.head.compute_dtype == "float32"
    assert model.target_decoder.output_layer.compute_dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"


# ---------------------------------------------------------- what stays float32
@pytest.mark.parametrize("policy", MIXED)
def test_heads_mapper_and_decoder_outputs_compute_in_float32_the_rest_in_the_policy(policy):
    model = tiny_model(policy)
    assert keras.config.dtype_policy().name == "float32"  # the scope restored the global policy
    compute = policy.split("_")[1]

    def low_precision_layers(m):
        return [m.source_encoder.backbone.layers[0], m.target_encoder.hidden[0]]

    def float32_layers(m):
        return [m.source_encoder.head, m.source_encoder.head.mean_layer, m.source_encoder.head.log_var_layer,
                m.target_encoder.head.log_var_layer, m.mapper, *m.mapper.variational_encoder,
                *m.mapper.variational_decoder, m.source_decoder.output_layer, m.target_decoder.output_layer]

    for layer in low_precision_layers(model):
        assert layer.compute_dtype == compute and layer.kernel.dtype == "float32", layer.name
    for layer in float32_layers(model):
        assert layer.compute_dtype == "float32", layer.name
    # Under float32 nothing changes: every layer computes in float32.
    plain = tiny_model("float32")
    assert {layer.compute_dtype for layer in low_precision_layers(plain) + float32_layers(plain)} == {"float32"}


@pytest.mark.parametrize("policy", MIXED)
def test_every_term_and_the_prediction_are_float32(policy):
    model = tiny_model(policy)
    x, y = tiny.tiny_data(8)
    for training in (False, True):
        terms, y_pred = model.compute_objective(x, y, training=training, noise=noise_for(model, 8))
        assert set(terms) == {"loss", *cm.TERMS}
        for name, value in terms.items():
            assert keras.backend.standardize_dtype(value.dtype) == "float32", name
            assert np.isfinite(numpy(value)), name
    for path in model.INFERENCE_PATHS:
        assert model.predict(x, path=path, verbose=0).dtype == np.float32


# ------------------------------------------------------------ smoke training
@pytest.mark.parametrize("policy", MIXED)
def test_three_phases_train_with_finite_terms(policy):
    model = tiny_model(policy)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    x, y = tiny.tiny_data(16)
    schedule = cm.PhaseSchedule(phase_epochs=(1, 1, 1))
    history = model.fit(x, y, batch_size=8, epochs=schedule.total_epochs, callbacks=[schedule], verbose=0)
    assert history.history["phase"] == [1, 2, 3]
    for name in ("loss",) + cm.TERMS:
        values = history.history[name]
        assert len(values) == 3 and np.all(np.isfinite(values)), (name, values)
    # mixed_float16 trains through Keras' LossScaleOptimizer; bfloat16 needs none.
    scaled = keras_private.loss_scale_variable(model.optimizer)
    assert (scaled is not None) == (policy == "mixed_float16")
    if scaled is not None:
        assert isinstance(model.optimizer.inner_optimizer, keras.optimizers.Adam)
        assert 1.0 <= float(numpy(scaled[0].value)) <= scaled[1]
    # Each phase's 2 steps were applied (a skipped, non-finite step would not count).
    assert int(numpy(model.optimizer.iterations)) == 2


# ------------------------------------------------------ predictions vs float32
@pytest.mark.parametrize("task", ["classification", "regression"])
@pytest.mark.parametrize("policy", MIXED)
def test_predictions_are_within_the_stated_tolerance_of_float32_with_the_same_weights(policy, task):
    reference = tiny_model("float32", task=task)
    mixed = tiny_model(policy, task=task)
    mixed.set_weights(reference.get_weights())
    x, _ = tiny.tiny_data(16, task=task)
    for path in reference.INFERENCE_PATHS:
        expected = reference.predict(x, path=path, verbose=0)
        got = mixed.predict(x, path=path, verbose=0)
        assert got.dtype == np.float32 and got.shape == expected.shape
        difference = float(np.max(np.abs(got - expected)))
        assert difference <= PREDICTION_TOLERANCE[policy], (path, difference)
        # The tolerance is not vacuous: the low precision does show.
        assert difference > 0.0, path


# ------------------------------------------------------------- loss scaling
def one_sgd_step(policy, weights, x, y, noise):
    """The weight change of one SGD step (lr 1) of the tiny CMVA under `policy`, and the model."""
    model = tiny_model(policy, batch_norm=False)
    model.set_weights(weights)
    model.fixed_noise = noise
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=1.0), jit_compile=False)
    before = [numpy(v.value).copy() for v in model.trainable_variables]
    model.train_on_batch(x, y)
    return [numpy(v.value) - b for v, b in zip(model.trainable_variables, before)], model


def test_mixed_float16_scales_the_loss_and_its_gradients_equal_float32s():
    reference = tiny_model("float32", batch_norm=False)
    weights = reference.get_weights()
    x, y = tiny.tiny_data(8)
    noise = noise_for(reference, 8)
    expected, _ = one_sgd_step("float32", weights, x, y, noise)
    got, model = one_sgd_step("mixed_float16", weights, x, y, noise)
    # compile() wrapped the optimizer, and the step was applied at the initial scale (finite gradients).
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    variable, initial = keras_private.loss_scale_variable(model.optimizer)
    assert float(numpy(variable.value)) == initial == 2.0**15
    assert int(numpy(model.optimizer.iterations)) == 1
    # SGD with lr 1: the weight change is minus the gradient. Unscaled, it would be 2**15 times too
    # large; scaled but not unscaled, 2**15 times too small. float16 keeps 11 significant bits.
    expected, got = np.concatenate([e.ravel() for e in expected]), np.concatenate([g.ravel() for g in got])
    assert np.linalg.norm(expected) > 1e-3
    assert np.linalg.norm(got - expected) <= 2e-2 * np.linalg.norm(expected)


def test_a_phase_boundary_resets_the_loss_scale_and_the_moments_but_not_the_learning_rate():
    model = tiny_model("mixed_float16")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    x, y = tiny.tiny_data(8)
    model.train_on_batch(x, y)
    variable, initial = keras_private.loss_scale_variable(model.optimizer)
    variable.assign(4.0)  # as after overflowing steps
    model.set_phase(2, reset_optimizer=True)
    assert float(numpy(variable.value)) == initial  # a zero scale would zero every gradient
    learning_rate = keras_private.learning_rate_variable(model.optimizer)
    assert float(numpy(learning_rate.value)) == pytest.approx(1e-3)
    assert int(numpy(model.optimizer.iterations)) == 0
    moments = [v for v in model.optimizer.inner_optimizer.variables if v is not learning_rate]
    assert moments and all(not np.any(numpy(v.value)) for v in moments)
    # And the next phase trains at that scale.
    model.train_on_batch(x, y)
    assert int(numpy(model.optimizer.iterations)) == 1


# ------------------------------------------------------------------ saving
def test_a_mixed_model_round_trips_through_a_keras_file_with_its_policy_and_optimizer(tmp_path):
    model = tiny_model("mixed_float16")
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    x, y = tiny.tiny_data(8)
    model.train_on_batch(x, y)
    model.set_phase(2)
    path = str(tmp_path / "mixed.keras")
    model.save(path)
    loaded = keras.models.load_model(path)  # under the global float32 policy: the file carries its own
    assert loaded.phase == 2
    assert loaded.source_encoder.backbone.layers[0].compute_dtype == "float16"
    assert loaded.target_encoder.hidden[0].compute_dtype == "float16"
    assert loaded.source_encoder.head.mean_layer.compute_dtype == "float32"
    assert loaded.source_decoder.output_layer.compute_dtype == "float32"
    for path_name in model.INFERENCE_PATHS:
        np.testing.assert_allclose(loaded.predict(x, path=path_name, verbose=0),
                                   model.predict(x, path=path_name, verbose=0), rtol=0, atol=1e-6)
    # The LossScaleOptimizer, its scale and its inner Adam's state come back, and training resumes.
    assert isinstance(loaded.optimizer, keras.optimizers.LossScaleOptimizer)
    for a, b in zip(loaded.optimizer.variables, model.optimizer.variables):
        np.testing.assert_array_equal(numpy(a.value), numpy(b.value), err_msg=a.path)
    assert int(numpy(loaded.optimizer.iterations)) == 1
    logs = loaded.train_on_batch(x, y, return_dict=True)
    assert int(numpy(loaded.optimizer.iterations)) == 2 and np.isfinite(logs["loss"])


def test_a_mixed_float16_run_resumes_with_its_loss_scale_and_optimizer_state(tmp_path):
    """`BackupAndRestore` after a crash: the loss scale, step count and moments come back as they were."""
    x, y = tiny.tiny_data(16)
    backup = str(tmp_path / "backup")

    def optimizer_state(model):
        return [numpy(v.value).copy() for v in model.optimizer.variables]

    class LowScale(keras.callbacks.Callback):
        """Sets a scale other than the initial one (as after overflowing steps) once phase 2 has begun."""

        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                keras_private.loss_scale_variable(self.model.optimizer)[0].assign(512.0)

    class Crash(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                self.state = optimizer_state(self.model)
                raise RuntimeError("simulated crash")

    first = tiny_model("mixed_float16")
    first.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    crash = Crash()
    with pytest.raises(RuntimeError, match="simulated crash"):
        first.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[
            cm.PhaseSchedule((1, 1, 1), verbose=0), LowScale(), keras.callbacks.BackupAndRestore(backup), crash,
        ])

    class AtResume(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.state = optimizer_state(self.model)
            self.phase = self.model.phase

    resumed = tiny_model("mixed_float16")
    resumed.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False)
    at_resume = AtResume()
    history = resumed.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[
        cm.PhaseSchedule((1, 1, 1), verbose=0), keras.callbacks.BackupAndRestore(backup),
        at_resume,
    ])
    assert at_resume.phase == 2 and history.history["phase"] == [3]
    variable, _ = keras_private.loss_scale_variable(resumed.optimizer)
    index = next(i for i, v in enumerate(resumed.optimizer.variables) if v is variable)
    assert at_resume.state[index] == 512.0
    assert len(at_resume.state) == len(crash.state)
    for i, (a, b) in enumerate(zip(at_resume.state, crash.state)):
        np.testing.assert_array_equal(a, b, err_msg=resumed.optimizer.variables[i].path)
    assert np.all(np.isfinite(history.history["loss"]))


# ------------------------------------------------------------------ export
@pytest.mark.slow  # under JAX and PyTorch the export runs in a TensorFlow subprocess
def test_the_exported_signature_of_a_mixed_model_serves_float32(tmp_path):
    """A food model built under mixed_bfloat16, exported (under TensorFlow, in a subprocess elsewhere)."""
    import tensorflow as tf

    from cmva_keras.export import export_workdir

    config = resolve_config("food", "smoke", overrides=["train.dtype_policy=mixed_bfloat16"])
    task = tasks.get("food")
    vocabulary = [f"ingredient_{i}" for i in range(7)]
    input_shape = tuple(task.input_shape(config))
    with precision.policy_scope(config.train.dtype_policy):
        model = task.build_model(config, input_shape, tuple(task.target_shape(vocabulary)))
        model.build((None,) + input_shape)
    workdir = tmp_path / "run"
    workdir.mkdir()
    model.save(str(workdir / run_files.MODEL))
    (workdir / run_files.CONFIG).write_text(to_json(config))
    (workdir / run_files.VOCABULARY).write_text(json.dumps(vocabulary))
    exported = export_workdir(str(workdir), str(tmp_path / "exported"))
    assert os.path.exists(os.path.join(exported, "saved_model.pb"))

    serving = tf.saved_model.load(exported).signatures["serving_default"]
    outputs = serving.structured_outputs
    assert outputs["ingredient_probs"].dtype == tf.float32
    images = np.random.default_rng(0).integers(0, 256, (2,) + input_shape, dtype=np.uint8)
    served = serving(images=tf.constant(images))
    probabilities = served["ingredient_probs"].numpy()
    assert probabilities.dtype == np.float32 and probabilities.shape == (2, len(vocabulary))
    # The model on this backend, on the images the signature's preprocessing makes: the same probabilities.
    prepared = task.serving_preprocessor(config.data)(tf.constant(images)).numpy()
    expected = model.predict(prepared, verbose=0)
    np.testing.assert_allclose(probabilities, expected, atol=PREDICTION_TOLERANCE["mixed_bfloat16"])
