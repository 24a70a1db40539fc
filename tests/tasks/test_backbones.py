"""`cmva_keras.backbones.build_backbone`: sizes, shapes, serialisation, weights files.

Expected values are derived by hand in each test (layer arithmetic, published
parameter counts), never copied from the code's output. The full-size
backbones are only built, never run: their first compiled step takes a minute
on CPU.
"""

import os

import h5py
import keras
import numpy as np
import pytest

from cmva_keras.backbones import BACKBONES, IMAGENET_MEAN, IMAGENET_STD, build_backbone, describe_backbones


def _images(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape).astype("float32")


def _numpy(x):
    return keras.ops.convert_to_numpy(x)


# ------------------------------------------------------------------ full size
def test_densenet121_has_densenet121s_parameter_count():
    # keras.io lists DenseNet121 with its 1000-class top at 8,062,504 parameters;
    # the top is a 1024 -> 1000 dense layer, 1024 * 1000 + 1000 of them.
    expected = 8_062_504 - (1024 * 1000 + 1000)
    backbone = build_backbone("densenet121", input_shape=(224, 224, 3))
    assert backbone.count_params() == expected == 7_037_504
    assert tuple(backbone.output_shape) == (None, 7, 7, 1024)


def test_resnet18_has_resnet18s_parameter_count():
    # torchvision's ResNet-18 has 11,689,512 parameters; its classifier is
    # 512 * 1000 + 1000. Keras also counts BatchNorm's moving mean and variance:
    # BN channels are 64 (stem) + 4*64 + (4+1)*128 + (4+1)*256 + (4+1)*512 = 4,800.
    trainable = 11_689_512 - (512 * 1000 + 1000)
    bn_channels = 64 + 4 * 64 + 5 * 128 + 5 * 256 + 5 * 512
    backbone = build_backbone("resnet18", input_shape=(256, 256, 3))
    trainable_count = sum(int(np.prod(w.shape)) for w in backbone.trainable_weights)
    assert trainable_count == trainable
    assert backbone.count_params() == trainable + 2 * bn_channels == 11_186_112
    assert tuple(backbone.output_shape) == (None, 8, 8, 512)


# ------------------------------------------------------------------ tiny ones
def test_convnet_tiny_parameter_count():
    # Three 3x3 convolutions without bias (3->16, 16->32, 32->64), each with a
    # BatchNorm of 4 values per channel.
    expected = sum(9 * c_in * c_out + 4 * c_out for c_in, c_out in ((3, 16), (16, 32), (32, 64)))
    assert build_backbone("convnet_tiny", input_shape=(32, 32, 3)).count_params() == expected


@pytest.mark.parametrize(
    "name, expected_shape",
    [
        # Stem: stride-2 conv and stride-2 max pool ("same": ceil), then per
        # transition a 2x2 average pool (floor). Channels: 64 + 2*8 = 80 -> 40,
        # 40 + 16 = 56 -> 28, 28 + 16 = 44.
        ("densenet_tiny", (2, 2, 3, 44)),
        # Stem /4 (8x12), stack 0 stride 1, stack 1 stride 2 (4x6); 64 filters.
        ("resnet_tiny", (2, 4, 6, 64)),
        # Stem /4 (8x12), then strides 1, 2, 2 (2x3); the last stack has 256 filters.
        ("resnet_small", (2, 2, 3, 256)),
        # Three stride-2 "same" convolutions: 32x48 -> 4x6, 64 filters.
        ("convnet_tiny", (2, 4, 6, 64)),
    ],
)
def test_tiny_backbones_forward_shape(name, expected_shape):
    backbone = build_backbone(name, input_shape=(32, 48, 3))
    features = _numpy(backbone(_images((2, 32, 48, 3))))
    assert features.shape == expected_shape
    assert np.all(np.isfinite(features))


def test_uint8_images_give_the_same_features_as_float_images():
    backbone = build_backbone("resnet_tiny", input_shape=(32, 32, 3))
    images = _images((2, 32, 32, 3))
    np.testing.assert_allclose(
        _numpy(backbone(images.astype("uint8"))), _numpy(backbone(images)), rtol=1e-6, atol=1e-6
    )


def test_every_name_is_described():
    assert set(describe_backbones()) == set(BACKBONES)
    assert {"densenet121", "resnet18", "densenet_tiny", "resnet_tiny", "resnet_small", "convnet_tiny"} <= set(BACKBONES)


def test_unknown_name_and_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="Unknown backbone 'vgg'"):
        build_backbone("vgg", input_shape=(32, 32, 3))
    with pytest.raises(ValueError, match="input_normalization"):
        build_backbone("convnet_tiny", input_shape=(32, 32, 3), input_normalization="caffe")
    with pytest.raises(ValueError, match="takes no architecture arguments"):
        build_backbone("convnet_tiny", input_shape=(32, 32, 3), growth_rate=4)
    with pytest.raises(ValueError, match="Bad architecture arguments"):
        build_backbone("resnet_tiny", input_shape=(32, 32, 3), growth_rate=4)


