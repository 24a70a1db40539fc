"""All backend-specific code of CMVA: one `train_step`/`test_step` per backend.

Keras 3 has one training-step contract per backend (TensorFlow: `GradientTape`;
JAX: a pure function of the model state; PyTorch: `backward()` then an update
under `no_grad`). Each file here implements that contract around the
backend-agnostic `CMVA.compute_objective`, and nothing else. The mixin is chosen
once, from `keras.backend.backend()`, when the package is imported.

Freezing is the same on every backend: the phase's trained parts are read when
the step is traced, frozen parts run with `training=False`, and only the
trained parts' variables are differentiated and updated (on JAX the frozen
ones get a `None` gradient, which the optimizer skips), so neither a frozen
weight nor its Adam moments move.

`keras_private` is the one module of the package that touches private Keras
APIs (the first-batch build hook, the compiled-metrics container, the
learning-rate variable, JAX's state sync, PyTorch's noise draw); it checks
them when imported.

`cond` is the branch the objective takes for its logged-only terms:
`keras.ops.cond` where steps are traced (TensorFlow, JAX), and on PyTorch,
whose steps run eagerly, the same Python `if` Keras' PyTorch `cond` runs,
without building an operation object each call (`torch_step.cond`).
"""

import keras

from cmva_keras.backend import keras_private

_BACKEND = keras.backend.backend()

if _BACKEND == "tensorflow":
    from keras.ops import cond

    from cmva_keras.backend.tensorflow_step import TrainStepMixin
elif _BACKEND == "jax":
    from keras.ops import cond

    from cmva_keras.backend.jax_step import TrainStepMixin
elif _BACKEND == "torch":
    from cmva_keras.backend.torch_step import TrainStepMixin, cond
else:
    raise ImportError(
        f"cmva_keras supports the tensorflow, jax and torch Keras backends; "
        f"KERAS_BACKEND is {_BACKEND!r}. Set KERAS_BACKEND to one of those."
    )

__all__ = ["TrainStepMixin", "cond", "keras_private"]
