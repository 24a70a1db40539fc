"""The private Keras hooks of `cmva_keras/backend/keras_private.py`, one test each.

Each test fails, with a message naming the hook, when a Keras upgrade changes
what the package relies on. Plain Keras models are used (not CMVA), so a
failure here points at Keras, not at the model.
"""

import inspect
import os
import re

import keras
import numpy as np
import pytest

from cmva_keras.backend import keras_private

BACKEND = keras.backend.backend()
UPGRADE = (
    f"Keras {keras.__version__} differs from the tested {keras_private.KERAS_VERSION_TESTED} here; "
    "port cmva_keras/backend/keras_private.py"
)


def small_data(n=8):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 3)).astype("float32"), rng.normal(size=(n, 2)).astype("float32")


# ------------------------------------------------------------ version check
def test_tested_keras_version_is_the_constraints_pin():
    path = os.path.join(os.path.dirname(__file__), "..", "constraints.txt")
    with open(path) as f:
        pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)", f.read(), flags=re.M))
    assert pins.get("keras") == keras_private.KERAS_VERSION_TESTED, (
        "constraints.txt pins a Keras other than keras_private.KERAS_VERSION_TESTED: "
        "update the constant after running this file against the new pin"
    )


def test_installed_keras_has_every_hook():
    assert keras_private.problems() == [], UPGRADE


def test_a_changed_hook_fails_at_import_with_the_tested_version_and_the_change():
    class ChangedModel:  # the hook lost a parameter; nothing else is there either
        def _symbolic_build(self, data_batch=None):
            pass

        def _maybe_symbolic_build(self, data_batch=None):
            pass

    class ChangedOptimizer:
        def __init__(self):
            self._lr = 1.0

    for backend in ("tensorflow", "jax", "torch"):
        with pytest.raises(keras_private.KerasPrivateAPIError) as info:
            keras_private.check(backend, ChangedModel, ChangedOptimizer)
        message = str(info.value)
        assert f"tested with Keras {keras_private.KERAS_VERSION_TESTED}" in message
        assert "_compile_metrics" in message and "_learning_rate" in message
        if backend != "torch":
            assert f"{keras_private.BUILD_HOOKS[backend]} takes ('self', 'data_batch')" in message
        assert ("jax_state_sync" in message) == (backend == "jax")


# --------------------------------------------------------- first-batch hook
class FirstBatchRecorder(keras_private.FirstBatchHook, keras.Model):
    """Records what the hook hands `_prepare_first_batch`, and when; can refuse the batch."""

    def __init__(self, refuse=False):
        super().__init__()
        self.dense = keras.layers.Dense(2)
        self.refuse = refuse
        self.seen = []

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, x):
        return self.dense(x)

    def _prepare_first_batch(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        steps = None
        if self.optimizer is not None and self.optimizer.built:
            steps = int(keras.ops.convert_to_numpy(self.optimizer.iterations))
        self.seen.append((np.array(keras.ops.convert_to_numpy(x)), np.array(keras.ops.convert_to_numpy(y)), steps))
        if self.refuse:
            raise ValueError("refused first batch")
        if not self.built:
            self.build(tuple(x.shape))
        if self.optimizer is not None and not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)


@pytest.mark.skipif(BACKEND == "torch", reason="PyTorch steps run eagerly: no build hook is overridden")
def test_build_hook_exists_with_its_signature_and_is_the_one_overridden():
    hook = getattr(keras.Model, keras_private.BUILD_HOOK, None)
    assert callable(hook), f"keras.Model.{keras_private.BUILD_HOOK} is gone. {UPGRADE}"
    assert tuple(inspect.signature(hook).parameters) == keras_private.BUILD_HOOK_PARAMETERS, UPGRADE
    overridden = [name for name in keras_private.BUILD_HOOKS.values() if name and name in vars(keras_private.FirstBatchHook)]
    assert overridden == [keras_private.BUILD_HOOK]


