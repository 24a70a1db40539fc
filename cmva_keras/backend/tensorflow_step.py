"""TensorFlow training and evaluation steps for CMVA."""

import tensorflow as tf

from cmva_keras.backend import keras_private, tensorflow_adam


class TrainStepMixin(keras_private.FirstBatchHook):
    """TensorFlow's `train_step`/`test_step` (a `GradientTape`).

    `FirstBatchHook` checks the first batch and builds the model and optimizer
    eagerly, before the first step is traced.
    """

    def train_step(self, data):
        x, y = self._unpack_data(data)
        # Whether this step computes the terms the phase only logs (`StagedModel.log_flag`).
        log_flag = self.log_flag(self.steps_tracker.count)
        # Forward pass and the seven terms, recorded for differentiation (the scalings too: an op
        # outside the tape would leave every gradient None).
        with tf.GradientTape() as tape:
            terms, y_pred = self.compute_objective(x, y, training=True, log_flag=log_flag)
            # Under a tf.distribute strategy each replica sees its share of the global batch and the
            # optimizer sums the replicas' gradients: dividing by the replica count makes that sum the
            # global batch's gradient (Keras scales only its built-in losses). 1 replica: unchanged.
            loss = terms["loss"] / self.distribute_strategy.num_replicas_in_sync
            # Times the loss scale (mixed_float16's LossScaleOptimizer; else 1), which the optimizer
            # divides out of the gradients again.
            loss = self.optimizer.scale_loss(loss)
        # Only the current phase's parts are differentiated and updated.
        variables = self.phase_trainable_variables
        gradients = tape.gradient(loss, variables)
        # Adam as TensorFlow's fused kernel where that is Keras' exact update (tensorflow_adam.py).
        if not tensorflow_adam.apply_adam(self.optimizer, gradients, variables):
            self.optimizer.apply(gradients, variables)
        return self._update_metrics(terms, y, y_pred, log_flag)

    def test_step(self, data):
        x, y = self._unpack_data(data)
        terms, y_pred = self.compute_objective(x, y, training=False)
        return self._update_metrics(terms, y, y_pred)
