"""The comparison (scripts/compare.py): per-seed runs, mean ± std tables, reuse, and the bad-input errors.

Most tests build comparison folders of hand-made finished runs (a config.json
written from the comparison's own config, a placeholder model.keras, and
metrics.json / metrics_tta.json newer than it), which `compare` reuses
without training: they check the table and the aggregation on known numbers.
One test trains for real (the hand smoke variant, CM-VAE and CM-VAE + Mapper,
two seeds, two steps per epoch) and runs the comparison twice.
"""

import json
import os
import statistics
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from cmva_keras import comparison, tasks
from cmva_keras.training import run_files
from cmva_keras.training.config import to_json

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FOOD_ROWS = ["CM-VAE", "CADA-VAE", "CM-VAE + Mapper", "CADA-VAE + Mapper", "CMVA", "CMVA + TTA"]
PATHS = {"cmva": ["mapper", "upper"], "cmvae": ["cross"], "cadavae": ["classifier", "cross"]}
FAST = ["train.steps_per_epoch=2", "train.verbose=0"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CMVA_CACHE_DIR", str(tmp_path / "cache"))


# ------------------------------------------------------------ hand-made runs
def fake_value(key, seed, tta, metric):
    """A distinct, known number per run, seed, TTA and metric (fractions, like metrics.json's)."""
    index = [k for k, _, _ in comparison.run_keys(tasks.METHODS)].index(key)
    base = {"f1": 0.30, "iou": 0.20, "epe_mm": 30.0, "auc_20_50": 0.5, "w2": 2.0, "median_rank": 9.0,
            "r_at_1": 0.05, "r_at_5": 0.2, "r_at_10": 0.4}.get(metric, 0.1)
    return base + 0.01 * index + 0.013 * seed**2 + (0.004 if tta else 0.0)


def write_fake_run(workdir, task, key, method, mapper, seed, paths=None):
    run_dir = os.path.join(workdir, key, f"seed{seed}")
    os.makedirs(run_dir, exist_ok=True)
    base = os.path.join(workdir, method, f"seed{seed}") if mapper else None
    config = comparison.run_config(task, "smoke", seed, method, mapper, base_workdir=base)
    with open(os.path.join(run_dir, run_files.CONFIG), "w") as f:
        f.write(to_json(config))
    with open(os.path.join(run_dir, run_files.MODEL), "wb") as f:
        f.write(b"placeholder: never loaded, the evaluations below are newer")
    paths = paths or (["mapper", "base"] if mapper else PATHS[method])
    sides = ["mapped", "source"] if (mapper or method == "cmva") else ["source"]
    metrics = tasks.get(task).table_metrics
    for tta, name in ((False, "metrics.json"), (True, "metrics_tta.json")):
        results = {"task": task, "split": "test", "tta": tta, "paths": paths, "num_examples": 40,
                   paths[0]: {m: fake_value(key, seed, tta, m) for m in metrics},
                   "constant": {m: 0.0 for m in metrics},
                   "alignment": {side: {m: fake_value(key, seed, tta, m) + (0.5 if side == "source" else 0.0)
                                        for m in comparison.ALIGNMENT_METRICS + ("num_candidates",)}
                                 for side in sides}}
        for other in paths[1:]:  # the other paths score far off: the table must use the primary one
            results[other] = {m: 0.99 for m in metrics}
        path = os.path.join(run_dir, name)
        with open(path, "w") as f:
            json.dump(results, f)
        stamp = os.path.getmtime(os.path.join(run_dir, run_files.MODEL)) + 10
        os.utime(path, (stamp, stamp))
    return run_dir


def fake_comparison(workdir, task="food", seeds=2, methods=tasks.METHODS, with_mapper=True):
    for seed in range(seeds):
        for key, method, mapper in comparison.run_keys(methods, with_mapper):
            write_fake_run(workdir, task, key, method, mapper, seed)


def markdown_table(path):
    """`{row name: {column: cell}}` of comparison.md's table."""
    with open(path) as f:
        lines = [line for line in f.read().splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip("|").split(" | ")]
    rows = {}
    for line in lines[1:]:
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        assert len(cells) == len(header), line
        rows[cells[0]] = dict(zip(header, cells))
    return header, rows


# ---------------------------------------------------------------- aggregation
def test_aggregate_and_format_cell_on_hand_made_numbers():
    values = [40.0, 42.0, 47.0]
    agg = comparison.aggregate(values)
    assert agg["n"] == 3 and agg["values"] == values
    assert agg["mean"] == pytest.approx(43.0)
    assert agg["std"] == pytest.approx(np.sqrt(((40 - 43) ** 2 + (42 - 43) ** 2 + (47 - 43) ** 2) / 2))  # ddof=1
    assert comparison.format_cell(agg, 2) == "43.00 ± 3.61"
    assert comparison.format_cell(comparison.aggregate([0.25, 0.75]), 3) == "0.500 ± 0.354"
    one = comparison.aggregate([15.614])
    assert one["std"] is None and comparison.format_cell(one, 2) == "15.61 (n=1, no spread)"
    assert comparison.format_cell(comparison.aggregate([]), 2) == "—"


def test_run_keys_order_and_unknown_methods():
    assert [k for k, _, _ in comparison.run_keys("cmva,cadavae,cmvae")] == [
        "cmvae", "cadavae", "cmvae-mapper", "cadavae-mapper", "cmva"]
    assert [name for name, _, _ in comparison.table_rows(comparison.run_keys(tasks.METHODS))] == FOOD_ROWS
    assert [k for k, _, _ in comparison.run_keys(["cmvae"], mapper=False)] == ["cmvae"]
    with pytest.raises(ValueError, match=r"Unknown method 'vae' in --methods: choose from cmva, cmvae, cadavae"):
        comparison.run_keys("cmva,vae")
    with pytest.raises(ValueError, match="--methods is empty"):
        comparison.run_keys(" , ")


def test_table_of_hand_made_runs(tmp_path):
    workdir = str(tmp_path / "food-compare")
    fake_comparison(workdir)
    summary = comparison.compare("food", seeds=2, variant="smoke", workdir=workdir, command="python compare-cmd")
    assert summary["trained"] == [] and summary["evaluated"] == []  # everything reused

    with open(os.path.join(workdir, "comparison.json")) as f:
        written = json.load(f)
    assert written["num_seeds"] == 2 and written["task"] == "food" and written["units"]["f1"] == "%"
    header, table = markdown_table(os.path.join(workdir, "comparison.md"))
    assert list(table) == FOOD_ROWS  # Table 1's order, no paper-only rows for food
    assert header[:5] == ["method", "F1 (%)", "IoU (%)", "F1 (%) + TTA", "IoU (%) + TTA"]
    assert header[-2:] == ["paper: F1 (%)", "paper: IoU (%)"]
    rows = {row["name"]: row for row in written["rows"]}
    for name in FOOD_ROWS:
        row = rows[name]
        key = row["run"]
        tta = name.endswith("+ TTA")
        assert row["seeds"] == [0, 1] and row["tta"] == tta
        # The per-seed numbers are the primary path's, in % (the fakes' other paths score 0.99).
        per_seed = [s["tta" if tta else "plain"] for s in written["runs"][key]]
        f1 = [s["metrics"]["f1"] for s in per_seed]
        assert f1 == pytest.approx([100 * fake_value(key, seed, tta, "f1") for seed in (0, 1)])
        assert row["metrics"]["f1"]["values"] == f1
        # Mean ± sample std recomputed here from comparison.json's per-seed values.
        assert table[name]["F1 (%)"] == f"{statistics.mean(f1):.2f} ± {statistics.stdev(f1):.2f}"
        iou = [s["metrics"]["iou"] for s in per_seed]
        assert table[name]["IoU (%)"] == f"{statistics.mean(iou):.2f} ± {statistics.stdev(iou):.2f}"
        if tta:
            assert table[name]["F1 (%) + TTA"] == "—"
        else:
            f1_tta = [s["tta"]["metrics"]["f1"] for s in written["runs"][key]]
            assert table[name]["F1 (%) + TTA"] == f"{statistics.mean(f1_tta):.2f} ± {statistics.stdev(f1_tta):.2f}"
        # Alignment: the mapper's Gaussian where there is one, else the image encoder's.
        side = "mapped" if ("Mapper" in name or name.startswith("CMVA")) else "source"
        assert table[name]["latent"] == side
        w2 = [s["alignment"]["w2"] for s in per_seed]
        assert w2 == pytest.approx([fake_value(key, seed, tta, "w2") + (0.5 if side == "source" else 0)
                                    for seed in (0, 1)])
        assert table[name]["W2"] == f"{statistics.mean(w2):.3f} ± {statistics.stdev(w2):.3f}"
        rank = [s["alignment"]["median_rank"] for s in per_seed]
        assert table[name]["median rank"] == f"{statistics.mean(rank):.1f} ± {statistics.stdev(rank):.1f}"
        # The paper's numbers, in their own columns.
        assert table[name]["paper: F1 (%)"] == f"{tasks.FOOD.paper_results[name]['f1']:.2f}"
    with open(os.path.join(workdir, "comparison.md")) as f:
        text = f.read()
    assert "python compare-cmd" in text and "2 seeds" in text and "paper's real datasets" in text
    assert "one seed only" not in text.lower()
    with Image.open(os.path.join(workdir, "comparison.png")) as image:
        assert image.format == "PNG" and image.size == (700, 450)


def test_one_seed_is_marked_as_no_result(tmp_path):
    workdir = str(tmp_path / "hand-compare")
    fake_comparison(workdir, task="hand", seeds=1, methods=["cmva", "cmvae"])
    comparison.compare("hand", seeds=1, variant="smoke", workdir=workdir, methods="cmva,cmvae")
    with open(os.path.join(workdir, "comparison.md")) as f:
        text = f.read()
    assert "A single seed is not a result" in text
    header, table = markdown_table(os.path.join(workdir, "comparison.md"))
    assert header[1:3] == ["EPE (mm)", "AUC 20-50"]
    epe = fake_value("cmva", 0, False, "epe_mm")  # hands: mm, not scaled
    assert table["CMVA"]["EPE (mm)"] == f"{epe:.2f} (n=1, no spread)"
    # Table 3: the paper's CM-VAE row is "Spurr et al. (CM-VAE)"; earlier work appears as paper-only rows.
    assert table["CM-VAE"]["paper: EPE (mm)"] == "19.73"
    assert table["CMVA"]["paper: AUC 20-50"] == "0.907"
    assert table["Zimmermann & Brox (paper only)"]["EPE (mm)"] == "—"
    assert table["Zimmermann & Brox (paper only)"]["paper: EPE (mm)"] == "30.42"
    assert "CADA-VAE" not in table  # not asked for


# ------------------------------------------------------------------ bad input
def test_a_run_of_another_task_in_the_workdir_is_an_error(tmp_path):
    workdir = str(tmp_path / "compare")
    fake_comparison(workdir, task="food", seeds=1, methods=["cmvae"])
    stray = write_fake_run(workdir, "hand", "cmva", "cmva", False, 0)
    with pytest.raises(ValueError) as error:
        comparison.compare("food", seeds=1, variant="smoke", workdir=workdir, methods="cmvae")
    message = str(error.value)
    assert stray in message and "a hand run" in message and "food-compare" in message and "--task hand" in message
    assert not os.path.exists(os.path.join(workdir, "comparison.json"))


def test_a_run_of_another_method_or_settings_is_an_error(tmp_path):
    workdir = str(tmp_path / "compare")
    wrong = write_fake_run(workdir, "food", "cmvae", "cadavae", False, 0)  # a CADA-VAE run in cmvae/
    with pytest.raises(ValueError, match=r"holds a CADA-VAE run, but this folder is for CM-VAE") as error:
        comparison.compare("food", seeds=1, variant="smoke", workdir=workdir, methods="cmvae", mapper=False)
    assert wrong in str(error.value) and "Delete" in str(error.value)
    other = str(tmp_path / "other")
    write_fake_run(other, "food", "cmvae", "cmvae", False, 0)  # trained with the smoke variant's 4 steps
    with pytest.raises(ValueError, match=r"other settings \(train.steps_per_epoch: 4 there, 2 now\)"):
        comparison.compare("food", seeds=1, variant="smoke", workdir=other, methods="cmvae", mapper=False,
                           overrides=["train.steps_per_epoch=2"])
    with pytest.raises(ValueError, match=r"--set seed=4: the comparison sets seed for each run itself"):
        comparison.compare("food", seeds=1, variant="smoke", workdir=str(tmp_path / "x"), overrides=["seed=4"])
    with pytest.raises(ValueError, match="--seeds 0: pass at least 1"):
        comparison.compare("food", seeds=0, variant="smoke", workdir=str(tmp_path / "x"))


def test_evaluating_a_comparison_folder_names_a_run_folder(tmp_path):
    workdir = str(tmp_path / "compare")
    fake_comparison(workdir, seeds=1, methods=["cmvae"], with_mapper=False)
    comparison.compare("food", seeds=1, variant="smoke", workdir=workdir, methods="cmvae", mapper=False)
    with pytest.raises(FileNotFoundError) as error:
        run_files.read_run(workdir)
    assert str(error.value) == (f"{workdir}: this is a comparison folder (scripts/compare.py); pass one of its "
                                f"run folders, e.g. {os.path.join(workdir, 'cmvae', 'seed0')}")


def test_script_rejects_an_unknown_method(tmp_path):
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "compare.py"), "--task", "food", "--methods", "cmva,cvae",
         "--workdir", str(tmp_path / "w")],
        capture_output=True, text=True, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""}, timeout=300,
    )
    assert result.returncode != 0
    assert "Unknown method 'cvae' in --methods: choose from cmva, cmvae, cadavae" in result.stderr
    assert not os.path.exists(tmp_path / "w")


