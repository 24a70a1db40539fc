"""The food task's CMVA model (paper section 4.1): food image -> multi-hot ingredients.

Parts (docs/method.md, "Food task"):

- E1, source encoder: image backbone (DenseNet-121 in the paper) -> two more
  convolutions -> global average pooling -> Gaussian heads (mean, log-variance).
- E2, target encoder: one dense layer (the Gaussian head) on the multi-hot vector.
- D1, D2, decoders: one dense layer each, latent -> K ingredient logits.
- VE, VD, mapper: one dense layer each.
- Latent size d = 512 for every distribution; binary cross-entropy task loss.

The paper does not give the two extra convolutions' sizes. We use a 1x1
convolution that projects DenseNet-121's 1024 channels to 512, then a 3x3
convolution with 512 filters, each without bias and followed by batch
normalisation and ReLU (2.9M parameters on top of the backbone's 7.0M): the
projection keeps the added cost below the backbone's while the 3x3 layer still
mixes the 7x7 spatial context before pooling.
"""

import keras

from cmva_keras.layers import MLP, GaussianEncoder, Mapper
from cmva_keras.models import CMVA
from cmva_keras.tasks.common import image_shape, resolve_backbone

# Ready-made settings, passed as `build_food_model(**VARIANTS[v], num_ingredients=K)`.
VARIANTS = {
    # The paper: DenseNet-121 on 224x224 crops, d = 512.
    "paper": {
        "backbone": "densenet121",
        "image_size": 224,
        "latent_dim": 512,
        "extra_conv_filters": (512, 512),
    },
    # Small enough to train on 2 CPU cores; same heads and latent size.
    "small": {
        "backbone": "densenet_tiny",
        "image_size": 64,
        "latent_dim": 512,
        "extra_conv_filters": (64, 64),
    },
}


def build_food_image_features(
    *, image_size, backbone="densenet121", backbone_weights=None, extra_conv_filters=(512, 512),
    extra_conv_kernel_sizes=(1, 3), input_normalization="unit",
):
    """E1's feature extractor: images `(batch, H, W, 3)` in 0..255 -> features `(batch, extra_conv_filters[-1])`.

    The backbone, then one Conv2D (no bias) + BatchNorm + ReLU per entry of
    `extra_conv_filters` (kernel sizes `extra_conv_kernel_sizes`, "same"
    padding), then global average pooling. Returned as a `keras.Sequential`
    named "food_image_features". The arguments are `build_food_model`'s.
    """
    extra_conv_filters = tuple(int(f) for f in extra_conv_filters)
    extra_conv_kernel_sizes = tuple(int(k) for k in extra_conv_kernel_sizes)
    if len(extra_conv_filters) != len(extra_conv_kernel_sizes):
        raise ValueError(
            f"extra_conv_filters {extra_conv_filters} and extra_conv_kernel_sizes "
            f"{extra_conv_kernel_sizes} must have one entry per extra convolution."
        )
    input_shape = image_shape(image_size)
    layers = [
        keras.Input(input_shape, name="image"),
        resolve_backbone(
            backbone, input_shape=input_shape, weights=backbone_weights,
            input_normalization=input_normalization,
        ),
    ]
    for i, (filters, kernel_size) in enumerate(zip(extra_conv_filters, extra_conv_kernel_sizes)):
        layers += [
            keras.layers.Conv2D(filters, kernel_size, padding="same", use_bias=False, name=f"extra_conv{i}"),
            keras.layers.BatchNormalization(name=f"extra_conv{i}_bn"),
            keras.layers.ReLU(name=f"extra_conv{i}_relu"),
        ]
    layers.append(keras.layers.GlobalAveragePooling2D(name="average_pool"))
    return keras.Sequential(layers, name="food_image_features")


def build_food_model(
    *,
    num_ingredients,
    image_size,
    backbone="densenet121",
    backbone_weights=None,
    latent_dim=512,
    extra_conv_filters=(512, 512),
    extra_conv_kernel_sizes=(1, 3),
    input_normalization="unit",
    seed=None,
    loss_weights=None,
    squared_wasserstein=False,
):
    """The food task's `CMVA`: images `(batch, H, W, 3)` (0..255) -> ingredient probabilities `(batch, K)`.

    Args:
        num_ingredients: K, the size of the multi-hot ingredient vector
            (265 on Yummly-28K, 1,488 on Recipe1M in the paper).
        image_size: the crop size fed to the network, an int or `(H, W)`
            (224 in the paper).
        backbone: a name of `cmva_keras.backbones.BACKBONES`, or a Keras model
            mapping images `(batch, H, W, 3)` in 0..255 to a feature map.
        backbone_weights: None, or a weights file the user supplies for a
            named backbone (e.g. ImageNet weights; see `build_backbone`).
        latent_dim: d, the size of every latent Gaussian (512 in the paper).
        extra_conv_filters, extra_conv_kernel_sizes: the convolutions between
            backbone and pooling (the paper's "two more"; sizes are ours, see
            the module docstring).
        input_normalization: "unit" (x / 255) or "imagenet" (also ImageNet
            mean/std, for keras.applications' DenseNet weights).
        seed: seed of CMVA's reparameterisation noise. Weight initialisation
            follows `keras.utils.set_random_seed`.
        loss_weights, squared_wasserstein: passed to `CMVA`.

    Returns:
        An unbuilt `CMVA` (task "classification", `target_shape=(K,)`); it
        builds on its first call or `model.build((None, H, W, 3))`.
    """
    num_ingredients = int(num_ingredients)
    if num_ingredients < 1:
        raise ValueError(f"num_ingredients must be positive; got {num_ingredients}.")
    features = build_food_image_features(
        image_size=image_size, backbone=backbone, backbone_weights=backbone_weights,
        extra_conv_filters=extra_conv_filters, extra_conv_kernel_sizes=extra_conv_kernel_sizes,
        input_normalization=input_normalization,
    )
    return CMVA(
        source_encoder=GaussianEncoder(latent_dim, backbone=features, name="image_encoder"),
        source_decoder=MLP(num_ingredients, name="image_ingredient_decoder"),
        target_encoder=GaussianEncoder(latent_dim, name="ingredient_encoder"),
        target_decoder=MLP(num_ingredients, name="ingredient_decoder"),
        mapper=Mapper(latent_dim, name="mapper"),
        target_shape=(num_ingredients,),
        task="classification",
        loss_weights=loss_weights,
        squared_wasserstein=squared_wasserstein,
        seed=seed,
        name="cmva_food",
    )
