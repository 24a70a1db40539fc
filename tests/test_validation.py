"""Validation during fit, best-epoch checkpoints and TensorBoard logs (docs/architecture.md, "Watching a run")."""

import glob
import hashlib
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny import build_tiny_cmva, tiny_data

from cmva_keras import evaluation, tasks
from cmva_keras.callbacks import PhaseCheckpoint, PhaseSchedule, ValidationMetrics
from cmva_keras.training import splits
from cmva_keras.training.config import resolve_config
from cmva_keras.training.loop import train


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A private data cache for this module's synthetic sets."""
    base = tmp_path_factory.mktemp("cache")
    previous = os.environ.get("CMVA_CACHE_DIR")
    os.environ["CMVA_CACHE_DIR"] = str(base)
    yield base
    if previous is None:
        os.environ.pop("CMVA_CACHE_DIR", None)
    else:
        os.environ["CMVA_CACHE_DIR"] = previous


def _config(fraction, seed=0, **train):
    config = resolve_config("food", "smoke", overrides=[f"train.validation_fraction={fraction}", f"seed={seed}"])
    for key, value in train.items():
        config.train[key] = value
    return config


def _fingerprints(dataset):
    """The set of image-byte hashes of a split's examples (images are left encoded)."""
    return {hashlib.sha1(ex["image"].numpy()).hexdigest() for ex in dataset}


# ------------------------------------------------------------------ splits
def test_held_out_examples_are_disjoint_from_training_and_fixed_by_the_seed(cache):
    config = _config(0.25)
    task = tasks.get("food")
    source = task.open_source(config)
    everything = _fingerprints(task.examples(source, "train"))
    held = _fingerprints(splits.examples(task, source, config, "validation"))
    kept = _fingerprints(splits.examples(task, source, config, "train", shuffle_files=True))
    assert held and kept
    assert not held & kept
    assert held | kept == everything
    # About a quarter: a binomial count is within 4 standard deviations.
    n = len(everything)
    assert abs(len(held) - 0.25 * n) < 4 * np.sqrt(n * 0.25 * 0.75)
    assert len(held) == splits.held_out_count(task, source, config)
    # The same seed holds out the same examples, whatever the file order; another seed others.
    assert _fingerprints(splits.examples(task, source, config, "validation")) == held
    other = _fingerprints(splits.examples(task, source, _config(0.25, seed=1), "validation"))
    assert other != held


def test_a_fraction_out_of_range_and_a_missing_validation_split_name_the_fix(cache):
    task = tasks.get("food")
    config = _config(0.0)
    source = task.open_source(config)
    assert not splits.has_validation(source, config)
    with pytest.raises(ValueError, match="train.validation_fraction"):
        splits.examples(task, source, config, "validation")
    with pytest.raises(ValueError, match=r"must be in \[0, 1\)"):
        splits.validation_fraction(_config(1.5))


def test_keep_best_without_validation_data_is_refused_before_training(cache, tmp_path):
    with pytest.raises(ValueError, match="validation_fraction"):
        train(_config(0.0, keep_best=True), str(tmp_path / "run"))


# ---------------------------------------------------------------- callbacks
def test_validation_metrics_score_every_path_like_the_task_does():
    model = build_tiny_cmva()
    x, y = tiny_data(20)
    model.build((None,) + x.shape[1:])
    model.compile(optimizer="adam")
    task = tasks.get("food")
    dataset = tf.data.Dataset.from_tensor_slices((x, y, {"index": np.arange(20)})).batch(8)
    callback = ValidationMetrics(dataset, task)
    callback.set_model(model)
    logs = {"loss": 1.0}
    callback.on_epoch_end(0, logs)
    for path, prefix in (("mapper", "val_"), ("upper", "val_upper_")):
        expected = task.score(y, model.predict(x, path=path, verbose=0), {}, threshold=model.threshold)
        assert logs[prefix + "f1"] == pytest.approx(expected["f1"], abs=1e-6)
        assert logs[prefix + "iou"] == pytest.approx(expected["iou"], abs=1e-6)
    assert logs["loss"] == 1.0


def _weights_at(model, value):
    for variable in model.trainable_variables:
        variable.assign(np.full(variable.shape, value, "float32"))


def _first_weight(model):
    return float(keras.ops.convert_to_numpy(model.trainable_variables[0].value).ravel()[0])


