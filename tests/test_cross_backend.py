"""The same `.keras` file and batch give the same terms and predictions on all three backends."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

import cmva_keras as cm
from cross_backend_worker import evaluate
from tiny import LATENT, build_tiny_cmva, tiny_data

BACKENDS = ("tensorflow", "jax", "torch")


def run_worker(backend, model_path, batch_path):
    env = {**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""}
    worker = os.path.join(os.path.dirname(__file__), "cross_backend_worker.py")
    result = subprocess.run(
        [sys.executable, worker, model_path, batch_path], env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_model_saved_here_gives_the_same_terms_and_predictions_on_every_backend(tmp_path, task):
    model = build_tiny_cmva(task=task)
    x, y = tiny_data(16, task=task)
    model.compile()
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[cm.PhaseSchedule((1, 1, 1), verbose=0)])
    model_path = os.path.join(tmp_path, "model.keras")
    model.save(model_path)
    rng = np.random.default_rng(7)
    batch_path = os.path.join(tmp_path, "batch.npz")
    np.savez(batch_path, x=x[:8], y=y[:8], **{k: rng.normal(size=(8, LATENT)).astype("float32") for k in ("z1", "z2", "z_v", "z_m")})

    here = evaluate(model_path, batch_path)
    assert here["backend"] == keras.backend.backend()
    others = [run_worker(b, model_path, batch_path) for b in BACKENDS if b != keras.backend.backend()]
    assert sorted([here["backend"]] + [o["backend"] for o in others]) == sorted(BACKENDS)
    # The terms are not trivially equal: a phase-3 model has non-zero terms.
    assert all(abs(v) > 1e-6 for k, v in here["terms"].items() if k != "loss")
    for other in others:
        for name in ("loss",) + cm.TERMS:
            assert other["terms"][name] == pytest.approx(here["terms"][name], rel=1e-5, abs=1e-7), (other["backend"], name)
        np.testing.assert_allclose(other["mapper"], here["mapper"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(other["upper"], here["upper"], rtol=1e-5, atol=1e-6)
