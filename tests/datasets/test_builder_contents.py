"""What the builders put in each example, checked against the raw files read independently."""

import json
import os
import pickle

import numpy as np
import pytest
import tensorflow_datasets as tfds
from dataset_fixtures import TINY, prepared, tiny_folder
from PIL import Image
from scipy import io as scipy_io

from cmva_keras import datasets
from cmva_keras.datasets import yummly28k
from cmva_keras.synthetic import food


def _examples(name, split):
    return list(tfds.as_numpy(prepared(name).as_dataset(split=split)))


def test_builders_are_registered_by_name():
    for name in ("yummly28k", "recipe1m", "rhd", "stb"):
        assert name in tfds.list_builders(with_community_datasets=False)
        assert tfds.builder_cls(name).MANUAL_DOWNLOAD_INSTRUCTIONS


def test_yummly_split_is_85_15_disjoint_and_stable():
    ids = [f"{i:05d}" for i in range(1, 27639)]
    split = yummly28k.split_of(ids)
    assert sum(v == "test" for v in split.values()) == 4145  # floor(0.15 * 27638)
    assert sum(v == "train" for v in split.values()) == 23493
    assert yummly28k.split_of(list(reversed(ids))) == split  # independent of listing order
    train = {ex["recipe_id"].decode() for ex in _examples("yummly28k", "train")}
    test = {ex["recipe_id"].decode() for ex in _examples("yummly28k", "test")}
    assert not train & test
    assert train | test == {f"{i:05d}" for i in range(1, TINY["yummly28k"]["num_recipes"] + 1)}


def test_yummly_vocabulary_comes_from_training_recipes_only():
    builder = prepared("yummly28k")
    train_ids = [int(ex["recipe_id"]) for ex in _examples("yummly28k", "train")]
    # Ground truth from the generator (not the parser): a name is kept if >= min_count
    # training recipes contain it; min_count = max(2, ceil(0.002 * 34)) = 2.
    counts = {}
    for index in train_ids:
        for name in set(food.yummly_recipe(index)[1]):
            counts[name] = counts.get(name, 0) + 1
    expected = sorted(n for n, c in counts.items() if c >= 2)
    assert datasets.vocabulary(builder) == expected
    names = datasets.vocabulary(builder)
    for ex in _examples("yummly28k", "test"):
        truth = set(food.yummly_recipe(int(ex["recipe_id"]))[1])
        assert {names[i] for i in ex["ingredients"]} == truth & set(expected)


def test_yummly_example_keeps_the_raw_lines_and_image():
    folder = tiny_folder("yummly28k")
    ex = _examples("yummly28k", "train")[0]
    recipe_id = ex["recipe_id"].decode()
    with open(os.path.join(folder, "metadata27638", f"meta{recipe_id}.json"), encoding="utf-8") as f:
        meta = json.load(f)
    assert [line.decode() for line in ex["ingredient_lines"]] == meta["ingredientLines"]
    assert ex["cuisine"].decode() == meta["attributes"]["cuisine"][0]
    raw = np.asarray(Image.open(os.path.join(folder, "images27638", f"img{recipe_id}.jpg")))
    assert ex["image"].shape == raw.shape == (240, 360, 3)
    assert np.abs(ex["image"].astype(int) - raw.astype(int)).mean() < 2.0  # same JPEG (decoder rounding only)


def _raw_rhd(split_folder, sample_id):
    folder = os.path.join(tiny_folder("rhd"), split_folder)
    with open(os.path.join(folder, f"anno_{split_folder}.pickle"), "rb") as f:
        anno = pickle.load(f, encoding="latin1")[sample_id]  # trusted test file: stock loader as reference
    mask = np.asarray(Image.open(os.path.join(folder, "mask", f"{sample_id:05d}.png")))
    return anno, mask


