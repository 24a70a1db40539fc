"""Hand pipeline: geometry, augmentation consistency (image, 2D, 3D, K), targets, tf.data, Keras."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from dataset_fixtures import prepared

from cmva_keras import datasets
from cmva_keras.pipelines import geometry
from cmva_keras.pipelines import hand as hand_pipeline
from cmva_keras.synthetic import hand_model

SIZE = 64


def _raw_examples(name, split="train"):
    ds = datasets.as_dataset(prepared(name), split).map(hand_pipeline._features)
    return list(ds)


def test_rotation_to_z_axis_is_a_rotation_onto_the_axis():
    rng = np.random.default_rng(0)
    for point in list(rng.normal(size=(5, 3)) + [0, 0, 3]) + [np.array([0.0, 0.0, 2.0])]:
        R = geometry.rotation_to_z_axis(tf.constant(point, tf.float32)).numpy()
        np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-5)
        assert np.linalg.det(R) == pytest.approx(1.0, abs=1e-5)
        np.testing.assert_allclose(R @ point / np.linalg.norm(point), [0, 0, 1], atol=1e-5)


@pytest.mark.parametrize("name", ["rhd", "stb"])
def test_projection_of_transformed_pose_matches_transformed_keypoints(name):
    flips, angles = set(), []
    for features in _raw_examples(name)[:8]:
        for s in range(6):
            _, _, meta = hand_pipeline.hand_example(features, tf.constant([s, 7], tf.int64), training=True, image_size=SIZE)
            projected = geometry.project(meta["xyz_mm"], meta["crop_K"]).numpy()
            error = np.linalg.norm(projected - meta["uv"].numpy(), axis=1)
            assert error.max() < 0.5, error.max()
            flips.add(bool(meta["flipped"]))
            angles.append(float(meta["angle"]))
    assert flips == {True, False}  # both branches exercised
    assert max(angles) > 0.3 and min(angles) < -0.3  # rotations of more than 17 degrees both ways


def _dot_example():
    """A black image with a red dot at the index tip and a green dot at the pinky tip."""
    rng = np.random.default_rng(5)
    local = hand_model.keypoints(hand_model.sample_articulation(rng), "right")
    xyz = local @ hand_model.random_rotation(rng).T + np.array([30.0, -20.0, 420.0])
    K = np.array([[300.0, 0, 161.0], [0, 300.0, 158.0], [0, 0, 1]])
    uvw = xyz @ K.T
    uv = uvw[:, :2] / uvw[:, 2:]
    image = np.zeros((320, 320, 3), np.uint8)
    for kp, channel in ((5, 0), (17, 1)):
        u, v = np.round(uv[kp]).astype(int)
        image[v - 1:v + 2, u - 1:u + 2, channel] = 255
        uv[kp] = (u, v)  # the dot's exact centre
    return {
        "image": tf.constant(image), "xyz": tf.constant(xyz, tf.float32), "uv": tf.constant(uv, tf.float32),
        "visible": tf.ones(21, tf.bool), "K": tf.constant(K, tf.float32), "hand_side": tf.constant(1, tf.int32),
    }


def test_image_content_moves_with_the_keypoints():
    features = _dot_example()
    for s in range(8):
        image, _, meta = hand_pipeline.hand_example(features, tf.constant([s, 1], tf.int64), training=True, image_size=96)
        image = image.numpy()
        for kp, channel in ((5, 0), (17, 1)):
            weights = image[..., channel]
            assert weights.sum() > 0, "the dot left the crop"
            rows, cols = np.mgrid[:96, :96]
            centre = np.array([(cols * weights).sum(), (rows * weights).sum()]) / weights.sum()
            assert np.linalg.norm(centre - meta["uv"].numpy()[kp]) < 1.0


def test_targets_are_palm_rooted_bone_normalised_and_rigid():
    for features in _raw_examples("rhd")[:6]:
        for s in range(3):
            _, pose, meta = hand_pipeline.hand_example(features, tf.constant([s, 3], tf.int64), training=True, image_size=SIZE)
            pose, xyz = pose.numpy(), meta["xyz_mm"].numpy()
            np.testing.assert_allclose(pose[0], 0.0, atol=1e-6)
            assert np.linalg.norm(pose[12] - pose[11]) == pytest.approx(1.0, abs=1e-5)
            np.testing.assert_allclose(pose * meta["scale"].numpy() + meta["root_mm"].numpy(), xyz, atol=1e-3)
            original = features["xyz"].numpy()
            d_new = np.linalg.norm(xyz[:, None] - xyz[None], axis=-1)
            d_old = np.linalg.norm(original[:, None] - original[None], axis=-1)
            np.testing.assert_allclose(d_new, d_old, atol=1e-2)  # a rotation or a mirror: lengths kept
            centroid = xyz.mean(axis=0)
            assert abs(centroid[0]) < 1e-2 and abs(centroid[1]) < 1e-2  # on the camera's z axis
            det = np.linalg.det(meta["rotation"].numpy())
            flipped = bool(meta["flipped"])
            assert det == pytest.approx(-1.0 if flipped else 1.0, abs=1e-4)
            assert int(meta["hand_side"]) == (1 - int(features["hand_side"]) if flipped else int(features["hand_side"]))


def test_evaluation_has_no_augmentation():
    features = _raw_examples("rhd", "test")[0]
    a = hand_pipeline.hand_example(features, tf.constant([1, 2], tf.int64), training=False, image_size=SIZE)
    b = hand_pipeline.hand_example(features, tf.constant([9, 9], tf.int64), training=False, image_size=SIZE)
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())
    assert float(a[2]["angle"]) == 0.0 and not bool(a[2]["flipped"])


def test_eager_and_tf_data_agree():
    features = _raw_examples("rhd")[0]
    seed = tf.constant([4, 2], tf.int64)
    eager = hand_pipeline.hand_example(features, seed, training=True, image_size=SIZE)
    ds = tf.data.Dataset.from_tensors((features, seed)).map(
        lambda f, s: hand_pipeline.hand_example(f, s, training=True, image_size=SIZE))
    graph = next(iter(ds))
    np.testing.assert_allclose(eager[0].numpy(), graph[0].numpy(), atol=1e-3)
    np.testing.assert_allclose(eager[1].numpy(), graph[1].numpy(), atol=1e-5)


def _batches(seed, training=True, **kwargs):
    ds = hand_pipeline.make_dataset(datasets.as_dataset(prepared("rhd"), "train"), training=training,
                                    image_size=SIZE, batch_size=4, seed=seed, deterministic=True, **kwargs)
    return list(ds)


def test_make_dataset_shapes_and_determinism():
    first, again, other = _batches(0), _batches(0), _batches(1)
    assert len(first) == 12 // 4
    images, poses = first[0]
    assert images.shape == (4, SIZE, SIZE, 3) and images.dtype == tf.float32
    assert poses.shape == (4, 21, 3) and poses.dtype == tf.float32
    assert 0.0 <= float(tf.reduce_min(images)) and float(tf.reduce_max(images)) <= 255.0
    for (a, b), (c, d) in zip(first, again):
        np.testing.assert_array_equal(a.numpy(), c.numpy())
        np.testing.assert_array_equal(b.numpy(), d.numpy())
    assert any(not np.array_equal(a.numpy(), c.numpy()) for (a, _), (c, _) in zip(first, other))


def test_metadata_batches():
    images, poses, meta = _batches(0, with_metadata=True)[0]
    assert meta["scale"].shape == (4,) and meta["K"].shape == (4, 3, 3) and meta["hand_side"].shape == (4,)
    mm = poses.numpy() * meta["scale"].numpy()[:, None, None]
    np.testing.assert_allclose(mm + meta["root_mm"].numpy()[:, None], meta["xyz_mm"].numpy(), atol=1e-3)


def test_feeds_keras_fit_on_this_backend():
    ds = hand_pipeline.make_dataset(datasets.as_dataset(prepared("rhd"), "train"), training=True,
                                    image_size=32, batch_size=4, seed=0)
    model = keras.Sequential([
        keras.Input((32, 32, 3)), keras.layers.Rescaling(1 / 255.0), keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(63), keras.layers.Reshape((21, 3)),
    ])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(ds, epochs=1, verbose=0, shuffle=False)  # the pipeline shuffles
    assert np.isfinite(history.history["loss"][0])


# ------------------------------------------------- the hand side as an input
@pytest.mark.parametrize("name", ["rhd", "stb"])
def test_side_as_input_mirrors_left_hands_only_and_keeps_the_geometry(name):
    """Left crops become the horizontal mirror of the plain crop (pose x negated); right ones are unchanged."""
    sides = set()
    for features in _raw_examples(name)[:8]:
        seed = tf.constant([3, 1], tf.int64)
        image, pose, meta = hand_pipeline.hand_example(features, seed, training=False, image_size=SIZE)
        image_s, pose_s, meta_s = hand_pipeline.hand_example(
            features, seed, training=False, image_size=SIZE, side_as_input=True)
        left = int(features["hand_side"]) == hand_pipeline.LEFT
        sides.add(left)
        assert bool(meta_s["mirrored"]) == left
        expected_image = tf.image.flip_left_right(image).numpy() if left else image.numpy()
        np.testing.assert_allclose(image_s.numpy(), expected_image, atol=1e-2)
        np.testing.assert_allclose(pose_s.numpy(), pose.numpy() * ([-1.0, 1.0, 1.0] if left else 1.0), atol=1e-5)
        projected = geometry.project(meta_s["xyz_mm"], meta_s["crop_K"]).numpy()
        assert np.linalg.norm(projected - meta_s["uv"].numpy(), axis=1).max() < 0.5
    if name == "stb":
        assert sides == {True}  # STB films a left hand
    else:
        assert sides == {True, False}


def test_side_as_input_training_shows_only_right_hands_after_the_flip():
    """With random vertical flips (which swap the side), every crop the model sees is a right hand."""
    mirrored = set()
    for features in _raw_examples("rhd")[:8]:
        for s in range(6):
            _, _, meta = hand_pipeline.hand_example(
                features, tf.constant([s, 11], tf.int64), training=True, image_size=SIZE, side_as_input=True)
            shown = int(meta["hand_side"])  # the side the crop shows before the mirror
            assert bool(meta["mirrored"]) == (shown == hand_pipeline.LEFT)
            # The pose's handedness: a rigid transform of a right hand has det(R) = +1 only when not mirrored.
            det = np.linalg.det(meta["rotation"].numpy())
            original_left = int(features["hand_side"]) == hand_pipeline.LEFT
            assert det == pytest.approx(-1.0 if original_left else 1.0, abs=1e-4)
            mirrored.add(bool(meta["mirrored"]))
    assert mirrored == {True, False}


@pytest.mark.parametrize("side_as_input", [False, True])
def test_tta_view_is_the_pipelines_flipped_crop_and_its_undo_recovers_the_pose(side_as_input):
    """The task's second TTA view equals the training pipeline's vertically flipped crop (then, with the
    side as an input, mirrored back into a right hand); its undo maps that crop's pose onto the plain one."""
    import ml_collections

    from cmva_keras import tasks

    config = ml_collections.ConfigDict({"data": {"hand_side_input": side_as_input}})
    for features in _raw_examples("rhd")[:6]:
        plain, pose, _ = hand_pipeline.hand_example(
            features, tf.constant([0, 0], tf.int64), training=False, image_size=SIZE, side_as_input=side_as_input)
        flipped, flipped_pose, _ = hand_pipeline.hand_example(
            features, tf.constant([0, 0], tf.int64), training=True, image_size=SIZE, max_rotation_degrees=0.0,
            flip_probability=1.0, side_as_input=side_as_input)
        (_, none), (view, undo) = tasks.get("hand").tta_views(plain[None], config)
        assert none is None
        np.testing.assert_allclose(view[0].numpy(), flipped.numpy(), atol=1e-2)
        np.testing.assert_allclose(flipped_pose.numpy() * undo, pose.numpy(), atol=1e-5)


