"""JAX training and evaluation steps for CMVA (stateless, jit-compiled)."""

import warnings

import jax
import keras

from cmva_keras.backend import keras_private


class TrainStepMixin(keras_private.UntrackedJaxState, keras_private.FirstBatchHook):
    """JAX's stateless `train_step`/`test_step`.

    `FirstBatchHook` checks the first batch and builds the model and optimizer
    before `fit`/`evaluate` move the variables out of the model;
    `UntrackedJaxState` keeps `fit`'s per-step state hand-over out of Keras'
    object tracker.
    """

    def _stateless_objective(self, trainable_variables, non_trainable_variables, x, y, training, log_flag=True):
        """`compute_objective` as a pure function of the variables' values."""
        mapping = list(zip(self.trainable_variables, trainable_variables)) + list(
            zip(self.non_trainable_variables, non_trainable_variables)
        )
        with keras.StatelessScope(state_mapping=mapping) as scope:
            terms, y_pred = self.compute_objective(x, y, training=training, log_flag=log_flag)
        # BatchNorm statistics and seed-generator states the pass updated.
        non_trainable_variables = [scope.get_current_value(v) for v in self.non_trainable_variables]
        return terms["loss"], (terms, y_pred, non_trainable_variables)

    def _stateless_update_metrics(self, metrics_variables, terms, y, y_pred, log_flag=True):
        with keras.StatelessScope(state_mapping=list(zip(self.metrics_variables, metrics_variables))) as scope:
            logs = self._update_metrics(terms, y, y_pred, log_flag)
        return logs, [scope.get_current_value(v) for v in self.metrics_variables]

    def train_step(self, state, data):
        trainable_variables, non_trainable_variables, optimizer_variables, metrics_variables = state
        x, y = self._unpack_data(data)
        # The phase's trained variables, read when the step is traced.
        trained = [i for i, frozen in enumerate(self.phase_frozen_mask) if not frozen]
        # Whether this step computes the terms the phase only logs (`StagedModel.log_flag`), from the
        # steps counted so far this epoch.
        count = self.steps_tracker.count
        log_flag = self.log_flag(
            next(value for variable, value in zip(self.metrics_variables, metrics_variables) if variable is count)
        )

        def objective(trained_values, non_trainable):
            values = list(trainable_variables)
            for i, value in zip(trained, trained_values):
                values[i] = value
            loss, aux = self._stateless_objective(values, non_trainable, x, y, True, log_flag)
            # The loss times the loss scale (mixed_float16's LossScaleOptimizer, whose scale is an
            # optimizer variable; else 1); the optimizer divides the gradients by it again.
            with keras.StatelessScope(state_mapping=list(zip(self.optimizer.variables, optimizer_variables))):
                loss = self.optimizer.scale_loss(loss)
            return loss, aux

        # Forward pass, the seven terms, and gradients for the trained variables only.
        grad_fn = jax.value_and_grad(objective, has_aux=True)
        (_, (terms, y_pred, non_trainable_variables)), trained_gradients = grad_fn(
            [trainable_variables[i] for i in trained], non_trainable_variables
        )
        # Frozen variables get no gradient: the optimizer leaves them and their
        # moments untouched, as on TensorFlow and PyTorch.
        gradients = [None] * len(trainable_variables)
        for i, gradient in zip(trained, trained_gradients):
            gradients[i] = gradient
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Gradients do not exist")
            trainable_variables, optimizer_variables = self.optimizer.stateless_apply(
                optimizer_variables, gradients, trainable_variables
            )
        logs, metrics_variables = self._stateless_update_metrics(metrics_variables, terms, y, y_pred, log_flag)
        return logs, (trainable_variables, non_trainable_variables, optimizer_variables, metrics_variables)

    def test_step(self, state, data):
        trainable_variables, non_trainable_variables, metrics_variables = state
        x, y = self._unpack_data(data)
        _, (terms, y_pred, non_trainable_variables) = self._stateless_objective(
            trainable_variables, non_trainable_variables, x, y, False
        )
        logs, metrics_variables = self._stateless_update_metrics(metrics_variables, terms, y, y_pred)
        return logs, (trainable_variables, non_trainable_variables, metrics_variables)
