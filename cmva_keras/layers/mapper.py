"""`Mapper`: the variational alignment branch (VE, VD) of Figure 1."""

import keras
from keras import ops

from cmva_keras.layers.gaussian_head import GaussianHead
from cmva_keras.layers.sublayer import call_sublayer
from cmva_keras.precision import full_precision


@keras.saving.register_keras_serializable(package="cmva_keras")
class Mapper(keras.layers.Layer):
    """Carries E1's distribution onto E2's latent space through an intermediate Gaussian.

    The variational encoder VE maps the source distribution's parameters
    `(mu1, sigma1)` to the intermediate Gaussian `N(mu_v, sigma_v)`; the
    variational decoder VD maps a sample `z_v` of it to `N(mu_m, sigma_m)`, whose
    sample `z_m` the target decoder D2 decodes. Both are single dense layers by
    default (the paper's choice for both tasks); `hidden_units` adds layers.

    Under a mixed dtype policy the whole mapper computes in float32 (its
    variable dtype): it is small, and its inputs and outputs are Gaussians'
    parameters that enter `kl_m` and `w2` (`cmva_keras.precision`).

    Args:
        latent_dim: size of the target latent space (E2's `d`).
        intermediate_dim: size of the intermediate Gaussian; defaults to `latent_dim`.
        hidden_units: dense hidden layers inside VE and VD each.
        activation: activation of those hidden layers.
    """

    def __init__(self, latent_dim, intermediate_dim=None, hidden_units=(), activation="relu", **kwargs):
        kwargs["dtype"] = full_precision(kwargs.get("dtype"))
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.intermediate_dim = int(intermediate_dim or latent_dim)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.activation = activation
        self.variational_encoder = self._branch(self.intermediate_dim, "variational_encoder")
        self.variational_decoder = self._branch(self.latent_dim, "variational_decoder")

    def _branch(self, latent_dim, name):
        layers = [
            keras.layers.Dense(u, activation=self.activation, name=f"{name}_hidden_{i}", dtype=self.dtype_policy)
            for i, u in enumerate(self.hidden_units)
        ]
        return layers + [GaussianHead(latent_dim, name=f"{name}_head", dtype=self.dtype_policy)]

    @staticmethod
    def _build_branch(branch, shape):
        for layer in branch[:-1]:
            layer.build(shape)
            shape = shape[:-1] + (layer.units,)
        branch[-1].build(shape)

    @staticmethod
    def _run(branch, x):
        for layer in branch[:-1]:
            x = call_sublayer(layer, x)
        return call_sublayer(branch[-1], x)

    def build(self, source_mean_shape, source_log_var_shape=None):
        # VE sees [mu1, sigma1]: twice the source latent size.
        batch, source_dim = tuple(source_mean_shape)[0], tuple(source_mean_shape)[-1]
        self._build_branch(self.variational_encoder, (batch, 2 * source_dim))
        self._build_branch(self.variational_decoder, (batch, self.intermediate_dim))

    def encode(self, source_mean, source_log_var, training=None):
        """VE: `(mu1, log sigma1^2) -> (mu_v, log sigma_v^2)`; VE's input is `[mu1, sigma1]`.

        `training` is accepted for symmetry with Keras layers; the dense layers ignore it.
        """
        source_sigma = ops.exp(0.5 * source_log_var)
        return self._run(self.variational_encoder, ops.concatenate([source_mean, source_sigma], axis=-1))

    def decode(self, intermediate_sample, training=None):
        """VD: `z_v -> (mu_m, log sigma_m^2)`."""
        return self._run(self.variational_decoder, intermediate_sample)

    def call(self, source_mean, source_log_var):
        """Deterministic path used at inference: VD(mu_v), means only."""
        intermediate_mean, _ = self.encode(source_mean, source_log_var)
        return self.decode(intermediate_mean)

    def compute_output_shape(self, source_mean_shape, source_log_var_shape=None):
        shape = (source_mean_shape[0], self.latent_dim)
        return shape, shape

    def get_config(self):
        return {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "intermediate_dim": self.intermediate_dim,
            "hidden_units": list(self.hidden_units),
            "activation": self.activation,
        }
