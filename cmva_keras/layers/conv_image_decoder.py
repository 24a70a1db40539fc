"""`ConvImageDecoder`: CM-VAE's image decoder, "a 7-layer CNN" (the paper's section 4.1.2)."""

import keras

from cmva_keras.precision import full_precision


@keras.saving.register_keras_serializable(package="cmva_keras")
class ConvImageDecoder(keras.layers.Layer):
    """Latent sample -> image `(batch, H, W, C)` in [0, 1]: seven layers with weights.

    The layers, in order (the Dense counts as layer 1):

    1. `Dense(H/8 * W/8 * filters[0])`, relu, reshaped to `(H/8, W/8, filters[0])`;
    2. `Conv2DTranspose(filters[0], stride 2)`, relu: `(H/4, W/4)`;
    3. `Conv2D(filters[1], 3x3)`, relu;
    4. `Conv2DTranspose(filters[1], stride 2)`, relu: `(H/2, W/2)`;
    5. `Conv2D(filters[2], 3x3)`, relu;
    6. `Conv2DTranspose(filters[2], stride 2)`, relu: `(H, W)`;
    7. `Conv2D(C, 3x3)` with a sigmoid: the image.

    Every convolution uses "same" padding, so each stride-2 transposed
    convolution doubles the size exactly; H and W must therefore be divisible
    by 8. The sigmoid output is compared with the input image scaled to
    [0, 1] (`CMVAE` divides the pixels by 255). Under a mixed dtype policy
    layer 7 computes in float32 (its image enters the reconstruction term).

    Args:
        image_shape: `(H, W)` or `(H, W, C)` of the images to decode (C = 3 if left out).
        filters: three channel counts, one per resolution after each upsampling.
        upsample_kernel_size: kernel size of the stride-2 transposed convolutions.
        activation: activation of layers 1-6.
    """

    def __init__(self, image_shape, filters=(64, 32, 16), upsample_kernel_size=4, activation="relu", **kwargs):
        super().__init__(**kwargs)
        image_shape = tuple(int(s) for s in image_shape)
        if len(image_shape) == 2:
            image_shape = image_shape + (3,)
        if len(image_shape) != 3:
            raise ValueError(f"ConvImageDecoder's image_shape is (H, W) or (H, W, C); got {image_shape}.")
        height, width, _ = image_shape
        if height % 8 or width % 8 or height <= 0 or width <= 0:
            raise ValueError(
                f"ConvImageDecoder upsamples three times by 2, so the image height and width must be positive "
                f"multiples of 8; got {height}x{width}. Resize (or crop) the images to e.g. "
                f"{max(8, height // 8 * 8)}x{max(8, width // 8 * 8)}, or pick an image_shape divisible by 8."
            )
        filters = tuple(int(f) for f in filters)
        if len(filters) != 3:
            raise ValueError(f"ConvImageDecoder takes three filter counts, one per upsampling; got {filters}.")
        self.image_shape = image_shape
        self.filters = filters
        self.upsample_kernel_size = int(upsample_kernel_size)
        self.activation = activation
        self._start = (height // 8, width // 8, filters[0])
        policy = self.dtype_policy
        self.dense = keras.layers.Dense(
            height // 8 * width // 8 * filters[0], activation=activation, name="dense", dtype=policy
        )
        self.reshape = keras.layers.Reshape(self._start, name="reshape", dtype=policy)
        self.conv_layers = []
        for i, count in enumerate(filters):
            self.conv_layers.append(keras.layers.Conv2DTranspose(
                count, self.upsample_kernel_size, strides=2, padding="same", activation=activation,
                name=f"upsample_{i}", dtype=policy,
            ))
            if i < 2:
                self.conv_layers.append(keras.layers.Conv2D(
                    filters[i + 1], 3, padding="same", activation=activation, name=f"conv_{i}", dtype=policy,
                ))
        self.conv_layers.append(keras.layers.Conv2D(image_shape[-1], 3, padding="same", activation="sigmoid",
                                                    name="output", dtype=full_precision(policy)))

    def build(self, input_shape):
        batch = tuple(input_shape)[0]
        self.dense.build(tuple(input_shape))
        shape = (batch,) + self._start
        for layer in self.conv_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, inputs):
        x = self.reshape(self.dense(inputs))
        for layer in self.conv_layers:
            x = layer(x)
        return x

    def compute_output_shape(self, input_shape):
        return (tuple(input_shape)[0],) + self.image_shape

    def get_config(self):
        return {
            **super().get_config(),
            "image_shape": list(self.image_shape),
            "filters": list(self.filters),
            "upsample_kernel_size": self.upsample_kernel_size,
            "activation": self.activation,
        }
