"""Pretrained backbone weights from a preset directory or a weights file, offline, and their bad inputs.

`build_backbone(name, weights=PATH)` (and `model.backbone_weights`) takes a
keras-cv or keras-hub preset directory as `save_to_preset` writes it, a
`.weights.h5` or a `.keras` file. Every test writes its own from a freshly built
tiny backbone whose arrays were all set to random values, so that an array can
only equal the saved one when it was loaded: nothing is downloaded.

keras-hub is not installed here. Its presets are written in its format (the
config.json keys, registered name and metadata that keras-hub 0.32's
`save_to_preset` writes) around weights saved from the keras-cv backbone; the
one test that uses keras-hub itself, for its own weights file, is skipped
without it. scripts/save_backbone_weights.py is tested with a stand-in for
keras-hub.
"""

import importlib.util
import json
import os
import socket
import sys
import types
import warnings

import h5py
import keras
import numpy as np
import pytest

from cmva_keras import tasks
from cmva_keras.backbones import IMAGENET_MEAN, IMAGENET_STD, build_backbone, normalization_of, read_preset

SHAPE = (32, 32, 3)
IMAGENET_SCALE = [1 / (255 * s) for s in IMAGENET_STD]
IMAGENET_OFFSET = [-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]

# The architecture arguments of the tiny backbones, as keras-hub's classes name them.
KERAS_HUB_ARGUMENTS = {
    "resnet_tiny": ("resnet.resnet_backbone", "ResNetBackbone", {
        "input_conv_filters": [64], "input_conv_kernel_sizes": [7], "stackwise_num_filters": [64, 64],
        "stackwise_num_blocks": [1, 1], "stackwise_num_strides": [1, 2], "block_type": "basic_block",
        "use_pre_activation": False,
    }),
    "densenet_tiny": ("densenet.densenet_backbone", "DenseNetBackbone", {
        "stackwise_num_repeats": [2, 2, 2], "compression_ratio": 0.5, "growth_rate": 8,
    }),
}


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


def _random_backbone(name, seed=1, input_shape=SHAPE, **kwargs):
    """A fresh backbone (no rescaling layer) with every array, BatchNorm statistics included, set at random."""
    backbone = build_backbone(name, input_shape=input_shape, input_normalization="imagenet", **kwargs).layers[-1]
    rng = np.random.default_rng(seed)
    for weight in backbone.weights:
        values = rng.normal(size=weight.shape)
        if "variance" in weight.path:
            values = np.abs(values) + 0.5
        weight.assign(values.astype("float32"))
    return backbone


def _inner(model):
    """The keras-cv backbone itself: "imagenet" builds wrap it after a normalisation layer."""
    return model.layers[-1] if isinstance(model, keras.Sequential) else model


def _assert_loaded(loaded, source, name):
    """Every array of `loaded` equals the one saved from `source`, and a fresh build differs in every array."""
    fresh = _inner(build_backbone(name, input_shape=SHAPE))
    loaded, source = _inner(loaded), _inner(source)
    assert len(loaded.weights) == len(source.weights) == len(fresh.weights) > 0
    for got, saved, initial in zip(loaded.weights, source.weights, fresh.weights):
        assert got.path == saved.path
        np.testing.assert_array_equal(_numpy(got), _numpy(saved), err_msg=got.path)
        assert not np.array_equal(_numpy(initial), _numpy(saved)), f"{got.path}: the load would not show"


def _save_keras_cv_preset(backbone, directory):
    """keras-cv 0.9's own `save_to_preset` (config.json, metadata.json, model.weights.h5)."""
    from keras_cv.src.utils.preset_utils import save_to_preset

    save_to_preset(backbone, directory)
    return directory


def _save_keras_hub_preset(backbone, directory, name, converter=None, **changes):
    """A preset in keras-hub's format for `backbone` (keras-hub's config and metadata; the weights from Keras)."""
    module, class_name, arguments = KERAS_HUB_ARGUMENTS[name]
    os.makedirs(directory, exist_ok=True)
    config = {
        "module": f"keras_hub.src.models.{module}",
        "class_name": class_name,
        "config": {
            "name": "backbone", "trainable": True,
            "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
                      "registered_name": None},
            **arguments, **changes, "image_shape": [None, None, 3],
        },
        "registered_name": f"keras_hub>{class_name}",
    }
    _write_json(os.path.join(directory, "config.json"), config)
    _write_json(os.path.join(directory, "metadata.json"), {
        "keras_version": keras.__version__, "keras_hub_version": "0.32.0",
        "parameter_count": backbone.count_params(), "tasks": ["ImageClassifier"],
    })
    backbone.save_weights(os.path.join(directory, "model.weights.h5"))
    if converter is not None:
        _write_converter(directory, *converter)
    return directory


