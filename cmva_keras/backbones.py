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
Nothing here downloads anything: pretrained weights come only from what the
user supplies, a weights file or a keras-cv / keras-hub preset directory saved
on a connected machine (`scripts/save_backbone_weights.py`). A preset directory
is read here file by file (config.json, model.weights.h5, image_converter.json),
never through `from_preset`, which maps names to a model hub.
"""

import dataclasses
import json
import math
import os
import warnings
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
        weights: None (random initialisation) or the path of what the user
            supplies with this architecture's weights:
            - a keras-cv or keras-hub preset directory, as `save_to_preset(dir)`
              writes it (config.json, model.weights.h5, metadata.json, maybe
              image_converter.json): its config.json must describe this
              architecture (class and stack arguments; keras-hub's
              `ResNetBackbone` with `block_type="basic_block"` and
              `use_pre_activation=False` is keras-cv's v1 ResNet), and its
              weights load exactly. `scripts/save_backbone_weights.py` writes
              one for DenseNet-121 and ResNet-18 ImageNet weights;
            - a `.weights.h5` or `.keras` file saved from this backbone
              (`model.save_weights` / `model.save`) or from keras-hub's
              backbone of the same architecture;
            - a Keras 2 `.h5` weights file such as keras.applications'
              DenseNet-121 "notop" ImageNet weights (loaded layer by layer in
              order).
            keras-cv pads its stride-2 layers "same"; keras.applications
            (stem only) and keras-hub's ResNet (every stride-2 layer) pad
            symmetrically, as PyTorch does. The two agree exactly when every
            such layer sees an odd size: input sides of 32k + 1 (225, 257)
            suffice for both; at other sizes the features shift by a pixel,
            which fine-tuning absorbs (a warning says so for keras-hub ResNet
            presets). keras-hub's DenseNet pads "same" like keras-cv's, and
            agrees at every size. The weights are the bare backbone's,
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
            file of the wrong kind or for another architecture, a preset
            directory of another architecture or without (readable) weights.
        FileNotFoundError: `weights` names nothing that exists, or a preset
            directory without its weights file.
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
    preset = None
    if weights is not None:
        weights = _check_weights_path(weights, name)
        if os.path.isdir(weights):
            preset = read_preset(weights, name, **kwargs)  # checked before the (slow) build
    imagenet = input_normalization == "imagenet"
    if name in _KERAS_CV_BACKBONES:
        backbone = _build_keras_cv(name, input_shape, include_rescaling=not imagenet, overrides=kwargs)
    else:
        if kwargs:
            raise ValueError(f"Backbone {name!r} takes no architecture arguments; got {sorted(kwargs)}.")
        backbone = _build_convnet_tiny(input_shape, rescale=not imagenet)
    if preset is not None:
        _check_preset_parameter_count(preset, backbone, name)
        _load_weights(backbone, preset.weights_file, name, source=f"the preset directory {preset.path!r}")
        _warn_about_preset(preset, name, input_shape, input_normalization)
    elif weights is not None:
        _load_weights(backbone, weights, name)
    if imagenet:
        backbone = _with_imagenet_normalization(backbone, input_shape, name)
    return backbone


def architecture(name, overrides=None):
    """`(keras-cv class name, architecture arguments)` of backbone `name` with `overrides` applied.

    Raises:
        ValueError: `name` is not a keras-cv backbone, or an override is not
            one of its architecture arguments.
    """
    if name not in _KERAS_CV_BACKBONES:
        raise ValueError(f"Backbone {name!r} is not a keras-cv architecture: choose one of {list(_KERAS_CV_BACKBONES)}.")
    overrides = overrides or {}
    class_name, arguments, _ = _KERAS_CV_BACKBONES[name]
    unknown = sorted(set(overrides) - set(arguments))
    if unknown:
        # keras.Model swallows unknown keyword arguments silently: check here.
        raise ValueError(
            f"Bad architecture arguments {unknown} for backbone {name!r} ({class_name}): "
            f"it takes {sorted(arguments)}."
        )
    return class_name, {**arguments, **overrides}


def _build_keras_cv(name, input_shape, include_rescaling, overrides):
    import keras_cv  # Imported here: it pulls in TensorFlow, on every backend.

    class_name, arguments = architecture(name, overrides)
    cls = getattr(keras_cv.models, class_name)
    return cls(include_rescaling=include_rescaling, input_shape=input_shape, name=name, **arguments)


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
    if os.path.isdir(path):
        return path  # a preset directory: `read_preset` checks it
    if not path.endswith(_WEIGHT_SUFFIXES):
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"Backbone weights {path!r} for {name!r}: neither a preset directory nor a file exists "
                "there. Nothing is downloaded: supply a keras-cv/keras-hub preset directory saved on a "
                "connected machine (scripts/save_backbone_weights.py), or a .weights.h5, .keras or "
                "Keras 2 .h5 file with this architecture's weights."
            )
        raise ValueError(
            f"Backbone weights file {path!r} for {name!r}: expected a Keras file ending in "
            f"{' or '.join(_WEIGHT_SUFFIXES)} that holds this backbone's weights, or a keras-cv/keras-hub "
            "preset directory."
        )
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Backbone weights file {path!r} for {name!r} does not exist. Nothing is downloaded: "
            "supply a .weights.h5, .keras or Keras 2 .h5 file with this architecture's weights, "
            "or a keras-cv/keras-hub preset directory, or pass weights=None for a random initialisation."
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


def _load_weights(backbone, path, name, source=None):
    """Loads `path` into `backbone`, or raises a ValueError naming the file and the architecture.

    Keras raises on a shape mismatch but silently ignores arrays in the file
    that the model has no place for; counting them first closes that gap.
    Keras 3 weights files are matched by layer type and order (the h5 paths
    are `layers/conv2d_3/vars/0`, ...), so a keras-hub backbone's file loads
    into the keras-cv one of the same architecture: their layers of each type
    come in the same order, with the same shapes. `source` names a preset
    directory the file comes from, for the message.
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
        if source is not None:
            fix = (
                f"The weights file of {source} does not fit the architecture its config.json names; "
                "the directory may be damaged or mixed from two presets: save it again "
                "(scripts/save_backbone_weights.py) and copy the whole directory."
            )
        else:
            fix = (
                "The file must hold the weights of this same architecture, saved from "
                f"build_backbone({name!r}, ...) with save_weights()/save(), or a Keras 2 .h5 weights "
                "file whose weighted layers match it in order."
            )
        raise ValueError(f"Could not load backbone weights from {path!r} into {expected}: {error}. {fix}") from None


