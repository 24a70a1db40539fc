"""The XLA-compiled batch warp against TensorFlow's own projective warp."""

import numpy as np
import pytest
import tensorflow as tf

from cmva_keras.pipelines import warp


def _transforms(batch, rng, perspective=True):
    rows = []
    for _ in range(batch):
        a, s = rng.uniform(-0.8, 0.8), rng.uniform(0.6, 1.8)
        c = rng.uniform(1e-4, 4e-4, 2) * rng.choice([-1, 1], 2) if perspective else (0.0, 0.0)
        rows.append([s * np.cos(a), -s * np.sin(a), rng.uniform(-15, 25),
                     s * np.sin(a), s * np.cos(a), rng.uniform(-15, 25), c[0], c[1]])
    return tf.constant(np.array(rows, np.float32))


def _tensorflows(images, transforms, size, fill_mode):
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=tf.cast(images, tf.float32), transforms=transforms, output_shape=[size, size],
        fill_value=0.0, interpolation="BILINEAR", fill_mode=fill_mode).numpy()


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("fill, mode", [("zeros", "CONSTANT"), ("nearest", "NEAREST")])
def test_zero_and_nearest_fills_match_tensorflows(fill, mode, dtype):
    rng = np.random.default_rng(0)
    images = rng.uniform(1, 255, (5, 37, 52, 3)).astype(dtype)
    transforms = _transforms(5, rng)
    ours = warp.warp_images(tf.constant(images), transforms, 40, fill=fill).numpy()
    assert ours.dtype == np.float32 and ours.shape == (5, 40, 40, 3)
    # Samples outside the images read zeros, or their nearest border pixel (never 0 here).
    assert (ours == 0).any() == (fill == "zeros")
    np.testing.assert_allclose(ours, _tensorflows(images, transforms, 40, mode), atol=0.02)


def test_nearest_fill_on_a_zero_ringed_image_is_the_zero_fill():
    # The hand pipeline's windows carry a ring of zeros so that its warp can clamp instead of testing bounds.
    rng = np.random.default_rng(4)
    images = rng.uniform(1, 255, (5, 30, 41, 3)).astype(np.uint8)
    ringed = np.pad(images, [(0, 0), (1, 1), (1, 1), (0, 0)])
    transforms = _transforms(5, rng)
    shifted = transforms.numpy().copy()  # the same points, in the ringed image's pixels (one pixel on)
    shifted[:, 2] += 1.0
    shifted[:, 5] += 1.0
    shifted[:, 0:2] += shifted[:, 6:8]  # x' = x + 1 = (a.p + a2 + (c.p + 1)) / k, with k = c.p + 1
    shifted[:, 3:5] += shifted[:, 6:8]
    zeros = warp.warp_images(tf.constant(images), transforms, 40, fill="zeros").numpy()
    nearest = warp.warp_images(tf.constant(ringed), tf.constant(shifted), 40, fill="nearest").numpy()
    assert (zeros == 0).any() and (zeros > 0).any()
    np.testing.assert_allclose(nearest, zeros, atol=0.01)  # the shifted transform rounds differently


def test_reflect_fill_matches_tensorflows_reflection_for_rotated_crops():
    rng = np.random.default_rng(1)
    images = rng.uniform(0, 255, (4, 30, 44, 3)).astype(np.float32)
    transforms = _transforms(4, rng, perspective=False)
    ours = warp.warp_images(tf.constant(images), transforms, 36).numpy()
    assert (ours > 0).all()  # no zeros: the borders reflect
    np.testing.assert_allclose(ours, _tensorflows(images, transforms, 36, "REFLECT"), atol=0.02)


def test_runs_compiled_inside_a_tf_data_map():
    rng = np.random.default_rng(2)
    images = tf.constant(rng.integers(0, 256, (3, 20, 24, 3), dtype=np.uint8))
    transforms = _transforms(3, rng)
    ds = tf.data.Dataset.from_tensors((images, transforms)).repeat(2).map(
        lambda x, t: warp.warp_images(x, t, 16, fill="zeros"))
    for batch in ds:
        np.testing.assert_allclose(batch.numpy(), _tensorflows(images, transforms, 16, "CONSTANT"), atol=0.02)


def test_an_unknown_fill_is_refused():
    with pytest.raises(ValueError, match="fill must be one of"):
        warp.warp_images(tf.zeros((1, 4, 4, 3)), tf.zeros((1, 8)), 4, fill="wrap")


@pytest.mark.parametrize("fill", warp.FILLS)
def test_uint8_images_come_out_within_0_and_255(fill):
    # Bilinear weights summing to one in float32 can carry a white pixel to 255.00002; the warp clips uint8 input.
    rng = np.random.default_rng(5)
    images = np.full((8, 50, 50, 3), 255, np.uint8)
    images[::2, ::3] = 0
    out = warp.warp_images(tf.constant(images), _transforms(8, rng), 40, fill=fill).numpy()
    assert out.max() <= 255.0 and out.min() >= 0.0
    assert (out == 255.0).any() and (out < 255.0).any()