@pytest.mark.skipif(BACKEND == "torch", reason="PyTorch steps run eagerly: no build hook is overridden")
def test_fit_evaluate_and_train_on_batch_hand_the_first_batch_to_the_hook_before_any_step():
    x, y = small_data(8)
    model = FirstBatchRecorder()
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    model.fit(x, y, batch_size=4, shuffle=False, epochs=1, verbose=0)
    assert len(model.seen) >= 1, f"fit no longer calls {keras_private.BUILD_HOOK}. {UPGRADE}"
    seen_x, seen_y, steps = model.seen[0]
    np.testing.assert_array_equal(seen_x, x[:4], err_msg=f"first_batch() read the wrong batch. {UPGRADE}")
    np.testing.assert_array_equal(seen_y, y[:4])
    assert steps is None, "the hook ran after the optimizer was built or stepped"
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 2
    for call, expected in (
        (lambda: model.evaluate(x, y, batch_size=4, verbose=0), x[:4]),
        (lambda: model.train_on_batch(x[4:], y[4:]), x[4:]),
    ):
        model.seen.clear()
        call()
        assert model.seen, f"{keras_private.BUILD_HOOK} was not called. {UPGRADE}"
        np.testing.assert_array_equal(model.seen[0][0], expected)


@pytest.mark.skipif(BACKEND == "torch", reason="PyTorch steps run eagerly: no build hook is overridden")
def test_a_batch_refused_by_the_hook_leaves_the_model_usable():
    x, y = small_data(8)
    model = FirstBatchRecorder()
    model.build((None, 3))
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = [np.array(keras.ops.convert_to_numpy(v.value)) for v in model.variables]
    model.refuse = True
    with pytest.raises(ValueError, match="refused first batch"):
        model.fit(x, y, batch_size=4, verbose=0)
    # On JAX the hook runs before fit moves the variables out of the model.
    after = [np.array(keras.ops.convert_to_numpy(v.value)) for v in model.variables]
    assert all(np.array_equal(a, b) for a, b in zip(before, after)), "the refused fit lost the weights"
    model.refuse = False
    assert np.isfinite(model.fit(x, y, batch_size=4, verbose=0).history["loss"][0])


# ------------------------------------------------------- compiled metrics
def test_compiled_metrics_is_the_container_compile_with_metrics_creates():
    x, y = small_data(8)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    assert keras_private.compiled_metrics(model) is None
    model.compile(optimizer="sgd", loss="mse")
    assert keras_private.compiled_metrics(model) is None, "compile() without metrics made a metrics container"
    model.compile(optimizer="sgd", loss="mse", metrics=[keras.metrics.MeanAbsoluteError(name="mae")])
    compiled = keras_private.compiled_metrics(model)
    assert isinstance(compiled, keras.metrics.Metric), f"no compiled-metrics container after compile. {UPGRADE}"
    assert any(m is compiled for m in model.metrics), "Keras' own metrics list no longer holds the container"
    # A custom step updates it as CMVA does: update_state(y, y_pred), then a dict keyed by the metric name.
    y_pred = model.predict(x, verbose=0)
    compiled.reset_state()
    compiled.update_state(y, y_pred)
    result = compiled.result()
    assert set(result) == {"mae"}, f"the container's result is {result!r}. {UPGRADE}"
    assert float(result["mae"]) == pytest.approx(float(np.mean(np.abs(y - y_pred))), rel=1e-5)


# ---------------------------------------------------- learning-rate variable
def test_learning_rate_variable_is_the_one_optimizer_variables_holds():
    weights = [keras.Variable(np.ones((2, 2), "float32"))]
    optimizer = keras.optimizers.Adam(learning_rate=1e-3)
    optimizer.build(weights)
    variable = keras_private.learning_rate_variable(optimizer)
    assert isinstance(variable, keras.Variable), f"no learning-rate variable found. {UPGRADE}"
    assert sum(v is variable for v in optimizer.variables) == 1, (
        f"the learning-rate variable is not one of optimizer.variables. {UPGRADE}"
    )
    assert float(keras.ops.convert_to_numpy(variable.value)) == pytest.approx(1e-3)
    optimizer.learning_rate = 0.25  # the public setter assigns to the same variable
    assert keras_private.learning_rate_variable(optimizer) is variable
    assert float(keras.ops.convert_to_numpy(variable.value)) == 0.25
    # A schedule has no variable; a LossScaleOptimizer's is its inner optimizer's.
    schedule = keras.optimizers.schedules.ExponentialDecay(1e-3, decay_steps=10, decay_rate=0.5)
    assert keras_private.learning_rate_variable(keras.optimizers.Adam(schedule)) is None
    scaled = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(learning_rate=1e-3))
    scaled.build(weights)
    inner = keras_private.learning_rate_variable(scaled)
    assert inner is keras_private.learning_rate_variable(scaled.inner_optimizer)
    assert sum(v is inner for v in scaled.variables) == 1