# ------------------------------------------------------------------ presets
PRESET_CONFIG_FILE = "config.json"
PRESET_WEIGHTS_FILE = "model.weights.h5"
PRESET_SHARDED_WEIGHTS_FILE = "model.weights.json"  # keras-hub's index of sharded weights
PRESET_IMAGE_CONVERTER_FILE = "image_converter.json"  # keras-hub's preprocessing, when saved
_SAVE_HINT = "scripts/save_backbone_weights.py writes one on a machine with internet"
# The keras-hub ImageNet presets of our architectures, which scripts/save_backbone_weights.py saves.
SAVABLE_PRESETS = {"densenet121": "densenet_121_imagenet", "resnet18": "resnet_18_imagenet"}

# How each library's preset config names our architecture arguments:
# (library, class) -> {keras-cv argument: (config key, default or _REQUIRED)}.
_REQUIRED = object()
_PRESET_ARGUMENTS = {
    ("keras_cv", "DenseNetBackbone"): {
        "stackwise_num_repeats": ("stackwise_num_repeats", _REQUIRED),
        "growth_rate": ("growth_rate", 32),
        "compression_ratio": ("compression_ratio", 0.5),
    },
    ("keras_hub", "DenseNetBackbone"): {
        "stackwise_num_repeats": ("stackwise_num_repeats", _REQUIRED),
        "growth_rate": ("growth_rate", 32),
        "compression_ratio": ("compression_ratio", 0.5),
    },
    ("keras_cv", "ResNetBackbone"): {
        "stackwise_filters": ("stackwise_filters", _REQUIRED),
        "stackwise_blocks": ("stackwise_blocks", _REQUIRED),
        "stackwise_strides": ("stackwise_strides", _REQUIRED),
        "block_type": ("block_type", "block"),
    },
    ("keras_hub", "ResNetBackbone"): {
        "stackwise_filters": ("stackwise_num_filters", _REQUIRED),
        "stackwise_blocks": ("stackwise_num_blocks", _REQUIRED),
        "stackwise_strides": ("stackwise_num_strides", _REQUIRED),
        "block_type": ("block_type", _REQUIRED),
    },
}
# keras-hub's ResNet block types that keras-cv's v1 ResNetBackbone builds (the
# "_vd" variants have another stem and shortcut, so they are not here).
_KERAS_HUB_RESNET_BLOCKS = {"basic_block": "basic_block", "bottleneck_block": "block"}