# ------------------------------------------------------------------ for real
def test_trains_two_seeds_then_reuses_everything(tmp_path):
    workdir = str(tmp_path / "hand-compare")
    kwargs = dict(seeds=2, variant="smoke", workdir=workdir, methods="cmvae", overrides=FAST, max_examples=8)
    summary = comparison.compare("hand", **kwargs)
    runs = [os.path.join(workdir, key, f"seed{s}") for s in (0, 1) for key in ("cmvae", "cmvae-mapper")]
    assert sorted(summary["trained"]) == sorted(runs)
    assert len(summary["evaluated"]) == 8  # every run with and without TTA
    for run in runs:
        with open(os.path.join(run, "config.json")) as f:
            config = json.load(f)
        assert config["seed"] == int(run[-1]) and config["task"] == "hand"
        assert os.path.exists(os.path.join(run, "metrics.json")) and os.path.exists(os.path.join(run, "metrics_tta.json"))
    # "+ Mapper" reused its seed's baseline: no baseline trained inside it.
    with open(os.path.join(workdir, "cmvae-mapper", "seed1", "config.json")) as f:
        assert json.load(f)["base_workdir"] == os.path.abspath(os.path.join(workdir, "cmvae", "seed1"))
    assert not os.path.exists(os.path.join(workdir, "cmvae-mapper", "seed1", "base"))

    with open(os.path.join(workdir, "comparison.json")) as f:
        written = json.load(f)
    header, table = markdown_table(os.path.join(workdir, "comparison.md"))
    assert list(table) == ["CM-VAE", "CM-VAE + Mapper", "Zimmermann & Brox (paper only)",
                           "Yang & Yao (paper only)"]
    for row in written["rows"]:
        epe = [s["plain"]["metrics"]["epe_mm"] for s in written["runs"][row["run"]]]
        assert len(epe) == 2 and all(np.isfinite(epe)) and epe[0] != epe[1]  # two seeds, two runs
        assert table[row["name"]]["EPE (mm)"] == f"{statistics.mean(epe):.2f} ± {statistics.stdev(epe):.2f}"
        with open(os.path.join(workdir, row["run"], "seed0", "metrics.json")) as f:
            metrics = json.load(f)
        assert epe[0] == metrics[metrics["paths"][0]]["epe_mm"]
        assert table[row["name"]]["latent"] == ("mapped" if "Mapper" in row["name"] else "source")
    assert os.path.getsize(os.path.join(workdir, "comparison.png")) > 1000

    # The same call again trains and evaluates nothing.
    stamps = {run: [os.path.getmtime(os.path.join(run, n)) for n in ("model.keras", "metrics.json", "metrics_tta.json")]
              for run in runs}
    again = comparison.compare("hand", **kwargs)
    assert again["trained"] == [] and again["evaluated"] == []
    assert {run: [os.path.getmtime(os.path.join(run, n)) for n in ("model.keras", "metrics.json", "metrics_tta.json")]
            for run in runs} == stamps
    assert again["rows"] == written["rows"]


