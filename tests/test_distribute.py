"""Data-parallel training (`train.distribute`, cmva_keras/training/distribute.py): parity, runs, bad input.

Devices are set up before a backend starts, so every check that needs
several devices or processes runs in subprocesses (tests/distribute_worker.py).
Each of those runs once, in the suite of the backend it is about (JAX's
under KERAS_BACKEND=jax, TensorFlow's under tensorflow; the baselines' stages
in both), and is skipped, with the reason, in the other suites; the bad-input
checks run everywhere.
"""

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np
import pytest

from cmva_keras.models.cadavae import TERMS as CADAVAE_TERMS
from cmva_keras.models.cmvae import TERMS as CMVAE_TERMS
from cmva_keras.training import distribute

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BACKEND = keras.backend.backend()
# Terms after one step, relative. Weights after one step: a variable's largest difference over its largest magnitude.
# The data-parallel step sums the batch's gradients in another order (per device, then across devices), so float32
# rounding differs; for a small variable whose gradient is a near-cancelling sum (a conv bias feeding BatchNorm, at
# about 2e-2), that reached 1.1e-5 on CI's CPU (CM-VAE phase 1), against 1e-7 on ours. WEIGHTS_RTOL leaves room for
# that and still fails a real fault by two orders of magnitude: a step on one device's half of the batch, measured
# on these models, moves the median variable by 9e-3 to 8e-1 of its magnitude in every phase.
RTOL = 1e-5
WEIGHTS_RTOL = 1e-4
TERMS = ("loss", "rec_1", "kl_1", "rec_2", "kl_2", "rec_m", "kl_m", "w2")

only_jax = pytest.mark.skipif(BACKEND != "jax", reason="a JAX data-parallel check: runs once, in the jax suite")
only_tensorflow = pytest.mark.skipif(
    BACKEND != "tensorflow", reason="a MirroredStrategy check: runs once, in the tensorflow suite"
)


def worker(backend, *args, devices=1, env=None):
    """Starts tests/distribute_worker.py under `backend` with `devices` CPU devices (JAX: virtual ones)."""
    env = {**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "2",
           **(env or {})}
    env.pop("XLA_FLAGS", None)
    if devices > 1:
        env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
    return subprocess.Popen([sys.executable, os.path.join(HERE, "distribute_worker.py"), *args], env=env, cwd=HERE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process, timeout=600):
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-4000:]
    return output


def relative_difference(a, b):
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    scale = max(np.max(np.abs(a)), np.max(np.abs(b)))
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else 0.0


# The models compared step by step, with their terms and phases: CMVA, and the two baselines (other
# objectives; CADA-VAE with three phases of its own, CM-VAE with one that trains everything).
PARITY_MODELS = {"cmva": (TERMS, [1, 2, 3]), "cadavae": (("loss",) + CADAVAE_TERMS, [1, 2, 3]),
                 "cmvae": (("loss",) + CMVAE_TERMS, [1])}
# The phases that train every part (nothing frozen to check).
TRAIN_EVERYTHING = {("cmva", 3), ("cmvae", 1)}


def check_step_parity(out):
    """One data-parallel step per phase equals the one-device step: terms within RTOL, every variable within
    WEIGHTS_RTOL."""
    found = np.load(out)
    assert int(found["replicas"]) == 2
    for model, (terms, phases) in PARITY_MODELS.items():
        assert tuple(found[f"{model}/names"]) == terms
        assert list(found[f"{model}/phases"]) == phases, model
        for phase in phases:
            check_phase_parity(found, model, phase, terms)
    message = str(found["batch_error"])
    assert "train.batch_size=15" in message and "2 devices" in message and "train.batch_size=16" in message


