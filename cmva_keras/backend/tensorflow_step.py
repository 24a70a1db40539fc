"""TensorFlow training and evaluation steps for CMVA."""

import tensorflow as tf


class TrainStepMixin:
    def _build_on_first_trace(self, x, with_optimizer):
        # Without a distribution strategy, Keras on TF builds nothing before the
        # first trace; the optimizer would then build for the first phase's
        # variables only. Build the model and the optimizer on every variable.
        if not self.built:
            self.build(tuple(x.shape))
        if with_optimizer and not self.optimizer.built:
            self.optimizer.build(self.trainable_variables)

    def train_step(self, data):
        x, y = self._unpack_data(data)
        self._build_on_first_trace(x, with_optimizer=True)
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
        self._build_on_first_trace(x, with_optimizer=False)
        terms, y_pred = self.compute_objective(x, y, training=False)
        return self._update_metrics(terms, y, y_pred)
