"""Corrupt and missing files are skipped and counted; missing folders give a clear error."""

import logging
import os
import shutil

import pytest
from dataset_fixtures import SPLITS, fresh_copy

from cmva_keras import datasets


def _corrupt(path, data=b"\xff\xd8\xff\xe0 this is not a JPEG"):
    with open(path, "wb") as f:
        f.write(data)


def _truncate(path):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])


def test_corrupt_and_missing_yummly_images_are_skipped_and_counted(tmp_path, caplog):
    folder = fresh_copy("yummly28k", tmp_path)
    images = os.path.join(folder, "images27638")
    _corrupt(os.path.join(images, "img00003.jpg"))
    _truncate(os.path.join(images, "img00007.jpg"))
    os.remove(os.path.join(images, "img00011.jpg"))
    with caplog.at_level(logging.WARNING):
        builder = datasets.prepare("yummly28k", manual_dir=folder, data_dir=str(tmp_path / "tfds"))
    total = sum(builder.info.splits[s].num_examples for s in ("train", "test"))
    assert total == sum(SPLITS["yummly28k"].values()) - 3
    report = builder.info.metadata["skipped_examples"]
    assert sum(n for reasons in report.values() for n in reasons.values()) == 3
    assert sum("skipped an example" in r.getMessage() for r in caplog.records) == 3
    reloaded = datasets.prepare("yummly28k", manual_dir=folder, data_dir=str(tmp_path / "tfds"))
    for info in (builder.info, reloaded.info):  # stated in the description, also after reloading
        assert "Skipped while building" in info.description and "bad image" in info.description
        for split, reasons in report.items():
            assert f"{split}: {sum(reasons.values())}" in info.description


def test_bad_yummly_json_is_skipped_and_counted(tmp_path):
    folder = fresh_copy("yummly28k", tmp_path)
    _corrupt(os.path.join(folder, "metadata27638", "meta00005.json"), b"{not json")
    builder = datasets.prepare("yummly28k", manual_dir=folder, data_dir=str(tmp_path / "tfds"))
    assert sum(builder.info.splits[s].num_examples for s in ("train", "test")) == sum(SPLITS["yummly28k"].values()) - 1
    report = builder.info.metadata["skipped_examples"]
    assert sum(reasons.get("bad metadata", 0) for reasons in report.values()) == 1


def test_corrupt_rhd_mask_skips_its_sample(tmp_path):
    folder = fresh_copy("rhd", tmp_path)
    _truncate(os.path.join(folder, "training", "mask", "00004.png"))
    _corrupt(os.path.join(folder, "evaluation", "color", "00001.png"), b"\x89PNG garbage")
    builder = datasets.prepare("rhd", manual_dir=folder, data_dir=str(tmp_path / "tfds"))
    assert builder.info.splits["train"].num_examples == SPLITS["rhd"]["train"] - 1
    assert builder.info.splits["test"].num_examples == SPLITS["rhd"]["test"] - 1
    assert builder.info.metadata["skipped_examples"] == {"train": {"bad image": 1}, "test": {"bad image": 1}}


def test_recipe1m_recipe_loses_only_its_bad_image(tmp_path):
    folder = fresh_copy("recipe1m", tmp_path)
    # Recipe 1 of the training partition has two images (1 + 1 % 3); damage one of them.
    import json

    with open(os.path.join(folder, "layer1.json"), encoding="utf-8") as f:
        train_ids = [r["id"] for r in json.load(f) if r["partition"] == "train"]
    with open(os.path.join(folder, "layer2.json"), encoding="utf-8") as f:
        images = {r["id"]: [im["id"] for im in r["images"]] for r in json.load(f)}
    recipe = train_ids[1]
    assert len(images[recipe]) == 2
    bad = images[recipe][1]
    _corrupt(os.path.join(folder, "images", "train", *bad[:4], bad))
    builder = datasets.prepare("recipe1m", manual_dir=folder, data_dir=str(tmp_path / "tfds"))
    assert builder.info.splits["train"].num_examples == SPLITS["recipe1m"]["train"]
    assert builder.info.metadata["skipped_examples"]["train"] == {"bad image": 1}


@pytest.mark.parametrize("name,needle", [
    ("yummly28k", "lherranz.org"),
    ("recipe1m", "im2recipe.csail.mit.edu"),
    ("rhd", "lmb.informatik.uni-freiburg.de"),
    ("stb", "icip17_stereo_hand_pose_dataset"),
])
def test_missing_manual_dir_names_dataset_layout_and_source(tmp_path, name, needle):
    with pytest.raises(datasets.ManualDataError) as info:
        datasets.prepare(name, manual_dir=str(tmp_path / "nowhere"), data_dir=str(tmp_path / "tfds"))
    message = str(info.value)
    assert name in message and needle in message and "<manual_dir>" in message


@pytest.mark.parametrize("name,remove", [
    ("yummly28k", "metadata27638"),
    ("recipe1m", "det_ingrs.json"),
    ("rhd", os.path.join("evaluation", "anno_evaluation.pickle")),
    ("stb", os.path.join("labels", "B3Random_BB.mat")),
])
def test_incomplete_manual_dir_names_the_missing_file(tmp_path, name, remove):
    folder = fresh_copy(name, tmp_path)
    path = os.path.join(folder, remove)
    shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    with pytest.raises(datasets.ManualDataError) as info:
        datasets.prepare(name, manual_dir=folder, data_dir=str(tmp_path / "tfds"))
    assert name in str(info.value) and os.path.basename(remove) in str(info.value)


def test_archive_subfolder_is_found(tmp_path):
    # RHD unpacks into RHD_published_v2/; passing its parent works too.
    parent = tmp_path / "download"
    parent.mkdir()
    shutil.copytree(fresh_copy("rhd", tmp_path), parent / "RHD_published_v2")
    builder = datasets.prepare("rhd", manual_dir=str(parent), data_dir=str(tmp_path / "tfds"))
    assert builder.info.splits["train"].num_examples == SPLITS["rhd"]["train"]


def test_unusable_stb_labels_are_skipped_and_counted(tmp_path):
    from scipy import io as scipy_io

    folder = fresh_copy("stb", tmp_path)
    path = os.path.join(folder, "labels", "B2Counting_BB.mat")
    hand_para = scipy_io.loadmat(path)["handPara"]
    hand_para[:, :, 0] = 0.0  # an all-zero (missing) annotation: every joint at the camera centre
    scipy_io.savemat(path, {"handPara": hand_para})
    builder = datasets.prepare("stb", manual_dir=folder, data_dir=str(tmp_path / "tfds"))
    assert builder.info.splits["train"].num_examples == SPLITS["stb"]["train"] - 1
    assert builder.info.metadata["skipped_examples"]["train"] == {"bad label": 1}
