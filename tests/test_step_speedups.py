"""The training-step speed-ups of cmva_keras/backend and cmva_keras/layers change no number.

- PyTorch's and TensorFlow's fused Adam kernels (`backend/torch_adam.py`,
  `backend/tensorflow_adam.py`) make Keras' Adam update, and are used only
  where they are that update (JAX has none: XLA fuses Keras' update itself);
- frozen variables do not require gradients on PyTorch, and the trained ones do;
- `call_sublayer` gives `layer(x)`'s result;
- `adam_slots` and `UntrackedJaxState` (the private-API shim).

The equivalence of whole training steps with NumPy references and across
backends is tested elsewhere (tests/test_objective_reference.py,
tests/test_cross_backend.py); these tests pin each speed-up on its own.
"""

import keras
import numpy as np
import pytest

from cmva_keras.backend import keras_private
from cmva_keras.layers import MLP, GaussianEncoder, GaussianHead, Mapper
from cmva_keras.layers.sublayer import call_sublayer

BACKEND = keras.backend.backend()
torch_only = pytest.mark.skipif(BACKEND != "torch", reason="a PyTorch-only code path (eager steps)")
fused_only = pytest.mark.skipif(BACKEND == "jax", reason="JAX has no fused Adam path: XLA fuses Keras' update")


def fused_adam():
    """The backend's fused Adam module."""
    if BACKEND == "torch":
        from cmva_keras.backend import torch_adam

        return torch_adam
    from cmva_keras.backend import tensorflow_adam

    return tensorflow_adam


def dense_model(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(7, activation="relu"), keras.layers.Dense(3)])
    return model


def gradients(model, step):
    rng = np.random.default_rng(100 + step)
    return [keras.ops.convert_to_tensor(rng.normal(size=v.shape).astype("float32")) for v in model.trainable_variables]


def values(variables):
    return [np.array(keras.ops.convert_to_numpy(v)) for v in variables]