@dataclasses.dataclass(frozen=True)
class Preset:
    """What `read_preset` found in a preset directory (checked against the backbone asked for).

    Attributes:
        path: the directory.
        library: "keras_cv" or "keras_hub".
        class_name: the backbone class its config.json names.
        arguments: its architecture as keras-cv's class takes it (equal to the
            backbone's).
        weights_file: the path of its weights file (`model.weights.h5`).
        parameter_count: what its metadata.json says, or None.
        normalization: "unit" or "imagenet" when the directory has keras-hub's
            image_converter.json and its scale/offset are one of ours, a
            description of them when they are neither, None without the file.
    """

    path: str
    library: str
    class_name: str
    arguments: dict
    weights_file: str
    parameter_count: object
    normalization: object

    @property
    def symmetric_padding(self):
        """keras-hub's ResNet pads its stride-2 layers symmetrically (see `build_backbone`)."""
        return (self.library, self.class_name) == ("keras_hub", "ResNetBackbone")


def read_preset(path, name, **overrides):
    """Checks the keras-cv or keras-hub preset directory `path` against backbone `name`; returns a `Preset`.

    Reads config.json (the class and its architecture arguments), finds the
    weights file and checks that it opens, and reads image_converter.json when
    there is one. Nothing is built, loaded into a model or downloaded.

    Args:
        path: a directory written by `save_to_preset` of keras-cv or keras-hub.
        name: a keras-cv name of `BACKBONES` ("densenet121", "resnet18", ...).
        **overrides: architecture arguments as `build_backbone` takes them.

    Raises:
        ValueError: not a preset directory, a damaged or foreign config, a
            preset of another architecture (the message names both and which
            backbone name the preset fits, if any), an unreadable weights file.
        FileNotFoundError: the weights file is missing.
    """
    path = os.fspath(path)
    if name not in _KERAS_CV_BACKBONES:
        raise ValueError(
            f"Backbone {name!r} is plain Keras, not a keras-cv/keras-hub architecture, so a preset directory "
            f"({path!r}) cannot hold its weights: supply a .weights.h5 or .keras file saved from "
            f"build_backbone({name!r}, ...) instead."
        )
    expected_class, expected = architecture(name, overrides)
    expected = _plain(expected)
    config = _read_preset_config(path)
    library, class_name = _preset_class(config, path)
    found = _preset_architecture(library, class_name, config["config"], path)
    if found != (expected_class, expected):
        raise ValueError(_mismatch_message(path, name, expected_class, expected, library, class_name, config, found))
    return Preset(
        path=path, library=library, class_name=class_name, arguments=found[1],
        weights_file=_preset_weights_file(path, config), parameter_count=_preset_parameter_count(path),
        normalization=_preset_normalization(path),
    )


