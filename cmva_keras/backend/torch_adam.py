"""Keras' Adam update on PyTorch, run by PyTorch's fused Adam kernel.

Why: Keras 3.15's PyTorch Adam (`keras.src.backend.torch.optimizers.torch_adam`)
updates with out-of-place `torch._foreach_*` calls, which allocate five
temporaries the size of the model each step. Measured on the speed
benchmark's 4.6M-parameter model (one CPU thread, docs/benchmarks.md), it
takes 38 ms of a 79 ms training step; PyTorch's own Adam takes 8 ms
(single-tensor) and its fused kernel 2.3 ms on the same parameters.

What: `apply_adam(optimizer, gradients, variables)` performs the very update
`optimizer.apply(gradients, variables)` would, Keras' formula included, with
the public functional `torch.optim.adam.adam(..., fused=True)` writing
straight into the Keras variables and into the optimizer's own moment
variables (so saving, resuming and fresh-moment resets see them as always).
Keras puts epsilon after the bias correction of the second moment, PyTorch
before it; passing `epsilon / sqrt(1 - beta_2^t)` to PyTorch makes the two the
same update (`docs/method.md`'s Adam), up to float rounding.

It runs only where it is that same update: a plain `keras.optimizers.Adam`
(no amsgrad, weight decay, clipping, EMA, gradient accumulation, loss-scale
factor, callable betas or epsilon, variable constraints or
`overwrite_with_gradient`) with a gradient for every variable, all of one
floating dtype and device that the kernel supports. Otherwise it returns
False and the caller uses `optimizer.apply` (a `LossScaleOptimizer` under
`mixed_float16`, for instance). The learning rate is read from
`optimizer.learning_rate` (schedules included) and the step count from
`optimizer.iterations`, which is then advanced, as `apply` does.

Under `torch.compile` (`compile(jit_compile=True)`) the update runs
eagerly, outside the traced graph (`torch.compiler.disable`): it is one
fused kernel already, and tracing it would specialise the graph on the
step count read as a Python number, recompiling at every step until
Dynamo's recompile limit.
"""

import math

import keras
import torch
from torch.optim.adam import adam

from cmva_keras.backend import adam_update, keras_private

FUSED_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)


def fusable(optimizer, gradients, variables):
    """Whether `apply_adam` computes exactly `optimizer.apply(gradients, variables)`'s update."""
    if not adam_update.plain_adam(optimizer, gradients, variables):
        return False
    values = [v.value for v in variables]
    dtype, device = values[0].dtype, values[0].device
    return dtype in FUSED_DTYPES and all(
        t.dtype == dtype and t.device == device and not t.is_sparse for t in values + list(gradients)
    )


@torch.compiler.disable
@torch.no_grad()
def apply_adam(optimizer, gradients, variables):
    """Applies `optimizer`'s Adam update with PyTorch's fused kernel; False (nothing done) if not `fusable`."""
    if not fusable(optimizer, gradients, variables):
        return False
    momentums, velocities = keras_private.adam_slots(optimizer, variables)
    step = float(keras.ops.convert_to_numpy(optimizer.iterations))  # steps taken; this one is step + 1
    beta_1, beta_2 = float(optimizer.beta_1), float(optimizer.beta_2)
    epsilon = float(optimizer.epsilon) / math.sqrt(1.0 - beta_2 ** (step + 1.0))
    # The kernel adds 1 to each step count before using it (PyTorch's `state["step"]`).
    device = variables[0].value.device
    steps = [torch.tensor(step, dtype=torch.float32, device=device) for _ in variables]
    adam(
        [v.value for v in variables], list(gradients), [m.value for m in momentums], [v.value for v in velocities],
        [], steps, amsgrad=False, beta1=beta_1, beta2=beta_2, lr=float(keras.ops.convert_to_numpy(optimizer.learning_rate)),
        weight_decay=0.0, eps=epsilon, maximize=False, fused=True,
    )
    optimizer.iterations.assign_add(1)
    return True
