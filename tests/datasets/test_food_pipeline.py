"""Food pipeline: multi-hot targets, crops, flips, image choice, tf.data, Keras."""

import io

import keras
import numpy as np
import pytest
import tensorflow as tf
from dataset_fixtures import SPLITS, prepared
from PIL import Image

from cmva_keras import datasets
from cmva_keras.pipelines import food as food_pipeline


def _position_image(h=240, w=360):
    """Pixel (i, j) holds (i, j // 2, 7): every crop is identifiable from its values."""
    rows, cols = np.mgrid[:h, :w]
    return np.stack([rows, cols // 2, np.full_like(rows, 7)], axis=-1).astype(np.uint8)


def test_multi_hot():
    np.testing.assert_array_equal(food_pipeline.multi_hot(tf.constant([0, 2, 2]), 4).numpy(), [1, 0, 1, 0])
    np.testing.assert_array_equal(food_pipeline.multi_hot(tf.zeros([0], tf.int64), 3).numpy(), [0, 0, 0])


def test_evaluation_takes_the_central_crop():
    example = {"image": tf.constant(_position_image()), "ingredients": tf.constant([1], tf.int64)}
    image, labels = food_pipeline.food_example(example, tf.constant([0, 0], tf.int64), training=False,
                                               image_size=(240, 360), crop_size=224, num_classes=3)
    expected = _position_image()[8:232, 68:292]  # (240 - 224) / 2, (360 - 224) / 2
    np.testing.assert_allclose(image.numpy(), expected, atol=1e-3)
    np.testing.assert_array_equal(labels.numpy(), [0, 1, 0])


@pytest.mark.parametrize("flip_probability", [0.0, 1.0])
def test_training_crop_is_a_window_of_the_image(flip_probability):
    full = _position_image()
    example = {"image": tf.constant(full), "ingredients": tf.constant([0], tf.int64)}
    offsets = set()
    for s in range(4):
        image, _ = food_pipeline.food_example(
            example, tf.constant([s, 5], tf.int64), training=True, image_size=(240, 360), crop_size=100,
            num_classes=1, max_rotation_degrees=0.0, flip_probability=flip_probability)
        image = np.round(image.numpy()).astype(int)
        if flip_probability == 1.0:
            image = image[:, ::-1]
        top, left = image[0, 0, 0], 2 * image[0, 0, 1]
        left = next(c for c in (left, left + 1) if np.array_equal(full[top, c:c + 100], image[0]))
        np.testing.assert_array_equal(image, full[top:top + 100, left:left + 100])
        offsets.add((top, left))
    assert len(offsets) > 1  # the crop position is random


def test_rotation_changes_the_image_but_not_its_range():
    example = {"image": tf.constant(_position_image()), "ingredients": tf.constant([0], tf.int64)}
    kwargs = dict(training=True, image_size=(240, 360), crop_size=100, num_classes=1, flip_probability=0.0)
    plain, _ = food_pipeline.food_example(example, tf.constant([3, 5], tf.int64), max_rotation_degrees=0.0, **kwargs)
    rotated, _ = food_pipeline.food_example(example, tf.constant([3, 5], tf.int64), max_rotation_degrees=10.0, **kwargs)
    assert not np.allclose(plain.numpy(), rotated.numpy())
    assert rotated.numpy().min() >= 0 and rotated.numpy().max() <= 255


def _jpeg(color, size=(300, 200)):
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def test_recipe1m_uses_the_first_image_for_evaluation_and_any_for_training():
    example = {"images": tf.constant([_jpeg((250, 0, 0)), _jpeg((0, 0, 250), (400, 300))]),
               "ingredients": tf.constant([0], tf.int64)}
    image, _ = food_pipeline.food_example(example, tf.constant([0, 0], tf.int64), training=False,
                                          image_size=256, crop_size=224, num_classes=1)
    assert image.numpy()[..., 0].mean() > 200 and image.numpy()[..., 2].mean() < 30
    reds = []
    for s in range(12):
        image, _ = food_pipeline.food_example(example, tf.constant([s, 1], tf.int64), training=True,
                                              image_size=256, crop_size=224, num_classes=1)
        reds.append(image.numpy()[..., 0].mean() > 200)
    assert any(reds) and not all(reds)


def test_eager_and_tf_data_agree():
    example = {"image": tf.constant(_position_image()), "ingredients": tf.constant([0, 2], tf.int64)}
    seed = tf.constant([2, 2], tf.int64)
    kwargs = dict(training=True, image_size=(120, 180), crop_size=96, num_classes=3)
    eager = food_pipeline.food_example(example, seed, **kwargs)
    graph = next(iter(tf.data.Dataset.from_tensors((example, seed)).map(
        lambda e, s: food_pipeline.food_example(e, s, **kwargs))))
    np.testing.assert_allclose(eager[0].numpy(), graph[0].numpy(), atol=1e-3)
    np.testing.assert_array_equal(eager[1].numpy(), graph[1].numpy())


def _dataset(name, training, seed=0, batch_size=4):
    builder = prepared(name)
    size = (120, 180) if name == "yummly28k" else 128
    return food_pipeline.make_dataset(
        datasets.as_dataset(builder, "train"), training=training, image_size=size, crop_size=96,
        num_classes=len(datasets.vocabulary(builder)), batch_size=batch_size, seed=seed, deterministic=True)


@pytest.mark.parametrize("name", ["yummly28k", "recipe1m"])
def test_make_dataset_batches_and_labels(name):
    builder = prepared(name)
    k = len(datasets.vocabulary(builder))
    batches = list(_dataset(name, training=False))
    assert sum(int(x.shape[0]) for x, _ in batches) == SPLITS[name]["train"]  # evaluation keeps every example
    x, y = batches[0]
    assert x.shape == (4, 96, 96, 3) and x.dtype == tf.float32 and y.shape == (4, k) and y.dtype == tf.float32
    raw = list(datasets.as_dataset(builder, "train").take(4))
    for row, example in zip(y.numpy(), raw):
        assert set(np.flatnonzero(row)) == set(example["ingredients"].numpy().tolist())


def test_training_is_shuffled_deterministically_with_a_seed():
    a, b, c = (list(_dataset("yummly28k", True, seed)) for seed in (0, 0, 1))
    assert len(a) == SPLITS["yummly28k"]["train"] // 4  # the last partial batch is dropped
    for (xa, ya), (xb, yb) in zip(a, b):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    assert any(not np.array_equal(xa.numpy(), xc.numpy()) for (xa, _), (xc, _) in zip(a, c))


def test_crop_larger_than_image_is_refused():
    with pytest.raises(ValueError, match="crop_size"):
        food_pipeline.make_dataset(datasets.as_dataset(prepared("yummly28k"), "train"), training=True,
                                   image_size=(64, 64), crop_size=96, num_classes=3, batch_size=2)


def test_feeds_keras_fit_on_this_backend():
    builder = prepared("yummly28k")
    k = len(datasets.vocabulary(builder))
    ds = food_pipeline.make_dataset(datasets.as_dataset(builder, "train"), training=True, image_size=(60, 90),
                                    crop_size=48, num_classes=k, batch_size=8, seed=0)
    model = keras.Sequential([
        keras.Input((48, 48, 3)), keras.layers.Rescaling(1 / 255.0), keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(k),
    ])
    model.compile(optimizer="adam", loss=keras.losses.BinaryCrossentropy(from_logits=True))
    history = model.fit(ds, epochs=1, verbose=0, shuffle=False)  # the pipeline shuffles
    assert np.isfinite(history.history["loss"][0])


def _epochs(name, cache, epochs=2, training=True):
    """Two passes (epochs) of the food pipeline over the tiny split, with the given `cache`."""
    builder = prepared(name)
    size = (120, 180) if name == "yummly28k" else 128
    ds = food_pipeline.make_dataset(
        datasets.as_dataset(builder, "train"), training=training, image_size=size, crop_size=96,
        num_classes=len(datasets.vocabulary(builder)), batch_size=4, seed=3, deterministic=True, cache=cache)
    return [[(x.numpy(), y.numpy()) for x, y in ds] for _ in range(epochs)]


@pytest.mark.parametrize("name", ["yummly28k", "recipe1m"])
def test_cached_pipeline_gives_the_uncached_batches_every_epoch(name, tmp_path):
    plain = _epochs(name, "")
    for cache in ("memory", str(tmp_path / "food-cache")):
        cached = _epochs(name, cache)
        for epoch_plain, epoch_cached in zip(plain, cached):
            assert len(epoch_plain) == len(epoch_cached) > 0
            for (xa, ya), (xb, yb) in zip(epoch_plain, epoch_cached):
                np.testing.assert_array_equal(xa, xb)
                np.testing.assert_array_equal(ya, yb)
    # The augmentation is still drawn afresh each epoch.
    assert not np.array_equal(plain[0][0][0], plain[1][0][0])


def test_file_cache_is_written_once_and_read_back(tmp_path):
    prefix = str(tmp_path / "food-cache")
    first = _epochs("yummly28k", prefix, epochs=1)
    assert (tmp_path / "food-cache.index").exists()
    again = _epochs("yummly28k", prefix, epochs=1)  # reads the complete file cache
    for (xa, _), (xb, _) in zip(first[0], again[0]):
        np.testing.assert_array_equal(xa, xb)


def test_a_partly_read_cached_pipeline_keeps_its_cache():
    """Keras peeks at one batch before training: the cache, filled when built, is not thrown away."""
    builder = prepared("yummly28k")
    calls = []

    def count():
        calls.append(1)
        return np.int64(0)

    # A split whose reading is counted: after the pipeline is built, nothing more is read from it.
    counted = datasets.as_dataset(builder, "train").map(
        lambda ex: dict(ex, ingredients=ex["ingredients"] + tf.py_function(count, [], tf.int64)))
    ds = food_pipeline.make_dataset(counted, training=True, image_size=(60, 90), crop_size=48,
                                    num_classes=len(datasets.vocabulary(builder)), batch_size=4, seed=0,
                                    cache="memory")
    assert len(calls) == SPLITS["yummly28k"]["train"]  # filled once, completely, when built
    next(iter(ds))  # a partial read, as Keras' first-batch peek
    assert sum(1 for _ in ds) == SPLITS["yummly28k"]["train"] // 4
    assert len(calls) == SPLITS["yummly28k"]["train"]  # nothing read again: the cache was kept


def test_data_cache_setting_names_a_file_per_content(tmp_path):
    from cmva_keras.tasks.common import training_cache
    from cmva_keras.training.config import resolve_config

    config = resolve_config("food", "smoke")
    assert training_cache(config, 1) == "memory"
    config.data.cache = "none"
    assert training_cache(config, 1) == ""
    config.data.cache = str(tmp_path)
    first = training_cache(config, 1)
    assert first.startswith(str(tmp_path)) and training_cache(config, 1) == first
    # What an earlier release cached (another PREPARED_VERSION) is another file, never read back as this one's.
    assert training_cache(config, 2) != first
    config.data.crop_size = 24  # other decoded content: another file
    assert training_cache(config, 1) != first


@pytest.mark.parametrize("compiled", [False, True])
def test_random_views_are_rotated_flipped_windows_of_their_images(compiled):
    """Each view of a batch is a window of its own image, mirrored or not, rotated about the window's centre
    by at most the limit: with pixels holding their own (column, row), bilinear sampling is exact, so the
    positions a view shows are a rigid map of its grid. Corners a rotation uncovers show the image around the
    window, not a reflection of it."""
    h, w, crop, batch = 60, 90, 32, 24
    rows, cols = np.mgrid[:h, :w].astype(np.float32)
    images = np.stack([np.stack([cols, rows, np.full_like(rows, 7.0 + i)], axis=-1) for i in range(batch)])
    views = food_pipeline.random_views(tf.constant(images), tf.constant([4, 9], tf.int64), crop_size=crop,
                                       max_rotation_degrees=10.0, flip_probability=0.5, compiled=compiled).numpy()
    assert views.shape == (batch, crop, crop, 3)
    y, x = np.mgrid[:crop, :crop].astype(np.float64)
    c = (crop - 1) / 2.0
    grid = np.stack([x.ravel() - c, y.ravel() - c, np.ones(crop * crop)], axis=1)
    dets, angles, centres = [], [], []
    for i in range(batch):
        np.testing.assert_allclose(views[i, ..., 2], 7.0 + i)  # its own image, not a neighbour's
        shown = views[i, ..., :2].reshape(-1, 2).astype(np.float64)
        inside = (shown[:, 0] > 0.5) & (shown[:, 0] < w - 1.5) & (shown[:, 1] > 0.5) & (shown[:, 1] < h - 1.5)
        assert inside.mean() > 0.9
        fit, *_ = np.linalg.lstsq(grid[inside], shown[inside], rcond=None)
        np.testing.assert_allclose(grid[inside] @ fit, shown[inside], atol=2e-3)  # an affine map, exactly
        A, centre = fit[:2].T, fit[2]
        np.testing.assert_allclose(A.T @ A, np.eye(2), atol=1e-4)  # rigid: a rotation, or one with a mirror
        det = np.linalg.det(A)
        angle = np.degrees(np.arctan2(A[1, 0], A[1, 1])) * (-1 if det > 0 else 1)
        assert abs(angle) <= 10.0 + 1e-3
        top_left = centre - c
        np.testing.assert_allclose(top_left, np.round(top_left), atol=1e-3)  # a window at whole pixels
        assert 0 <= round(top_left[0]) <= w - crop and 0 <= round(top_left[1]) <= h - crop
        dets.append(round(det)), angles.append(angle), centres.append(tuple(np.round(centre)))
    assert set(dets) == {-1, 1}  # flipped and not
    assert max(angles) > 5 and min(angles) < -5 and len(set(centres)) > batch // 2


@pytest.mark.parametrize("compiled", [False, True])
def test_random_views_without_rotation_are_exact_windows(compiled):
    images = np.random.default_rng(0).uniform(0, 255, (6, 40, 50, 3)).astype(np.float32)
    views = food_pipeline.random_views(tf.constant(images), tf.constant([1, 2], tf.int64), crop_size=24,
                                       max_rotation_degrees=0.0, flip_probability=0.5, compiled=compiled).numpy()
    for image, view in zip(images, views):
        windows = [(image[t:t + 24, x:x + 24], mirror) for t in range(17) for x in range(27) for mirror in (0, 1)]
        assert any(np.array_equal(view, win[:, ::-1] if mirror else win) for win, mirror in windows)


def test_the_compiled_warp_gives_the_views_of_tensorflows_warp():
    images = np.random.default_rng(1).uniform(0, 255, (8, 44, 60, 3)).astype(np.float32)
    kwargs = dict(crop_size=36, max_rotation_degrees=10.0, flip_probability=0.5)
    seed = tf.constant([7, 3], tf.int64)
    plain = food_pipeline.random_views(tf.constant(images), seed, **kwargs).numpy()
    compiled = food_pipeline.random_views(tf.constant(images), seed, compiled=True, **kwargs).numpy()
    np.testing.assert_allclose(compiled, plain, atol=0.05)