def _read_preset_config(path):
    config_path = os.path.join(path, PRESET_CONFIG_FILE)
    if not os.path.isfile(config_path):
        raise ValueError(
            f"Backbone weights {path!r} is a directory but not a preset: it has no {PRESET_CONFIG_FILE}. "
            "A preset directory is what keras-cv's or keras-hub's save_to_preset(dir) writes "
            f"({PRESET_CONFIG_FILE}, {PRESET_WEIGHTS_FILE}, metadata.json); {_SAVE_HINT}. "
            "Point model.backbone_weights at that directory, or at a .weights.h5/.keras file."
        )
    try:
        with open(config_path, encoding="utf-8") as file:
            config = json.load(file)
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise ValueError(
            f"{config_path!r} is not readable JSON ({error}): the preset directory is damaged or incomplete. "
            f"Copy it again, or save it again ({_SAVE_HINT})."
        ) from None
    if isinstance(config, dict) and ("model_type" in config or "architecture" in config):
        kind = "a Hugging Face Transformers" if "model_type" in config else "a timm"
        raise ValueError(
            f"{config_path!r} is {kind} checkpoint's config, not a Keras preset. Convert it on a connected "
            "machine with keras-hub (Backbone.from_preset('hf://...').save_to_preset(dir)); "
            f"{_SAVE_HINT}."
        )
    if not (isinstance(config, dict) and isinstance(config.get("class_name"), str)
            and isinstance(config.get("config"), dict)):
        raise ValueError(
            f"{config_path!r} is not a serialised Keras backbone (it needs \"class_name\" and \"config\"): "
            f"the directory is not a keras-cv/keras-hub preset, or it is damaged. {_SAVE_HINT}."
        )
    return config


def _preset_class(config, path):
    """`(library, class name)` from a preset config: "keras_cv>ResNetBackbone" -> ("keras_cv", "ResNetBackbone")."""
    registered = config.get("registered_name") or ""
    module = config.get("module") or ""
    if ">" in registered:
        library = registered.split(">", 1)[0]
    else:
        library = module.split(".", 1)[0]
    library = {"keras_nlp": "keras_hub"}.get(library, library)  # keras-hub's former name
    if library not in ("keras_cv", "keras_hub"):
        raise ValueError(
            f"The preset {path!r} holds {config['class_name']} from {library or 'an unknown library'!r}; "
            f"only keras-cv and keras-hub backbone presets are read here. {_SAVE_HINT}."
        )
    return library, config["class_name"]


def _preset_architecture(library, class_name, arguments, path):
    """`(keras-cv class, arguments)` the preset builds, or None when keras-cv has no such backbone."""
    spec = _PRESET_ARGUMENTS.get((library, class_name))
    if spec is None:
        return None
    found = {}
    for ours, (key, default) in spec.items():
        value = arguments.get(key, default)
        if value is _REQUIRED:
            raise ValueError(
                f"The preset {path!r} ({library} {class_name}) has no {key!r} in its {PRESET_CONFIG_FILE}: "
                f"the architecture cannot be checked. The directory is damaged or from another version; {_SAVE_HINT}."
            )
        found[ours] = value
    if (library, class_name) == ("keras_hub", "ResNetBackbone"):
        stem_ok = (list(arguments.get("input_conv_filters", [64])) == [64]
                   and list(arguments.get("input_conv_kernel_sizes", [7])) == [7])
        if arguments.get("use_pre_activation", False) or not stem_ok:
            return None  # ResNet v2 or another stem: nothing keras-cv's v1 ResNet builds
        if found["block_type"] not in _KERAS_HUB_RESNET_BLOCKS:
            return None
        found["block_type"] = _KERAS_HUB_RESNET_BLOCKS[found["block_type"]]
    return class_name, _plain(found)


def _plain(arguments):
    """JSON-like values for comparison: tuples as lists, integral floats as ints."""
    def plain(value):
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        if isinstance(value, float) and value.is_integer() and not isinstance(value, bool):
            return int(value)
        return value

    return {key: plain(value) for key, value in arguments.items()}


