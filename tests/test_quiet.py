"""scripts/quiet.py: TensorFlow's C++ start-up lines hidden by default, back on request."""

import logging
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = os.path.join(ROOT, "scripts")
sys.path.insert(0, SCRIPTS)

import quiet  # noqa: E402

CHATTER = (quiet.BANNER, "oneDNN custom operations are on", "cpu_feature_guard")
# The fresh processes that only import TensorFlow do not depend on the Keras backend: run them once.
once = pytest.mark.skipif(os.environ.get("KERAS_BACKEND", "tensorflow") != "tensorflow",
                          reason="no Keras in the subprocess: runs once, under the tensorflow backend")


def _clean_env(**extra):
    """This process's environment without TensorFlow's logging variables (the test runner may set them)."""
    env = {k: v for k, v in os.environ.items() if k not in quiet.USER_VARIABLES}
    env.update(extra)
    return env


def _import_tensorflow_after_quiet(env, *argv):
    """Runs quiet_tensorflow() then imports TensorFlow in a fresh process; returns (stdout, stderr)."""
    code = (
        "import os, sys\n"
        f"sys.path.insert(0, {SCRIPTS!r})\n"
        "from quiet import quiet_tensorflow\n"
        "level = quiet_tensorflow()\n"
        "print('still shown', file=sys.stderr)\n"  # Python's own stderr is untouched
        "import tensorflow\n"
        "print(level, os.environ.get('TF_CPP_MIN_LOG_LEVEL'))\n"
    )
    result = subprocess.run([sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip(), result.stderr


@once
def test_tensorflow_loads_without_its_start_up_lines():
    out, err = _import_tensorflow_after_quiet(_clean_env())
    assert out == "1 1"
    assert "still shown" in err
    assert not [line for line in err.splitlines() if any(text in line for text in CHATTER)], err


@once
@pytest.mark.parametrize("how", ["variable", "verbosity"])
def test_the_user_brings_the_lines_back(how):
    env = _clean_env(TF_CPP_MIN_LOG_LEVEL="0") if how == "variable" else _clean_env()
    argv = ("--verbosity", "0") if how == "verbosity" else ()
    out, err = _import_tensorflow_after_quiet(env, *argv)
    assert out == ("None 0" if how == "variable" else "0 0")
    # Which lines TensorFlow prints depends on the CPU (oneDNN, instruction sets); where it prints the
    # oneDNN line, it must come through untouched.
    if "oneDNN" in err:
        assert quiet.BANNER in err


def test_a_script_runs_quiet():
    """scripts/export.py on a missing workdir (this backend): the error shows, TensorFlow's start-up lines do not."""
    result = subprocess.run(
        [sys.executable, os.path.join(SCRIPTS, "export.py"), "--workdir", os.path.join(ROOT, "no-such-run"),
         "--export_dir", os.path.join(ROOT, "no-such-export")],
        env=_clean_env(), capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 1
    assert "no-such-run" in result.stderr
    assert not [line for line in result.stderr.splitlines() if any(text in line for text in CHATTER)], result.stderr
    assert not os.path.exists(os.path.join(ROOT, "no-such-export"))


def test_only_the_banner_and_lines_below_the_level_are_dropped(capfd):
    lines = [
        quiet.BANNER + "\n",
        "I0000 00:00:1796112989.625472    7809 port.cc:153] oneDNN custom operations are on.\n",
        "W0000 00:00:1796112989.625472    7809 cache_dataset_ops.cc:912] a warning\n",
        "E1201 08:18:06.963944 139678082886528 file.py:68] an error\n",
        "a line of its own\n",
    ]
    with quiet._stderr_filtered(lambda line: quiet.shown(line, 1)):
        for line in lines:
            os.write(2, line.encode())  # as C++ writes: to the descriptor, not sys.stderr
    assert capfd.readouterr().err == "".join(lines[2:])
    with quiet._stderr_filtered(lambda line: quiet.shown(line, 2)):
        for line in lines:
            os.write(2, line.encode())
    assert capfd.readouterr().err == "".join(lines[3:])


def test_the_captured_lines_come_back_when_the_block_raises(capfd):
    with pytest.raises(ImportError), quiet._stderr_filtered(lambda line: quiet.shown(line, 1)):
        os.write(2, b"Traceback-like text\n")
        raise ImportError("no module")
    assert capfd.readouterr().err == "Traceback-like text\n"


@pytest.mark.parametrize("argv, expected", [
    ([], None),
    (["--task", "food"], None),
    (["--verbosity", "1"], 1),
    (["--verbosity=-2"], -2),
    (["-v", "0"], 0),
    (["--v=3"], 3),
    (["--verbosity", "loud"], None),
    (["--", "--verbosity", "1"], None),
])
def test_requested_verbosity_reads_the_command_line(argv, expected):
    assert quiet.requested_verbosity(argv) == expected


@pytest.mark.parametrize("verbosity, level", [(None, "1"), (-1, "1"), (-2, "2"), (-5, "3"), (0, "0"), (1, "0")])
def test_verbosity_sets_the_level(monkeypatch, verbosity, level):
    for name in quiet.USER_VARIABLES:
        monkeypatch.setenv(name, "x")  # recorded, so the test's changes are undone
        monkeypatch.delenv(name)
    monkeypatch.setattr(sys, "argv", ["script"])
    jax_logger = logging.getLogger("jax._src.xla_bridge")
    monkeypatch.setattr(jax_logger, "level", jax_logger.level)
    assert quiet.quiet_tensorflow(verbosity) == int(level)
    assert os.environ.get("TF_CPP_MIN_LOG_LEVEL") == level


def test_a_variable_the_user_set_is_left_alone(monkeypatch):
    monkeypatch.setenv("TF_CPP_MAX_VLOG_LEVEL", "2")
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "x")
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL")
    assert quiet.quiet_tensorflow() is None
    assert "TF_CPP_MIN_LOG_LEVEL" not in os.environ
