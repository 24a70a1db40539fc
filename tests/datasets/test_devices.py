"""TensorFlow kept to the input on the JAX and PyTorch backends (`cmva_keras.datasets.devices`).

Each case runs in a fresh process under this run's backend: TensorFlow's
thread pools are fixed by its first op, so they can only be checked there.
"""

import json
import os
import subprocess
import sys

import keras

BUILD_PIPELINE_FIRST = """
import json, keras, numpy as np, tensorflow as tf
from cmva_keras.pipelines import food  # `import cmva_keras` comes first, before any TensorFlow op
split = tf.data.Dataset.from_tensor_slices({
    "image": np.zeros((4, 20, 30, 3), np.uint8), "ingredients": np.zeros((4, 2), np.int64)})
batch = next(iter(food.make_dataset(split, training=True, image_size=(20, 30), crop_size=16, num_classes=3,
                                    batch_size=2, seed=0)))
print(json.dumps({"intra": tf.config.threading.get_intra_op_parallelism_threads(),
                  "gpus": len(tf.config.get_visible_devices("GPU")), "shape": list(batch[0].shape)}))
"""

TENSORFLOW_FIRST = """
import json, tensorflow as tf
tf.constant(1.0) + 1.0  # TensorFlow starts with its default pools, before cmva_keras is imported
from cmva_keras.datasets import devices
print(json.dumps({"confined": devices.confine_tensorflow(), "intra": tf.config.threading.get_intra_op_parallelism_threads()}))
"""


def _run(code):
    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend(), "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stderr


def test_importing_cmva_keras_gives_tensorflow_one_intra_op_thread_unless_it_trains():
    found, _ = _run(BUILD_PIPELINE_FIRST)
    assert found["shape"] == [2, 16, 16, 3]
    assert found["gpus"] == 0
    # On the TensorFlow backend the model uses TensorFlow's pools: left at their default (0: one per core).
    assert found["intra"] == (0 if keras.backend.backend() == "tensorflow" else 1)


def test_a_tensorflow_that_already_started_is_left_as_it_is_and_the_log_says_why():
    found, log = _run(TENSORFLOW_FIRST)
    assert found["confined"] is False
    assert found["intra"] == 0
    if keras.backend.backend() != "tensorflow":
        assert "ran an op before cmva_keras was imported" in log
