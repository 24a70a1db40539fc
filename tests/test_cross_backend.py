"""The same `.keras` file and batch give the same terms, predictions and training steps on all three backends."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest
from cross_backend_worker import PHASES, evaluate, save_adam, save_batch, train_one, train_steps
from tiny import build_tiny_cmva, tiny_data

import cmva_keras as cm

BACKENDS = ("tensorflow", "jax", "torch")
# A training step's weights and optimizer state: largest difference over the
# variable's largest magnitude, for every variable.
STEP_RTOL = 1e-5


def run_worker(backend, *args):
    env = {**os.environ, "KERAS_BACKEND": backend, "CUDA_VISIBLE_DEVICES": ""}
    worker = os.path.join(os.path.dirname(__file__), "cross_backend_worker.py")
    result = subprocess.run(
        [sys.executable, worker, *args], env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_model_saved_here_gives_the_same_terms_and_predictions_on_every_backend(tmp_path, task):
    model = build_tiny_cmva(task=task)
    x, y = tiny_data(16, task=task)
    model.compile()
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[cm.PhaseSchedule((1, 1, 1), verbose=0)])
    model_path = os.path.join(tmp_path, "model.keras")
    model.save(model_path)
    batch_path = os.path.join(tmp_path, "batch.npz")
    save_batch(batch_path, x[:8], y[:8])

    here = evaluate(model_path, batch_path)
    assert here["backend"] == keras.backend.backend()
    others = [
        json.loads(run_worker(b, "evaluate", model_path, batch_path)) for b in BACKENDS if b != keras.backend.backend()
    ]
    assert sorted([here["backend"]] + [o["backend"] for o in others]) == sorted(BACKENDS)
    # The terms are not trivially equal: a phase-3 model has non-zero terms.
    assert all(abs(v) > 1e-6 for k, v in here["terms"].items() if k != "loss")
    for other in others:
        for name in ("loss",) + cm.TERMS:
            assert other["terms"][name] == pytest.approx(here["terms"][name], rel=1e-5, abs=1e-7), (other["backend"], name)
        np.testing.assert_allclose(other["mapper"], here["mapper"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(other["upper"], here["upper"], rtol=1e-5, atol=1e-6)


def relative_difference(a, b):
    """Largest difference over the larger array's largest magnitude (0 for two equal arrays)."""
    a, b = np.asarray(a, "float64"), np.asarray(b, "float64")
    scale = max(np.max(np.abs(a)), np.max(np.abs(b)))
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else 0.0


def step_differences(here, other, phase):
    """Per group ("model", "optimizer"): the largest relative difference over its variables, after one step."""
    worst = {}
    for group in ("model", "optimizer"):
        paths = list(here[f"{phase}/{group}/paths"])
        assert list(other[f"{phase}/{group}/paths"]) == paths, f"phase {phase}: the {group} variables differ"
        differences = []
        for i, path in enumerate(paths):
            a, b = here[f"{phase}/{group}/{i}/after"], other[f"{phase}/{group}/{i}/after"]
            assert a.shape == b.shape, (phase, path, a.shape, b.shape)
            # Same file: the same starting point everywhere, bit for bit.
            np.testing.assert_array_equal(
                here[f"{phase}/{group}/{i}/before"], other[f"{phase}/{group}/{i}/before"], err_msg=path
            )
            differences.append((relative_difference(a, b), path))
        worst[group] = max(differences)
    return worst


def test_one_training_step_per_phase_gives_the_same_weights_and_optimizer_state_on_every_backend(tmp_path):
    """One `train_step` per phase, from one file, the same batch and fixed noise, on all three backends.

    Plain SGD with momentum (Adam turns float-noise gradients of about 1e-9
    into steps of about +-lr in a random direction, which differ between backends),
    and a batch with no all-zero target row (which would put E2's ReLUs at
    their kink, where backends take different subgradients). No BatchNorm:
    its backward pass subtracts the batch mean of the gradient, so the conv
    bias under it gets a gradient summed from cancelling terms, and float32
    leaves up to about 3e-5 of it (measured JAX vs PyTorch); without it every
    variable agrees to below 1e-6. A 1e-4 relative error in the gradient shows
    as about 1e-4 here.
    """
    model = build_tiny_cmva(batch_norm=False)
    x, y = tiny_data(16, seed=11)
    y[y.sum(axis=1) == 0, 0] = 1.0
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05, momentum=0.9))
    # Non-zero momentum in every part: the steps start from a saved optimizer state.
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[cm.PhaseSchedule((1, 1, 1), verbose=0)])
    model_path = os.path.join(tmp_path, "model.keras")
    model.save(model_path)
    batch_path = os.path.join(tmp_path, "batch.npz")
    save_batch(batch_path, x[:8], y[:8], seed=8)

    here = train_steps(model_path, batch_path)
    others = {}
    for backend in BACKENDS:
        if backend != keras.backend.backend():
            out = os.path.join(tmp_path, f"{backend}.npz")
            run_worker(backend, "train-steps", model_path, batch_path, out)
            others[backend] = dict(np.load(out))
            assert str(others[backend]["backend"]) == backend

    for phase in PHASES:
        trained_parts = set(cm.PHASES[phase].trained_parts)
        # The step did something: the phase's parts moved, the others did not (bit-exact).
        trained, frozen = here[f"{phase}/model/trained"], here[f"{phase}/model/frozen"]
        moved = [not np.array_equal(here[f"{phase}/model/{i}/before"], here[f"{phase}/model/{i}/after"])
                 for i in range(len(trained))]
        assert trained.any() and all(m for m, t in zip(moved, trained) if t), f"phase {phase}: a trained weight stayed"
        assert (len(trained_parts) < len(cm.PARTS)) == frozen.any()
        assert not any(m for m, f in zip(moved, frozen) if f), f"phase {phase}: a frozen weight moved"
        for backend, other in others.items():
            worst = step_differences(here, other, phase)
            print(f"phase {phase} {keras.backend.backend()} vs {backend}: "
                  + ", ".join(f"{g} {d:.2e} ({p})" for g, (d, p) in worst.items()))
            for group, (difference, path) in worst.items():
                assert difference <= STEP_RTOL, (
                    f"phase {phase}, {keras.backend.backend()} vs {backend}: {group} variable {path} "
                    f"differs by {difference:.2e} of its largest magnitude after one step"
                )


def test_an_adam_model_saved_under_torch_loads_and_trains_under_another_backend(tmp_path):
    """Keras 3.15.1 saves a torch-backend optimizer under its torch class; loading must give the public one.

    The file is saved under PyTorch (here, or in a subprocess) and trained
    one step under a backend other than PyTorch (here, or in a subprocess).
    """
    model_path = os.path.join(tmp_path, "model.keras")
    batch_path = os.path.join(tmp_path, "batch.npz")
    if keras.backend.backend() == "torch":
        save_adam(model_path, batch_path)
        step = json.loads(run_worker("jax", "train-one", model_path, batch_path))
    else:
        run_worker("torch", "save-adam", model_path, batch_path)
        step = train_one(model_path, batch_path)
    assert step["backend"] != "torch"
    assert step["optimizer_is_adam"] and not step["optimizer_module"].startswith("keras.src.backend.torch"), step
    # The saved Adam state came along (two steps), and the step used it.
    assert (step["steps_before"], step["steps_after"]) == (2, 3), step
    assert np.isfinite(step["loss"]), step
    assert step["moved"] > 0, step
