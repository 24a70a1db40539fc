"""A training workdir's files are read back the same way by evaluation and export."""

import json
import os

import pytest

from cmva_keras.training import run_files


def _write_run(workdir, vocabulary=None):
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, run_files.MODEL), "wb") as f:
        f.write(b"not read by read_run")
    with open(os.path.join(workdir, run_files.CONFIG), "w") as f:
        json.dump({"task": "food", "seed": 3}, f)
    if vocabulary is not None:
        with open(os.path.join(workdir, run_files.VOCABULARY), "w") as f:
            json.dump(vocabulary, f)


def test_read_run_returns_model_path_config_and_vocabulary(tmp_path):
    workdir = str(tmp_path / "run")
    _write_run(workdir, vocabulary=["salt", "garlic"])
    model_path, config, vocabulary = run_files.read_run(workdir)
    assert model_path == os.path.join(workdir, "model.keras")
    assert config == {"task": "food", "seed": 3}
    assert vocabulary == ["salt", "garlic"]


def test_read_run_without_vocabulary_gives_none(tmp_path):
    workdir = str(tmp_path / "run")
    _write_run(workdir)
    assert run_files.read_run(workdir)[2] is None


@pytest.mark.parametrize("missing", [run_files.MODEL, run_files.CONFIG])
def test_read_run_names_the_missing_file(tmp_path, missing):
    workdir = str(tmp_path / "run")
    _write_run(workdir)
    os.remove(os.path.join(workdir, missing))
    with pytest.raises(FileNotFoundError) as error:
        run_files.read_run(workdir)
    message = str(error.value)
    assert os.path.join(workdir, missing) in message and "scripts/train.py" in message


def test_read_run_of_a_missing_workdir(tmp_path):
    workdir = str(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        run_files.read_run(workdir)
