"""TensorFlow training and evaluation steps for CMVA."""

import tensorflow as tf


class TrainStepMixin:
    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Without a distribution strategy, Keras on TF builds nothing before the
        # first trace: the optimizer would then build for the first phase's
        # variables only, and a bad batch would fail inside a tf.function that
        # can never create variables again. Check and build eagerly instead.
        if data_batch is None and iterator is not None:
            for _, _, batches in iterator:
                data_batch = next(batches)
                break
        if data_batch is not None:
            self._prepare_first_batch(data_batch)
        return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

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
