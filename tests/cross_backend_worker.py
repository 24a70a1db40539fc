"""Run in a subprocess under a given KERAS_BACKEND, so that tests can compare backends.

`python cross_backend_worker.py evaluate MODEL BATCH`: loads a `.keras` file
and prints (JSON) its predictions on both paths and its seven terms on a fixed
batch with fixed noise.

`python cross_backend_worker.py train-steps MODEL BATCH OUT`: from the same
file, for each phase 1, 2, 3: loads the model, sets the phase (keeping the
saved optimizer state), runs one training step (`train_on_batch`, so the
backend's own `train_step`) on the fixed batch with fixed noise, and writes
every model and optimizer variable before and after the step to OUT (`.npz`).

BATCH is an `.npz` with `x`, `y` and one standard-normal draw per noise key.
"""

import json
import sys

import keras
import numpy as np

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


class FixedNoiseCMVA(cm.CMVA):
    """Test only: every `compute_objective` call, the training step's included, uses `fixed_noise`.

    CMVA's `train_step` draws its noise; this subclass makes one step a
    deterministic function of the weights and the batch.
    """

    fixed_noise = None

    def compute_objective(self, x, y, training=False, noise=None):
        return super().compute_objective(x, y, training=training, noise=self.fixed_noise if noise is None else noise)


def _values(variables):
    return [np.array(keras.ops.convert_to_numpy(v.value)) for v in variables]


def train_steps(model_path, batch_path):
    """`{key: array}`: per phase, every variable before and after one training step, and their paths."""
    x, y, noise = load_batch(batch_path)
    out = {}
    for phase in PHASES:
        # A scope, not `custom_objects=`: the scope overrides CMVA's registration, the argument does not.
        # "SGD": Keras 3.15.1 saves a torch-backend optimizer under its torch module
        # (keras.src.backend.torch.optimizers.torch_sgd), which then runs torch ops on
        # JAX or TensorFlow tensors; the scope gives this backend's SGD instead.
        with keras.saving.CustomObjectScope({"cmva_keras>CMVA": FixedNoiseCMVA, "SGD": keras.optimizers.SGD}):
            model = keras.models.load_model(model_path)
        assert type(model) is FixedNoiseCMVA, type(model)
        model.fixed_noise = noise
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
    elif mode == "train-steps":
        np.savez(sys.argv[4], backend=keras.backend.backend(), **train_steps(model_path, batch_path))
    else:
        raise SystemExit(f"unknown mode {mode!r}: evaluate or train-steps")
