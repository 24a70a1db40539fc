"""One `.keras` file of each baseline gives the same terms (fixed noise) and predictions on all three backends."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import test_baselines as baselines
from baselines_cross_backend_worker import evaluate_all

BACKENDS = ("tensorflow", "jax", "torch")
CASES = [(name, task) for name in ("CMVAE", "CADAVAE") for task in ("classification", "regression")]


def start_worker(backend, jobs_path):
    env = {**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""}
    worker = os.path.join(os.path.dirname(__file__), "baselines_cross_backend_worker.py")
    return subprocess.Popen(
        [sys.executable, worker, jobs_path], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def finish_worker(process):
    stdout, stderr = process.communicate(timeout=600)
    assert process.returncode == 0, stderr[-3000:]
    return json.loads(stdout)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """`{case: [result here, result on each other backend]}`: every case's file evaluated by one worker per backend."""
    directory = tmp_path_factory.mktemp("baselines")
    jobs = []
    for name, task in CASES:
        keras.utils.set_random_seed(0)
        model = baselines.BUILDERS[name](task=task)
        baselines.fit_phases(model, baselines.PHASE_EPOCHS[name], n=16)
        model_path = str(directory / f"{name}_{task}.keras")
        model.save(model_path)
        x, y = baselines.baseline_data(8, task=task, seed=9)
        rng = np.random.default_rng(7)
        batch_path = str(directory / f"{name}_{task}.npz")
        np.savez(batch_path, x=x, y=y,
                 **{k: rng.normal(size=(8, baselines.LATENT)).astype("float32") for k in model.NOISE_KEYS})
        jobs.append([model_path, batch_path])
    jobs_path = str(directory / "jobs.json")
    with open(jobs_path, "w") as f:
        json.dump(jobs, f)
    # The other backends' workers run while this process evaluates the files too.
    workers = [start_worker(b, jobs_path) for b in BACKENDS if b != keras.backend.backend()]
    try:
        here = evaluate_all(jobs)
        others = [finish_worker(w) for w in workers]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
    return {case: [here[i]] + [other[i] for other in others] for i, case in enumerate(CASES)}


@pytest.mark.parametrize("name, task", CASES)
def test_a_baseline_saved_here_gives_the_same_terms_and_predictions_on_every_backend(results, name, task):
    here, *others = results[(name, task)]
    assert sorted(r["backend"] for r in [here] + others) == sorted(BACKENDS)
    assert all(r["class"] == name for r in [here] + others)
    # The terms are not trivially equal: every term of a trained model is non-zero.
    assert all(abs(v) > 1e-6 for v in here["terms"].values())
    for other in others:
        assert set(other["terms"]) == set(here["terms"])
        for term, value in here["terms"].items():
            assert other["terms"][term] == pytest.approx(value, rel=1e-5, abs=1e-7), (other["backend"], term)
        for path, prediction in here["paths"].items():
            np.testing.assert_allclose(other["paths"][path], prediction, rtol=1e-5, atol=1e-6,
                                       err_msg=f"{other['backend']} {path}")
