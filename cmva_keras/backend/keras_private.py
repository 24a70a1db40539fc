"""The one module of cmva_keras that touches private Keras APIs.

Keras 3 gives no public way to do nine things this package needs, and has one
saving bug it works around. Each is done here, and only here, behind a small
public function:

- `compiled_metrics(model)`: the `CompileMetrics` container that `compile(metrics=...)`
  creates (`model._compile_metrics`), or None. A model with a custom
  `train_step` updates it itself.
- `learning_rate_variable(optimizer)`: the variable that holds the learning
  rate (`optimizer._learning_rate`), so that a fresh-optimizer reset can zero
  every other optimizer variable and keep the learning rate.
- `loss_scale_variable(optimizer)`: a `LossScaleOptimizer`'s current loss
  scale (`optimizer.dynamic_scale`, undocumented) and its initial value, so
  that a fresh-optimizer reset puts the scale back instead of zeroing it.
- `adam_class()`: the class `keras.optimizers.Adam(...)` instantiates on this
  backend (on PyTorch, `keras.src.backend.torch.optimizers.torch_adam.Adam`),
  so that the fused Adam updates recognise a plain Adam.
- `adam_slots(optimizer, variables)`: a built `keras.optimizers.Adam`'s first
  and second moment variables for `variables` (`optimizer._momentums`,
  `_velocities`, `_get_variable_index`), so that PyTorch's fused Adam kernel
  can update them in place (`cmva_keras/backend/torch_adam.py`).
- `UntrackedJaxState`: a model mixin. On JAX, `fit` stores its whole
  training state in `model._jax_state` after every step, and
  `Layer.__setattr__` walks that structure with Keras' object tracker each
  time (170 microseconds per step for the hand task's CMVA, 2.5% of a
  mapper-phase step); the mixin stores it without tracking (it holds arrays
  only, which the tracker has nothing to track in).
- `sync_jax_state(model)`: on JAX, `fit` keeps the model's state outside the
  model during an epoch; `model.jax_state_sync()` puts it back (a no-op on the
  other backends).
- `portable_optimizer_config(config)`: Keras 3.15 saves an optimizer compiled
  under PyTorch with its private torch class
  (`keras.src.backend.torch.optimizers.torch_adam`, ...), which under JAX or
  TensorFlow runs torch ops on that backend's tensors; the function rewrites
  such a serialized optimizer to the public `keras.optimizers` class of the
  same name (which, under PyTorch, builds the torch class again).
- `seeded_normal(shape, dtype, seed_generator)`: `keras.random.normal(shape,
  dtype=dtype, seed=seed_generator)`, on PyTorch without Keras' per-call
  bookkeeping. Keras' PyTorch `normal` advances the `SeedGenerator`'s state
  (`state`, `[seed, counter]`) through its ops and seeds a new
  `torch.Generator` with the state's two numbers summed, as uint32
  (`keras.src.backend.torch.random.torch_seed_generator`): about 100 us a
  draw against about 20 us for `torch.randn`, four draws in each CMVA step.
  The function does the same on the state's tensor directly (about 35 us;
  `benchmarks/run.py --torch_draw_ab` times both), for the same values and
  the same state after, which it checks against `keras.random.normal` once
  per process before using it (else it uses `keras.random.normal`, with a
  warning). Elsewhere it is `keras.random.normal`: steps are traced, the
  bookkeeping is free.
- `FirstBatchHook`: a mixin for the backend training steps. Before the first
  step is traced, Keras calls a build hook with the first batch
  (`Trainer._symbolic_build` on JAX, `TensorFlowTrainer._maybe_symbolic_build`
  on TensorFlow); the mixin overrides it to call the model's
  `_prepare_first_batch(batch)` (check the batch, build the model and the
  optimizer) first. `first_batch(iterator)` reads that batch from Keras' epoch
  iterator; under a `tf.distribute` strategy, `replica_batch` takes the first
  replica's share of it, and the hook builds in the strategy's scope.
  PyTorch needs no hook: its steps run eagerly, so a bad batch fails
  without taking the model's state away.

When this module is imported it checks that the installed Keras still has
these hooks, and raises `KerasPrivateAPIError` naming what changed if it does
not. `tests/test_keras_private.py` checks their behaviour, one test per hook.
The versions tested together are pinned in `constraints.txt`.
"""