def test_settings_of_methods_a_run_does_not_train_do_not_block_its_reuse():
    import ml_collections

    from cmva_keras.comparison import _other_methods_key

    cmva = ml_collections.ConfigDict({"method": "cmva", "mapper": False})
    assert _other_methods_key("methods.cadavae.phase_epochs", cmva)
    assert not _other_methods_key("train.phase_epochs", cmva)
    mapped = ml_collections.ConfigDict({"method": "cadavae", "mapper": True})
    assert not _other_methods_key("methods.cadavae.phase_epochs", mapped)
    assert not _other_methods_key("methods.mapper.phase_epochs", mapped)
    assert _other_methods_key("methods.cmvae.loss_weights.kl_image", mapped)


def test_calibrated_comparison_redoes_uncalibrated_evaluations_and_says_so(tmp_path, monkeypatch):
    """With calibrate, an evaluation made at the saved threshold is redone, calibrating the plain one."""
    import cmva_keras.evaluation as evaluation_lib

    workdir = str(tmp_path / "compare")
    fake_comparison(workdir, seeds=2, methods=("cmva",), with_mapper=False)
    calls = []

    def fake_evaluate(run_dir, tta=False, calibrate=False, **kwargs):
        """Like evaluate_run's files: calibrating re-saves model.keras, then the metrics are written."""
        calls.append((os.path.relpath(run_dir, workdir), tta, calibrate))
        path = os.path.join(run_dir, "metrics_tta.json" if tta else "metrics.json")
        with open(path) as f:
            results = json.load(f)
        stamp = os.path.getmtime(path) + 100
        if calibrate:
            results["calibrated_on"] = "train"
            os.utime(os.path.join(run_dir, run_files.MODEL), (stamp, stamp))
        with open(path, "w") as f:
            json.dump(results, f)
        os.utime(path, (stamp + 100, stamp + 100))
        return results

    monkeypatch.setattr(evaluation_lib, "evaluate_run", fake_evaluate)
    comparison.compare("food", seeds=2, variant="smoke", workdir=workdir, methods="cmva", mapper=False,
                       calibrate=True)
    # Only the plain evaluations calibrate; the TTA ones use the threshold it saved.
    assert sorted(calls) == sorted((os.path.join("cmva", f"seed{s}"), tta, not tta)
                                   for s in (0, 1) for tta in (False, True))
    with open(os.path.join(workdir, "comparison.md")) as f:
        assert "threshold calibrated on its training split" in f.read()
    with open(os.path.join(workdir, "comparison.json")) as f:
        assert json.load(f)["calibrate"] is True
    with pytest.raises(ValueError, match="only classification tasks"):
        comparison.compare("hand", seeds=1, variant="smoke", workdir=str(tmp_path / "hand"), calibrate=True)


def test_a_run_from_before_a_key_existed_is_reused_when_the_key_keeps_its_default(tmp_path):
    """Keys the project added after a run was trained (its config.json lacks them) count as their defaults."""
    run_dir = tmp_path / "cmva" / "seed0"
    run_dir.mkdir(parents=True)
    config = comparison.run_config("food", "smoke", 0, "cmva", False)
    saved = json.loads(to_json(config))
    del saved["train"]["keep_best"]  # a key added since
    (run_dir / run_files.CONFIG).write_text(json.dumps(saved))
    comparison.check_reusable(str(run_dir), config)  # default now: reused
    changed = comparison.run_config("food", "smoke", 0, "cmva", False, overrides=["train.keep_best=True"])
    with pytest.raises(ValueError, match="train.keep_best"):
        comparison.check_reusable(str(run_dir), changed)