def test_imagenet_normalization_matches_its_formula():
    # "imagenet" feeds (x - 255 mean) / (255 std) to the network; "unit" feeds
    # x / 255. With the same weights, imagenet(x) == unit(255 (x/255 - mean) / std).
    unit = build_backbone("convnet_tiny", input_shape=(16, 16, 3))
    imagenet = build_backbone("convnet_tiny", input_shape=(16, 16, 3), input_normalization="imagenet")
    imagenet.set_weights(unit.get_weights())
    images = _images((2, 16, 16, 3))
    shifted = 255.0 * (images / 255.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    np.testing.assert_allclose(
        _numpy(imagenet(images)), _numpy(unit(shifted.astype("float32"))), rtol=1e-4, atol=1e-4
    )


# -------------------------------------------------------------- serialisation
@pytest.mark.parametrize(
    "name, normalization",
    [("densenet_tiny", "unit"), ("resnet_tiny", "imagenet"), ("convnet_tiny", "unit")],
)
def test_model_containing_a_backbone_reloads_from_keras_file(tmp_path, name, normalization):
    image_shape = (32, 48, 3)  # as in the forward test: JAX reuses its compiled ops
    model = keras.Sequential(
        [
            keras.Input(image_shape),
            build_backbone(name, input_shape=image_shape, input_normalization=normalization),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(3),
        ]
    )
    images = _images((2,) + image_shape)
    expected = _numpy(model(images))
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(_numpy(reloaded(images)), expected)


# -------------------------------------------------------------------- weights
@pytest.mark.parametrize("suffix", [".weights.h5", ".keras"])
def test_weights_file_round_trip(tmp_path, suffix):
    source = build_backbone("resnet_tiny", input_shape=(32, 32, 3))
    path = os.path.join(tmp_path, "resnet_tiny" + suffix)
    if suffix == ".keras":
        source.save(path)
    else:
        source.save_weights(path)
    images = _images((2, 32, 32, 3))
    fresh = build_backbone("resnet_tiny", input_shape=(32, 32, 3))
    loaded = build_backbone("resnet_tiny", input_shape=(32, 32, 3), weights=path)
    assert not np.allclose(_numpy(fresh(images)), _numpy(source(images)))  # the load matters
    np.testing.assert_array_equal(_numpy(loaded(images)), _numpy(source(images)))


def test_missing_weights_file_is_a_clear_error(tmp_path):
    path = os.path.join(tmp_path, "densenet121_imagenet.weights.h5")
    with pytest.raises(FileNotFoundError) as error:
        build_backbone("densenet_tiny", input_shape=(32, 32, 3), weights=path)
    assert path in str(error.value) and "does not exist" in str(error.value)


def test_weights_file_of_unknown_kind_is_rejected(tmp_path):
    path = os.path.join(tmp_path, "weights.npz")
    np.savez(path, a=np.zeros(3))
    with pytest.raises(ValueError, match=r"\.weights\.h5 or \.keras or \.h5"):
        build_backbone("convnet_tiny", input_shape=(32, 32, 3), weights=path)


def test_weights_of_another_architecture_are_a_clear_error(tmp_path):
    path = os.path.join(tmp_path, "densenet_tiny.weights.h5")
    build_backbone("densenet_tiny", input_shape=(32, 32, 3)).save_weights(path)
    with pytest.raises(ValueError) as error:
        build_backbone("resnet_tiny", input_shape=(32, 32, 3), weights=path)
    message = str(error.value)
    assert path in message and "'resnet_tiny'" in message and "weight arrays" in message


def test_weights_of_a_larger_model_are_not_loaded_partially(tmp_path):
    # Every layer of the 1-block-per-stack model exists, with the same shape,
    # in the 2-block one; the extra arrays must still make the load fail.
    path = os.path.join(tmp_path, "resnet_deeper.weights.h5")
    build_backbone("resnet_tiny", input_shape=(32, 32, 3), stackwise_blocks=[2, 2]).save_weights(path)
    with pytest.raises(ValueError, match="holds .* weight arrays"):
        build_backbone("resnet_tiny", input_shape=(32, 32, 3), weights=path)


def test_keras2_h5_weights_of_keras_applications_densenet_load_in_order(tmp_path):
    # keras.applications' DenseNet is an independent implementation of the same
    # architecture (growth 32, compression 0.5); its Keras 2 .h5 weights files
    # (such as the ImageNet "notop" file) load layer by layer, in order.
    from keras.src.applications.densenet import DenseNet
    from keras.src.legacy.saving import legacy_h5_format

    blocks = [1, 1, 1, 1]
    reference = DenseNet(blocks, include_top=False, weights=None, input_shape=(32, 32, 3))
    path = os.path.join(tmp_path, "densenet_notop.h5")
    with h5py.File(path, "w") as file:
        legacy_h5_format.save_weights_to_hdf5_group(file, reference)
    backbone = build_backbone(
        "densenet_tiny", input_shape=(32, 32, 3), weights=path, stackwise_num_repeats=blocks, growth_rate=32
    )
    assert len(backbone.weights) == len(reference.weights)
    for loaded, original in zip(backbone.weights, reference.weights):
        np.testing.assert_array_equal(_numpy(loaded), _numpy(original))