# ----------------------------------------------------------------- adam_slots
def test_adam_slots_are_the_moments_adam_updates():
    model = dense_model()
    optimizer = keras.optimizers.Adam(learning_rate=1e-2, beta_1=0.8, beta_2=0.9)
    optimizer.build(model.trainable_variables)
    grads = gradients(model, 0)
    optimizer.apply(grads, model.trainable_variables)
    chosen = model.trainable_variables[::-1][:3]  # any subset, any order
    momentums, velocities = keras_private.adam_slots(optimizer, chosen)
    by_id = {id(v): np.array(keras.ops.convert_to_numpy(g)) for v, g in zip(model.trainable_variables, grads)}
    for variable, m, v in zip(chosen, momentums, velocities):
        g = by_id[id(variable)]
        np.testing.assert_allclose(keras.ops.convert_to_numpy(m), 0.2 * g, rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(keras.ops.convert_to_numpy(v), 0.1 * g * g, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------- fused Adam
def _apply_steps(optimizer_factory, fused, steps=3):
    model = dense_model()
    optimizer = optimizer_factory()
    optimizer.build(model.trainable_variables)
    used = []
    for step in range(steps):
        grads = [g for g in gradients(model, step)]
        variables = model.trainable_variables
        if fused:
            done = fused_adam().apply_adam(optimizer, grads, variables)
            used.append(done)
            if not done:
                optimizer.apply(grads, variables)
        else:
            optimizer.apply(grads, variables)
    slots = []
    if type(optimizer).__name__ == "Adam":
        momentums, velocities = keras_private.adam_slots(optimizer, model.trainable_variables)
        slots = values(momentums) + values(velocities)
    return values(model.trainable_variables), slots, optimizer, used


@fused_only
@pytest.mark.parametrize("learning_rate", [1e-3, "schedule"])
def test_fused_adam_makes_keras_adams_update(learning_rate):
    def factory():
        rate = learning_rate
        if rate == "schedule":
            rate = keras.optimizers.schedules.ExponentialDecay(1e-2, decay_steps=1, decay_rate=0.5)
        return keras.optimizers.Adam(learning_rate=rate, beta_1=0.85, beta_2=0.95, epsilon=1e-3)

    weights, slots, _, _ = _apply_steps(factory, fused=False)
    fused_weights, fused_slots, optimizer, used = _apply_steps(factory, fused=True)
    assert used == [True, True, True]
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == 3
    for expected, got in zip(weights + slots, fused_weights + fused_slots):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    # The updates moved the weights: the comparison is not between two untouched models.
    assert not np.allclose(weights[0], values(dense_model().trainable_variables)[0])


@torch_only
def test_under_torch_compile_the_fused_adam_runs_outside_the_graph_without_recompiling_per_step():
    """`compile(jit_compile=True)` traces the PyTorch step with Dynamo. The update reads the step count as a
    Python number; traced, that would recompile the graph at every step. Here the compiled caller runs five steps
    under `fail_on_recompile` after its first, and ends where six eager updates end."""
    import torch

    from cmva_keras.backend import torch_adam

    def factory():
        return keras.optimizers.Adam(learning_rate=1e-2, beta_1=0.85, beta_2=0.95)

    eager_weights, eager_slots, _, _ = _apply_steps(factory, fused=True, steps=6)
    model = dense_model()
    optimizer = factory()
    optimizer.build(model.trainable_variables)

    def step(grads):
        done = torch_adam.apply_adam(optimizer, grads, model.trainable_variables)
        return torch.ones(()) if done else torch.zeros(())

    compiled = torch.compile(step, backend="eager")
    used = [bool(compiled(gradients(model, 0)))]
    with torch.compiler.set_stance("fail_on_recompile"):
        used += [bool(compiled(gradients(model, i))) for i in range(1, 6)]
    assert used == [True] * 6
    assert int(keras.ops.convert_to_numpy(optimizer.iterations)) == 6
    momentums, velocities = keras_private.adam_slots(optimizer, model.trainable_variables)
    for expected, got in zip(eager_weights + eager_slots,
                             values(model.trainable_variables) + values(momentums) + values(velocities)):
        np.testing.assert_array_equal(got, expected)


@fused_only
@pytest.mark.parametrize("factory", [
    lambda: keras.optimizers.Adam(amsgrad=True),
    lambda: keras.optimizers.Adam(weight_decay=0.1),
    lambda: keras.optimizers.Adam(clipnorm=1.0),
    lambda: keras.optimizers.Adam(global_clipnorm=1.0),
    lambda: keras.optimizers.Adam(use_ema=True),
    lambda: keras.optimizers.Adam(gradient_accumulation_steps=2),
    lambda: keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam()),
    lambda: keras.optimizers.SGD(),
    lambda: keras.optimizers.AdamW(),
], ids=["amsgrad", "weight_decay", "clipnorm", "global_clipnorm", "ema", "accumulation",
        "loss_scale", "sgd", "adamw"])
def test_fused_adam_declines_what_is_not_plain_adam_and_the_fallback_is_keras(factory):
    weights, slots, _, _ = _apply_steps(factory, fused=False)
    fused_weights, _, _, used = _apply_steps(factory, fused=True)
    assert used == [False, False, False]
    for expected, got in zip(weights, fused_weights):
        np.testing.assert_array_equal(got, expected)


@fused_only
def test_fused_adam_declines_a_missing_gradient_and_a_constrained_variable():
    fused = fused_adam()
    model = dense_model()
    optimizer = keras.optimizers.Adam()
    optimizer.build(model.trainable_variables)
    grads = gradients(model, 0)
    assert fused.fusable(optimizer, grads, model.trainable_variables)
    assert not fused.fusable(optimizer, [None] + grads[1:], model.trainable_variables)
    model.layers[0].kernel.constraint = keras.constraints.NonNeg()
    assert not fused.fusable(optimizer, grads, model.trainable_variables)


@pytest.mark.skipif(BACKEND != "tensorflow", reason="tf.distribute strategies exist on TensorFlow only")
def test_tensorflow_fused_adam_declines_under_a_distribution_strategy():
    import tensorflow as tf

    from cmva_keras.backend import tensorflow_adam

    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    with strategy.scope():
        model = dense_model()
        optimizer = keras.optimizers.Adam()
        optimizer.build(model.trainable_variables)
    grads = gradients(model, 0)
    with strategy.scope():
        assert not tensorflow_adam.fusable(optimizer, grads, model.trainable_variables)
    assert tensorflow_adam.fusable(optimizer, grads, model.trainable_variables) is True


# -------------------------------------------- frozen weights require no gradient
@torch_only
def test_a_phase_computes_gradients_for_its_trained_variables_only():
    from tiny import build_tiny_cmva, tiny_data

    model = build_tiny_cmva()
    model.set_phase(2)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, y = tiny_data()
    model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
    trained = {id(v) for v in model.phase_trainable_variables}
    for variable in model.trainable_variables:
        assert variable.value.requires_grad == (id(variable) in trained), variable.path
        assert (variable.value.grad is not None) == (id(variable) in trained), variable.path
    model.set_phase(3)
    model.fit(x, y, batch_size=len(x), epochs=1, verbose=0)
    assert all(v.value.requires_grad and v.value.grad is not None for v in model.trainable_variables)


@torch_only
def test_the_phase_split_is_worked_out_once_per_train_function_and_phase_and_follows_a_recompile(monkeypatch):
    from tiny import build_tiny_cmva, tiny_data

    from cmva_keras.models.staged_model import StagedModel

    model = build_tiny_cmva()
    model.set_phase(3)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, y = tiny_data()
    calls = []
    plain = StagedModel.phase_trainable_variables.fget
    monkeypatch.setattr(StagedModel, "phase_trainable_variables", property(lambda m: calls.append(1) or plain(m)))
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)  # 8 steps
    assert len(calls) == 1
    model.set_phase(2)  # a new phase: worked out again
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert len(calls) == 2
    assert all(v.value.grad is None for v in model.source_encoder.trainable_variables)  # phase 3's, cleared
    # Keras' contract: `trainable` changes take effect at the next compile(), as on the traced backends.
    model.set_phase(3)
    model.source_decoder.trainable = False
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    before = values(model.source_decoder.weights)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert len(calls) == 3  # worked out at the first step of the new train function
    for a, b in zip(before, values(model.source_decoder.weights)):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------- sublayers