def test_serving_mirrors_left_crops_and_their_poses_back():
    from cmva_keras.tasks.hand import mirror_left_images, unmirror_left_poses

    rng = np.random.default_rng(0)
    images = tf.constant(rng.random((3, 4, 5, 3)), tf.float32)
    side = tf.constant([0, 1, 0])
    mirrored = mirror_left_images(images, side).numpy()
    np.testing.assert_array_equal(mirrored[0], images.numpy()[0, :, ::-1])
    np.testing.assert_array_equal(mirrored[1], images.numpy()[1])
    poses = tf.constant(rng.normal(size=(3, 21, 3)), tf.float32)
    back = unmirror_left_poses(poses, side).numpy()
    np.testing.assert_array_equal(back[0], poses.numpy()[0] * [-1.0, 1.0, 1.0])
    np.testing.assert_array_equal(back[1], poses.numpy()[1])


def _epochs(cache, epochs=2, **kwargs):
    ds = hand_pipeline.make_dataset(datasets.as_dataset(prepared("rhd"), "train"), training=True,
                                    image_size=SIZE, batch_size=4, seed=5, deterministic=True, cache=cache, **kwargs)
    return [[(x.numpy(), y.numpy()) for x, y in ds] for _ in range(epochs)]


@pytest.mark.parametrize("side_as_input", [False, True])
def test_cached_pipeline_gives_the_uncached_batches_every_epoch(side_as_input, tmp_path):
    plain = _epochs("", side_as_input=side_as_input)
    for cache in ("memory", str(tmp_path / "hand-cache")):
        cached = _epochs(cache, side_as_input=side_as_input)
        for epoch_plain, epoch_cached in zip(plain, cached):
            assert len(epoch_plain) == len(epoch_cached) == 12 // 4
            for (xa, ya), (xb, yb) in zip(epoch_plain, epoch_cached):
                np.testing.assert_array_equal(xa, xb)
                np.testing.assert_array_equal(ya, yb)
    assert not np.array_equal(plain[0][0][0], plain[1][0][0])  # augmented afresh each epoch