def test_rhd_keeps_the_hand_with_more_mask_pixels_and_the_palm_root():
    for ex in _examples("rhd", "train"):
        anno, mask = _raw_rhd("training", int(ex["sample_id"]))
        left = np.count_nonzero((mask >= 2) & (mask <= 17))
        right = np.count_nonzero(mask >= 18)
        side = 0 if left > right else 1
        assert ex["hand_side"] == side
        xyz = anno["xyz"][21 * side:21 * side + 21] * 1000.0
        np.testing.assert_allclose(ex["keypoints_xyz_mm"][1:], xyz[1:], rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(ex["keypoints_xyz_mm"][0], (xyz[0] + xyz[12]) / 2, rtol=1e-5, atol=1e-3)
        np.testing.assert_allclose(ex["keypoints_uv"][1:], anno["uv_vis"][21 * side + 1:21 * side + 21, :2], atol=1e-3)
        np.testing.assert_array_equal(ex["keypoints_visible"][1:], anno["uv_vis"][21 * side + 1:21 * side + 21, 2] == 1)
        np.testing.assert_allclose(ex["camera_K"], anno["K"], rtol=1e-6)
        np.testing.assert_array_equal(ex["mask"][..., 0], mask)


def test_rhd_depth_png_is_kept_as_shipped():
    ex = _examples("rhd", "test")[0]
    raw = np.asarray(Image.open(os.path.join(tiny_folder("rhd"), "evaluation", "depth", f"{int(ex['sample_id']):05d}.png")))
    np.testing.assert_array_equal(ex["depth"], raw[..., :3])
    metres = (raw[..., 0].astype(np.float64) * 256 + raw[..., 1]) / 65535 * 5.0  # RHD's view_samples.py
    assert 0.2 < metres.min() and metres.max() <= 5.0


def test_stb_reorders_hand_para_to_rhd_order():
    labels = scipy_io.loadmat(os.path.join(tiny_folder("stb"), "labels", "B1Counting_BB.mat"))["handPara"]
    test = [ex for ex in _examples("stb", "test") if ex["sequence"] == b"B1Counting"]
    assert len(test) == TINY["stb"]["frames_per_sequence"]
    for ex in test:
        stb = labels[:, :, ex["frame"]].T  # (21, 3): palm, pinky mcp..tip, ring, middle, index, thumb
        xyz = ex["keypoints_xyz_mm"]
        np.testing.assert_allclose(xyz[0], stb[0], rtol=1e-6)        # palm
        np.testing.assert_allclose(xyz[1], stb[20], rtol=1e-6)       # thumb tip
        np.testing.assert_allclose(xyz[4], stb[17], rtol=1e-6)       # thumb knuckle
        np.testing.assert_allclose(xyz[8], stb[13], rtol=1e-6)       # index MCP
        np.testing.assert_allclose(xyz[12], stb[9], rtol=1e-6)       # middle MCP
        np.testing.assert_allclose(xyz[11], stb[10], rtol=1e-6)      # middle PIP
        np.testing.assert_allclose(xyz[17], stb[4], rtol=1e-6)       # pinky tip
        K = np.array([[822.79041, 0, 318.47345], [0, 822.79041, 250.31296], [0, 0, 1]])
        np.testing.assert_allclose(ex["camera_K"], K, rtol=1e-6)
        uv = xyz @ K.T
        np.testing.assert_allclose(ex["keypoints_uv"], uv[:, :2] / uv[:, 2:], atol=1e-2)
        assert ex["hand_side"] == 0 and ex["keypoints_visible"].all()


def test_stb_splits_by_subject():
    assert {ex["sequence"].decode()[:2] for ex in _examples("stb", "test")} == {"B1"}
    assert {ex["sequence"].decode()[:2] for ex in _examples("stb", "train")} == {"B2", "B3", "B4", "B5", "B6"}


def test_recipe1m_classes_follow_inverse_cooking_clustering():
    builder = prepared("recipe1m")
    # Worked out from the generator's spellings: plurals merge into singulars, and
    # "garlic cloves"/"penne pasta"/"chicken breasts"/"fresh basil"/"white rice"/
    # "extra virgin olive oil"/"red bell pepper" join their first/last-word clusters.
    assert set(datasets.vocabulary(builder)) == {
        "tomato", "garlic", "onion", "basil", "pasta", "mushroom", "bell_pepper", "chicken",
        "rice", "carrot", "egg", "olive_oil"}
    names = datasets.vocabulary(builder)
    with open(os.path.join(tiny_folder("recipe1m"), "layer2.json"), encoding="utf-8") as f:
        layer2 = {entry["id"]: [im["id"] for im in entry["images"]] for entry in json.load(f)}
    for ex in _examples("recipe1m", "validation"):
        assert len(ex["ingredients"]) == 4 and len(set(ex["ingredients"])) == 4
        assert [i.decode() for i in ex["image_ids"]] == layer2[ex["recipe_id"].decode()]
        assert len(ex["images"]) == len(ex["image_ids"]) >= 1
        assert all(0 <= i < len(names) for i in ex["ingredients"])


def test_load_leaves_images_encoded_and_drops_masks():
    ds = datasets.as_dataset(prepared("rhd"), "train")
    spec = ds.element_spec
    assert spec["image"].dtype.name == "string" and "mask" not in spec and "depth" not in spec
    assert datasets.num_examples(prepared("recipe1m"), "val") == 8


def test_prepare_refuses_a_copy_built_from_other_files(tmp_path):
    data_dir = str(tmp_path / "tfds")
    datasets.prepare("stb", manual_dir=tiny_folder("stb"), data_dir=data_dir)
    other = tiny_folder("stb", seed=1)
    with pytest.raises(datasets.SourceMismatchError, match="stb"):
        datasets.prepare("stb", manual_dir=other, data_dir=data_dir)