def check_phase_parity(found, model, phase, terms):
    key = f"{model}/{{}}/{phase}/{{}}".format
    where = f"{model} phase {phase}"
    # The data-parallel model really lives on both devices, the other on one.
    assert set(found[key("parallel", "devices")]) == {2} and set(found[key("single", "devices")]) == {1}
    single, parallel = found[key("single", "terms")], found[key("parallel", "terms")]
    assert np.all(np.abs(single[1:]) > 1e-6), f"{where}: a term is zero, the check would be empty"
    for name, a, b in zip(terms, single, parallel):
        assert b == pytest.approx(a, rel=RTOL, abs=1e-7), (where, name, a, b)
    trained = found[key("single", "trained")]
    assert trained.any(), f"{where}: no trained variable"
    for i in range(len(trained)):
        before, after = found[key("single", f"before/{i}")], found[key("single", f"after/{i}")]
        np.testing.assert_array_equal(found[key("parallel", f"before/{i}")], before)
        if trained[i]:
            assert not np.array_equal(before, after), f"{where}: trained variable {i} did not move"
        difference = relative_difference(after, found[key("parallel", f"after/{i}")])
        assert difference <= WEIGHTS_RTOL, f"{where}: variable {i} differs by {difference:.2e} after one step"
    # Frozen parts (weights and BatchNorm statistics) stay bit-exact under data parallelism too.
    frozen = np.flatnonzero(found[key("parallel", "frozen")])
    assert (len(frozen) == 0) == ((model, phase) in TRAIN_EVERYTHING), where
    for i in frozen:
        np.testing.assert_array_equal(found[key("parallel", f"after/{i}")], found[key("parallel", f"before/{i}")])


@only_jax
def test_jax_data_parallel_step_equals_the_one_device_step_and_refuses_an_odd_global_batch(tmp_path):
    """CMVA's, CADA-VAE's and CM-VAE's steps, every phase."""
    out = str(tmp_path / "parity.npz")
    finish(worker("jax", "step-parity", out, ",".join(PARITY_MODELS), devices=2))
    check_step_parity(out)


@only_tensorflow
def test_mirrored_strategy_step_equals_the_one_device_step_and_loads_in_scope(tmp_path):
    """CMVA's, CADA-VAE's and CM-VAE's steps, every phase. Also: the `.keras` file loads inside the strategy's scope
    (each phase's model is loaded there)."""
    out = str(tmp_path / "parity.npz")
    finish(worker("tensorflow", "step-parity", out, ",".join(PARITY_MODELS)))
    check_step_parity(out)


@only_jax
def test_jax_data_parallel_mixed_bfloat16_smoke_run_goes_through_three_phases_and_resumes_after_a_stop(tmp_path):
    """Under mixed_bfloat16 (mixed precision combined with data parallelism)."""
    workdir, out = str(tmp_path / "run"), str(tmp_path / "seen.json")
    finish(worker("jax", "smoke-resume", workdir, out, devices=2))
    with open(out) as f:
        seen = json.load(f)
    assert seen["first_finished"] is False
    assert "backup" in seen["after_stop"] and "phase_1.keras" in seen["after_stop"]
    assert "model.keras" not in seen["after_stop"]
    # The second run ran epoch 3 (phase 3) only: history.json keeps the first run's two epochs.
    assert seen["first_ran"] == [0, 1] and seen["second_ran"] == [2]
    assert seen["epochs"] == [1, 2, 3] and seen["phases"] == [1, 2, 3] and seen["phase"] == 3
    assert seen["validation_logged"]
    for name in ("model.keras", "phase_1.keras", "phase_2.keras", "phase_3.keras", "history.json", "config.json"):
        assert name in seen["after_resume"], name
    assert "backup" not in seen["after_resume"]
    assert seen["distribution"] == "NoneType" and seen["policy"] == "float32"
    # Mixed precision under data parallelism: finite terms, and a model.keras that serves float32.
    assert seen["terms_finite"]
    assert seen["saved_policy"] == "mixed_bfloat16" and seen["prediction_dtype"] == "float32"
    assert seen["prediction_finite"] and seen["saved_equals_trained"] <= 1e-6


