"""`GaussianEncoder`: any feature extractor followed by a Gaussian head."""

import keras
from keras import ops

from cmva_keras.layers.gaussian_head import GaussianHead
from cmva_keras.layers.sublayer import call_sublayer


@keras.saving.register_keras_serializable(package="cmva_keras")
class GaussianEncoder(keras.layers.Layer):
    """Encoder of a VAE branch: `x -> backbone -> hidden MLP -> (mean, log_var)`.

    Used for the source encoder E1 (an image backbone such as DenseNet-121 or
    ResNet-18 as `backbone`) and the target encoder E2 (no backbone, optional
    hidden layers). Any Keras layer or model that maps a batch to `(batch, F)`
    features can be the backbone, which is how users plug in their own
    modality.

    Args:
        latent_dim: `d`, the size of the latent Gaussian.
        backbone: optional layer applied first; its output is flattened.
        hidden_units: dense hidden layers between backbone and head.
        activation: activation of the hidden layers.
        initial_log_var: initial log-variance bias of the head (`GaussianHead`).
    """

    def __init__(self, latent_dim, backbone=None, hidden_units=(), activation="relu", initial_log_var=0.0, **kwargs):
        super().__init__(**kwargs)
        self.latent_dim = int(latent_dim)
        self.backbone = backbone
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.activation = activation
        # The sublayers take this layer's dtype policy (the head keeps float32 under a mixed one).
        self.flatten = keras.layers.Flatten(name="flatten", dtype=self.dtype_policy)
        self.hidden = [
            keras.layers.Dense(units, activation=activation, name=f"hidden_{i}", dtype=self.dtype_policy)
            for i, units in enumerate(self.hidden_units)
        ]
        self.initial_log_var = float(initial_log_var)
        self.head = GaussianHead(self.latent_dim, initial_log_var=self.initial_log_var, name="gaussian_head",
                                 dtype=self.dtype_policy)

    def build(self, input_shape):
        shape = tuple(input_shape)
        if self.backbone is not None:
            if not self.backbone.built:
                self.backbone.build(shape)
            shape = self.backbone.compute_output_shape(shape)
        shape = self.flatten.compute_output_shape(shape)
        for layer in self.hidden:
            layer.build(shape)
            shape = shape[:-1] + (layer.units,)
        self.head.build(shape)

    # `call` needs no Keras call context (sublayer.call_part): it passes `training` to the backbone.
    DIRECT_CALL = True

    def call(self, inputs, training=None):
        x = inputs
        if not str(x.dtype).startswith(("float", "bfloat")):
            # Images arrive as uint8 from tf.data; the backbone rescales them.
            x = ops.cast(x, "float32")
        if self.backbone is not None:
            x = self.backbone(x, training=training)
        x = call_sublayer(self.flatten, x)
        for layer in self.hidden:
            x = call_sublayer(layer, x)
        return call_sublayer(self.head, x)

    def compute_output_shape(self, input_shape):
        shape = (input_shape[0], self.latent_dim)
        return shape, shape

    def get_config(self):
        config = {
            **super().get_config(),
            "latent_dim": self.latent_dim,
            "hidden_units": list(self.hidden_units),
            "activation": self.activation,
            "initial_log_var": self.initial_log_var,
            "backbone": None,
        }
        if self.backbone is not None:
            config["backbone"] = keras.saving.serialize_keras_object(self.backbone)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("backbone") is not None:
            config["backbone"] = keras.saving.deserialize_keras_object(config["backbone"])
        return cls(**config)
