"""Speed proposals for CMVA's Keras training step, demonstrated as a subclass (benchmark code only).

`LeanCMVA` computes the same objective as `CMVA` (the benchmark checks its
loss against `CMVA.compute_objective` before timing) and trains the same
parts; each proposal is a constructor flag so that `ablation.py` can time them
one at a time. What each one changes, for the lead to port into
`cmva_keras/models/cmva.py` and `cmva_keras/backend/*.py`:

- `one_tracker`: the eight `keras.metrics.Mean` running means ("loss" and
  the seven terms) become one `TermsMean` metric holding a `(8,)` total and
  one count: two variable updates per step instead of sixteen, one division
  in `get_metrics_result` instead of eight. Same logs, same epoch means.
- `skip_prediction`: in training, `compute_objective` computes the
  mapper-path prediction `y_pred` (one more VD and D2 forward pass) only when
  `compile(metrics=...)` gave metrics that need it. Graph backends prune the
  unused pass anyway; eager torch does not. Adopted by `CMVA` itself; the
  flag no longer changes anything.
- `torch_trained_grads` (torch): the frozen parts' parameters stop requiring
  gradients for the phase (autograd then skips their weight gradients: D2's
  in phase 2), the phase's variable list is cached instead of re-walked every
  step, and only those variables' gradient buffers are zeroed, in place
  (kept allocated: freeing and re-allocating them each step can cost page
  faults, see `_torch_train_step`).
- `fused_adam` (torch): Keras' torch Adam (`_foreach` ops, keras 3.15)
  makes nine passes over the model and allocates five model-sized tensor
  lists per step; `FusedTorchAdam` applies Keras' formula with torch's fused
  Adam kernel (one pass, no temporaries).
- `direct_calls` (torch, off in `keras_lean`): inside `MLP`, `GaussianEncoder`,
  `GaussianHead` and `Mapper`, call each inner `Dense` layer's `call()`
  instead of `__call__()`, skipping Keras' per-call machinery (argument
  conversion, autocast and name scopes, build checks) that costs tens of
  microseconds per layer in eager torch. Same numbers under a float32 policy;
  it drops autocasting, so it is not for mixed precision as written.
- `jax_trained_grads` (JAX): differentiate only the phase's trained
  variables and give the optimizer `None` for the frozen ones (Keras skips
  them), instead of differentiating and Adam-updating everything and putting
  the frozen weights back. Frozen variables' Adam moments then stay put, as
  on TensorFlow and torch. Adopted by `CMVA` itself
  (`cmva_keras/backend/jax_step.py`); the flag no longer changes anything.
"""

import types

import keras
from keras import ops

from cmva_keras.models import CMVA
from cmva_keras.phases import TERMS

PROPOSALS = ("one_tracker", "skip_prediction", "torch_trained_grads", "fused_adam", "jax_trained_grads", "direct_calls")
"""Flag names of `LeanCMVA`, in the order the ablation times them."""

DEFAULT_ON = ("one_tracker", "skip_prediction", "torch_trained_grads", "fused_adam", "jax_trained_grads")
"""The proposals `LeanCMVA` applies by default (`direct_calls` changes mixed-precision behaviour)."""

BACKEND_PROPOSALS = {
    "tensorflow": ("one_tracker", "skip_prediction"),
    "jax": ("one_tracker", "skip_prediction", "jax_trained_grads"),
    "torch": ("one_tracker", "skip_prediction", "torch_trained_grads", "fused_adam", "direct_calls"),
}
"""The proposals that can change anything on each backend."""


class TermsMean(keras.metrics.Metric):
    """Running means of several named scalars, kept in one `(k,)` total and one count.

    `update_state(values)` takes a dict `{name: scalar}` with every name;
    `result()` returns `{name: total[i] / count}` (0 before any update), the
    same numbers as one `keras.metrics.Mean` per name.

    Args:
        names: the scalars' names, in a fixed order.
    """

    def __init__(self, names, name="terms", **kwargs):
        super().__init__(name=name, **kwargs)
        self.names = tuple(names)
        self.total = self.add_variable(shape=(len(self.names),), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, values):
        stacked = ops.stack([ops.cast(values[name], self.dtype) for name in self.names])
        self.total.assign_add(stacked)
        self.count.assign_add(ops.cast(1, self.dtype))

    def result(self):
        means = ops.divide_no_nan(self.total, self.count)
        return {name: means[i] for i, name in enumerate(self.names)}

    def reset_state(self):
        self.total.assign(ops.zeros((len(self.names),), self.dtype))
        self.count.assign(ops.cast(0, self.dtype))

    def get_config(self):
        return {**super().get_config(), "names": list(self.names)}


