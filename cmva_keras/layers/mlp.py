"""`MLP`: the fully connected encoders and decoders of the paper."""

import keras

from cmva_keras.layers.sublayer import call_sublayer
from cmva_keras.precision import full_precision


@keras.saving.register_keras_serializable(package="cmva_keras")
class MLP(keras.layers.Layer):
    """A stack of dense layers: `hidden_units` with `activation`, then a linear output.

    With `hidden_units=()` this is the paper's "single fully connected layer"
    (food task: D1, D2); the hand task's 6-layer, 512-unit decoders are
    `MLP(hidden_units=(512,) * 5, output_dim=63)`.

    Under a mixed dtype policy the output layer computes in float32 (a
    decoder's logits or values enter the reconstruction terms; Keras' mixed
    precision guide's advice for a model's last layer), the hidden layers in
    the policy's compute dtype.

    Args:
        output_dim: size of the linear output layer.
        hidden_units: sizes of the hidden layers, in order.
        activation: activation of the hidden layers.
    """

    def __init__(self, output_dim, hidden_units=(), activation="relu", **kwargs):
        super().__init__(**kwargs)
        self.output_dim = int(output_dim)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.activation = activation
        self.hidden_layers = [
            keras.layers.Dense(units, activation=activation, name=f"hidden_{i}", dtype=self.dtype_policy)
            for i, units in enumerate(self.hidden_units)
        ]
        self.output_layer = keras.layers.Dense(self.output_dim, name="output",
                                               dtype=full_precision(self.dtype_policy))

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.hidden_layers:
            layer.build(shape)
            shape = shape[:-1] + (layer.units,)
        self.output_layer.build(shape)

    # `call` needs no Keras call context (sublayer.call_part): its Dense layers take no `training`.
    DIRECT_CALL = True

    def call(self, inputs, training=None):
        x = inputs
        for layer in self.hidden_layers:
            x = call_sublayer(layer, x)
        return call_sublayer(self.output_layer, x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.output_dim,)

    def get_config(self):
        return {
            **super().get_config(),
            "output_dim": self.output_dim,
            "hidden_units": list(self.hidden_units),
            "activation": self.activation,
        }
