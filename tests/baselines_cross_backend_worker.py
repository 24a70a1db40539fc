"""Run in a subprocess under a given KERAS_BACKEND: loads baseline `.keras` files and writes, for each,
its terms on a fixed batch with fixed noise and its predictions on every inference path, so that
tests/test_baselines_cross_backend.py can compare backends.

Usage: `baselines_cross_backend_worker.py JOBS.json`, where JOBS.json is a list of
`[model_path, batch_path]` pairs; prints a JSON list of results in the same order.
"""

import json
import sys

import keras
import numpy as np

import cmva_keras  # noqa: F401  (registers the serializable classes)


def evaluate(model_path, batch_path):
    model = keras.models.load_model(model_path)
    batch = np.load(batch_path)
    noise = {k: batch[k] for k in model.NOISE_KEYS}
    terms, _ = model.compute_objective(batch["x"], batch["y"], training=False, noise=noise)
    return {
        "backend": keras.backend.backend(),
        "class": type(model).__name__,
        "terms": {k: float(keras.ops.convert_to_numpy(v)) for k, v in terms.items()},
        "paths": {
            path: np.asarray(model.predict(batch["x"], path=path, verbose=0)).tolist()
            for path in model.INFERENCE_PATHS
        },
    }


def evaluate_all(jobs):
    return [evaluate(model_path, batch_path) for model_path, batch_path in jobs]


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        json.dump(evaluate_all(json.load(f)), sys.stdout)