# ------------------------------------------------------- loss-scale variable
def test_loss_scale_variable_is_the_scale_the_loss_scale_optimizer_multiplies_by():
    weights = [keras.Variable(np.ones((2, 2), "float32"))]
    scaled = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(learning_rate=1.0), initial_scale=64.0)
    assert keras_private.loss_scale_variable(scaled) is None  # not built: no variable yet
    scaled.build(weights)
    found = keras_private.loss_scale_variable(scaled)
    assert found is not None, f"no loss-scale variable found on a built LossScaleOptimizer. {UPGRADE}"
    variable, initial = found
    assert initial == 64.0
    assert sum(v is variable for v in scaled.variables) == 1, (
        f"the loss-scale variable is not one of optimizer.variables. {UPGRADE}"
    )
    # It is the factor scale_loss multiplies by, and the one apply divides the gradients by.
    variable.assign(8.0)
    assert float(keras.ops.convert_to_numpy(scaled.scale_loss(keras.ops.ones(())))) == 8.0, UPGRADE
    gradients = [keras.ops.full((2, 2), 8.0)]
    if BACKEND == "jax":  # JAX trains statelessly (Keras 3.15's stateful apply leaks a tracer there)
        (updated,), _ = scaled.stateless_apply([v.value for v in scaled.variables], gradients, [weights[0].value])
    else:
        scaled.apply(gradients, weights)
        updated = weights[0].value
    np.testing.assert_allclose(keras.ops.convert_to_numpy(updated), np.zeros((2, 2)), err_msg=UPGRADE)
    # Any other optimizer has none.
    adam = keras.optimizers.Adam()
    adam.build(weights)
    assert keras_private.loss_scale_variable(adam) is None


# ----------------------------------------------------------------- JAX sync
class SyncAtFirstBatch(keras.callbacks.Callback):
    """Reads the model through its own reference: `Callback.model` would sync on JAX by itself."""

    def set_model(self, model):
        super().set_model(model)
        self.captured = model

    def on_train_batch_end(self, batch, logs=None):
        if batch != 0:
            return
        kernel = self.captured.layers[-1].kernel
        # Mid-epoch, JAX holds the state outside the model: the variable has no value of its own.
        try:
            unsynced = np.array(keras.ops.convert_to_numpy(kernel.value))
        except Exception:  # Keras 3.15 on JAX: a TypeError from the released initializer
            unsynced = None
        keras_private.sync_jax_state(self.captured)
        self.kernel = np.array(keras.ops.convert_to_numpy(kernel.value))
        self.detached = unsynced is None or not np.array_equal(unsynced, self.kernel)
        self.steps = int(keras.ops.convert_to_numpy(self.captured.optimizer.iterations))


def test_sync_jax_state_puts_the_state_back_into_the_model():
    x, y = small_data(8)
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    initial = np.array(keras.ops.convert_to_numpy(model.layers[-1].kernel.value))
    sync = SyncAtFirstBatch()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[sync])
    if BACKEND == "jax":
        assert sync.detached, (
            "JAX fit no longer moves the state out of the model during an epoch: "
            f"sync_jax_state may be unnecessary now. {UPGRADE}"
        )
    else:
        assert not sync.detached, "sync_jax_state changed the model off JAX"
    assert sync.steps == 1, f"after sync_jax_state the model shows {sync.steps} steps, not 1. {UPGRADE}"
    assert not np.array_equal(sync.kernel, initial)
    np.testing.assert_array_equal(sync.kernel, keras.ops.convert_to_numpy(model.layers[-1].kernel.value))


# ------------------------------------------------- portable optimizer config
def torch_saved(class_name, **config):
    """An optimizer as Keras 3.15.1 serializes it when built under PyTorch (its torch module)."""
    module = {"Adam": "torch_adam", "SGD": "torch_sgd"}[class_name]
    return {
        "module": f"keras.src.backend.torch.optimizers.{module}",
        "class_name": class_name,
        "config": {"name": class_name.lower(), **config},
        "registered_name": class_name,
    }


