"""PyTorch training and evaluation steps for CMVA.

Two things make the eager step cost what a hand-written PyTorch loop costs
(docs/benchmarks.md):

- **Frozen weights do not require gradients.** At each step the phase's
  frozen variables get `requires_grad=False` (and the trained ones `True`),
  so autograd computes no weight gradient for a frozen part that gradients
  still flow through (D2 in phase 2, which the mapper's reconstruction goes
  through). Their values, and so every term, are unchanged.
- **Adam runs as PyTorch's fused kernel** (`torch_adam.apply_adam`) where it
  is Keras' exact update; any other optimizer goes through `optimizer.apply`.
"""

import torch

from cmva_keras.backend import torch_adam


class TrainStepMixin:
    _requires_grad_phase = None  # the phase whose frozen/trained split `requires_grad` reflects

    def _sync_requires_grad(self):
        """`requires_grad` on: the current phase's trained variables; off: its frozen ones."""
        key = (self.phase, len(self.trainable_variables))
        if self._requires_grad_phase == key:
            return
        for variable, frozen in zip(self.trainable_variables, self.phase_frozen_mask):
            variable.value.requires_grad_(not frozen)
        self._requires_grad_phase = key

    def train_step(self, data):
        x, y = self._unpack_data(data)
        self._sync_requires_grad()
        # Clear the gradients left by the previous step.
        self.zero_grad()
        # Whether this step computes the terms the phase only logs (`StagedModel.log_flag`).
        log_flag = self.log_flag(self.steps_tracker.count)
        # Forward pass and the seven terms.
        terms, y_pred = self.compute_objective(x, y, training=True, log_flag=log_flag)
        # Gradients of the loss times the loss scale (mixed_float16's LossScaleOptimizer; else 1),
        # which the optimizer divides out again.
        self.optimizer.scale_loss(terms["loss"]).backward()
        # Only the current phase's parts are updated.
        variables = self.phase_trainable_variables
        gradients = [v.value.grad for v in variables]
        with torch.no_grad():
            if not torch_adam.apply_adam(self.optimizer, gradients, variables):
                self.optimizer.apply(gradients, variables)
            terms = {name: value.detach() for name, value in terms.items()}
            return self._update_metrics(terms, y, None if y_pred is None else y_pred.detach(), log_flag)

    def test_step(self, data):
        x, y = self._unpack_data(data)
        with torch.no_grad():
            terms, y_pred = self.compute_objective(x, y, training=False)
            return self._update_metrics(terms, y, y_pred)