def fused_torch_adam_class():
    """`FusedTorchAdam`: Keras' Adam formula in torch's fused CPU/GPU kernel (import needs the torch backend)."""
    import math

    import torch
    from keras.src.backend.torch.optimizers.torch_adam import Adam as KerasTorchAdam

    class FusedTorchAdam(KerasTorchAdam):
        """Keras' Adam (`w -= alpha m / (sqrt(v) + eps)`, `alpha = lr sqrt(1 - b2^t) / (1 - b1^t)`) in one kernel.

        Keras 3.15's torch Adam runs nine `_foreach` passes and allocates five
        model-sized temporaries per step. `torch._fused_adam_` does the update
        in one pass; it places epsilon after the bias correction
        (`lr/(1-b1^t) m / (sqrt(v)/sqrt(1-b2^t) + eps')`), so passing
        `eps' = eps / sqrt(1 - b2^t)` gives Keras' formula exactly (up to float
        rounding). Falls back to Keras' update for amsgrad or where the kernel
        is missing.
        """

        def _parallel_update_step(self, grads, variables, learning_rate):
            if self.amsgrad or not hasattr(torch, "_fused_adam_"):
                return super()._parallel_update_step(grads, variables, learning_rate)
            keras_variables = variables
            step = float(self.iterations.value) + 1.0
            correction = math.sqrt(1.0 - self.beta_2**step)
            step_tensor = torch.tensor(step, dtype=torch.float32)
            torch._fused_adam_(
                [v.value for v in keras_variables],
                [g.contiguous() for g in grads],
                [self._momentums[self._get_variable_index(v)].value for v in keras_variables],
                [self._velocities[self._get_variable_index(v)].value for v in keras_variables],
                [],
                [step_tensor] * len(keras_variables),
                lr=float(learning_rate),
                beta1=float(self.beta_1),
                beta2=float(self.beta_2),
                weight_decay=0.0,
                eps=float(self.epsilon) / correction,
                amsgrad=False,
                maximize=False,
            )

    return FusedTorchAdam


def _mlp_call(self, inputs):
    x = inputs
    for layer in self.hidden_layers:
        x = layer.call(x)
    return self.output_layer.call(x)


def _head_call(self, features):
    return self.mean_layer.call(features), self.log_var_layer.call(features)


def _encoder_call(self, inputs, training=None):
    x = inputs
    if not str(x.dtype).startswith(("float", "bfloat")):
        x = ops.cast(x, "float32")
    if self.backbone is not None:
        x = self.backbone(x, training=training)
    x = self.flatten.call(x)
    for layer in self.hidden:
        x = layer.call(x)
    return self.head.call(x)


def _mapper_run(branch, x):
    for layer in branch[:-1]:
        x = layer.call(x)
    return branch[-1].call(x)


def use_direct_sublayer_calls(model):
    """Patches the parts of `model` (instances only) so that inner layers run through `call()`.

    Mirrors `MLP.call`, `GaussianHead.call`, `GaussianEncoder.call` and
    `Mapper._run` of `cmva_keras/layers/` with `layer.call(x)` in place of
    `layer(x)`; the parts themselves are still called through `__call__`.
    """
    from cmva_keras.layers import GaussianEncoder, GaussianHead, Mapper, MLP

    for name in ("source_encoder", "source_decoder", "target_encoder", "target_decoder", "mapper"):
        part = model.part(name)
        heads = []
        if isinstance(part, MLP):
            part.call = types.MethodType(_mlp_call, part)
        elif isinstance(part, GaussianEncoder):
            part.call = types.MethodType(_encoder_call, part)
            heads.append(part.head)
        elif isinstance(part, Mapper):
            part._run = _mapper_run
            heads += [part.variational_encoder[-1], part.variational_decoder[-1]]
        for head in heads:
            if isinstance(head, GaussianHead):
                head.call = types.MethodType(_head_call, head)