def _write_converter(directory, scale, offset):
    """keras-hub's image_converter.json: the model's input is `x * scale + offset` of the 0..255 pixels."""
    _write_json(os.path.join(directory, "image_converter.json"), {
        "module": "keras_hub.src.models.resnet.resnet_image_converter", "class_name": "ResNetImageConverter",
        "config": {"name": "res_net_image_converter", "image_size": [224, 224], "scale": scale, "offset": offset,
                   "interpolation": "bilinear", "crop_to_aspect_ratio": True},
        "registered_name": "keras_hub>ResNetImageConverter",
    })


def _write_json(path, value):
    with open(path, "w") as file:
        json.dump(value, file, indent=4)


def _edit_json(path, edit):
    with open(path) as file:
        value = json.load(file)
    edit(value)
    _write_json(path, value)


@pytest.fixture
def resnet_preset(tmp_path):
    """`(backbone, directory)`: a random resnet_tiny saved with keras-cv's save_to_preset."""
    backbone = _random_backbone("resnet_tiny")
    return backbone, _save_keras_cv_preset(backbone, str(tmp_path / "resnet_tiny_preset"))


# ------------------------------------------------------------- what loads
@pytest.mark.parametrize("name, normalization", [("densenet_tiny", "unit"), ("resnet_tiny", "imagenet")])
def test_keras_cv_preset_loads_every_array(tmp_path, name, normalization):
    # The preset was saved from a backbone without a rescaling layer; "unit"
    # builds have one (no weights), "imagenet" builds have none.
    source = _random_backbone(name)
    directory = _save_keras_cv_preset(source, str(tmp_path / name))
    assert sorted(os.listdir(directory)) == ["config.json", "metadata.json", "model.weights.h5"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a matching preset loads without a warning
        loaded = build_backbone(name, input_shape=SHAPE, weights=directory, input_normalization=normalization)
    _assert_loaded(loaded, source, name)


@pytest.mark.parametrize("name", ["densenet_tiny", "resnet_tiny"])
def test_keras_hub_preset_loads_every_array(tmp_path, name):
    source = _random_backbone(name)
    directory = _save_keras_hub_preset(source, str(tmp_path / name), name)
    preset = read_preset(directory, name)
    assert (preset.library, preset.class_name) == ("keras_hub", KERAS_HUB_ARGUMENTS[name][1])
    assert preset.normalization is None and preset.parameter_count == source.count_params()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # 33 = 4 * 8 + 1: no padding warning for resnet_tiny
        loaded = build_backbone(name, input_shape=(33, 33, 3), weights=directory, input_normalization="imagenet")
    _assert_loaded(loaded, source, name)


@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_weights_file_loads_every_array(tmp_path, suffix):
    source = _random_backbone("densenet_tiny")
    path = str(tmp_path / ("densenet_tiny" + suffix))
    source.save(path) if suffix == ".keras" else source.save_weights(path)
    _assert_loaded(build_backbone("densenet_tiny", input_shape=SHAPE, weights=path), source, "densenet_tiny")


def test_preset_is_read_from_its_files_without_network(tmp_path, monkeypatch):
    # "resnet50_imagenet" is a keras-cv preset name that from_preset maps to a
    # model hub; as a relative directory it must still be read from disk.
    source = _random_backbone("resnet_tiny")
    _save_keras_cv_preset(source, str(tmp_path / "resnet50_imagenet"))
    monkeypatch.chdir(tmp_path)

    def no_network(*args, **kwargs):
        raise AssertionError("the preset loader tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(keras.utils, "get_file", no_network)
    _assert_loaded(build_backbone("resnet_tiny", input_shape=SHAPE, weights="resnet50_imagenet"), source,
                   "resnet_tiny")


@pytest.mark.parametrize("task_name", ["food", "hand"])
def test_task_model_from_config_has_the_preset_weights(resnet_preset, task_name):
    source, directory = resnet_preset
    task = tasks.get(task_name)
    config = task.get_config("smoke")
    config.model.backbone = "resnet_tiny"
    config.model.backbone_weights = directory
    if task_name == "food":
        model = task.build_model(config, SHAPE, (5,))
        features = model.source_encoder.backbone  # the food task's CMVA: E1's feature extractor
    else:
        features = task.image_features(config, SHAPE)  # what every hand model (and baseline) uses
    _assert_loaded(features.get_layer("resnet_tiny"), source, "resnet_tiny")


def test_keras_hub_weights_file_itself_loads_and_gives_its_features(tmp_path):
    # keras-hub's own ResNet, saved by keras-hub: its weights file names its
    # layers by type and order like keras-cv's, and at a size 32k + 1 (here
    # 8k + 1 for the 3 stride-2 layers) both pad the same, so features agree.
    keras_hub = pytest.importorskip("keras_hub")
    _, class_name, arguments = KERAS_HUB_ARGUMENTS["resnet_tiny"]
    hub = getattr(keras_hub.models, class_name)(**arguments)
    rng = np.random.default_rng(0)
    for weight in hub.weights:
        weight.assign((np.abs(rng.normal(size=weight.shape)) + 0.5 if "variance" in weight.path
                       else rng.normal(size=weight.shape)).astype("float32"))
    directory = str(tmp_path / "hub")
    hub.save_to_preset(directory)
    loaded = _inner(build_backbone("resnet_tiny", input_shape=(33, 33, 3), weights=directory,
                                   input_normalization="imagenet"))
    hub_layers = [layer for layer in hub.layers if layer.weights]
    ours = [layer for layer in loaded.layers if layer.weights]
    assert [type(a).__name__ for a in hub_layers] == [type(b).__name__ for b in ours]
    for a, b in zip(hub_layers, ours):
        for x, y in zip(a.weights, b.weights):
            np.testing.assert_array_equal(_numpy(x), _numpy(y))
    images = rng.normal(size=(2, 33, 33, 3)).astype("float32")
    np.testing.assert_allclose(_numpy(loaded(images)), _numpy(hub(images)), rtol=1e-4, atol=1e-4)


# ------------------------------------------------------- another architecture
def test_preset_of_another_class_names_both_and_the_fix(tmp_path):
    directory = _save_keras_cv_preset(_random_backbone("densenet_tiny"), str(tmp_path / "densenet"))
    with pytest.raises(ValueError) as error:
        build_backbone("resnet_tiny", input_shape=SHAPE, weights=directory)
    message = str(error.value)
    assert directory in message and "keras_cv DenseNetBackbone" in message and "'resnet_tiny'" in message
    assert "keras-cv ResNetBackbone" in message and "model.backbone=densenet_tiny" in message


def test_preset_with_other_stack_arguments_lists_the_differences(tmp_path):
    directory = _save_keras_hub_preset(
        _random_backbone("resnet_tiny", stackwise_blocks=[2, 2]), str(tmp_path / "deeper"), "resnet_tiny",
        stackwise_num_blocks=[2, 2],
    )
    with pytest.raises(ValueError) as error:
        build_backbone("resnet_tiny", input_shape=SHAPE, weights=directory)
    message = str(error.value)
    assert "Differences: stackwise_blocks: preset [2, 2], 'resnet_tiny' [1, 1]." in message
    assert "keras_hub ResNetBackbone" in message and "stackwise_num_blocks=[2, 2]" in message
    # With the same override, the architecture is the preset's and it loads.
    assert read_preset(directory, "resnet_tiny", stackwise_blocks=[2, 2]).arguments["stackwise_blocks"] == [2, 2]


@pytest.mark.parametrize("changes, shown", [
    ({"use_pre_activation": True}, "use_pre_activation=True"),  # ResNet v2
    ({"block_type": "basic_block_vd"}, "block_type='basic_block_vd'"),  # ResNet-vd
    ({"input_conv_filters": [32, 32, 64], "input_conv_kernel_sizes": [3, 3, 3]}, "input_conv_filters=[32, 32, 64]"),
])
def test_keras_hub_resnet_variants_that_keras_cv_cannot_build_are_refused(tmp_path, changes, shown):
    directory = _save_keras_hub_preset(_random_backbone("resnet_tiny"), str(tmp_path / "v2"), "resnet_tiny",
                                       **changes)
    with pytest.raises(ValueError) as error:
        read_preset(directory, "resnet_tiny")
    message = str(error.value)
    assert shown in message and "cannot load a keras_hub ResNetBackbone" in message


def test_mixed_up_preset_files_are_a_clear_error(tmp_path):
    # config.json and metadata.json of resnet_tiny, weights of densenet_tiny.
    directory = _save_keras_hub_preset(_random_backbone("resnet_tiny"), str(tmp_path / "mixed"), "resnet_tiny")
    _random_backbone("densenet_tiny").save_weights(os.path.join(directory, "model.weights.h5"))
    with pytest.raises(ValueError) as error:
        build_backbone("resnet_tiny", input_shape=SHAPE, weights=directory)
    message = str(error.value)
    # densenet_tiny's arrays: stem conv + BN (1 + 4), 6 conv blocks of two BN + two convs (6 * 10), two
    # transitions of BN + conv (2 * 5), the last BN (4).
    assert f"holds {5 + 6 * 10 + 2 * 5 + 4} weight arrays" in message and "mixed from two presets" in message
    # metadata.json's parameter count is checked against the built backbone too.
    _edit_json(os.path.join(directory, "metadata.json"), lambda m: m.update(parameter_count=123))
    with pytest.raises(ValueError, match="says it has 123 parameters .* different models"):
        build_backbone("resnet_tiny", input_shape=SHAPE, weights=directory)


# ------------------------------------------------------------ damaged presets
def test_directory_without_config_is_not_a_preset(tmp_path):
    with pytest.raises(ValueError, match="is a directory but not a preset: it has no config.json"):
        build_backbone("resnet_tiny", input_shape=SHAPE, weights=str(tmp_path))


def test_missing_weights_file_names_the_file_and_the_fix(resnet_preset):
    _, directory = resnet_preset
    os.remove(os.path.join(directory, "model.weights.h5"))
    with pytest.raises(FileNotFoundError) as error:
        build_backbone("resnet_tiny", input_shape=SHAPE, weights=directory)
    message = str(error.value)
    assert "has no weights file 'model.weights.h5'" in message and "Copy the whole directory again" in message


def test_truncated_weights_file_is_a_clear_error(resnet_preset):
    _, directory = resnet_preset
    path = os.path.join(directory, "model.weights.h5")
    with open(path, "rb") as file:
        head = file.read(os.path.getsize(path) // 2)
    with open(path, "wb") as file:
        file.write(head)
    with pytest.raises(ValueError, match=r"model.weights.h5' cannot be read .*truncated file.*: it is truncated"):
        build_backbone("resnet_tiny", input_shape=SHAPE, weights=directory)


def test_weights_file_of_another_format_is_a_clear_error(resnet_preset):
    # An HDF5 file without Keras 3 layer weights (e.g. a Keras 2 file renamed).
    _, directory = resnet_preset
    with h5py.File(os.path.join(directory, "model.weights.h5"), "w") as file:
        file.create_dataset("kernel", data=np.zeros(3))
    with pytest.raises(ValueError, match="holds no Keras 3 layer weights"):
        read_preset(directory, "resnet_tiny")


def test_preset_saved_without_weights_is_a_clear_error(resnet_preset):
    _, directory = resnet_preset
    _edit_json(os.path.join(directory, "config.json"), lambda c: c.update(weights=None))
    with pytest.raises(ValueError, match="was saved without weights"):
        read_preset(directory, "resnet_tiny")


def test_weights_file_named_outside_the_directory_is_refused(resnet_preset):
    _, directory = resnet_preset
    _edit_json(os.path.join(directory, "config.json"), lambda c: c.update(weights="../other.weights.h5"))
    with pytest.raises(ValueError, match="which is not a file name in the directory"):
        read_preset(directory, "resnet_tiny")


def test_sharded_weights_are_refused_with_the_fix(resnet_preset):
    _, directory = resnet_preset
    os.rename(os.path.join(directory, "model.weights.h5"), os.path.join(directory, "model_00000.weights.h5"))
    _write_json(os.path.join(directory, "model.weights.json"), {"weight_map": {}})
    with pytest.raises(ValueError, match=r"sharded weights .* max_shard_size=None"):
        read_preset(directory, "resnet_tiny")


@pytest.mark.parametrize("content, expected", [
    ("{not json", "is not readable JSON"),
    (json.dumps({"architecture": "resnet18", "num_classes": 1000}), "is a timm checkpoint's config"),
    (json.dumps({"model_type": "resnet"}), "is a Hugging Face Transformers checkpoint's config"),
    (json.dumps({"weights": "model.weights.h5"}), "is not a serialised Keras backbone"),
    (json.dumps({"class_name": "ResNetBackbone", "config": {}, "registered_name": "my_lib>ResNetBackbone"}),
     "from 'my_lib'; only keras-cv and keras-hub backbone presets"),
    (json.dumps({"class_name": "ResNetBackbone", "config": {"stackwise_filters": [64, 64]},
                 "registered_name": "keras_cv>ResNetBackbone"}), "has no 'stackwise_blocks'"),
])
def test_damaged_or_foreign_config_is_a_clear_error(resnet_preset, content, expected):
    _, directory = resnet_preset
    with open(os.path.join(directory, "config.json"), "w") as file:
        file.write(content)
    with pytest.raises(ValueError, match=expected):
        read_preset(directory, "resnet_tiny")


def test_plain_keras_backbone_takes_no_preset(resnet_preset):
    _, directory = resnet_preset
    with pytest.raises(ValueError, match="'convnet_tiny' is plain Keras.*supply a .weights.h5 or .keras file"):
        build_backbone("convnet_tiny", input_shape=SHAPE, weights=directory)


def test_path_that_is_nothing_is_a_clear_error(tmp_path):
    path = str(tmp_path / "resnet18_imagenet")
    with pytest.raises(FileNotFoundError, match="neither a preset directory nor a file exists there"):
        build_backbone("resnet_tiny", input_shape=SHAPE, weights=path)


# ------------------------------------------------------------------ warnings
def test_normalization_is_read_from_keras_hubs_image_converter():
    assert normalization_of(IMAGENET_SCALE, IMAGENET_OFFSET) == "imagenet"
    assert normalization_of(1 / 255, None) == "unit"
    assert normalization_of([1 / 255] * 3, [0.0] * 3) == "unit"
    assert normalization_of(1 / 127.5, -1.0).startswith("x * ")  # [-1, 1]: neither of ours


def test_preset_with_other_normalization_warns(tmp_path):
    source = _random_backbone("densenet_tiny")
    directory = _save_keras_hub_preset(source, str(tmp_path / "hub"), "densenet_tiny",
                                       converter=(IMAGENET_SCALE, IMAGENET_OFFSET))
    assert read_preset(directory, "densenet_tiny").normalization == "imagenet"
    with pytest.warns(UserWarning, match="expects pixels normalised as 'imagenet'.*input_normalization='unit'"):
        build_backbone("densenet_tiny", input_shape=SHAPE, weights=directory)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build_backbone("densenet_tiny", input_shape=SHAPE, weights=directory, input_normalization="imagenet")


def test_keras_hub_resnet_at_an_even_size_warns_about_padding(tmp_path):
    directory = _save_keras_hub_preset(_random_backbone("resnet_tiny"), str(tmp_path / "hub"), "resnet_tiny")
    # resnet_tiny has three stride-2 layers (stem, pooling, second stack): 32 -> 33 = 4 * 8 + 1.
    with pytest.warns(UserWarning, match=r"At input 32x32 .* k \* 8 \+ 1, e.g. 33x33"):
        build_backbone("resnet_tiny", input_shape=SHAPE, weights=directory, input_normalization="imagenet")


# ----------------------------------------------- scripts/save_backbone_weights.py
def _script():
    path = os.path.join(os.path.dirname(__file__), "..", "scripts", "save_backbone_weights.py")
    spec = importlib.util.spec_from_file_location("save_backbone_weights", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _StandInBackbone:
    """keras-hub's ResNetBackbone as the script uses it: from_preset, save_to_preset, count_params, call."""

    source = None

    @classmethod
    def from_preset(cls, preset):
        if preset == "offline":
            raise ConnectionError("Failed to resolve 'api.kaggle.com'")
        return cls()

    def save_to_preset(self, directory):
        _save_keras_cv_preset(self.source, directory)

    def count_params(self):
        return self.source.count_params()

    def __call__(self, images):
        return self.source(images)


class _StandInConverter:
    scale, offset = IMAGENET_SCALE, IMAGENET_OFFSET

    @classmethod
    def from_preset(cls, preset):
        return cls()

    def get_config(self):
        return {"scale": self.scale, "offset": self.offset}

    def save_to_preset(self, directory):
        _write_converter(directory, self.scale, self.offset)


def _stand_in_keras_hub(source, scale=IMAGENET_SCALE, offset=IMAGENET_OFFSET):
    backbone = type("ResNetBackbone", (_StandInBackbone,), {"source": source})
    converter = type("ResNetImageConverter", (_StandInConverter,), {"scale": scale, "offset": offset})
    return types.SimpleNamespace(models=types.SimpleNamespace(ResNetBackbone=backbone),
                                 layers=types.SimpleNamespace(ResNetImageConverter=converter))


def test_script_saves_a_preset_that_loads_with_the_same_features(tmp_path, capsys):
    script = _script()
    source = _random_backbone("resnet_tiny", input_shape=(None, None, 3))
    out = str(tmp_path / "resnet_tiny_imagenet")
    script.save_backbone_weights("resnet_tiny", out, preset="stand-in", keras_hub=_stand_in_keras_hub(source))
    printed = capsys.readouterr().out
    assert "gives keras-hub's features" in printed and f"--set model.backbone_weights={out}" in printed
    assert "input_normalization='imagenet'" in printed
    assert read_preset(out, "resnet_tiny").normalization == "imagenet"
    loaded = build_backbone("resnet_tiny", input_shape=SHAPE, weights=out, input_normalization="imagenet")
    _assert_loaded(loaded, source, "resnet_tiny")


def test_script_refuses_what_it_cannot_save(tmp_path):
    script = _script()
    source = _random_backbone("resnet_tiny", input_shape=(None, None, 3))
    out = str(tmp_path / "out")
    with pytest.raises(script.SaveError, match="not the architecture of 'densenet_tiny'"):
        script.save_backbone_weights("densenet_tiny", out, preset="x", keras_hub=types.SimpleNamespace(
            models=types.SimpleNamespace(DenseNetBackbone=_stand_in_keras_hub(source).models.ResNetBackbone),
            layers=types.SimpleNamespace(DenseNetImageConverter=_StandInConverter)))
    with pytest.raises(script.SaveError, match="exists and is not empty: .* --overwrite"):
        script.save_backbone_weights("resnet_tiny", out, preset="x", keras_hub=_stand_in_keras_hub(source))
    with pytest.raises(script.SaveError, match="neither input_normalization 'unit' nor 'imagenet'"):
        script.save_backbone_weights("resnet_tiny", str(tmp_path / "raw"), preset="x",
                                     keras_hub=_stand_in_keras_hub(source, scale=1.0, offset=0.0))
    with pytest.raises(script.SaveError, match="No ImageNet preset is known for 'resnet_tiny'"):
        script.save_backbone_weights("resnet_tiny", str(tmp_path / "none"))
    with pytest.raises(script.SaveError, match="'convnet_tiny' is not a keras-cv architecture"):
        script.save_backbone_weights("convnet_tiny", str(tmp_path / "none"))


def test_script_offline_or_without_keras_hub_says_what_to_do(tmp_path, monkeypatch, capsys):
    script = _script()
    out = str(tmp_path / "resnet18_imagenet")
    with pytest.raises(script.SaveError, match="machine with internet") as error:
        script.save_backbone_weights("resnet18", out, preset="offline", keras_hub=_stand_in_keras_hub(None))
    assert "'offline'" in str(error.value) and not os.path.exists(out)
    monkeypatch.setitem(sys.modules, "keras_hub", None)  # `import keras_hub` raises ImportError
    assert script.main(["resnet18", "--out", out]) == 1
    assert "pip install --no-deps keras-hub" in capsys.readouterr().err and not os.path.exists(out)