import functools
import inspect

import keras

# The Keras release these hooks were written and tested against (the pin in constraints.txt).
KERAS_VERSION_TESTED = "3.15.1"

BACKEND = keras.backend.backend()

# The Keras method, per backend, that receives the first batch before the first step is traced.
BUILD_HOOKS = {"tensorflow": "_maybe_symbolic_build", "jax": "_symbolic_build", "torch": None}
BUILD_HOOK = BUILD_HOOKS.get(BACKEND)
BUILD_HOOK_PARAMETERS = ("self", "iterator", "data_batch")

# Attributes that Keras methods store and that the functions below read.
COMPILED_METRICS_ATTRIBUTE = "_compile_metrics"
LEARNING_RATE_ATTRIBUTE = "_learning_rate"
LOSS_SCALE_ATTRIBUTE = "dynamic_scale"
ADAM_SLOT_ATTRIBUTES = ("_momentums", "_velocities")
JAX_STATE_ATTRIBUTE = "_jax_state"
# Where Keras keeps the class it instantiates for `keras.optimizers.Adam` on PyTorch.
TORCH_ADAM = ("keras.src.backend.torch.optimizers.torch_adam", "Adam")
VARIABLE_INDEX_METHOD = "_get_variable_index"

# Keras' PyTorch random ops, the function that seeds their `torch.Generator`, and what it calls.
TORCH_RANDOM = ("keras.src.backend.torch.random", "torch_seed_generator")
TORCH_SEED_CALLS = ("draw_seed", "manual_seed")
SEED_STATE_ATTRIBUTE = "state"  # a SeedGenerator's `[seed, counter]` variable
# Where Keras keeps backend-specific classes, and the public home of the optimizers.
BACKEND_MODULE_PREFIX = "keras.src.backend."
PUBLIC_OPTIMIZERS_MODULE = "keras.optimizers"


class KerasPrivateAPIError(ImportError):
    """The installed Keras lacks a private hook that cmva_keras relies on."""


# ------------------------------------------------------------------ the hooks
def compiled_metrics(model):
    """The metrics container `model.compile(metrics=...)` created, or None (no metrics, not compiled).

    It is a `keras.metrics.Metric`: `update_state(y, y_pred)`, `result()`,
    `reset_state()`; a model's `metrics` property lists it so that `fit`
    reports and resets it.
    """
    return getattr(model, COMPILED_METRICS_ATTRIBUTE, None)


def learning_rate_variable(optimizer):
    """The `keras.Variable` holding `optimizer`'s learning rate, or None.

    It is one of `optimizer.variables`. None when the learning rate is a
    schedule or a callable (then no variable holds it). For a
    `LossScaleOptimizer`, the wrapped optimizer's variable.
    """
    inner = getattr(optimizer, "inner_optimizer", None)
    if inner is not None:
        return learning_rate_variable(inner)
    learning_rate = getattr(optimizer, LEARNING_RATE_ATTRIBUTE, None)
    return learning_rate if isinstance(learning_rate, keras.Variable) else None


def loss_scale_variable(optimizer):
    """`(variable, initial value)` of a built `LossScaleOptimizer`'s dynamic loss scale; None for any other.

    The variable is one of `optimizer.variables`; the loss is multiplied by
    its value before differentiating (`scale_loss`) and the gradients divided
    by it. None for an optimizer without loss scaling, or one not built yet.
    """
    if not isinstance(optimizer, keras.optimizers.LossScaleOptimizer) or not optimizer.built:
        return None
    variable = getattr(optimizer, LOSS_SCALE_ATTRIBUTE, None)
    if not isinstance(variable, keras.Variable):
        return None
    return variable, float(optimizer.get_config()["initial_scale"])


def adam_class(backend=BACKEND):
    """The class of `keras.optimizers.Adam(...)` instances on `backend`.

    On PyTorch Keras instantiates a subclass of its own (`TorchOptimizer.__new__`);
    elsewhere the public class itself.
    """
    if backend == "torch":
        import importlib

        module, name = TORCH_ADAM
        return getattr(importlib.import_module(module), name)
    return keras.optimizers.Adam


