"""End-to-end, per task: the smoke run (train), then evaluate, then export and serve.

One smoke run per task is trained once for this module (scope "module"; the
test runner keeps a file's tests on one worker) and shared by the tests.
"""

import io
import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from PIL import Image
from tiny import same, snapshot

import cmva_keras as cm
from cmva_keras import evaluation, tasks
from cmva_keras.export import ExportError, export_workdir
from cmva_keras.training.config import resolve_config
from cmva_keras.training.loop import epoch_length_text, train

pytestmark = pytest.mark.slow
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TASKS = ("food", "hand")
# The runs the module trains: each task's smoke run, the hand one both without and with the side as an input.
RUNS = {"food": ("food", []), "hand": ("hand", ["data.hand_side_input=False"]),
        "hand_side": ("hand", ["data.hand_side_input=True"])}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """`{task: workdir}` of the smoke variant, trained once, with its own data cache."""
    base = tmp_path_factory.mktemp("runs")
    previous = os.environ.get("CMVA_CACHE_DIR")
    os.environ["CMVA_CACHE_DIR"] = str(base / "cache")
    try:
        workdirs = {}
        for name, (task, overrides) in RUNS.items():
            workdirs[name] = str(base / name)
            train(resolve_config(task, "smoke", overrides=overrides), workdirs[name])
        yield workdirs
    finally:
        if previous is None:
            os.environ.pop("CMVA_CACHE_DIR", None)
        else:
            os.environ["CMVA_CACHE_DIR"] = previous


# -------------------------------------------------------------------- train
@pytest.mark.parametrize("task", TASKS)
def test_smoke_run_writes_every_file_and_freezes_by_phase(runs, task):
    workdir = runs[task]
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

    snaps = {p: snapshot(keras.models.load_model(os.path.join(workdir, f"phase_{p}.keras"))) for p in (1, 2, 3)}
    for part in ("source_encoder", "source_decoder", "target_encoder", "target_decoder"):
        assert same(snaps[1], snaps[2], part), part
    assert not same(snaps[1], snaps[2], "mapper")
    for part in cm.PARTS:
        assert not same(snaps[2], snaps[3], part), part
    final = keras.models.load_model(os.path.join(workdir, "model.keras"))
    assert final.phase == 3
    assert all(same(snaps[3], snapshot(final), p) for p in cm.PARTS)
    if task == "food":
        with open(os.path.join(workdir, "vocabulary.json")) as f:
            assert len(json.load(f)) == final.target_shape[0]


# ----------------------------------------------------------------- evaluate
@pytest.mark.parametrize("task", TASKS)
def test_evaluate_writes_both_paths_and_the_figures(runs, task):
    workdir = runs[task]
    results = evaluation.evaluate_run(workdir, tta=True)
    with open(os.path.join(workdir, "metrics_tta.json")) as f:
        written = json.load(f)
    assert written["tta"] is True and written["method"] == "CMVA" and written["paths"] == ["mapper", "upper"]
    keys = {"f1", "iou", "f1_micro", "iou_micro", "f1_macro"} if task == "food" else {
        "epe_mm", "thresholds_mm", "pck", "auc_20_50", "auc_0_50"}
    for path in ("mapper", "upper", "constant"):
        assert keys <= set(written[path]), (path, sorted(written[path]))
    if task == "food":
        assert 0.0 <= written["mapper"]["f1"] <= 1.0 and written["threshold"] == 0.5
    else:
        assert len(written["mapper"]["pck"]) == 20 and written["mapper"]["epe_mm"] > 0
        assert np.allclose(written["mapper"]["thresholds_mm"], np.linspace(0, 50, 20))
    expected = {"tsne.png"} | ({"pck.png", "poses.png"} if task == "hand" else set())
    for name in expected:
        with Image.open(os.path.join(workdir, name)) as image:
            assert image.format == "PNG" and min(image.size) > 100
    assert written["num_examples"] == results["num_examples"] > 0
    # Alignment of both image-side Gaussians to E2's, on every test example.
    for side in ("mapped", "source"):
        values = written["alignment"][side]
        assert values["w2"] > 0 and values["num_candidates"] == written["num_examples"]
        assert 1 <= values["median_rank"] <= written["num_examples"]
        assert 0 <= values["r_at_1"] <= values["r_at_5"] <= values["r_at_10"] <= 1
    table = evaluation.format_table(results, tasks.get(task))
    assert "mapper" in table and "upper" in table and "constant" in table and "median rank" in table