@pytest.mark.skipif(BACKEND == "torch", reason="data-parallel training is refused on torch (tested below)")
def test_data_parallel_cadavae_plus_mapper_goes_through_every_stage_freezing_bit_exactly(tmp_path):
    """CADA-VAE's three phases, then "+ Mapper"'s one on the finished baseline, through train() on 2 devices
    (JAX: virtual CPU devices; TensorFlow: logical CPU devices under MirroredStrategy).

    Between epochs, the parts a phase does not train stay bit-exact (weights and BatchNorm statistics) and
    those it trains move; the baseline inside "+ Mapper" never moves."""
    workdir, out = str(tmp_path / "run"), str(tmp_path / "seen.json")
    finish(worker(BACKEND, "baseline-stages", workdir, out, devices=2))
    with open(out) as f:
        seen = json.load(f)
    stages = seen["stages"]
    assert [(s["model"], s["phase"]) for s in stages] == [
        ("CADAVAE", 1), ("CADAVAE", 2), ("CADAVAE", 3), ("WithMapper", 1)]
    for stage in stages:
        where = f"{stage['model']} phase {stage['phase']}"
        assert stage["devices"] == [2], where  # every trained variable lives on both devices
        assert stage["finite"] and stage["terms"], where
        # Exactly the trained parts changed: frozen ones are bit-exact, trained ones moved.
        assert sorted(stage["changed"]) == sorted(stage["trained"]), where
    assert stages[-1]["trained"] == ["mapper"] and "base_model" not in stages[-1]["changed"]
    assert [r["phase"] for r in seen["records"]] == [1]
    for name in ("model.keras", "history.json", "config.json"):
        assert name in seen["files"], name
    for name in ("model.keras", "phase_1.keras", "phase_2.keras", "phase_3.keras"):
        assert name in seen["base_files"], name
    assert "backup" not in seen["files"] and "backup" not in seen["base_files"]
    assert seen["saved_equals_trained"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@only_jax
def test_two_jax_processes_stopped_and_run_again_resume_together_and_only_process_0_writes(tmp_path):
    """Two processes on 127.0.0.1, one CPU device each, validating. Every process stops after epoch 2 (phase 2),
    as a killed job would, and runs the same command again: both resume at epoch 3 from process 0's backup
    (process 1 keeps no state of its own) and end with identical weights. Process 1 is given its own (empty)
    workdir: it must stay empty, while process 0's holds the run. Validation: see check_multi_process_validation."""
    address = f"127.0.0.1:{free_port()}"
    workdirs = [str(tmp_path / f"process{i}") for i in (0, 1)]
    os.makedirs(workdirs[1])
    outs = [str(tmp_path / f"weights{i}.npz") for i in (0, 1)]
    processes = [worker("jax", "process", address, "2", str(i), workdirs[i], outs[i], "stop") for i in (0, 1)]
    try:
        for p in processes:
            finish(p)
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
    for i in (0, 1):
        with open(outs[i] + ".json") as f:
            seen = json.load(f)
        assert seen["first_finished"] is False and seen["first_ran"] == [0, 1], (i, seen)
        # The second run continues at epoch 3 (phase 3) on both processes; the history keeps epochs 1-2.
        assert seen["second_ran"] == [2] and seen["epochs"] == [1, 2, 3] and seen["phase"] == 3, (i, seen)
    assert "backup" in json.load(open(outs[0] + ".json"))["after_stop"]
    check_multi_process_validation(workdirs[0], [json.load(open(out + ".json"))["records"] for out in outs])
    a, b = np.load(outs[0]), np.load(outs[1])
    assert sorted(a.files) == sorted(b.files) and len(a.files) > 10
    for key in a.files:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    assert os.listdir(workdirs[1]) == []
    for name in ("model.keras", "phase_3.keras", "history.json", "config.json"):
        assert os.path.exists(os.path.join(workdirs[0], name)), name
    assert not os.path.exists(os.path.join(workdirs[0], "backup"))


def check_multi_process_validation(workdir, records):
    """Every process logged the same validation values each epoch, and the last epoch's equal one process's
    evaluation of the saved model: the task's metrics and the terms without sampling noise (the KL terms)."""
    import keras
    from distribute_worker import _smoke_config

    from cmva_keras.callbacks import ValidationMetrics
    from cmva_keras.training.setup import build_datasets, task_of

    logged = [[{k: v for k, v in r.items() if k.startswith("val_")} for r in process] for process in records]
    assert logged[0] == logged[1]
    assert all("val_loss" in r and "val_f1" in r for r in logged[0]), logged[0]
    config = _smoke_config(**{"train.validation_fraction": 0.1, "train.distribute": "none"})
    data = build_datasets(config)
    model = keras.models.load_model(os.path.join(workdir, "model.keras"))
    metrics = ValidationMetrics(data.validation_eval, task_of(config))
    metrics.set_model(model)
    expected = metrics.scores()
    expected.update({f"val_{k}": v for k, v in model.evaluate(data.validation, verbose=0, return_dict=True).items()
                     if k in ("kl_1", "kl_2")})
    assert len(expected) > 3
    for name, value in expected.items():
        assert logged[0][-1][name] == pytest.approx(value, rel=1e-5, abs=1e-7), name


# ------------------------------------------------------------------ bad input
def test_data_parallel_on_torch_is_refused_naming_the_backends_that_can():
    with pytest.raises(ValueError, match="not available on the torch backend") as error:
        distribute.setup("data_parallel", global_batch_size=16, backend="torch")
    assert "KERAS_BACKEND=jax" in str(error.value) and "KERAS_BACKEND=tensorflow" in str(error.value)


def test_an_unknown_distribute_value_lists_the_choices():
    with pytest.raises(ValueError, match="none, data_parallel"):
        distribute.setup("model_parallel", global_batch_size=16)


def test_a_process_id_out_of_range_is_refused_before_joining():
    with pytest.raises(ValueError, match=r"--process_id 2 is out of range for --num_processes 2.*0 to 1"):
        distribute.initialize_processes("127.0.0.1:1234", 2, 2, backend="jax")
    with pytest.raises(ValueError, match="--process_id -1 is out of range"):
        distribute.initialize_processes("127.0.0.1:1234", 2, -1, backend="jax")


def test_several_processes_need_data_parallel_jax_and_a_coordinator():
    with pytest.raises(ValueError, match="--distribute data_parallel"):
        distribute.initialize_processes("127.0.0.1:1234", 2, 0, kind="none", backend="jax")
    with pytest.raises(ValueError, match="KERAS_BACKEND=jax"):
        distribute.initialize_processes("127.0.0.1:1234", 2, 0, backend="tensorflow")
    with pytest.raises(ValueError, match="HOST:PORT"):
        distribute.initialize_processes(None, 2, 0, backend="jax")
    # One process, or nothing given: nothing to join.
    assert distribute.initialize_processes(None, None, None, backend="jax") == (1, 0)
    assert distribute.initialize_processes(None, 1, 0, backend="jax") == (1, 0)


@pytest.mark.skipif(BACKEND != "torch", reason="the script's torch refusal: runs once, in the torch suite")
def test_train_script_refuses_data_parallel_on_torch(tmp_path):
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "scripts", "train.py"), "--task", "food", "--variant", "smoke",
         "--workdir", str(tmp_path / "run"), "--distribute", "data_parallel"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
        env={**os.environ, "KERAS_BACKEND": "torch", "CUDA_VISIBLE_DEVICES": ""},
    )
    assert result.returncode != 0
    assert "not available on the torch backend" in result.stderr and "KERAS_BACKEND=jax" in result.stderr
    assert not os.path.exists(tmp_path / "run" / "model.keras")