@pytest.mark.parametrize("class_name, config", [
    ("Adam", {"learning_rate": 0.01, "beta_1": 0.8}),
    ("SGD", {"learning_rate": 0.05, "momentum": 0.9}),
])
def test_portable_optimizer_config_loads_a_torch_saved_optimizer_as_this_backends_one(class_name, config):
    saved = torch_saved(class_name, **config)
    original = {**saved, "config": dict(saved["config"])}
    portable = keras_private.portable_optimizer_config(saved)
    assert saved == original, "the input was modified"
    assert portable["module"] == "keras.optimizers" and portable["registered_name"] is None
    assert portable["class_name"] == class_name and portable["config"] == saved["config"]
    optimizer = keras.saving.deserialize_keras_object(portable)
    # The class this backend builds for keras.optimizers.<name>: a torch class only under torch.
    expected = type(getattr(keras.optimizers, class_name)(**config))
    assert type(optimizer) is expected and isinstance(optimizer, getattr(keras.optimizers, class_name))
    assert (BACKEND == "torch") == type(optimizer).__module__.startswith("keras.src.backend.torch"), (
        type(optimizer).__module__
    )
    for key, value in config.items():
        assert float(keras.ops.convert_to_numpy(getattr(optimizer, key))) == pytest.approx(value)
    # It steps this backend's variables, as a freshly made optimizer does.
    results = []
    for opt in (optimizer, getattr(keras.optimizers, class_name)(**config)):
        weights = [keras.Variable(np.ones((2, 2), "float32"))]
        for _ in range(2):
            opt.apply_gradients([(keras.ops.full((2, 2), 0.5), weights[0])])
        results.append(np.array(keras.ops.convert_to_numpy(weights[0].value)))
    assert not np.array_equal(results[0], np.ones((2, 2)))
    np.testing.assert_array_equal(results[0], results[1])


def test_portable_optimizer_config_rewrites_an_inner_optimizer_and_leaves_the_rest():
    scaled = {
        "module": "keras.optimizers", "class_name": "LossScaleOptimizer", "registered_name": None,
        "config": {"name": "loss_scale_optimizer", "inner_optimizer": torch_saved("SGD", learning_rate=0.1),
                   "initial_scale": 8.0, "dynamic_growth_steps": 2000},
    }
    portable = keras_private.portable_optimizer_config(scaled)
    assert scaled["config"]["inner_optimizer"]["module"].startswith("keras.src.backend.torch")
    assert portable["config"]["inner_optimizer"]["module"] == "keras.optimizers"
    assert {k: v for k, v in portable["config"].items() if k != "inner_optimizer"} == {
        k: v for k, v in scaled["config"].items() if k != "inner_optimizer"
    }
    loaded = keras.saving.deserialize_keras_object(portable)
    assert isinstance(loaded.inner_optimizer, keras.optimizers.SGD)
    # Already portable, a name, an unknown backend class, a custom module: unchanged.
    for config in (
        keras.saving.serialize_keras_object(keras.optimizers.Adam()) if BACKEND != "torch" else
        {"module": "keras.optimizers", "class_name": "Adam", "config": {}, "registered_name": None},
        "adam",
        {**torch_saved("SGD"), "class_name": "NoSuchOptimizer"},
        {"module": "my_package.optimizers", "class_name": "SGD", "config": {}, "registered_name": "my>SGD"},
    ):
        assert keras_private.portable_optimizer_config(config) == config


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute per-replica batches exist on TensorFlow only")
def test_replica_batch_hands_the_hook_the_first_replicas_tensors():
    """Under a tf.distribute strategy the TensorFlow hook receives `PerReplica` values (one tensor per
    replica, unequal when a last batch splits unevenly); it checks and builds from the first replica's."""
    import tensorflow as tf
    from tensorflow.python.distribute import values  # the type a strategy's distributed dataset yields

    first, second, plain = tf.zeros((4, 3)), tf.ones((3, 3)), tf.ones((7, 2))
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    x, y = keras_private.replica_batch((values.PerReplica((first, second)), plain), strategy)
    assert x is first, "replica_batch did not return the first replica's tensor"
    assert y is plain, "replica_batch changed a tensor that was not per-replica"


