"""Keras' Adam update on TensorFlow, run by TensorFlow's fused `ResourceApplyAdam` kernel.

Why: Keras 3.15's TensorFlow Adam updates each variable with about a dozen
graph ops, and recomputes the step's bias corrections (a read of the step
count, two powers, a square root) for every variable. With the hand task's
60 variables that is some 700 small ops per step, each paying the graph
executor's per-op cost; in the speed benchmark (docs/benchmarks.md) Keras'
training step ran at 0.93x a hand-written `tf.function` loop in phase 3.

What: `apply_adam(optimizer, gradients, variables)` performs the update
`optimizer.apply(gradients, variables)` would, with one
`tf.raw_ops.ResourceApplyAdam` per variable (a public TensorFlow op) on the
variables' and the optimizer's own moment variables, the bias corrections
computed once per step. The kernel's formula is Keras':
`m += (g - m)(1 - beta_1)`, `v += (g^2 - v)(1 - beta_2)`,
`w -= lr sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)`.

It runs only where that is the whole of `apply` (`adam_update.plain_adam`),
with dense float gradients of the variables' dtype, and never under a
`tf.distribute` strategy (there `apply` also all-reduces the replicas'
gradients); otherwise it returns False and the caller uses `optimizer.apply`.
"""

import tensorflow as tf

from cmva_keras.backend import adam_update, keras_private


def fusable(optimizer, gradients, variables):
    """Whether `apply_adam` computes exactly `optimizer.apply(gradients, variables)`'s update."""
    if tf.distribute.has_strategy():
        return False
    if not adam_update.plain_adam(optimizer, gradients, variables):
        return False
    dtype = variables[0].dtype  # a Keras dtype name, e.g. "float32"
    return all(
        isinstance(g, tf.Tensor) and g.dtype.is_floating and g.dtype.name == v.dtype == dtype
        for g, v in zip(gradients, variables)
    )


def apply_adam(optimizer, gradients, variables):
    """Applies `optimizer`'s Adam update with `ResourceApplyAdam`; False (nothing done) if not `fusable`."""
    if not fusable(optimizer, gradients, variables):
        return False
    momentums, velocities = keras_private.adam_slots(optimizer, variables)
    dtype = gradients[0].dtype
    step = tf.cast(optimizer.iterations + 1, dtype)
    beta_1 = tf.constant(optimizer.beta_1, dtype)
    beta_2 = tf.constant(optimizer.beta_2, dtype)
    epsilon = tf.constant(optimizer.epsilon, dtype)
    learning_rate = tf.cast(optimizer.learning_rate, dtype)
    beta_1_power, beta_2_power = tf.pow(beta_1, step), tf.pow(beta_2, step)
    for variable, m, v, gradient in zip(variables, momentums, velocities, gradients):
        tf.raw_ops.ResourceApplyAdam(
            var=variable.value.handle, m=m.value.handle, v=v.value.handle, beta1_power=beta_1_power,
            beta2_power=beta_2_power, lr=learning_rate, beta1=beta_1, beta2=beta_2, epsilon=epsilon,
            grad=gradient, use_locking=False, use_nesterov=False,
        )
    optimizer.iterations.assign_add(1)
    return True
