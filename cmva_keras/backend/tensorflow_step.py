"""TensorFlow training and evaluation steps for CMVA."""

import tensorflow as tf

from cmva_keras.backend import keras_private


class TrainStepMixin(keras_private.FirstBatchHook):
    """TensorFlow's `train_step`/`test_step` (a `GradientTape`).

    `FirstBatchHook` checks the first batch and builds the model and optimizer
    eagerly, before the first step is traced.
    """

    def train_step(self, data):
        x, y = self._unpack_data(data)
        # Forward pass and the seven terms, recorded for differentiation.
        with tf.GradientTape() as tape:
            terms, y_pred = self.compute_objective(x, y, training=True)
        # Only the current phase's parts are differentiated and updated.
        variables = self.phase_trainable_variables
        gradients = tape.gradient(terms["loss"], variables)
        self.optimizer.apply(gradients, variables)
        return self._update_metrics(terms, y, y_pred)

    def test_step(self, data):
        x, y = self._unpack_data(data)
        terms, y_pred = self.compute_objective(x, y, training=False)
        return self._update_metrics(terms, y, y_pred)