def _layers():
    return [
        (MLP(4, hidden_units=(6, 5)), (3, 7)),
        (GaussianEncoder(4, hidden_units=(6,)), (3, 7)),
        (GaussianHead(4), (3, 7)),
        (Mapper(4), (3, 4)),
    ]


@pytest.mark.parametrize("index", range(4), ids=["mlp", "gaussian_encoder", "gaussian_head", "mapper"])
def test_composite_layers_give_what_calling_each_sublayer_gives(index, monkeypatch):
    keras.utils.set_random_seed(1)
    layer, shape = _layers()[index]
    x = keras.ops.convert_to_tensor(np.random.default_rng(0).normal(size=shape).astype("float32"))
    args = (x, x) if isinstance(layer, Mapper) else (x,)
    fast = keras.tree.map_structure(keras.ops.convert_to_numpy, layer(*args))
    # The same layer with every sublayer called through Keras' __call__.
    from cmva_keras.layers import sublayer

    monkeypatch.setattr(sublayer, "_TORCH", False)
    slow = keras.tree.map_structure(keras.ops.convert_to_numpy, layer(*args))
    for a, b in zip(keras.tree.flatten(fast), keras.tree.flatten(slow)):
        np.testing.assert_array_equal(a, b)


def test_call_sublayer_goes_through_call_where_a_mixed_policy_would_cast():
    layer = keras.layers.Dense(3, dtype="mixed_bfloat16")
    layer.build((2, 4))
    out = call_sublayer(layer, keras.ops.ones((2, 4), "float32"))
    assert keras.backend.standardize_dtype(out.dtype) == "bfloat16"  # autocast happened


def test_call_sublayer_on_an_unbuilt_layer_builds_it():
    layer = keras.layers.Dense(3)
    out = call_sublayer(layer, keras.ops.ones((2, 4)))
    assert layer.built and tuple(out.shape) == (2, 3)


# ------------------------------------------------------------ UntrackedJaxState
@pytest.mark.skipif(BACKEND != "jax", reason="only JAX's fit hands its state over through model._jax_state")
def test_jax_state_is_stored_untracked_and_fit_is_unchanged():
    class Untracked(keras_private.UntrackedJaxState, keras.Model):
        pass

    def fitted(cls):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((5,))
        model = cls(inputs, keras.layers.Dense(3)(keras.layers.Dense(7, activation="relu")(inputs)))
        model.compile(optimizer="adam", loss="mse")
        x, y = np.ones((8, 5), "float32"), np.zeros((8, 3), "float32")
        model.fit(x, y, batch_size=4, epochs=2, verbose=0)
        return model

    state = {"trainable_variables": [np.zeros(2)]}
    untracked, plain = fitted(Untracked), fitted(keras.Model)
    untracked._jax_state = state
    plain._jax_state = state
    assert untracked._jax_state is state  # stored as given
    assert plain._jax_state is not state  # Keras' tracker wraps it: the walk the mixin skips
    for a, b in zip(values(untracked.weights), values(plain.weights)):
        np.testing.assert_array_equal(a, b)


def test_adam_class_is_the_class_of_a_keras_adam_on_this_backend():
    assert type(keras.optimizers.Adam()) is keras_private.adam_class()
    assert issubclass(keras_private.adam_class(), keras.optimizers.Adam)