def _mismatch_message(path, name, expected_class, expected, library, class_name, config, found):
    relevant = {
        key: value for key, value in config["config"].items()
        if key not in ("name", "trainable", "dtype", "input_shape", "image_shape", "input_tensor",
                       "include_rescaling", "data_format")
    }
    held = f"{library} {class_name}({_arguments_text(relevant)})"
    wanted = f"keras-cv {expected_class}({_arguments_text(expected)})"
    lines = [f"The preset {path!r} holds {held}, but backbone {name!r} is {wanted}."]
    if found is not None and found[0] == expected_class:
        differences = [
            f"{key}: preset {found[1].get(key)!r}, {name!r} {value!r}"
            for key, value in expected.items() if found[1].get(key) != value
        ]
        lines.append("Differences: " + "; ".join(differences) + ".")
    elif found is None:
        lines.append(f"keras-cv's {expected_class} cannot load a {library} {class_name} of these arguments.")
    matches = [
        other for other in _KERAS_CV_BACKBONES
        if found is not None and architecture(other, {})[0] == found[0]
        and _plain(architecture(other, {})[1]) == found[1]
    ]
    fixes = [f"set the backbone to {other!r} (model.backbone={other}), the preset's architecture" for other in matches]
    if name in SAVABLE_PRESETS:
        fixes.append(f"save a {name} preset (python scripts/save_backbone_weights.py {name} --out DIR, on a machine "
                     "with internet)")
    else:
        fixes.append(f"supply weights saved from build_backbone({name!r}, ...)")
    lines.append("Fix: " + ", or ".join(fixes) + ".")
    return " ".join(lines)


def _arguments_text(arguments):
    return ", ".join(f"{key}={value!r}" for key, value in sorted(arguments.items()))


def _preset_weights_file(path, config):
    """The preset's weights file, checked to exist and to open as HDF5."""
    filename = config["weights"] if "weights" in config else PRESET_WEIGHTS_FILE  # keras-cv names it
    if filename is None:  # keras-cv writes "weights": null for save_weights=False
        raise ValueError(
            f"The preset {path!r} was saved without weights (its {PRESET_CONFIG_FILE} says \"weights\": null): "
            f"it only describes the architecture. Save it again with its weights; {_SAVE_HINT}."
        )
    if not isinstance(filename, str) or os.path.basename(filename) != filename:
        raise ValueError(
            f"The preset {path!r} names its weights file {filename!r} in {PRESET_CONFIG_FILE}, which is not a file "
            f"name in the directory: the config is damaged. Save the preset again; {_SAVE_HINT}."
        )
    weights_file = os.path.join(path, filename)
    if not os.path.isfile(weights_file):
        if os.path.isfile(os.path.join(path, PRESET_SHARDED_WEIGHTS_FILE)):
            raise ValueError(
                f"The preset {path!r} holds sharded weights ({PRESET_SHARDED_WEIGHTS_FILE}), which are not read "
                f"here: save it again with one weights file (save_to_preset(dir, max_shard_size=None))."
            )
        raise FileNotFoundError(
            f"The preset {path!r} has no weights file {filename!r}: the directory was copied incompletely or "
            f"saved without weights. Copy the whole directory again, or save it again; {_SAVE_HINT}."
        )
    try:
        with h5py.File(weights_file, "r") as store:
            if "layers" not in store:
                raise ValueError("it holds no Keras 3 layer weights")
    except Exception as error:  # h5py raises OSError for truncated or foreign files
        raise ValueError(
            f"The preset's weights file {weights_file!r} cannot be read as Keras 3 weights ({error}): it is "
            "truncated, damaged or of another format. "
            f"Copy the preset directory again, or save it again; {_SAVE_HINT}."
        ) from None
    return weights_file


def _preset_parameter_count(path):
    """The parameter count metadata.json states, or None (the file is optional and informative only)."""
    try:
        with open(os.path.join(path, "metadata.json"), encoding="utf-8") as file:
            count = json.load(file).get("parameter_count")
    except (OSError, UnicodeDecodeError, ValueError, AttributeError):
        return None
    return count if isinstance(count, int) and not isinstance(count, bool) else None


def _check_preset_parameter_count(preset, backbone, name):
    """A metadata.json parameter count other than the built backbone's means files of two models."""
    built = backbone.count_params()
    if preset.parameter_count is not None and preset.parameter_count != built:
        raise ValueError(
            f"The preset {preset.path!r} says it has {preset.parameter_count:,} parameters (metadata.json), but "
            f"{name!r} built from its config.json has {built:,}: its files come from different models. "
            f"Save it again; {_SAVE_HINT}."
        )


