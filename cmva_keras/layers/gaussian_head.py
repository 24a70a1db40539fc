"""`GaussianHead`: features to the parameters of a diagonal Gaussian."""

import keras

from cmva_keras.layers.sublayer import call_sublayer
from cmva_keras.precision import full_precision


@keras.saving.register_keras_serializable(package="cmva_keras")
class GaussianHead(keras.layers.Layer):
    """Two parallel dense layers giving `(mean, log_var)` of `N(mean, diag(exp(log_var)))`.

    The scale is parametrised as the log-variance (`sigma = exp(0.5 * log_var)`)
    so that it is positive without a constraint and numerically stable. One
    `GaussianHead` is "a single fully connected layer" in the paper's sense:
    it is equivalent to one dense layer with `2 * latent_dim` outputs, split.

    Args:
        latent_dim: `d`, the size of the Gaussian.
        initial_log_var: initial bias of the log-variance layer. 0 (sigma = 1)
            is the usual start; a negative value (e.g. -4, sigma = 0.14) lets
            a decoder see the mean through little noise early in training,
            which helps when the encoder's features start uninformative.

    Under a mixed dtype policy the head computes in float32 (its variable
    dtype): the means and log-variances enter the KL and 2-Wasserstein terms
    (`cmva_keras.precision`).
    """

    def __init__(self, latent_dim, initial_log_var=0.0, **kwargs):
        kwargs["dtype"] = full_precision(kwargs.get("dtype"))
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.initial_log_var = float(initial_log_var)
        self.mean_layer = keras.layers.Dense(self.latent_dim, name="mean", dtype=self.dtype_policy)
        self.log_var_layer = keras.layers.Dense(
            self.latent_dim, bias_initializer=keras.initializers.Constant(self.initial_log_var), name="log_var",
            dtype=self.dtype_policy,
        )

    def build(self, input_shape):
        self.mean_layer.build(input_shape)
        self.log_var_layer.build(input_shape)

    def call(self, features):
        return call_sublayer(self.mean_layer, features), call_sublayer(self.log_var_layer, features)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape[:-1]) + (self.latent_dim,)
        return shape, shape

    def get_config(self):
        return {**super().get_config(), "latent_dim": self.latent_dim, "initial_log_var": self.initial_log_var}