# ------------------------------------------------------------- seeded_normal
def _state(seed_generator):
    return keras.ops.convert_to_numpy(seed_generator.state.value).tolist()


@pytest.mark.parametrize("seed", [0, 12345, 2**31 - 1])  # the last: seed sums past the int32 limit
@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_seeded_normal_draws_what_keras_draws_and_advances_the_seed_the_same(seed, dtype):
    ours, keras_own = keras.random.SeedGenerator(seed), keras.random.SeedGenerator(seed)
    for shape in ((4, 3), (5,), (2, 3, 2)):
        drawn = keras_private.seeded_normal(shape, dtype, ours)
        expected = keras.random.normal(shape, dtype=dtype, seed=keras_own)
        assert keras.backend.standardize_dtype(drawn.dtype) == dtype
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(drawn), keras.ops.convert_to_numpy(expected),
                                      err_msg=f"seeded_normal no longer draws what keras.random.normal draws: {UPGRADE}")
        assert _state(ours) == _state(keras_own), f"seeded_normal advanced the seed state differently: {UPGRADE}"
    assert _state(ours)[1] == 3  # three draws, three steps of the counter


@pytest.mark.skipif(BACKEND != "torch", reason="on TensorFlow and JAX seeded_normal is keras.random.normal itself")
def test_on_torch_seeded_normal_draws_without_calling_keras_normal(monkeypatch):
    assert keras_private._torch_normal_matches_keras(), UPGRADE

    def refused(*args, **kwargs):
        raise AssertionError("keras.random.normal was called")

    monkeypatch.setattr(keras.random, "normal", refused)
    drawn = keras_private.seeded_normal((8, 2), "float32", keras.random.SeedGenerator(3))
    assert tuple(drawn.shape) == (8, 2)


@pytest.mark.skipif(BACKEND != "torch", reason="the check guards the PyTorch draw only")
def test_a_torch_draw_that_no_longer_matches_keras_falls_back_to_keras_with_a_warning(monkeypatch):
    import torch

    monkeypatch.setattr(keras_private, "_TORCH_NORMAL_CHECKED", [])
    monkeypatch.setattr(keras_private, "_torch_normal", lambda shape, dtype, seed_generator: torch.zeros(shape))
    ours, keras_own = keras.random.SeedGenerator(5), keras.random.SeedGenerator(5)
    with pytest.warns(UserWarning, match="no longer draws what"):
        drawn = keras_private.seeded_normal((6, 4), "float32", ours)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(drawn),
                                  keras.ops.convert_to_numpy(keras.random.normal((6, 4), seed=keras_own)))
    assert keras_private._TORCH_NORMAL_CHECKED == [False]


def test_a_changed_torch_seeding_function_is_named_by_the_import_check(monkeypatch):
    monkeypatch.setattr(keras_private, "TORCH_RANDOM", ("keras.src.backend.torch.random", "no_such_function"))
    found = " ".join(keras_private.problems("torch"))
    assert "no_such_function" in found and "seeded_normal" in found
    assert all("seeded_normal" not in problem for problem in keras_private.problems("jax"))


@pytest.mark.skipif(BACKEND != "torch", reason="torch.compile exists on PyTorch only")
def test_under_torch_compile_the_draw_is_left_to_keras_without_tracing_a_cached_function():
    """`compile(jit_compile=True)` on PyTorch traces the step with Dynamo. There `seeded_normal` must take Keras'
    own path (the in-place seeding is eager-only), and deciding so must not make Dynamo trace the cached
    imports, which it warns about ("Dynamo detected a call to a `functools.lru_cache`-wrapped function")."""
    import warnings

    import torch

    def offset_by_eager_draw(x):
        return x + float(keras_private._torch_eager_draw())

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        traced = torch.compile(offset_by_eager_draw, backend="eager")(torch.zeros(3))
    assert traced.tolist() == [0.0, 0.0, 0.0], "under torch.compile the draw was taken as eager"
    assert offset_by_eager_draw(torch.zeros(3)).tolist() == [1.0, 1.0, 1.0], "an eager call was not taken as eager"
    dynamo = [str(w.message) for w in caught if "lru_cache" in str(w.message)]
    assert not dynamo, dynamo