# ------------------------------------- the cached window: what the crop can sample
def _reported_transform(features, meta, image_size, margin=1.25):
    """(H, side): the whole frame's homography to the crop of the augmentation `meta` reports, and the crop's
    side in frame pixels (`hand_pipeline.crop_transform`)."""
    _, _, H, side = hand_pipeline.crop_transform(
        features["xyz"], features["K"], image_size, angle=meta["angle"], flip=meta["flipped"],
        mirror_x=meta["mirrored"], margin=margin)
    return H, side


def _full_frame_crop(features, meta, image_size, margin=1.25, max_shrink=hand_pipeline.MAX_WARP_SHRINK):
    """The crop warped from the whole decoded frame, as the pipeline did before it cached windows.

    The frame is shrunk (antialiased, kept in float) first when the crop shrinks the hand more than
    `max_shrink`, so that the warp shrinks it by `max_shrink`.
    """
    H, side = _reported_transform(features, meta, image_size, margin)
    image = tf.cast(features["image"], tf.float32)
    shrink = min(1.0, max_shrink * image_size / float(side))
    if shrink < 0.999:
        in_size = tf.shape(image)[:2]
        new_size = tf.maximum(1, tf.cast(tf.round(tf.cast(in_size, tf.float32) * shrink), tf.int32))
        image = tf.image.resize(image, new_size, method="bilinear", antialias=True)
        H = H @ tf.linalg.inv(geometry.pixel_scale_matrix(in_size, new_size))
    crop = geometry.warp_image(image, H, (image_size, image_size))
    return tf.clip_by_value(crop, 0.0, 255.0).numpy(), shrink < 0.999


