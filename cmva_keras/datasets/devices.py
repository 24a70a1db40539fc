"""Keeping TensorFlow (tf.data, TFDS) off the GPU when Keras trains with JAX or PyTorch.

TensorFlow claims every visible GPU's memory the first time it runs an op,
which starves the JAX or PyTorch backend on the same GPU. The input side
only needs the CPU, so before it runs anything TensorFlow is told to see no
GPU. This must happen before TensorFlow's first op; afterwards it is a no-op.
"""

import keras
import tensorflow as tf


def hide_gpus_from_tensorflow():
    """No-op for the TensorFlow backend, or once TensorFlow has initialised its devices."""
    if keras.backend.backend() == "tensorflow":
        return
    try:
        tf.config.set_visible_devices([], "GPU")
    except (RuntimeError, ValueError):
        pass