def _preset_normalization(path):
    """What keras-hub's image_converter.json asks of the pixels: "unit", "imagenet", a description, or None."""
    converter_path = os.path.join(path, PRESET_IMAGE_CONVERTER_FILE)
    if not os.path.isfile(converter_path):
        return None
    try:
        with open(converter_path, encoding="utf-8") as file:
            config = json.load(file)["config"]
        scale, offset = config.get("scale"), config.get("offset")
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(
            f"{converter_path!r} is damaged ({error!r}): copy the preset directory again, or delete that file "
            "to load the weights without its normalisation check."
        ) from None
    return normalization_of(scale, offset)


def normalization_of(scale, offset):
    """Our `input_normalization` for keras-hub's `x * scale + offset` on 0..255 pixels, or a description.

    "unit" is `x / 255`; "imagenet" is `(x / 255 - mean) / std` with
    `IMAGENET_MEAN` and `IMAGENET_STD`.
    """
    def channels(value, default):
        value = default if value is None else value
        return [float(v) for v in value] if isinstance(value, (list, tuple)) else [float(value)] * 3

    scale, offset = channels(scale, 1.0), channels(offset, 0.0)
    candidates = {
        "unit": ([1 / 255] * 3, [0.0] * 3),
        "imagenet": ([1 / (255 * s) for s in IMAGENET_STD], [-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]),
    }
    for normalization, (want_scale, want_offset) in candidates.items():
        if len(scale) == len(offset) == 3 and all(
            math.isclose(a, b, rel_tol=1e-3, abs_tol=1e-6) for a, b in zip(scale + offset, want_scale + want_offset)
        ):
            return normalization
    return f"x * {scale} + {offset}"


def _stride_two_mismatches(input_shape, stackwise_strides):
    """How many stride-2 layers see an even size (where "same" and symmetric padding differ) in a ResNet."""
    mismatches = 0
    for size in input_shape[:2]:
        if size is None:
            continue
        for stride in [2, 2] + list(stackwise_strides):  # stem convolution, max pooling, then the stacks
            if stride == 2:
                mismatches += size % 2 == 0
                size = (size + 1) // 2
    return mismatches


def odd_size_near(size, stride_two_layers=5):
    """The size of the form `k * 2**stride_two_layers + 1` nearest to `size` (224 -> 225, 256 -> 257)."""
    step = 2**stride_two_layers
    lower = ((size - 1) // step) * step + 1
    upper = lower + step
    return lower if size - lower < upper - size and lower > 1 else upper


def _warn_about_preset(preset, name, input_shape, input_normalization):
    """Warns when the loaded weights will see other inputs than they were trained on."""
    if preset.normalization is not None and preset.normalization != input_normalization:
        warnings.warn(
            f"Backbone {name!r}: the preset {preset.path!r} expects pixels normalised as "
            f"{preset.normalization!r} (its {PRESET_IMAGE_CONVERTER_FILE}), but the backbone is built with "
            f"input_normalization={input_normalization!r}. Build it with "
            f"input_normalization={preset.normalization!r} to feed the weights what they were trained on.",
            stacklevel=3,
        )
    if preset.symmetric_padding:
        strides = preset.arguments["stackwise_strides"]
        if _stride_two_mismatches(input_shape, strides):
            layers = 2 + sum(1 for s in strides if s == 2)
            suggestion = tuple(odd_size_near(s, layers) if s is not None else None for s in input_shape[:2])
            warnings.warn(
                f"Backbone {name!r}: keras-hub's ResNet (the preset {preset.path!r}) pads its stride-2 layers "
                f"symmetrically; keras-cv's pads them \"same\", which is the same only for odd sizes. At input "
                f"{input_shape[0]}x{input_shape[1]} the pretrained features shift by a pixel at some of these "
                f"layers (fine-tuning absorbs it). For exactly keras-hub's features use an input size of the form "
                f"k * {2**layers} + 1, e.g. {suggestion[0]}x{suggestion[1]}.",
                stacklevel=3,
            )