@pytest.mark.parametrize("name", ["rhd", "stb"])
def test_the_cached_window_holds_every_pixel_any_augmentation_samples(name):
    """Crops from the prepared window equal crops from the whole frame, for rotations up to 45 degrees,
    flips and mirrors: within float rounding, and within the uint8 rounding of the shrunk frame (0.5)."""
    shrunk_seen, full_seen, extreme = set(), set(), []
    for features, size in [(f, size) for f in _raw_examples(name)[:6] for size in (SIZE, 4 * SIZE)]:
        prepared = hand_pipeline.prepare_example(features, size)
        frame = -(-(np.array(features["image"].shape[:2]) + 2) // 16) * 16  # the frame, ringed and padded
        pixels = prepared["pixels"].numpy()
        window = pixels.shape
        assert window[0] % 16 == 0 and window[1] % 16 == 0
        assert window[0] <= frame[0] and window[1] <= frame[1]
        # The ring of zeros the warp's clamping relies on (fill="nearest" reads it beyond the window).
        assert not pixels[0].any() and not pixels[:, 0].any() and not pixels[-1].any() and not pixels[:, -1].any()
        for s in range(5):
            image, _, meta = hand_pipeline.augment_example(
                prepared, tf.constant([s, 13], tf.int64), training=True, image_size=size, side_as_input=s % 2 == 1)
            reference, shrunk = _full_frame_crop(features, meta, size)
            error = np.abs(image.numpy() - reference).max()
            assert error < (0.51 if shrunk else 0.05), (shrunk, error)
            (shrunk_seen if shrunk else full_seen).add(True)
            extreme.append(abs(float(meta["angle"])))
    assert shrunk_seen and full_seen  # both kinds of example checked
    assert max(extreme) > 0.6  # rotations beyond 34 degrees


def _supersampled_crop(features, meta, image_size, margin=1.25, factor=4):
    """The reference crop: the whole frame warped at `factor` times the crop's resolution (bilinear), then
    averaged over `factor` x `factor` blocks, so each output pixel is the mean of factor^2 samples spread over
    its footprint in the frame (what an ideal box filter gives, up to the bilinear samples)."""
    H, _ = _reported_transform(features, meta, image_size, margin)
    offset = (factor - 1) / 2.0  # output pixel centres at integers, on both grids
    fine = tf.constant([[factor, 0.0, offset], [0.0, factor, offset], [0.0, 0.0, 1.0]])
    big = geometry.warp_image(tf.cast(features["image"], tf.float32), fine @ H, (factor * image_size,) * 2)
    return tf.nn.avg_pool2d(big[None], factor, factor, "VALID")[0].numpy()


@pytest.mark.parametrize("name", ["rhd", "stb"])
def test_the_warps_shrink_of_1_5_keeps_the_crops_as_close_to_a_supersampled_crop_as_2_did(name):
    """Why `MAX_WARP_SHRINK` may be 1.5 (it was 2; smaller windows, a cheaper pipeline): over augmented crops
    whose hand the crop shrinks by more than 2x, crops made with the 1.5 setting are on average no more than
    10% farther (RMS, grey levels) from the supersampled reference than with 2 (closer on RHD-like renders,
    where the 2x bilinear warp aliases their sharp edges), and far closer than resizing the frame all the way
    to the crop's scale (1x), which then interpolates twice and blurs."""
    assert hand_pipeline.MAX_WARP_SHRINK == 1.5
    errors = {2.0: [], 1.5: [], 1.0: []}
    for features in _raw_examples(name)[:8]:
        for s in range(3):
            _, _, meta = hand_pipeline.augment_example(
                hand_pipeline.prepare_example(features, SIZE), tf.constant([s, 7], tf.int64), training=True,
                image_size=SIZE)
            _, side = _reported_transform(features, meta, SIZE)
            if float(side) <= 2.0 * SIZE:
                continue  # the 2x setting would not shrink the frame: compare where all three do
            reference = _supersampled_crop(features, meta, SIZE)
            for max_shrink, found in errors.items():
                crop, _ = _full_frame_crop(features, meta, SIZE, max_shrink=max_shrink)
                found.append(np.sqrt(np.mean((crop - reference) ** 2)))
    assert len(errors[1.5]) >= 8, len(errors[1.5])
    mean = {k: float(np.mean(v)) for k, v in errors.items()}
    assert mean[1.5] < 1.1 * mean[2.0] and mean[1.5] < 0.75 * mean[1.0], mean
    if name == "rhd":
        assert mean[1.5] < 0.9 * mean[2.0], mean


def test_the_window_is_a_fraction_of_the_frame():
    """What the cache holds per example: the window, not the 320x320 frame (the offline default's crop of 64)."""
    areas = []
    for features in _raw_examples("rhd")[:12]:
        prepared = hand_pipeline.prepare_example(features, SIZE)
        assert prepared["pixels"].dtype == tf.uint8
        areas.append(np.prod(prepared["pixels"].shape[:2]) / np.prod(features["image"].shape[:2]))
    assert np.mean(areas) < 0.5, areas


def test_a_crop_reaching_the_horizon_keeps_the_whole_frame():
    """When the disc of crop rays reaches behind the camera (a very wide lens, a hand far off-axis), no window
    can be bounded from the polygon: the whole frame is kept, and the crop is still right."""
    features = _dot_example()
    K = tf.constant([[12.0, 0.0, 161.0], [0.0, 12.0, 158.0], [0.0, 0.0, 1.0]])
    features = dict(features, K=K, xyz=features["xyz"] + tf.constant([2000.0, 0.0, -300.0]))
    prepared = hand_pipeline.prepare_example(features, SIZE)
    pixels = prepared["pixels"].numpy()
    assert pixels.shape == (336, 336, 3)  # 320 + a ring of one zero pixel on each side, padded to 16
    np.testing.assert_array_equal(pixels[1:321, 1:321], features["image"].numpy())
    assert not pixels[0].any() and not pixels[:, 0].any() and not pixels[321:].any() and not pixels[:, 321:].any()
    image, _, meta = hand_pipeline.augment_example(prepared, tf.constant([1, 2], tf.int64), training=True,
                                                   image_size=SIZE)
    reference, _ = _full_frame_crop(features, meta, SIZE)
    assert np.abs(image.numpy() - reference).max() < 0.51


@pytest.mark.parametrize("training", [True, False])
def test_the_pipelines_batches_are_the_crops_and_poses_of_their_reported_augmentation(training):
    """`make_dataset` draws a batch's rotations and flips at once, and warps its windows at once (XLA): each
    crop equals the warp of the whole frame for the rotation, flip and mirror the metadata reports (within the
    0.5 grey-level rounding of shrunk frames), and each pose is that rotation's."""
    split = datasets.as_dataset(prepared("rhd"), "train").cache()  # one file order for both (TFDS shuffles files)
    raw = [hand_pipeline._features(example) for example in split]
    ds = hand_pipeline.make_dataset(split, training=training, image_size=SIZE, batch_size=5, seed=3,
                                    deterministic=True, shuffle_buffer=1, with_metadata=True, drop_remainder=False,
                                    side_as_input=True)
    batches = list(ds)  # one epoch (each pass draws new augmentations)
    images = np.concatenate([b[0] for b in batches])
    poses = np.concatenate([b[1] for b in batches])
    metas = {k: np.concatenate([b[2][k] for b in batches]) for k in batches[0][2]}
    assert len(images) == len(raw) == 12  # the last, partial batch is kept
    for k, features in enumerate(raw):
        meta = {key: value[k] for key, value in metas.items()}
        reference, shrunk = _full_frame_crop(features, meta, SIZE)
        np.testing.assert_allclose(images[k], reference, atol=0.51 if shrunk else 0.05)
        R, *_ = hand_pipeline.crop_transform(features["xyz"], features["K"], SIZE, angle=meta["angle"],
                                             flip=meta["flipped"], mirror_x=meta["mirrored"])
        xyz = features["xyz"].numpy() @ R.numpy().T
        expected = (xyz - xyz[0]) / np.linalg.norm(xyz[12] - xyz[11])
        np.testing.assert_allclose(poses[k], expected, atol=1e-4)
    if training:
        assert np.abs(metas["angle"]).max() > 0.3 and set(metas["flipped"]) == {True, False}
        assert len(set(np.round(metas["angle"], 5))) == 12  # every example its own rotation
    else:
        assert not metas["angle"].any() and not metas["flipped"].any()