def adam_slots(optimizer, variables):
    """`(momentums, velocities)`: a built Adam's moment variables for each of `variables`, in order.

    `optimizer` is a `keras.optimizers.Adam` (or the backend class Keras
    builds for it), built on a list that contains every one of `variables`.
    Each returned entry is a `keras.Variable` shaped like its variable.
    """
    momentums, velocities = (getattr(optimizer, name) for name in ADAM_SLOT_ATTRIBUTES)
    index = getattr(optimizer, VARIABLE_INDEX_METHOD)
    positions = [index(variable) for variable in variables]
    return [momentums[i] for i in positions], [velocities[i] for i in positions]


def sync_jax_state(model):
    """Puts the state a JAX `fit`/`evaluate` holds outside `model` back into its variables.

    Call it before reading or keeping the model mid-epoch (for example before
    raising an error out of `fit`). Keras 3.15's `Callback.model` property
    already syncs on JAX; this matters for any other reference to the model,
    and keeps callbacks correct should that property stop syncing. A no-op on
    TensorFlow and PyTorch, and on JAX when the state is already in the model.
    """
    if BACKEND == "jax":
        model.jax_state_sync()


def portable_optimizer_config(config):
    """A serialized optimizer (`keras.saving.serialize_keras_object`) that loads on any backend.

    Keras 3.15.1 serializes an optimizer built under PyTorch with its
    backend class's module (`keras.src.backend.torch.optimizers.torch_sgd`,
    `torch_adam`, ...). Such a config, whose `module` starts with
    `keras.src.backend.`, comes back with `module` "keras.optimizers" (and no
    registered name), as other backends save it, when `keras.optimizers` has a
    class of that name; a wrapped `inner_optimizer` (`LossScaleOptimizer`)
    likewise. Anything else comes back unchanged. The input is not modified.
    """
    if not isinstance(config, dict):
        return config
    config = dict(config)
    inner = config.get("config")
    if isinstance(inner, dict) and isinstance(inner.get("inner_optimizer"), dict):
        config["config"] = {**inner, "inner_optimizer": portable_optimizer_config(inner["inner_optimizer"])}
    module, class_name = config.get("module"), config.get("class_name")
    if (isinstance(module, str) and module.startswith(BACKEND_MODULE_PREFIX)
            and isinstance(getattr(keras.optimizers, str(class_name), None), type)):
        config["module"] = PUBLIC_OPTIMIZERS_MODULE
        config["registered_name"] = None
    return config


def seeded_normal(shape, dtype, seed_generator):
    """`keras.random.normal(shape, dtype=dtype, seed=seed_generator)`: the same values, and the same state after.

    On PyTorch, in eager steps (not in a symbolic pass, a stateless scope or
    under `torch.compile`), it reads and advances the seed state in place and
    seeds the generator itself (`_torch_normal`, module docstring), once
    `_torch_normal_matches_keras()` has found that equal to Keras' draws;
    anywhere else it calls `keras.random.normal`.
    """
    if BACKEND == "torch" and _torch_eager_draw() and _torch_normal_matches_keras():
        return _torch_normal(shape, dtype, seed_generator)
    return keras.random.normal(shape, dtype=dtype, seed=seed_generator)


def _torch_eager_draw():
    """Whether a PyTorch draw now runs eagerly on a real device: not compiled, symbolic ("meta") or stateless.

    `torch.compiler.is_compiling()` comes first: under `torch.compile` the
    answer is then a constant, and Dynamo does not trace the cached imports
    (it warns about any `functools.cache`d function it traces).
    """
    import torch

    if torch.compiler.is_compiling():
        return False
    _, core, in_stateless_scope = _torch_random_imports()
    return not (core.get_device() == "meta" or in_stateless_scope())


