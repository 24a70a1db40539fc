"""The speed benchmark: its hand-written loops compute CMVA's objective and train the phase's parts.

Run from the repository root with `pytest benchmarks/tests` (not part of the
main suite; `conftest.py` puts `benchmarks/` on `sys.path`). Runs under the
KERAS_BACKEND of the process (the hand-written loop of that backend is the one
checked); the Adam formula tests of the TensorFlow and JAX loops run under
every backend (both frameworks are always installed). That `compute_objective`
itself follows the method's formulas is a library test
(`tests/test_objective_reference.py`).
"""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import cmva_keras as cm
from cmva_benchmark import (
    BenchmarkConfig,
    EquivalenceError,
    build_benchmark_cmva,
    check_equivalence,
    extract_params,
    fixed_noise,
    keras_objective,
    loss_weights,
    make_hand_loop,
    synthetic_batches,
)
from cmva_benchmark.report import markdown_report
from cmva_benchmark.rows import HandRow, KerasRow
from cmva_benchmark.runner import time_rows
from cmva_keras.layers import MLP, GaussianEncoder, Mapper

BACKEND = keras.backend.backend()
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY = BenchmarkConfig(
    input_dim=5, target_dim=6, hidden_units=(8, 8), latent_dim=3, batch_size=4, phases=(3,), rounds=1,
    steps_per_round=10, warmup_steps=1, num_batches=2, torch_compile=False,
)
HAND_ROWS = ("hand", "hand_xla") if BACKEND == "tensorflow" else ("hand",)


def hand_row(name, phase, config=TINY):
    model = build_benchmark_cmva(config, phase)
    loop = make_hand_loop(BACKEND, name, extract_params(model), loss_weights(model), phase, config)
    return model, HandRow(name, loop, synthetic_batches(config))


@pytest.mark.parametrize("phase", [3, 2])
@pytest.mark.parametrize("name", HAND_ROWS)
def test_hand_written_first_step_loss_equals_compute_objective(name, phase):
    model, row = hand_row(name, phase)
    x, y = synthetic_batches(TINY)[0]
    noise = fixed_noise(TINY)
    expected = keras_objective(model, x, y, noise)
    got = row.first_loss(x, y, noise)
    for term in expected:
        np.testing.assert_allclose(got[term], expected[term], rtol=1e-5, err_msg=term)
    # Phase 2's loss has only the mapper's three terms.
    active = ("rec_m", "kl_m", "w2") if phase == 2 else cm.TERMS
    by_hand = sum(cm.models.cmva.DEFAULT_LOSS_WEIGHTS[t] * expected[t] for t in active)
    np.testing.assert_allclose(got["loss"], by_hand, rtol=1e-5)


@pytest.mark.parametrize("phase", [2, 3])
def test_hand_written_step_trains_exactly_the_phase_parts(phase):
    _, row = hand_row("hand", phase)
    before = row.loop.params_numpy()
    row.run(2)
    after = row.loop.params_numpy()
    trained = cm.PHASES[phase].trained_parts
    for part in cm.PARTS:
        flat_before = [np.asarray(a) for a in _leaves(before[part])]
        flat_after = [np.asarray(a) for a in _leaves(after[part])]
        unchanged = all(np.array_equal(a, b) for a, b in zip(flat_before, flat_after))
        assert unchanged == (part not in trained), part


def _leaves(tree):
    if isinstance(tree, dict):
        return [leaf for v in tree.values() for leaf in _leaves(v)]
    if isinstance(tree, (list, tuple)):
        return [leaf for v in tree for leaf in _leaves(v)]
    return [tree]


def test_hand_written_loop_lowers_the_loss_on_a_fixed_batch():
    config = BenchmarkConfig(**{**TINY.__dict__, "learning_rate": 1e-2})
    _, row = hand_row("hand", 3, config)
    x, y = synthetic_batches(config)[0]
    noise = fixed_noise(config)
    first = row.loop.objective(x, y, noise)["loss"]
    batch = row.loop.to_device([(x, y)])[0]
    for _ in range(30):
        row.loop.step(*batch, noise)
    assert row.loop.objective(x, y, noise)["loss"] < 0.8 * first


