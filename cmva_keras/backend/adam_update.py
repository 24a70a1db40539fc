"""When a framework's own fused Adam kernel can stand in for `optimizer.apply`: `plain_adam`.

PyTorch (`torch_adam.py`) and TensorFlow (`tensorflow_adam.py`) each have a
fused Adam update whose formula is Keras' (`docs/benchmarks.md` measures
what it saves). They may replace `optimizer.apply(gradients, variables)` only
where that call is nothing but Keras' Adam update: this module says where.
"""

from cmva_keras.backend import keras_private

OPTIMIZER_SETTINGS_THAT_CHANGE_THE_UPDATE = (
    "weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "loss_scale_factor",
)


def plain_adam(optimizer, gradients, variables):
    """Whether `optimizer.apply(gradients, variables)` is exactly Keras' Adam update of `variables`.

    True for a built optimizer whose class is the one Keras instantiates for
    `keras.optimizers.Adam` on this backend (`keras_private.adam_class`),
    without amsgrad, EMA, gradient accumulation, weight decay, clipping or a
    loss-scale factor, with numeric betas and epsilon, a gradient for every
    variable, and no variable constraint or `overwrite_with_gradient`. The
    caller checks what its kernel needs of dtypes and devices.
    """
    if type(optimizer) is not keras_private.adam_class() or not optimizer.built:
        return False
    if optimizer.amsgrad or optimizer.use_ema or optimizer.gradient_accumulation_steps:
        return False
    if any(getattr(optimizer, name) is not None for name in OPTIMIZER_SETTINGS_THAT_CHANGE_THE_UPDATE):
        return False
    if not all(isinstance(getattr(optimizer, name), (int, float)) for name in ("beta_1", "beta_2", "epsilon")):
        return False
    if not variables or len(gradients) != len(variables) or any(g is None for g in gradients):
        return False
    return not any(v.constraint is not None or v.overwrite_with_gradient for v in variables)


__all__ = ["plain_adam"]
