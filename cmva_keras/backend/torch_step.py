"""PyTorch training and evaluation steps for CMVA."""

import torch


class TrainStepMixin:
    def train_step(self, data):
        x, y = self._unpack_data(data)
        # Clear the gradients left by the previous step.
        self.zero_grad()
        # Forward pass and the seven terms.
        terms, y_pred = self.compute_objective(x, y, training=True)
        # Gradients of the loss times the loss scale (mixed_float16's LossScaleOptimizer; else 1),
        # which the optimizer divides out again.
        self.optimizer.scale_loss(terms["loss"]).backward()
        # Only the current phase's parts are updated.
        variables = self.phase_trainable_variables
        gradients = [v.value.grad for v in variables]
        with torch.no_grad():
            self.optimizer.apply(gradients, variables)
            terms = {name: value.detach() for name, value in terms.items()}
            return self._update_metrics(terms, y, None if y_pred is None else y_pred.detach())

    def test_step(self, data):
        x, y = self._unpack_data(data)
        with torch.no_grad():
            terms, y_pred = self.compute_objective(x, y, training=False)
            return self._update_metrics(terms, y, y_pred)