def _numpy_adam(w, grads, lr=0.1, b1=0.9, b2=0.999, eps=1e-7):
    """Keras' Adam by hand over the steps in `grads`."""
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        w = w - lr * np.sqrt(1 - b2**t) / (1 - b1**t) * m / (np.sqrt(v) + eps)
    return w


def test_jax_hand_adam_follows_keras_formula():
    import jax.numpy as jnp

    from cmva_benchmark.hand_jax import adam_init, adam_update

    w = np.array([1.0, -2.0, 0.5], "float32")
    grads = [np.array([0.3, -1.0, 1e-3], "float32"), np.array([-0.2, 2.0, 0.0], "float32")]
    params, state = {"w": jnp.asarray(w)}, adam_init({"w": jnp.asarray(w)})
    for g in grads:
        params, state = adam_update(
            params, {"w": jnp.asarray(g)}, state, learning_rate=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-7
        )
    np.testing.assert_allclose(np.asarray(params["w"]), _numpy_adam(w, grads), rtol=1e-5)
    assert int(state[0]) == 2


def test_tensorflow_hand_adam_follows_keras_formula():
    import tensorflow as tf

    from cmva_benchmark.hand_tensorflow import TensorFlowLoop

    config = BenchmarkConfig(**{**TINY.__dict__, "learning_rate": 0.1})
    model = build_benchmark_cmva(config, 2)
    loop = TensorFlowLoop(extract_params(model), loss_weights(model), 2, config)
    before = [v.numpy() for v in loop.trained]
    rng = np.random.default_rng(0)
    grads = [[rng.normal(size=w.shape).astype("float32") for w in before] for _ in range(2)]
    for step in grads:
        loop.apply_adam([tf.constant(g) for g in step])
    for i, w in enumerate(before):
        expected = _numpy_adam(w, [step[i] for step in grads])
        # float32 `1 - beta_2**t` carries ~1e-5 relative error into each step of size ~lr.
        np.testing.assert_allclose(loop.trained[i].numpy(), expected, rtol=1e-5, atol=5e-6)


def test_equivalence_check_fails_for_a_different_objective():
    model, _ = hand_row("hand", 3)
    weights = dict(loss_weights(model), w2=2 * loss_weights(model)["w2"])
    loop = make_hand_loop(BACKEND, "hand", extract_params(model), weights, 3, TINY)
    x, y = synthetic_batches(TINY)[0]
    noise = fixed_noise(TINY)
    terms = HandRow("hand", loop, [(x, y)]).first_loss(x, y, noise)
    with pytest.raises(EquivalenceError, match="compute_objective"):
        check_equivalence(keras_objective(model, x, y, noise), terms, "hand")


def test_extract_params_rejects_a_model_the_loops_do_not_implement():
    model = cm.CMVA(
        source_encoder=GaussianEncoder(3, backbone=keras.Sequential([keras.layers.Conv2D(4, 3), keras.layers.Flatten()])),
        source_decoder=MLP(6), target_encoder=GaussianEncoder(3), target_decoder=MLP(6), mapper=Mapper(3),
        target_shape=(6,), task="regression",
    )
    model.build((None, 8, 8, 3))
    with pytest.raises(ValueError, match="without a backbone"):
        extract_params(model)


def test_time_rows_times_keras_and_the_hand_written_loop():
    model, hand = hand_row("hand", 3)
    rows = {"keras": KerasRow("keras", model, synthetic_batches(TINY), TINY), "hand": hand}
    results = time_rows(rows, TINY, log=lambda message: None)
    for name in rows:
        assert results[name]["steps_per_s"] > 0 and results[name]["first_step_s"] > 0
        assert len(results[name]["rounds"]) == TINY.rounds
    assert results["hand"]["ratio"] == 1.0
    expected = results["keras"]["rounds"][0] / results["hand"]["rounds"][0]
    assert results["keras"]["ratio"] == pytest.approx(expected)


