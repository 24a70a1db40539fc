"""What both tasks need: the image shape, the backbone by name or as a ready model, the training cache."""

import numbers

import keras

from cmva_keras.backbones import build_backbone


def image_shape(image_size):
    """`(H, W, 3)` from an int (square) or an `(H, W)` pair."""
    if isinstance(image_size, numbers.Integral):
        return (int(image_size), int(image_size), 3)
    size = tuple(int(s) for s in image_size)
    if len(size) != 2:
        raise ValueError(f"image_size must be an int or (height, width); got {tuple(image_size)}.")
    return size + (3,)


def resolve_backbone(backbone, *, input_shape, weights=None, input_normalization="unit"):
    """A backbone name (see `cmva_keras.backbones.BACKBONES`) built for `input_shape`, or a Keras model as is.

    A ready model must take images `(batch, H, W, 3)` with values 0..255 and
    return a feature map `(batch, h, w, channels)`; load its weights yourself.
    """
    if isinstance(backbone, str):
        return build_backbone(
            backbone, input_shape=input_shape, weights=weights, input_normalization=input_normalization
        )
    if not isinstance(backbone, keras.layers.Layer):
        raise TypeError(f"backbone must be a backbone name or a Keras model; got {type(backbone).__name__}.")
    if weights is not None:
        raise ValueError(
            "backbone_weights is for named backbones; load the weights into your own backbone model instead."
        )
    return backbone


def training_cache(config, prepared_version):
    """Where the training pipeline caches its decoded images: "memory", "" (none) or a file prefix.

    `data.cache` is "memory", "none", or a folder; in a folder, the file is
    named by what decides its content: task, dataset and data settings, seed
    and held-out fraction (which choose the training examples), and
    `prepared_version`, the task pipeline's `PREPARED_VERSION`, which changes
    when the code changes what it caches, so that a file written by an
    earlier release is not read back as if it held this release's content.
    """
    from cmva_keras.pipelines import common

    where = common.cache_setting(config.data.get("cache", "memory"))
    if where in ("", common.MEMORY):
        return where
    return common.cache_file(where, config.task, config.data.to_dict(), int(config.seed),
                             float(config.train.get("validation_fraction", 0.0) or 0.0), "train",
                             f"prepared-v{int(prepared_version)}")
