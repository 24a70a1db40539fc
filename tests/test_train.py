"""End-to-end: the smoke variant of each task through scripts' library code, and the script's errors."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import cmva_keras as cm
from cmva_keras.training.config import resolve_config
from cmva_keras.training.loop import train
from tiny import same, snapshot

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """One synthetic-data cache for this module's runs."""
    path = str(tmp_path_factory.mktemp("cache"))
    previous = os.environ.get("CMVA_CACHE_DIR")
    os.environ["CMVA_CACHE_DIR"] = path
    yield path
    if previous is None:
        os.environ.pop("CMVA_CACHE_DIR", None)
    else:
        os.environ["CMVA_CACHE_DIR"] = previous


@pytest.mark.slow
@pytest.mark.parametrize("task", ["food", "hand"])
def test_smoke_run_writes_every_file_and_freezes_by_phase(task, cache, tmp_path):
    workdir = str(tmp_path / task)
    model, records = train(resolve_config(task, "smoke"), workdir)
    for name in ("config.json", "history.json", "model.keras", "phase_1.keras", "phase_2.keras", "phase_3.keras"):
        assert os.path.exists(os.path.join(workdir, name)), name
    with open(os.path.join(workdir, "history.json")) as f:
        history = json.load(f)
    assert [r["phase"] for r in history] == [1, 2, 3]
    for record in history:
        for term in ("loss",) + cm.TERMS:
            assert np.isfinite(record[term]), (term, record)
    with open(os.path.join(workdir, "config.json")) as f:
        assert json.load(f)["task"] == task
    if task == "food":
        with open(os.path.join(workdir, "vocabulary.json")) as f:
            assert len(json.load(f)) == model.target_shape[0]

    snaps = {p: snapshot(keras.models.load_model(os.path.join(workdir, f"phase_{p}.keras"))) for p in (1, 2, 3)}
    for part in ("source_encoder", "source_decoder", "target_encoder", "target_decoder"):
        assert same(snaps[1], snaps[2], part), part
    assert not same(snaps[1], snaps[2], "mapper")
    for part in cm.PARTS:
        assert not same(snaps[2], snaps[3], part), part
    final = keras.models.load_model(os.path.join(workdir, "model.keras"))
    assert final.phase == 3
    assert all(same(snaps[3], snapshot(final), p) for p in cm.PARTS)


def run_script(*args):
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "train.py"), *args],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )


def test_script_refuses_an_unknown_config_key_and_lists_the_valid_ones(tmp_path):
    result = run_script("--task", "food", "--variant", "smoke", "--workdir", str(tmp_path), "--set", "train.batchsize=3")
    assert result.returncode != 0
    assert "Unknown config key 'train.batchsize'" in result.stderr and "train.batch_size" in result.stderr
    assert not os.path.exists(os.path.join(tmp_path, "model.keras"))


def test_script_refuses_an_unknown_variant_and_task():
    result = run_script("--task", "hand", "--variant", "huge")
    assert result.returncode != 0 and "default, smoke, paper" in result.stderr
    result = run_script("--task", "speech")
    assert result.returncode != 0 and "food" in result.stderr and "hand" in result.stderr


def test_real_dataset_without_manual_dir_says_what_to_pass(tmp_path):
    result = run_script("--task", "hand", "--dataset", "rhd", "--workdir", str(tmp_path))
    assert result.returncode != 0 and "--manual_dir" in result.stderr
