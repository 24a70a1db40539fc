"""Run in a subprocess under a given KERAS_BACKEND, so that tests can compare backends.

`python cross_backend_worker.py evaluate MODEL BATCH`: loads a `.keras` file
and prints (JSON) its predictions on both paths and its seven terms on a fixed
batch with fixed noise.

`python cross_backend_worker.py train-steps MODEL BATCH OUT`: from the same
file, for each phase 1, 2, 3: loads the model, sets the phase (keeping the
saved optimizer state), runs one training step (`train_on_batch`, so the
backend's own `train_step`) on the fixed batch with fixed noise
(`model.fixed_noise`), and writes
every model and optimizer variable before and after the step to OUT (`.npz`).

`python cross_backend_worker.py save-adam MODEL BATCH`: builds the tiny CMVA,
compiles it with Adam, trains it two steps and saves it to MODEL (and a batch
to BATCH), so a test can have a file saved under another backend.

`python cross_backend_worker.py train-one MODEL BATCH`: loads MODEL, runs one
training step on BATCH and prints (JSON) what the optimizer and step did.

BATCH is an `.npz` with `x`, `y` and one standard-normal draw per noise key.
"""

import json
import sys

import keras
import numpy as np
from tiny import LATENT, build_tiny_cmva, tiny_data

import cmva_keras as cm

NOISE_KEYS = ("z1", "z2", "z_v", "z_m")
PHASES = (1, 2, 3)


def load_batch(batch_path):
    batch = np.load(batch_path)
    return batch["x"], batch["y"], {k: batch[k] for k in NOISE_KEYS}


def evaluate(model_path, batch_path):
    model = keras.models.load_model(model_path)
    x, y, noise = load_batch(batch_path)
    terms, _ = model.compute_objective(x, y, training=False, noise=noise)
    return {
        "backend": keras.backend.backend(),
        "terms": {k: float(keras.ops.convert_to_numpy(v)) for k, v in terms.items()},
        "mapper": np.asarray(model.predict(x, verbose=0)).tolist(),
        "upper": np.asarray(model.predict(x, path="upper", verbose=0)).tolist(),
    }


def save_batch(path, x, y, seed=7):
    rng = np.random.default_rng(seed)
    np.savez(path, x=x, y=y, **{k: rng.normal(size=(len(x), LATENT)).astype("float32") for k in NOISE_KEYS})


def save_adam(model_path, batch_path):
    """The tiny CMVA, compiled with Adam and trained two steps (so Adam has moments), saved here."""
    model = build_tiny_cmva()
    x, y = tiny_data(16)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3))
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    model.save(model_path)
    save_batch(batch_path, x[:8], y[:8])


def train_one(model_path, batch_path):
    """Loads the model, runs one `train_on_batch` and reports the optimizer's class and what the step did."""
    model = keras.models.load_model(model_path)
    x, y, _ = load_batch(batch_path)
    steps_before = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    before = _values(model.trainable_variables)
    logs = model.train_on_batch(x, y, return_dict=True)
    after = _values(model.trainable_variables)
    return {
        "backend": keras.backend.backend(),
        "optimizer_module": type(model.optimizer).__module__,
        "optimizer_is_adam": isinstance(model.optimizer, keras.optimizers.Adam),
        "steps_before": steps_before,
        "steps_after": int(keras.ops.convert_to_numpy(model.optimizer.iterations)),
        "loss": float(logs["loss"]),
        "moved": sum(not np.array_equal(b, a) for b, a in zip(before, after)),
        "trainable": len(before),
    }


def _values(variables):
    return [np.array(keras.ops.convert_to_numpy(v.value)) for v in variables]


def train_steps(model_path, batch_path):
    """`{key: array}`: per phase, every variable before and after one training step, and their paths."""
    x, y, noise = load_batch(batch_path)
    out = {}
    for phase in PHASES:
        model = keras.models.load_model(model_path)
        assert type(model) is cm.CMVA, type(model)
        model.fixed_noise = noise  # before the first step: the step reads it when traced
        model.set_phase(phase)  # keeps the optimizer state saved in the file
        trained = {id(v) for v in model.phase_trainable_variables}
        frozen = {id(v) for v in model.trainable_variables} - trained
        groups = {"model": model.variables, "optimizer": model.optimizer.variables}
        before = {name: _values(variables) for name, variables in groups.items()}
        model.train_on_batch(x, y)
        for name, variables in groups.items():
            out[f"{phase}/{name}/paths"] = np.array([v.path for v in variables])
            out[f"{phase}/{name}/trained"] = np.array([id(v) in trained for v in variables])
            out[f"{phase}/{name}/frozen"] = np.array([id(v) in frozen for v in variables])
            for i, (b, a) in enumerate(zip(before[name], _values(variables))):
                out[f"{phase}/{name}/{i}/before"] = b
                out[f"{phase}/{name}/{i}/after"] = a
    return out


if __name__ == "__main__":
    mode, model_path, batch_path = sys.argv[1:4]
    if mode == "evaluate":
        json.dump(evaluate(model_path, batch_path), sys.stdout)
    elif mode == "save-adam":
        save_adam(model_path, batch_path)
    elif mode == "train-one":
        json.dump(train_one(model_path, batch_path), sys.stdout)
    elif mode == "train-steps":
        np.savez(sys.argv[4], backend=keras.backend.backend(), **train_steps(model_path, batch_path))
    else:
        raise SystemExit(f"unknown mode {mode!r}: evaluate, save-adam, train-one or train-steps")