def _torch_normal(shape, dtype, seed_generator):
    """Keras' PyTorch `random.normal` of a `SeedGenerator` (Keras 3.15), as eager PyTorch ops.

    Keras: `seed = state`; `state += [0, 1]`; a new `torch.Generator` on the
    default device, seeded with `(seed[0] + seed[1]) & 0xFFFFFFFF` (the sum
    in the state's integer dtype, whose wrap-around the mask makes the same
    as Python's exact sum); `torch.normal(0, 1, size, generator, dtype)`.
    """
    torch, core, _ = _torch_random_imports()
    device = core.get_device()
    state = getattr(seed_generator, SEED_STATE_ATTRIBUTE).value  # a tensor that requires no gradient
    seed, counter = state.tolist()
    key = (state.dtype, state.device)
    increment = _SEED_INCREMENTS.get(key)
    if increment is None:
        increment = _SEED_INCREMENTS[key] = torch.tensor([0, 1], dtype=state.dtype, device=state.device)
    state.add_(increment)
    generator = torch.Generator(device=device)
    generator.manual_seed((seed + counter) & 0xFFFFFFFF)
    dtype = core.to_torch_dtype(keras.backend.standardize_dtype(dtype or keras.config.floatx()))
    return torch.normal(0.0, 1.0, size=tuple(shape), generator=generator, dtype=dtype, device=device)


_SEED_INCREMENTS = {}  # (dtype, device) -> the tensor [0, 1] that a draw adds to a seed state


@functools.cache
def _torch_random_imports():
    """`(torch, keras.src.backend.torch.core, in_stateless_scope)`, imported on first use (PyTorch only)."""
    import torch
    from keras.src.backend.common.stateless_scope import in_stateless_scope
    from keras.src.backend.torch import core

    return torch, core, in_stateless_scope


_TORCH_NORMAL_CHECKED = []  # [True] or [False] once checked in this process


def _torch_normal_matches_keras():
    """Whether `_torch_normal` draws what `keras.random.normal` draws and leaves the same state; checked once.

    Two generators from the largest int32 seed (so that the second draw's
    seed sum wraps around in int32) draw twice each, one through Keras and
    one through `_torch_normal`, in float32 and bfloat16. On a mismatch it
    warns and `seeded_normal` uses Keras' own function from then on.
    """
    if not _TORCH_NORMAL_CHECKED:
        import warnings

        from keras import ops

        same = True
        for dtype in ("float32", "bfloat16"):
            ours, theirs = (keras.random.SeedGenerator(2**31 - 1, name=f"seeded_normal_check_{n}") for n in range(2))
            for shape in ((3, 5), (7,)):
                drawn = _torch_normal(shape, dtype, ours)
                expected = keras.random.normal(shape, dtype=dtype, seed=theirs)
                same = same and bool(ops.all(ops.equal(drawn, expected)))
            same = same and ops.convert_to_numpy(ours.state.value).tolist() == \
                ops.convert_to_numpy(theirs.state.value).tolist()
        if not same:
            warnings.warn(
                f"Keras {keras.__version__}'s keras.random.normal on PyTorch no longer draws what "
                f"cmva_keras.backend.keras_private._torch_normal reproduces (tested with Keras "
                f"{KERAS_VERSION_TESTED}); cmva_keras uses keras.random.normal itself, which costs about 0.1 ms "
                "more per draw. Port _torch_normal to this Keras and run tests/test_keras_private.py.",
                stacklevel=3,
            )
        _TORCH_NORMAL_CHECKED.append(same)
    return _TORCH_NORMAL_CHECKED[0]


def first_batch(iterator):
    """The first batch of a Keras epoch iterator, as the build hook receives it; None if it is empty.

    Keras' epoch iterators yield `(first_step, last_step, data)`, where `data`
    is an iterator of batches (TensorFlow, JAX) or a list of them (the generic
    iterator, `steps_per_execution` batches).
    """
    for _, _, data in iterator:
        if isinstance(data, (list, tuple)):
            return data[0]
        return next(data)
    return None


