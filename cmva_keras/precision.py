"""Mixed precision: the run's dtype policy, and what stays in float32 under it.

`train.dtype_policy` (`float32`, the default; `mixed_bfloat16`; `mixed_float16`)
is Keras' global dtype policy while a run builds and trains its model
(`policy_scope`). Under a mixed policy the layers compute in bfloat16 or
float16 and keep float32 variables, except where precision matters to the
objective:

- the Gaussian heads (`GaussianHead`) and the whole `Mapper`: their outputs,
  means and log-variances, enter the KL and 2-Wasserstein terms through
  `exp(log_var)`, which loses most of its digits in 16 bits;
- the decoders' output layers (`MLP`, `ConvImageDecoder`, CADA-VAE's linear
  heads): logits and values enter the reconstruction terms, as Keras' mixed
  precision guide recommends for a model's last layer;
- every loss in `cmva_keras.losses`, which upcasts 16-bit inputs, so all the
  terms and their weighted sum are float32 (`at_least_float32`);
- the predictions (`StagedModel._activate`), so `predict` and the exported
  SavedModel's signatures return float32.

Those layers take `full_precision(dtype)`: their policy, unless it is mixed,
then its variable dtype (float32). Under `float32` nothing changes.

Loss scaling: `compile` under `mixed_float16` wraps the optimizer in Keras'
`LossScaleOptimizer` (Keras' `auto_scale_loss`); the backend steps scale the
loss with `optimizer.scale_loss` before differentiating and the optimizer
unscales the gradients (a no-op for any other optimizer).
"""

import contextlib

import keras
from keras import ops

# The values of `train.dtype_policy`.
POLICIES = ("float32", "mixed_bfloat16", "mixed_float16")

_LOW_PRECISION = ("float16", "bfloat16")


def check_policy(name):
    """`name` if it is one of `POLICIES`; else a ValueError listing them."""
    if name not in POLICIES:
        raise ValueError(
            f"Unknown dtype policy {name!r} (train.dtype_policy): choose one of {', '.join(POLICIES)} "
            "(e.g. --set train.dtype_policy=mixed_bfloat16)."
        )
    return name


@contextlib.contextmanager
def policy_scope(name):
    """Keras' global dtype policy is `name` (one of `POLICIES`) inside the block, and the previous one after it.

    Layers take the global policy when they are created, so build the model
    inside the block; it keeps its policy after the block ends (and in its
    `.keras` file).
    """
    check_policy(name)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(name)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def is_mixed(policy):
    """Whether a `keras.DTypePolicy` computes in a lower precision than its variables."""
    return policy.quantization_mode is None and policy.compute_dtype != policy.variable_dtype


def full_precision(dtype=None):
    """The dtype for a layer whose outputs enter the objective: `dtype` unless its policy is mixed.

    `dtype` is what the layer was given (None: Keras' global policy). A mixed
    policy gives its variable dtype ("float32"); anything else comes back
    unchanged, so under float32 the layer is built exactly as without this.
    """
    policy = keras.config.dtype_policy() if dtype is None else keras.dtype_policies.get(dtype)
    if is_mixed(policy):
        return policy.variable_dtype
    return dtype


def at_least_float32(x):
    """`x` cast to float32 if it is float16 or bfloat16; unchanged otherwise (float32, float64, integers)."""
    if keras.backend.standardize_dtype(getattr(x, "dtype", "float32")) in _LOW_PRECISION:
        return ops.cast(x, "float32")
    return x