def test_keep_best_ends_each_phase_on_its_best_epoch_and_forgets_epochs_a_resume_repeats(tmp_path):
    model = build_tiny_cmva(batch_norm=False)
    x, _ = tiny_data(4)
    model.build((None,) + x.shape[1:])
    schedule = PhaseSchedule((3, 2, 1))
    checkpoint = PhaseCheckpoint(str(tmp_path), schedule, keep_best=True, metric="f1", higher_is_better=True)
    checkpoint.set_model(model)
    # Phase 1 is judged on the upper path, phases 2 and 3 on the mapper path (the primary one).
    assert checkpoint.monitor(1) == ("val_upper_f1", True)
    assert checkpoint.monitor(2) == ("val_f1", True)
    scores = {0: 0.2, 1: 0.6, 2: 0.4, 3: 0.1, 4: 0.05, 5: 0.3}
    for epoch, score in scores.items():
        checkpoint.on_epoch_begin(epoch)
        _weights_at(model, float(epoch))
        checkpoint.on_epoch_end(epoch, {"val_upper_f1": score, "val_f1": score})
        if epoch == 2:  # the end of phase 1: back to epoch 1's weights
            assert _first_weight(model) == 1.0
            saved = keras.models.load_model(str(tmp_path / "phase_1.keras"))
            assert _first_weight(saved) == 1.0
        if epoch == 4:  # phase 2: its first epoch was its best
            assert _first_weight(model) == 3.0
    with open(tmp_path / "best_epochs.json") as f:
        records = json.load(f)
    assert {k: v["epoch"] for k, v in records.items()} == {"1": 2, "2": 4, "3": 6}
    # A run resumed at epoch 3 (0-based) repeats phase 2 and 3: their records are dropped.
    resumed = PhaseCheckpoint(str(tmp_path), schedule, keep_best=True, metric="f1")
    resumed.set_model(model)
    resumed.on_epoch_begin(3)
    with open(tmp_path / "best_epochs.json") as f:
        assert set(json.load(f)) == {"1"}
    with pytest.raises(ValueError, match="val_f1"):
        resumed.on_epoch_end(3, {"loss": 1.0})


def test_a_phase_judged_by_a_term_keeps_its_lowest_value(tmp_path):
    from cmva_keras.models import CADAVAE

    class Stub:
        PHASES = CADAVAE.PHASES
        TERMS = CADAVAE.TERMS
        INFERENCE_PATHS = CADAVAE.INFERENCE_PATHS

    checkpoint = PhaseCheckpoint(str(tmp_path), PhaseSchedule((1, 1, 1)), keep_best=True, metric="f1")
    checkpoint.set_model(Stub())
    assert checkpoint.monitor(1) == ("val_rec_features", False)
    assert checkpoint.monitor(2) == ("val_cross_f1", True)
    assert checkpoint.monitor(3) == ("val_f1", True)


# ------------------------------------------------------------------ a run
@pytest.mark.slow
def test_a_run_logs_validation_and_tensorboard_and_its_model_is_the_best_epoch(cache, tmp_path):
    workdir = str(tmp_path / "run")
    config = _config(0.25, keep_best=True)
    config.train.phase_epochs = (1, 2, 1)
    config.methods.mapper.phase_epochs = (2,)
    train(config, workdir)
    with open(os.path.join(workdir, "history.json")) as f:
        history = json.load(f)
    assert len(history) == 4
    for record in history:
        for key in ("val_loss", "val_rec_1", "val_w2", "val_f1", "val_upper_f1", "learning_rate", "phase"):
            assert np.isfinite(record[key]), (key, record)
    with open(os.path.join(workdir, "best_epochs.json")) as f:
        best = json.load(f)
    phase_2 = [r for r in history if r["phase"] == 2]
    assert best["2"]["value"] == pytest.approx(max(r["val_f1"] for r in phase_2))
    # The saved model is phase 3's best epoch: evaluating it on the held-out split gives the logged value.
    results = evaluation.evaluate_run(workdir, split="validation", plots=False)
    assert results["mapper"]["f1"] == pytest.approx(best["3"]["value"], abs=1e-6)
    assert results["num_examples"] == splits.held_out_count(
        tasks.get("food"), tasks.get("food").open_source(config), config)
    # TensorBoard: the terms, the learning rate and the phase in train/, the metrics in validation/.
    tags = {"train": set(), "validation": set()}
    for side in tags:
        for path in glob.glob(os.path.join(workdir, "tensorboard", side, "events.out.tfevents.*")):
            for event in tf.compat.v1.train.summary_iterator(path):
                tags[side].update(value.tag for value in event.summary.value)
    assert {"epoch_rec_1", "epoch_w2", "epoch_learning_rate", "epoch_phase"} <= tags["train"]
    assert {"epoch_rec_1", "epoch_f1", "epoch_upper_f1"} <= tags["validation"]