def replica_batch(batch, strategy):
    """`batch` with each `tf.distribute` per-replica value replaced by the first replica's tensor.

    Under a `tf.distribute` strategy the build hook receives the first batch
    as `PerReplica` values (one tensor per replica, each of the per-replica
    batch size); the first replica's tensors have the dtypes and (but for the
    batch size) the shapes the step sees. `strategy` is the one that
    distributed the batch (the model's `distribute_strategy`). Anything else
    is returned unchanged.
    """
    if BACKEND != "tensorflow":
        return batch
    import tensorflow as tf

    def local(value):
        if isinstance(value, tf.distribute.DistributedValues):
            return strategy.experimental_local_results(value)[0]
        return value

    return tf.nest.map_structure(local, batch)


class FirstBatchHook:
    """Mixin (before `keras.Model`): calls `self._prepare_first_batch(batch)` before Keras builds or traces.

    On JAX the override matters because `fit` and `evaluate` move the variables
    out of the model before the first step: an input error raised while that
    step is traced would leave the model without weights. On TensorFlow,
    without a distribution strategy, Keras builds nothing before the first
    trace: the optimizer would then build for the first phase's variables
    only, and a bad batch would fail inside a `tf.function`, which can never
    create variables again. A no-op mixin on PyTorch.
    """

    if BUILD_HOOK == "_symbolic_build":

        def _symbolic_build(self, iterator=None, data_batch=None):
            if data_batch is None and iterator is not None:
                data_batch = first_batch(iterator)
            if data_batch is not None:
                self._prepare_first_batch(data_batch)
            return super()._symbolic_build(data_batch=data_batch)

    elif BUILD_HOOK == "_maybe_symbolic_build":

        def _maybe_symbolic_build(self, iterator=None, data_batch=None):
            if data_batch is None and iterator is not None:
                data_batch = first_batch(iterator)
            if data_batch is None:
                return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
            # Under a strategy: one replica's share of the batch, and the optimizer's variables
            # created in the strategy's scope (mirrored), as Keras' own build does.
            data_batch = replica_batch(data_batch, self.distribute_strategy)
            with self.distribute_strategy.scope():
                self._prepare_first_batch(data_batch)
            # The batch read here, not the iterator: Keras would average the replicas' shares,
            # which fails when a last, short batch splits unevenly (4 and 3 examples).
            return super()._maybe_symbolic_build(data_batch=data_batch)


class UntrackedJaxState:
    """Mixin (before `keras.Model`): on JAX, `self._jax_state` is stored without Keras' tracking.

    `fit`, `evaluate` and `predict` assign it a dict of lists of arrays (or
    None) after every step; tracking it finds nothing (no variable, layer or
    metric in it) but costs a walk over every array each step. Any other
    attribute, and any other backend, goes through `Layer.__setattr__`.
    """

    def __setattr__(self, name, value):
        if name == JAX_STATE_ATTRIBUTE and BACKEND == "jax" and (value is None or type(value) is dict):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


# ------------------------------------------------------ the check at import
def _stores(cls, method_name, attribute):
    """Whether `method_name`, on `cls` or a base class, stores or reads `self.<attribute>`."""
    for klass in cls.__mro__:
        method = klass.__dict__.get(method_name)
        code = getattr(inspect.unwrap(method), "__code__", None) if method is not None else None
        if code is not None and attribute in code.co_names:
            return True
    return False


def _torch_random_found():
    """Whether Keras' PyTorch seeding function exists and calls what `_torch_normal` reproduces."""
    import importlib

    module, name = TORCH_RANDOM
    try:
        function = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return False
    names = getattr(inspect.unwrap(function), "__code__", None)
    return (names is not None and all(call in names.co_names for call in TORCH_SEED_CALLS)
            and _stores(keras.random.SeedGenerator, "__init__", SEED_STATE_ATTRIBUTE)
            and _stores(keras.random.SeedGenerator, "next", SEED_STATE_ATTRIBUTE))


