"""Image backbones for the source encoder E1, built offline from explicit architecture arguments.

`build_backbone(name, input_shape=...)` is the one place the task models get an
image network from, so another source (keras-hub, a user's own model) can
replace keras-cv here without touching the tasks.

Why explicit arguments: keras-cv's named aliases (`DenseNet121Backbone()`,
`ResNet18Backbone()`) and every `from_preset(...)` fetch a preset config from a
model hub even when no weights are wanted, and fail offline. The base classes
`DenseNetBackbone` and `ResNetBackbone` built from the stack arguments below
work offline on TensorFlow, JAX and PyTorch and give the presets' parameter
counts (DenseNet-121: 7,037,504; ResNet-18: 11,186,112, the v1 `ResNetBackbone`
with basic blocks; `ResNetV2Backbone` with the same arguments has 11,183,488).
Nothing here downloads anything: pretrained weights come only from a file the
user supplies.
"""

import os
import zipfile

import h5py
import keras

# Per-channel ImageNet statistics on the 0..1 scale (the "torch" preprocessing
# mode of keras.applications, used by its DenseNet weights).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INPUT_NORMALIZATIONS = ("unit", "imagenet")

# name -> (keras-cv class name, architecture arguments, what it is).
_KERAS_CV_BACKBONES = {
    "densenet121": (
        "DenseNetBackbone",
        {"stackwise_num_repeats": [6, 12, 24, 16], "growth_rate": 32, "compression_ratio": 0.5},
        "DenseNet-121 (Huang et al. 2017): 1024 channels at 1/32 of the input size.",
    ),
    "resnet18": (
        "ResNetBackbone",
        {
            "stackwise_filters": [64, 128, 256, 512],
            "stackwise_blocks": [2, 2, 2, 2],
            "stackwise_strides": [1, 2, 2, 2],
            "block_type": "basic_block",
        },
        "ResNet-18 v1 (He et al. 2016), without its classifier: 512 channels at 1/32.",
    ),
    "densenet_tiny": (
        "DenseNetBackbone",
        {"stackwise_num_repeats": [2, 2, 2], "growth_rate": 8, "compression_ratio": 0.5},
        "A 3-block DenseNet for CPU runs and tests: 44 channels at 1/16.",
    ),
    "resnet_tiny": (
        "ResNetBackbone",
        {
            # The first stack of basic blocks has an identity shortcut from the
            # 64-channel stem, so it must have 64 filters.
            "stackwise_filters": [64, 64],
            "stackwise_blocks": [1, 1],
            "stackwise_strides": [1, 2],
            "block_type": "basic_block",
        },
        "A 2-stack ResNet of basic blocks for CPU runs and tests: 64 channels at 1/8.",
    ),
    "resnet_small": (
        "ResNetBackbone",
        {
            "stackwise_filters": [64, 128, 256],
            "stackwise_blocks": [1, 1, 1],
            "stackwise_strides": [1, 2, 2],
            "block_type": "basic_block",
        },
        "A 3-stack ResNet of basic blocks (ResNet-18's first three stacks, one block each), "
        "the hand task's offline default: 256 channels at 1/16.",
    ),
}
_PLAIN_BACKBONES = {
    "convnet_tiny": "Three stride-2 Conv/BatchNorm/ReLU layers (16, 32, 64 filters), plain Keras: 64 channels at 1/8.",
}
BACKBONES = tuple(_KERAS_CV_BACKBONES) + tuple(_PLAIN_BACKBONES)


def describe_backbones():
    """`{name: description}` for every name `build_backbone` accepts."""
    return {
        **{name: entry[2] for name, entry in _KERAS_CV_BACKBONES.items()},
        **_PLAIN_BACKBONES,
    }


def build_backbone(name, *, input_shape, weights=None, input_normalization="unit", **kwargs):
    """Builds the image backbone `name`: images `(batch, H, W, C)` in 0..255 -> feature map.

    The returned Keras model takes images with values 0..255 (uint8 or
    float; uint8 is cast to float32) and outputs the last
    feature map, `(batch, H / s, W / s, channels)`, with the stride `s` and
    channels of `describe_backbones()`. It serialises into `.keras` files (the
    CMVA model saves its parts by config).

    Args:
        name: one of `BACKBONES`: "densenet121", "resnet18" (the paper's), or
            the small "densenet_tiny", "resnet_tiny", "convnet_tiny".
        input_shape: `(H, W, C)` of one image.
        weights: None (random initialisation) or the path of a file the user
            supplies with this architecture's weights: a `.weights.h5` or
            `.keras` file saved from this backbone (`model.save_weights` /
            `model.save`), or a Keras 2 `.h5` weights file such as
            keras.applications' DenseNet-121 "notop" ImageNet weights (loaded
            layer by layer in order; keras-cv pads the stem "same" where
            keras.applications pads explicitly, a one-pixel offset that
            fine-tuning absorbs). The file holds the bare backbone's weights,
            without the "imagenet" normalisation layer. Never downloaded.
        input_normalization: "unit" divides the pixels by 255 (keras-cv's
            `include_rescaling=True`); "imagenet" also subtracts the ImageNet
            mean and divides by its standard deviation, as the keras.applications
            DenseNet weights expect.
        **kwargs: overrides of the architecture arguments of a keras-cv entry
            (e.g. `growth_rate=16`); not accepted for "convnet_tiny".

    Returns:
        A `keras.Model`.

    Raises:
        ValueError: unknown name, bad normalization or arguments, a weights
            file of the wrong kind or for another architecture.
        FileNotFoundError: `weights` names a file that does not exist.
    """
    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}: choose one of {list(BACKBONES)}.")
    if input_normalization not in INPUT_NORMALIZATIONS:
        raise ValueError(
            f"Unknown input_normalization {input_normalization!r}: choose one of {INPUT_NORMALIZATIONS}."
        )
    input_shape = tuple(input_shape)
    if len(input_shape) != 3:
        raise ValueError(f"input_shape must be (height, width, channels) of one image; got {input_shape}.")
    if weights is not None:
        weights = _check_weights_path(weights, name)
    imagenet = input_normalization == "imagenet"
    if name in _KERAS_CV_BACKBONES:
        backbone = _build_keras_cv(name, input_shape, include_rescaling=not imagenet, overrides=kwargs)
    else:
        if kwargs:
            raise ValueError(f"Backbone {name!r} takes no architecture arguments; got {sorted(kwargs)}.")
        backbone = _build_convnet_tiny(input_shape, rescale=not imagenet)
    if weights is not None:
        _load_weights(backbone, weights, name)
    if imagenet:
        backbone = _with_imagenet_normalization(backbone, input_shape, name)
    return backbone


