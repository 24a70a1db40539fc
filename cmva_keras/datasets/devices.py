"""Keeping TensorFlow (tf.data, TFDS) to the input when Keras trains with JAX or PyTorch.

On those backends TensorFlow only reads and augments the data, and two of
its defaults then work against the training framework in the same process:

- GPUs: TensorFlow claims every visible GPU's memory the first time it runs
  an op, which starves JAX or PyTorch on the same GPU. The input only needs
  the CPU, so TensorFlow is told to see no GPU.
- Threads: TensorFlow's intra-op pool has a thread per core, and the
  pipelines' XLA-compiled warps (`cmva_keras.pipelines.warp`) split each
  batch over it, whatever tf.data's `max_intra_op_parallelism` says. The
  training framework has its own pool of a thread per core; the two pools
  then contend for the same cores. With one intra-op thread the warps run
  on one thread at about the same CPU time per batch (measured: 1.09 ms
  against 1.05 ms for a food batch, on three threads), and TensorFlow keeps
  no second pool of threads waiting for work beside the training
  framework's. tf.data's own threads (parallel maps, prefetch) are not
  affected.

Both must be set before TensorFlow's first op; afterwards they cannot
change. Importing this module calls `confine_tensorflow`, and
`import cmva_keras` imports it first thing, so a script that imports
cmva_keras before running TensorFlow ops is covered; one that ran ops first
gets a warning in the log. On the TensorFlow backend the model
and the input share TensorFlow's pools, and nothing is changed.
"""

import keras
import tensorflow as tf
from absl import logging

INPUT_INTRA_OP_THREADS = 1

_warned = False


def confine_tensorflow():
    """No GPU and one intra-op thread for TensorFlow, on the JAX and PyTorch backends; see the module docstring.

    Returns True when TensorFlow is (now) confined, False on the TensorFlow
    backend or when TensorFlow had already started with other settings.
    """
    global _warned
    if keras.backend.backend() == "tensorflow":
        return False
    try:
        tf.config.set_visible_devices([], "GPU")
    except (RuntimeError, ValueError):
        pass  # already initialised; the GPUs it sees are checked nowhere else, as before
    try:
        tf.config.threading.set_intra_op_parallelism_threads(INPUT_INTRA_OP_THREADS)
    except RuntimeError:
        if not _warned:
            _warned = True
            logging.warning(
                "TensorFlow ran an op before cmva_keras was imported, so its intra-op pool keeps %s "
                "threads; they compete with %s's for the cores. Import cmva_keras (or call "
                "cmva_keras.datasets.devices.confine_tensorflow()) before running TensorFlow ops.",
                tf.config.threading.get_intra_op_parallelism_threads() or "one per core",
                keras.backend.backend())
        return False
    return True


confine_tensorflow()