def test_markdown_report_gives_ratios_against_hand_written_pytorch():
    row = {"first_step_s": 1.0, "min": 1.0, "max": 1.0, "rounds": [1.0]}
    results = {
        "jax": {"phases": {"3": {"rows": {"keras": {**row, "steps_per_s": 30.0, "ratio": 0.5},
                                          "hand": {**row, "steps_per_s": 60.0, "ratio": 1.0}},
                                 "checks": {"hand": {"loss": 1e-7}}}}},
        "torch": {"phases": {"3": {"rows": {"hand": {**row, "steps_per_s": 40.0, "ratio": 1.0}},
                                   "checks": {"hand": {"loss": 0.0}}}}},
    }
    machine = {"nproc": 2, "cpu_model": "test CPU", "platform": "linux", "python": "3.11", "date": "today"}
    text = markdown_report(results, "python benchmarks/run.py --backend all", machine, TINY.__dict__)
    assert "`python benchmarks/run.py --backend all`" in text and "2 CPUs (test CPU)" in text
    keras_jax = next(line for line in text.splitlines() if line.startswith("| Keras JAX (jit)"))
    assert "| 30.0 |" in keras_jax and "| 0.50x |" in keras_jax and "| 0.75x |" in keras_jax
    torch_hand = next(line for line in text.splitlines() if line.startswith("| hand-written PyTorch"))
    assert "| 1.00x |" in torch_hand


def test_config_rejects_steps_that_steps_per_execution_cannot_divide():
    with pytest.raises(ValueError, match="multiple of 10"):
        BenchmarkConfig(steps_per_round=15)


@pytest.mark.slow
def test_script_writes_a_table_for_this_backend(tmp_path):
    command = [
        sys.executable, os.path.join(ROOT, "benchmarks", "run.py"), "--backend", BACKEND, "--quick",
        "--rounds", "1", "--steps", "10", "--rows", "keras,hand", "--threads", "1", "--out", str(tmp_path),
    ]
    completed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-2000:]
    text = (tmp_path / "benchmark.md").read_text()
    assert "benchmarks/run.py --backend" in text and "first step (s)" in text
    results = json.loads((tmp_path / "benchmark.json").read_text())["results"]
    rows = results[BACKEND]["phases"]["3"]["rows"]
    assert "hand" in rows and "keras" in rows and all(r["steps_per_s"] > 0 for r in rows.values())
    assert all(errors["loss"] <= 1e-5 for errors in results[BACKEND]["phases"]["3"]["checks"].values())


def test_the_all_terms_row_computes_every_term_and_the_default_row_samples_the_logged_ones():
    from cmva_benchmark.runner import build_rows

    batches = synthetic_batches(TINY)
    rows, checks = build_rows(BACKEND, TINY, 2, ["keras", "keras_all_terms", "hand"], batches, log=lambda *a: None)
    assert rows["keras"].model.inactive_terms_every > 1 and rows["keras"].model.skipped_terms() == ("rec_1", "rec_2")
    assert rows["keras_all_terms"].model.inactive_terms_every == 1
    assert rows["keras_all_terms"].model.skipped_terms() == ()
    assert checks["hand"]["loss"] <= 1e-5


def test_the_batch_logs_row_hands_every_step_s_logs_over_and_the_default_row_none(monkeypatch):
    from cmva_benchmark.runner import build_rows

    calls = []
    keras_batch_end = keras.callbacks.CallbackList.on_train_batch_end

    def counting(self, batch, logs=None):
        calls.append(batch)
        return keras_batch_end(self, batch, logs)

    monkeypatch.setattr(keras.callbacks.CallbackList, "on_train_batch_end", counting)
    batches = synthetic_batches(TINY)
    rows, _ = build_rows(BACKEND, TINY, 3, ["keras", "keras_batch_logs", "hand"], batches, log=lambda *a: None)
    rows["keras"].run(4)
    assert calls == []
    seconds, _ = rows["keras_batch_logs"].run(4)
    assert calls == [0, 1, 2, 3] and seconds > 0