def _build_keras_cv(name, input_shape, include_rescaling, overrides):
    import keras_cv  # Imported here: it pulls in TensorFlow, on every backend.

    class_name, arguments, _ = _KERAS_CV_BACKBONES[name]
    unknown = sorted(set(overrides) - set(arguments))
    if unknown:
        # keras.Model swallows unknown keyword arguments silently: check here.
        raise ValueError(
            f"Bad architecture arguments {unknown} for backbone {name!r} ({class_name}): "
            f"it takes {sorted(arguments)}."
        )
    cls = getattr(keras_cv.models, class_name)
    return cls(include_rescaling=include_rescaling, input_shape=input_shape, name=name, **{**arguments, **overrides})


def _build_convnet_tiny(input_shape, rescale):
    layers = [keras.Input(input_shape)]
    if rescale:
        layers.append(keras.layers.Rescaling(1.0 / 255.0, name="rescaling"))
    for i, filters in enumerate((16, 32, 64)):
        layers += [
            keras.layers.Conv2D(filters, 3, strides=2, padding="same", use_bias=False, name=f"conv{i}"),
            keras.layers.BatchNormalization(name=f"conv{i}_bn"),
            keras.layers.ReLU(name=f"conv{i}_relu"),
        ]
    return keras.Sequential(layers, name="convnet_tiny")


def _with_imagenet_normalization(backbone, input_shape, name):
    """Prepends `(x - 255 mean) / (255 std)` per channel to a backbone that does not rescale."""
    if input_shape[-1] != 3:
        raise ValueError(f"input_normalization='imagenet' needs RGB images (3 channels); got {input_shape}.")
    normalization = keras.layers.Normalization(
        mean=[255.0 * m for m in IMAGENET_MEAN],
        variance=[(255.0 * s) ** 2 for s in IMAGENET_STD],
        name="imagenet_normalization",
    )
    return keras.Sequential([keras.Input(input_shape), normalization, backbone], name=f"{name}_imagenet")


# ----------------------------------------------------------------- weights
_WEIGHT_SUFFIXES = (".weights.h5", ".keras", ".h5")


def _check_weights_path(path, name):
    path = os.fspath(path)
    if not path.endswith(_WEIGHT_SUFFIXES):
        raise ValueError(
            f"Backbone weights file {path!r} for {name!r}: expected a Keras file ending in "
            f"{' or '.join(_WEIGHT_SUFFIXES)} that holds this backbone's weights."
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Backbone weights file {path!r} for {name!r} does not exist. Nothing is downloaded: "
            "supply a .weights.h5, .keras or Keras 2 .h5 file with this architecture's weights, "
            "or pass weights=None for a random initialisation."
        )
    return path


def _count_arrays_in_h5(h5_group):
    """Number of arrays in a Keras 3 weights store (`.weights.h5`, or `model.weights.h5` inside `.keras`)."""
    count = 0

    def visit(_, item):
        nonlocal count
        count += isinstance(item, h5py.Dataset)

    h5_group.visititems(visit)
    return count


def _stored_array_count(path):
    """Arrays in a Keras 3 weights file; None for Keras 2 `.h5` files (Keras checks those itself)."""
    if path.endswith(".weights.h5"):
        with h5py.File(path, "r") as store:
            return _count_arrays_in_h5(store)
    if path.endswith(".keras"):
        with zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as member:
            with h5py.File(member, "r") as store:
                return _count_arrays_in_h5(store)
    return None


def _load_weights(backbone, path, name):
    """Loads `path` into `backbone`, or raises a ValueError naming the file and the architecture.

    Keras raises on a shape mismatch but silently ignores arrays in the file
    that the model has no place for; counting them first closes that gap.
    """
    expected = (
        f"{name!r} ({type(backbone).__name__}, {len(backbone.weights)} weight arrays, "
        f"{backbone.count_params():,} parameters)"
    )
    try:
        stored = _stored_array_count(path)
        if stored is not None and stored != len(backbone.weights):
            raise ValueError(f"the file holds {stored} weight arrays")
        backbone.load_weights(path)
    except Exception as error:  # h5py, zipfile and Keras raise various types.
        raise ValueError(
            f"Could not load backbone weights from {path!r} into {expected}: {error}. "
            "The file must hold the weights of this same architecture, saved from "
            f"build_backbone({name!r}, ...) with save_weights()/save(), or a Keras 2 .h5 weights "
            "file whose weighted layers match it in order."
        ) from None
