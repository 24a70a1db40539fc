"""Run in a subprocess under a given KERAS_BACKEND: loads a `.keras` file and
writes its predictions (both paths) and its seven terms on a fixed batch with
fixed noise, so that tests can compare backends."""

import json
import sys

import keras
import numpy as np

import cmva_keras  # noqa: F401  (registers the serializable classes)


def evaluate(model_path, batch_path):
    model = keras.models.load_model(model_path)
    batch = np.load(batch_path)
    noise = {k: batch[k] for k in ("z1", "z2", "z_v", "z_m")}
    terms, _ = model.compute_objective(batch["x"], batch["y"], training=False, noise=noise)
    return {
        "backend": keras.backend.backend(),
        "terms": {k: float(keras.ops.convert_to_numpy(v)) for k, v in terms.items()},
        "mapper": np.asarray(model.predict(batch["x"], verbose=0)).tolist(),
        "upper": np.asarray(model.predict(batch["x"], path="upper", verbose=0)).tolist(),
    }


if __name__ == "__main__":
    json.dump(evaluate(sys.argv[1], sys.argv[2]), sys.stdout)
