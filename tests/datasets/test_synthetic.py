"""Synthetic generators: native formats, determinism, the hand model, the first-use cache."""

import filecmp
import json
import logging
import os
import pickle

import numpy as np
import pytest
from dataset_fixtures import tiny_folder
from PIL import Image

from cmva_keras import synthetic
from cmva_keras.synthetic import food, hand, hand_model


def _same_tree(a, b):
    comparison = filecmp.dircmp(a, b)
    if comparison.left_only or comparison.right_only or comparison.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, comparison.common_files, shallow=False)
    return not mismatch and not errors and all(
        _same_tree(os.path.join(a, d), os.path.join(b, d)) for d in comparison.common_dirs)


@pytest.mark.parametrize("name", ["rhd", "yummly28k"])
def test_generation_is_deterministic_in_the_seed(tmp_path, name):
    generate = {"rhd": lambda p, s: hand.generate_rhd(p, num_train=3, num_eval=2, seed=s),
                "yummly28k": lambda p, s: food.generate_yummly(p, num_recipes=5, seed=s)}[name]
    generate(tmp_path / "a", 0)
    generate(tmp_path / "b", 0)
    generate(tmp_path / "c", 1)
    assert _same_tree(tmp_path / "a", tmp_path / "b")
    assert not _same_tree(tmp_path / "a", tmp_path / "c")


def test_yummly_files_follow_the_native_layout():
    folder = tiny_folder("yummly28k")
    assert sorted(os.listdir(os.path.join(folder, "images27638")))[:2] == ["img00001.jpg", "img00002.jpg"]
    with open(os.path.join(folder, "metadata27638", "meta00001.json"), encoding="utf-8") as f:
        meta = json.load(f)
    for key in ("id", "name", "ingredientLines", "attributes", "flavors", "nutritionEstimates",
                "totalTimeInSeconds", "images", "source", "attribution"):
        assert key in meta
    assert all(isinstance(line, str) and line for line in meta["ingredientLines"])
    assert any(ch.isdigit() for line in meta["ingredientLines"] for ch in line)  # quantities are written
    image = Image.open(os.path.join(folder, "images27638", "img00001.jpg"))
    assert image.format == "JPEG" and image.size == (360, 240)


def test_rhd_files_follow_the_native_layout():
    folder = os.path.join(tiny_folder("rhd"), "training")
    with open(os.path.join(folder, "anno_training.pickle"), "rb") as f:
        anno = pickle.load(f, encoding="latin1")  # as RHD's own view_samples.py loads it (trusted here)
    assert sorted(anno) == list(range(12))
    for sample_id, entry in anno.items():
        assert entry["xyz"].shape == (42, 3) and entry["xyz"].dtype == np.float32
        assert entry["uv_vis"].shape == (42, 3) and entry["K"].shape == (3, 3)
        projected = entry["xyz"] @ entry["K"].T
        np.testing.assert_allclose(projected[:, :2] / projected[:, 2:], entry["uv_vis"][:, :2], atol=1e-2)
        assert set(np.unique(entry["uv_vis"][:, 2])) <= {0.0, 1.0}
        mask = np.asarray(Image.open(os.path.join(folder, "mask", f"{sample_id:05d}.png")))
        assert mask.shape == (320, 320) and mask.max() <= 33
        assert np.count_nonzero(mask >= 2) > 50  # a hand is in view
        depth = np.asarray(Image.open(os.path.join(folder, "depth", f"{sample_id:05d}.png")))
        metres = (depth[..., 0].astype(np.float64) * 256 + depth[..., 1]) / 65535 * 5
        visible = entry["uv_vis"][:, 2] == 1
        u, v = np.round(entry["uv_vis"][visible, :2]).astype(int).T
        # A visible keypoint's depth pixel is at (or in front of, within a finger's width) its own depth.
        assert np.all(metres[v, u] > entry["xyz"][visible, 2] - 0.03)


def _angle(a, b):
    return np.degrees(np.arccos(np.clip(np.dot(a, b) / np.linalg.norm(a) / np.linalg.norm(b), -1, 1)))


def test_hand_model_keeps_bone_lengths_and_joint_limits():
    rng = np.random.default_rng(0)
    for _ in range(50):
        scale = rng.uniform(0.8, 1.2)
        side = "left" if rng.uniform() < 0.5 else "right"
        points = hand_model.keypoints(hand_model.sample_articulation(rng), side, scale)
        for f, finger in enumerate(hand_model.FINGERS):
            chain = points[[4 * f + 4, 4 * f + 3, 4 * f + 2, 4 * f + 1]]  # knuckle .. tip
            lengths = np.linalg.norm(np.diff(chain, axis=0), axis=1)
            np.testing.assert_allclose(lengths, np.array(hand_model.BONES[finger]) * scale, rtol=1e-6)
            bends = [_angle(chain[i + 1] - chain[i], chain[i + 2] - chain[i + 1]) for i in range(2)]
            assert max(bends) <= 110.0 + 1e-6  # PIP <= 110, DIP <= 80 degrees
        assert np.linalg.norm(points[12] - points[0]) > 80 * scale  # wrist to middle knuckle: a palm's length


def test_left_and_right_hands_are_mirror_images():
    angles = hand_model.sample_articulation(np.random.default_rng(3))
    right, left = hand_model.keypoints(angles, "right"), hand_model.keypoints(angles, "left")
    np.testing.assert_allclose(left, right * [-1, 1, 1])
    assert right[4, 0] > 0 > left[4, 0]  # the thumb is on +x for the right hand


def test_ensure_default_generates_once_then_reuses(tmp_path, caplog):
    with caplog.at_level(logging.INFO):
        path = synthetic.ensure_default("food", cache_dir=str(tmp_path), num_recipes=6)
    assert any("first use" in r.getMessage() for r in caplog.records)
    assert os.path.exists(os.path.join(path, "images27638", "img00006.jpg"))
    stamp = os.path.getmtime(os.path.join(path, "metadata27638", "meta00001.json"))
    caplog.clear()
    with caplog.at_level(logging.INFO):
        again = synthetic.ensure_default("food", cache_dir=str(tmp_path), num_recipes=6)
    assert again == path and not any("first use" in r.getMessage() for r in caplog.records)
    assert os.path.getmtime(os.path.join(path, "metadata27638", "meta00001.json")) == stamp
    assert not [p for p in os.listdir(os.path.dirname(path)) if ".partial-" in p]


def test_ensure_default_uses_the_environment_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CMVA_CACHE_DIR", str(tmp_path / "env_cache"))
    path = synthetic.ensure_default("hand", num_train=2, num_eval=1)
    assert path.startswith(str(tmp_path / "env_cache"))
    assert os.path.exists(os.path.join(path, "evaluation", "anno_evaluation.pickle"))
    with pytest.raises(ValueError, match="unknown task"):
        synthetic.ensure_default("speech")