def test_evaluate_without_a_model_names_the_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="model.keras is missing"):
        evaluation.evaluate_run(str(tmp_path))


# ------------------------------------------------------------------- export
def _raw_images(task, count=3):
    rng = np.random.default_rng(0)
    shape = (50, 70, 3) if task == "food" else (45, 45, 3)
    return rng.integers(0, 256, size=(count,) + shape, dtype=np.uint8)


def _png(image):
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("run", list(RUNS))
def test_exported_signatures_match_the_keras_model_in_a_tensorflow_only_process(runs, run, tmp_path):
    workdir, task = runs[run], RUNS[run][0]
    export_dir = str(tmp_path / "exported")
    first = export_workdir(workdir, export_dir)
    second = export_workdir(workdir, export_dir)
    assert first.endswith(os.path.join(f"cmva_{task}", "1")) and second.endswith(os.path.join(f"cmva_{task}", "2"))

    model = keras.models.load_model(os.path.join(workdir, "model.keras"))
    with open(os.path.join(workdir, "config.json")) as f:
        config = json.load(f)
    images = _raw_images(task)
    prepared = np.array(tasks.get(config["task"]).serving_preprocessor(config["data"])(images))
    extra = {}
    if run == "hand_side":
        # Left crops (side 0) are mirrored before the model, and their poses mirrored back.
        side = np.array([0, 1, 0], "int32")
        left = side == 0
        prepared[left] = prepared[left][:, :, ::-1]
        expected = model.predict(prepared, verbose=0)
        expected[left, :, 0] *= -1.0
        extra["hand_side"] = side
    else:
        expected = model.predict(prepared, verbose=0)

    inputs = str(tmp_path / "inputs.npz")
    outputs = str(tmp_path / "outputs.npz")
    scale = np.array([80.0, 90.0, 100.0], "float32")
    np.savez(inputs, images=images, image_bytes=np.array([_png(i) for i in images], dtype=object).astype(bytes),
             scale_mm=scale, **extra)
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tests", "serving_worker.py"), first, inputs, outputs],
        capture_output=True, text=True, timeout=300, env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    served = np.load(outputs)
    if task == "food":
        np.testing.assert_allclose(served["default/ingredient_probs"], expected, atol=1e-5)
        np.testing.assert_allclose(served["bytes/ingredient_probs"], expected, atol=1e-5)
        np.testing.assert_array_equal(served["default/ingredients"], (expected > model.threshold).astype("int32"))
        with open(os.path.join(workdir, "vocabulary.json")) as f:
            assert list(served["vocabulary/names"]) == json.load(f)[:2]
    else:
        np.testing.assert_allclose(served["default/pose_3d"], expected, atol=1e-5)
        np.testing.assert_allclose(served["bytes/pose_3d"], expected, atol=1e-5)
        np.testing.assert_allclose(served["mm/pose_3d_mm"], expected * scale[:, None, None], rtol=1e-5, atol=1e-4)
    assert "must be 4-dimensional" in str(served["bad_rank_error"])
    assert "uint8" in str(served["bad_dtype_error"])
    assert "3 (RGB) channels" in str(served["bad_channels_error"])

    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    shown = subprocess.run([cli, "show", "--all", "--dir", first], capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr[-2000:]
    for signature in ("serving_default", "serving_bytes") + (("vocabulary",) if task == "food" else ("serving_mm", "serving_bytes_mm")):
        assert f"signature_def['{signature}']" in shown.stdout
    assert "inputs['images']" in shown.stdout and "inputs['image_bytes']" in shown.stdout
    assert "shape: (-1, -1, -1, 3)" in shown.stdout and "shape: (-1)" in shown.stdout


def test_export_refuses_a_workdir_without_model_and_an_export_dir_that_is_a_file(runs, tmp_path):
    with pytest.raises(ExportError, match="model.keras is missing"):
        export_workdir(str(tmp_path), str(tmp_path / "out"))
    a_file = tmp_path / "not_a_dir"
    a_file.write_text("x")
    with pytest.raises(ExportError, match="is a file"):
        export_workdir(runs["food"], str(a_file))


def test_the_start_of_training_log_says_what_an_epoch_reads():
    assert epoch_length_text(40) == "40 training batches"
    assert epoch_length_text(None) == "the whole training split"  # no step count: each epoch reads the split once
