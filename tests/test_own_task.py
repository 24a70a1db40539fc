"""A third task, registered from user code (tests/colour_task.py), trains and evaluates through the library."""

import os

import pytest

from cmva_keras import evaluation, tasks
from cmva_keras.training.config import load_config, resolve_config
from cmva_keras.training.loop import train

HERE = os.path.dirname(os.path.abspath(__file__))


def test_a_registered_task_trains_and_evaluates_with_the_librarys_code(tmp_path):
    config = load_config(os.path.join(HERE, "colour_task.py"))  # a config file: importing it registers the task
    assert tasks.get("colours").name == "colours" and "colours" in tasks.names()
    assert resolve_config("colours").train.phase_epochs == (4, 2, 2)  # and now by name
    workdir = str(tmp_path / "colours")
    model, history = train(config, workdir)
    assert [r["phase"] for r in history] == [1] * 4 + [2] * 2 + [3] * 2
    results = evaluation.evaluate_run(workdir, plots=False)
    assert results["task"] == "colours" and results["num_examples"] == 64 and results["method"] == "CMVA"
    # The task's own scoring ran on both paths and its chance reference (the base class's mean prediction).
    for path in ("mapper", "upper", "constant"):
        assert set(results[path]) >= {"f1", "iou"} and 0.0 <= results[path]["f1"] <= 1.0, (path, results[path])
    assert set(results["alignment"]) == {"mapped", "source"}


def test_registering_checks_what_it_is_given():
    import colour_task

    with pytest.raises(ValueError, match="already registered"):
        tasks.register(colour_task.ColourTask())
    with pytest.raises(TypeError, match="Task instance"):
        tasks.register("colours")
    with pytest.raises(ValueError, match="Unknown task 'speech'.*register"):
        tasks.get("speech")