def problems(backend=BACKEND, model_class=None, optimizer_class=None):
    """What the installed Keras lacks of the hooks above: a list of sentences (empty when all is there).

    Reads class definitions only: it creates no variable and starts no device.
    """
    model_class = keras.Model if model_class is None else model_class
    optimizer_class = keras.optimizers.Optimizer if optimizer_class is None else optimizer_class
    found = []
    hook = BUILD_HOOKS.get(backend)
    if hook is not None:
        method = getattr(model_class, hook, None)
        if not callable(method):
            found.append(
                f"keras.Model has no method `{hook}`, the hook {backend} calls with the first batch "
                "before the first step is traced (FirstBatchHook overrides it)"
            )
        else:
            parameters = tuple(inspect.signature(method).parameters)
            if parameters != BUILD_HOOK_PARAMETERS:
                found.append(
                    f"keras.Model.{hook} takes {parameters}, not {BUILD_HOOK_PARAMETERS} "
                    "(FirstBatchHook overrides it with the latter)"
                )
    if not _stores(keras.optimizers.LossScaleOptimizer, "build", LOSS_SCALE_ATTRIBUTE):
        found.append(
            f"keras.optimizers.LossScaleOptimizer.build no longer sets `{LOSS_SCALE_ATTRIBUTE}`, "
            "the loss-scale variable (read by loss_scale_variable)"
        )
    if backend == "jax" and not callable(getattr(model_class, "jax_state_sync", None)):
        found.append("keras.Model has no method `jax_state_sync` (used by sync_jax_state)")
    if backend == "jax" and not _stores(model_class, "fit", JAX_STATE_ATTRIBUTE):
        found.append(
            f"keras.Model.fit no longer stores `{JAX_STATE_ATTRIBUTE}` on JAX (UntrackedJaxState stores it untracked)"
        )
    if not (_stores(model_class, "__init__", COMPILED_METRICS_ATTRIBUTE)
            and _stores(model_class, "compile", COMPILED_METRICS_ATTRIBUTE)):
        found.append(
            f"keras.Model's __init__ and compile no longer set `{COMPILED_METRICS_ATTRIBUTE}`, "
            "the compiled-metrics container (read by compiled_metrics)"
        )
    adam = keras.optimizers.Adam if optimizer_class is keras.optimizers.Optimizer else optimizer_class
    if not (all(_stores(adam, "build", name) for name in ADAM_SLOT_ATTRIBUTES)
            and callable(getattr(adam, VARIABLE_INDEX_METHOD, None))):
        found.append(
            f"keras.optimizers.Adam.build no longer sets `{ADAM_SLOT_ATTRIBUTES[0]}` and "
            f"`{ADAM_SLOT_ATTRIBUTES[1]}`, or the optimizer lost `{VARIABLE_INDEX_METHOD}` (read by adam_slots)"
        )
    if backend == "torch":
        try:
            torch_adam = adam_class("torch")
        except (ImportError, AttributeError):
            torch_adam = None
        if not (isinstance(torch_adam, type) and issubclass(torch_adam, keras.optimizers.Adam)):
            found.append(
                f"{'.'.join(TORCH_ADAM)} is no longer Keras' PyTorch Adam class (read by adam_class)"
            )
    if backend == "torch" and not _torch_random_found():
        found.append(
            f"{'.'.join(TORCH_RANDOM)} no longer calls {' and '.join(TORCH_SEED_CALLS)}, or "
            f"keras.random.SeedGenerator no longer keeps its state in `{SEED_STATE_ATTRIBUTE}` (read by seeded_normal)"
        )
    if not _stores(optimizer_class, "__init__", LEARNING_RATE_ATTRIBUTE):
        found.append(
            f"keras.optimizers.Optimizer.__init__ no longer sets `{LEARNING_RATE_ATTRIBUTE}`, "
            "the learning-rate variable (read by learning_rate_variable)"
        )
    return found


def check(backend=BACKEND, model_class=None, optimizer_class=None):
    """Raises `KerasPrivateAPIError` listing `problems(...)`, if any."""
    found = problems(backend, model_class, optimizer_class)
    if found:
        raise KerasPrivateAPIError(
            f"cmva_keras was tested with Keras {KERAS_VERSION_TESTED} (the pin in constraints.txt); the "
            f"installed Keras {keras.__version__} (backend {backend}) changed private APIs it relies on: "
            + "; ".join(found)
            + f". Install the tested versions (pip install -c constraints.txt ..., which pins "
            f"keras=={KERAS_VERSION_TESTED}), or port cmva_keras/backend/keras_private.py to this Keras "
            "and run tests/test_keras_private.py."
        )


check()
