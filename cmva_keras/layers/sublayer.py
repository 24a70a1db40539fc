"""`call_sublayer`: how this package's composite layers call the Dense (and Flatten) layers they own.

Why: on PyTorch every step runs eagerly, and `keras.layers.Layer.__call__`
costs about 85 microseconds of Python per call (input checks, autocasting,
call contexts, the `torch.nn.Module` wrapper; one CPU thread, measured on a
512-unit Dense layer whose matmul takes 310). The hand task's CMVA calls 36
such sublayers per training step; in the speed benchmark this bookkeeping was
the largest gap left between Keras' step and a hand-written PyTorch loop
(docs/benchmarks.md).

What: for a built sublayer, on PyTorch, with eager tensors that already have
the layer's compute dtype, `call_sublayer(layer, x)` is `layer.call(x)`: the
layer's own computation, which is all `__call__` would run for such inputs
(no cast, no mask, no training flag: Dense, Flatten and GaussianHead take
none). A plain `keras.layers.Dense` (no quantization, no LoRA, relu or
linear activation) on a 2-D batch is computed as `Dense.call` computes it,
matmul, bias add, activation, but with torch's own functions: Keras' ops
convert and check each operand (about 5 conversions per Dense call), which
cost as much again as `__call__`. The results are bit-identical
(tests/test_step_speedups.py). Anything else (another backend, where a step is traced once and the
bookkeeping is free; symbolic tensors; an unbuilt layer; inputs that a mixed
dtype policy would cast) goes through `layer(x)`, and so does every part of
another class: users' own layers may rely on `__call__`.
"""

import keras

_TORCH = keras.backend.backend() == "torch"


def _eager_with_dtype(value, dtype):
    import torch

    return isinstance(value, torch.Tensor) and keras.backend.standardize_dtype(value.dtype) == dtype


def _plain_dense(layer, inputs):
    """Whether `layer` is a Dense layer `_torch_dense` computes exactly as `Dense.call` does."""
    return (
        type(layer) is keras.layers.Dense and len(inputs) == 1 and inputs[0].dim() == 2
        and layer.quantization_mode is None and not layer.lora_enabled
        and layer.activation in (keras.activations.relu, keras.activations.linear)
    )


def _torch_dense(layer, x):
    """`Dense.call(x)`: `activation(x @ kernel + bias)`, with torch's functions on the variables' tensors."""
    import torch

    x = torch.matmul(x, layer.kernel.value)
    if layer.bias is not None:
        x = x + layer.bias.value
    return torch.relu(x) if layer.activation is keras.activations.relu else x


def call_sublayer(layer, *inputs):
    """`layer(*inputs)`, or on PyTorch `layer.call(*inputs)` where that is the same computation (see module doc)."""
    if _TORCH and layer.built and all(_eager_with_dtype(x, layer.compute_dtype) for x in inputs):
        if _plain_dense(layer, inputs):
            return _torch_dense(layer, inputs[0])
        return layer.call(*inputs)
    return layer(*inputs)


def call_part(layer, *inputs, training=False):
    """A model part's `layer(*inputs, training=training)`; `layer.call` where that is the same (module doc)."""
    if (_TORCH and getattr(type(layer), "DIRECT_CALL", False) and layer.built
            and all(_eager_with_dtype(x, layer.compute_dtype) for x in inputs)):
        return layer.call(*inputs, training=training)
    return layer(*inputs, training=training)