@pytest.mark.parametrize("training", [True, False])
def test_call_part_gives_what_calling_the_part_gives_and_passes_training(training, monkeypatch):
    from cmva_keras.layers import sublayer
    from cmva_keras.layers.sublayer import call_part

    def encoder():
        keras.utils.set_random_seed(3)
        backbone = keras.Sequential([keras.layers.Dense(6), keras.layers.BatchNormalization()])
        layer = GaussianEncoder(4, backbone=backbone, hidden_units=(5,))
        layer.build((8, 7))
        return layer

    x = keras.ops.convert_to_tensor(np.random.default_rng(1).normal(size=(8, 7)).astype("float32"))
    direct = encoder()
    outputs = call_part(direct, x, training=training)
    monkeypatch.setattr(sublayer, "_TORCH", False)
    through_call = encoder()
    expected = through_call(x, training=training)
    for a, b in zip(outputs, expected):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    # BatchNorm's moving statistics moved in training mode only, the same way on both paths.
    for a, b in zip(values(direct.non_trainable_variables), values(through_call.non_trainable_variables)):
        np.testing.assert_array_equal(a, b)
    moved = not np.allclose(values(direct.non_trainable_variables)[0], 0.0)
    assert moved == training


# ------------------------------------------------- PyTorch's running means and branches
@torch_only
@pytest.mark.parametrize("weights", [None, 0.0, 1.0, "tensor"])
def test_accumulate_mean_is_keras_mean_update_state_to_the_bit(weights):
    import torch

    from cmva_keras.backend.torch_step import accumulate_mean

    rng = np.random.default_rng(5)
    ours, keras_mean = keras.metrics.Mean(name="ours"), keras.metrics.Mean(name="keras")
    for step in range(7):
        value = torch.tensor(rng.normal() * 10.0 ** rng.integers(-3, 4), dtype=torch.float32)
        weight = weights
        if weights == "tensor":
            weight = torch.tensor(float(step % 3 == 0))  # a log_flag cast to float32, as the steps pass it
        accumulate_mean(ours, value, weight)
        keras_mean.update_state(value, sample_weight=weight)
    for a, b in ((ours.total, keras_mean.total), (ours.count, keras_mean.count)):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b))
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(ours.result()),
                                  keras.ops.convert_to_numpy(keras_mean.result()))


@torch_only
def test_torch_cond_takes_the_branch_its_predicate_names_and_the_true_one_symbolically():
    import torch

    from cmva_keras.backend import cond

    assert cond(torch.tensor(True), lambda: "true", lambda: "false") == "true"
    assert cond(torch.tensor(False), lambda: "true", lambda: "false") == "false"
    assert cond(torch.tensor(True, device="meta"), lambda: "true", lambda: "false") == "true"
    assert cond(False, lambda: "true", lambda: "false") == "false"


class _StepLogs(keras.callbacks.Callback):
    """Records, at each epoch's start, whether the model's steps may skip the running means (no batch-end hook)."""

    def __init__(self):
        super().__init__()
        self.unread = []

    def on_epoch_begin(self, epoch, logs=None):
        self.unread.append(self.model.batch_logs_unread)


class _BatchLogs(_StepLogs):
    def on_train_batch_end(self, batch, logs=None):
        self.unread.append(self.model.batch_logs_unread)


def test_only_a_fit_whose_batch_logs_nobody_reads_is_marked_so_and_the_mark_goes_with_it():
    from tiny import build_tiny_cmva, tiny_data

    model = build_tiny_cmva()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, y = tiny_data()
    lean, reader = _StepLogs(), _BatchLogs()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[lean])
    assert lean.unread == [True, True] and model.batch_logs_unread is False
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[reader])
    assert reader.unread and not any(reader.unread)

    class Fails(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            raise RuntimeError("stop")

    with pytest.raises(RuntimeError, match="stop"):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[Fails()])
    assert model.batch_logs_unread is False


def test_step_logs_are_the_steps_own_terms_with_the_running_means_keys_unless_metrics_are_compiled():
    from tiny import build_tiny_cmva, tiny_data

    model = build_tiny_cmva()
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, y = tiny_data()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)  # builds the trackers
    terms = {name: keras.ops.convert_to_tensor(float(i + 1)) for i, name in enumerate(model.term_trackers)}
    logs = model._update_metrics(terms, y, None, step_logs=True)
    assert set(logs) == set(model.get_metrics_result())
    assert all(float(logs[name]) == float(terms[name]) for name in terms)
    running = model._update_metrics(terms, y, None)  # the default: the running means
    assert float(running["loss"]) != float(terms["loss"])  # a mean over the epoch's steps and these two
    compiled = build_tiny_cmva()
    compiled.compile(optimizer=keras.optimizers.Adam(1e-3), metrics=["mae"])
    compiled.fit(x, y, batch_size=8, epochs=1, verbose=0)
    y_pred = compiled.predict(x, verbose=0)
    logs = compiled._update_metrics(terms, y, y_pred, step_logs=True)
    assert set(logs) == set(compiled.get_metrics_result()) and set(logs) != set(terms)
