"""PyTorch training and evaluation steps for CMVA.

These things make the eager step cost what a hand-written PyTorch loop costs
(docs/benchmarks.md):

- **Frozen weights do not require gradients.** The phase's frozen
  variables get `requires_grad=False` (and the trained ones `True`), so
  autograd computes no weight gradient for a frozen part that gradients
  still flow through (D2 in phase 2, which the mapper's reconstruction goes
  through). Their values, and so every term, are unchanged. The split is
  worked out once per train function and phase (`_phase_variables`), and
  each step clears the trained variables' gradients only.
- **Adam runs as PyTorch's fused kernel** (`torch_adam.apply_adam`) where it
  is Keras' exact update; any other optimizer goes through `optimizer.apply`.
- **The running means are two in-place additions each** (`accumulate_mean`):
  Keras' `Mean.update_state` of one scalar, without the ops' dispatch
  (35-45 us a tracker, against 2 x 3 us; eight trackers a step), bit-identical.
- **No running means where nobody reads them.** A `fit` whose batch logs go
  nowhere (`StagedModel.fit`, `cmva_keras/callbacks/epoch_logs.py`) gets the
  step's own terms as its per-step logs instead of eight `Mean.result()`s
  (about 0.2 ms a step); Keras' `fit` takes the epoch's logs from the
  trackers themselves (`Trainer._get_metrics_result_or_logs`).
- **A logged-only term's branch is a Python `if`** (`cond`): what Keras'
  PyTorch `cond` does, without `keras.ops.cond`'s operation object (40-55 us
  against 3 us, twice a step in CMVA's phase 2).
"""

import torch

from cmva_keras.backend import torch_adam


def accumulate_mean(tracker, value, sample_weight=None):
    """`tracker.update_state(value, sample_weight)` for a `keras.metrics.Mean` and a scalar `value`, in place.

    The same float32 arithmetic as Keras' (`total += value * weight`,
    `count += weight`, the weight 1 when None), as two in-place additions
    on the tracker's variables.
    """
    total, count = tracker.total.value, tracker.count.value
    value = value.to(total.dtype)
    if sample_weight is None:
        total.add_(value)
        count.add_(1.0)
    else:
        weight = torch.as_tensor(sample_weight, dtype=total.dtype, device=total.device)
        total.add_(value * weight)
        count.add_(weight)


def cond(pred, true_fn, false_fn):
    """`true_fn()` if `pred` else `false_fn()`: Keras' PyTorch `cond`, called directly.

    Like Keras', a symbolic pass (tensors on the "meta" device) takes the
    true branch, whose output has the shapes.
    """
    if isinstance(pred, torch.Tensor) and pred.device.type == "meta":
        return true_fn()
    return true_fn() if bool(pred) else false_fn()


class _PhaseVariables:
    """What `TrainStepMixin._phase_variables` keeps: a plain object, so Keras tracks none of the variables in it."""

    __slots__ = ("function", "phase", "variables")

    def __init__(self, function, phase, variables):
        self.function, self.phase, self.variables = function, phase, variables


class TrainStepMixin:
    _phase_cache = None  # a `_PhaseVariables`, or None

    def _phase_variables(self):
        """The current phase's trained variables, with `requires_grad` on for them and off for the frozen ones.

        Worked out, and the gradients of every trainable variable cleared,
        when the train function or the phase changes, not every step: walking
        the layers for their variables costs about 0.3 ms a step. A change of
        a layer's `trainable` takes a new `compile()` in Keras, which makes a
        new train function (as on TensorFlow and JAX, whose steps are traced
        with the variables of the time). Called outside `fit` (no train
        function), it works them out every time.
        """
        function = getattr(self, "train_function", None)
        cache = self._phase_cache
        if function is not None and cache is not None and cache.function is function and cache.phase == self.phase:
            return cache.variables
        variables = self.phase_trainable_variables
        trained = {id(v) for v in variables}
        for variable in self.trainable_variables:
            variable.value.requires_grad_(id(variable) in trained)
            variable.value.grad = None  # none left over from another phase
        self._phase_cache = None if function is None else _PhaseVariables(function, self.phase, variables)
        return variables

    def train_step(self, data):
        x, y = self._unpack_data(data)
        # Only the current phase's parts are differentiated and updated.
        variables = self._phase_variables()
        # Clear the gradients left by the previous step (the frozen variables have none).
        for variable in variables:
            variable.value.grad = None
        # Whether this step computes the terms the phase only logs (`StagedModel.log_flag`).
        log_flag = self.log_flag(self.steps_tracker.count)
        # Forward pass and the seven terms.
        terms, y_pred = self.compute_objective(x, y, training=True, log_flag=log_flag)
        # Gradients of the loss times the loss scale (mixed_float16's LossScaleOptimizer; else 1),
        # which the optimizer divides out again.
        self.optimizer.scale_loss(terms["loss"]).backward()
        gradients = [v.value.grad for v in variables]
        with torch.no_grad():
            if not torch_adam.apply_adam(self.optimizer, gradients, variables):
                self.optimizer.apply(gradients, variables)
            terms = {name: value.detach() for name, value in terms.items()}
            return self._update_metrics(terms, y, None if y_pred is None else y_pred.detach(), log_flag,
                                        accumulate=accumulate_mean, step_logs=self.batch_logs_unread)

    def test_step(self, data):
        x, y = self._unpack_data(data)
        with torch.no_grad():
            terms, y_pred = self.compute_objective(x, y, training=False)
            return self._update_metrics(terms, y, y_pred, accumulate=accumulate_mean)