class LeanCMVA(CMVA):
    """`CMVA` with the speed proposals of this module switched on by flags (`DEFAULT_ON` by default).

    Same constructor as `CMVA` plus the keyword flags named in `PROPOSALS`.
    Flags that do not apply to the running backend do nothing.
    """

    def __init__(self, *args, one_tracker=True, skip_prediction=True, torch_trained_grads=True,
                 fused_adam=True, jax_trained_grads=True, direct_calls=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.direct_calls = direct_calls
        if direct_calls and keras.backend.backend() == "torch":
            use_direct_sublayer_calls(self)
        self.one_tracker = one_tracker
        self.skip_prediction = skip_prediction
        self.torch_trained_grads = torch_trained_grads
        self.fused_adam = fused_adam
        self.jax_trained_grads = jax_trained_grads
        self.terms_tracker = TermsMean(("loss",) + TERMS, name="terms") if one_tracker else None
        # A plain namespace: Keras would track a list of variables assigned to the model after build.
        self._phase_cache = types.SimpleNamespace(phase=None, variables=None)

    # --------------------------------------------------------------- metrics
    @property
    def metrics(self):
        if not self.one_tracker:
            return super().metrics
        metrics = [self.terms_tracker]
        compiled = getattr(self, "_compile_metrics", None)
        if compiled is not None:
            metrics.append(compiled)
        return metrics

    def _update_metrics(self, terms, y, y_pred):
        if not self.one_tracker:
            return super()._update_metrics(terms, y, y_pred)
        self.terms_tracker.update_state(terms)
        compiled = getattr(self, "_compile_metrics", None)
        if compiled is not None:
            compiled.update_state(y, y_pred)
        return self.get_metrics_result()

    def compile(self, optimizer=None, **kwargs):
        if self.fused_adam and keras.backend.backend() == "torch":
            optimizer = optimizer or keras.optimizers.Adam(learning_rate=1e-4, beta_1=0.9, beta_2=0.999)
            if isinstance(optimizer, keras.optimizers.Adam) and not getattr(optimizer, "amsgrad", False):
                optimizer = fused_torch_adam_class().from_config(optimizer.get_config())
        super().compile(optimizer=optimizer, **kwargs)

    # ---------------------------------------------------------- train steps
    def train_step(self, *args):
        backend = keras.backend.backend()
        if backend == "torch" and self.torch_trained_grads:
            return self._torch_train_step(*args)
        if backend == "torch" and self.skip_prediction:
            return self._torch_train_step(*args)
        return super().train_step(*args)

    def _phase_variables(self):
        """The phase's trained variables, computed once per phase (torch: frozen ones stop requiring grad)."""
        cache = self._phase_cache
        if cache.phase != self._phase:
            cache.variables = tuple(self.phase_trainable_variables)
            if self.torch_trained_grads:
                trained = {id(v) for v in cache.variables}
                for v in self.trainable_variables:
                    v.value.requires_grad_(id(v) in trained)
                    v.value.grad = None
            cache.phase = self._phase
        return cache.variables

    def _torch_train_step(self, data):
        import torch

        x, y = self._unpack_data(data)
        if self.torch_trained_grads:
            variables = self._phase_variables()
            # Zero the gradient buffers in place: freeing them (set_to_none) lets glibc hand the
            # model-sized block back to the OS, and the next backward pays ~4 ms of page faults.
            gradients = [v.value.grad for v in variables if v.value.grad is not None]
            if gradients:
                torch._foreach_zero_(gradients)
        else:
            variables = self.phase_trainable_variables
            self.zero_grad()
        terms, y_pred = self.compute_objective(x, y, training=True)
        terms["loss"].backward()
        gradients = [v.value.grad for v in variables]
        with torch.no_grad():
            self.optimizer.apply(gradients, variables)
            terms = {name: value.detach() for name, value in terms.items()}
            return self._update_metrics(terms, y, None if y_pred is None else y_pred.detach())

    def set_phase(self, phase, reset_optimizer=False):
        self._phase_cache.phase = None
        super().set_phase(phase, reset_optimizer=reset_optimizer)
