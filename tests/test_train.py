"""scripts/train.py's command line: errors name the problem and the valid choices."""

import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
