"""Hand-written TensorFlow training loop of CMVA's objective: `tf.function`, `GradientTape`, hand-written Adam."""

import types

import numpy as np
import tensorflow as tf

import cmva_keras as cm
from cmva_benchmark import hand_objective
from cmva_benchmark.model import NOISE_KEYS

F = types.SimpleNamespace(
    dense=lambda x, kernel, bias: tf.nn.bias_add(tf.matmul(x, kernel), bias),
    relu=tf.nn.relu,
    exp=tf.exp,
    sqrt=tf.sqrt,
    mean=tf.reduce_mean,
    sum_last=lambda t: tf.reduce_sum(t, axis=-1),
    concat_last=lambda a, b: tf.concat([a, b], axis=-1),
)


def _flatten(tree):
    return tf.nest.flatten(tree)


class TensorFlowLoop:
    """One CMVA training step as a `tf.function` (optionally XLA-compiled).

    Only the phase's trained parts are watched by the tape and updated by Adam
    (Keras' Adam formula: `alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)`,
    `m += (g - m)(1 - b1)`, `v += (g^2 - v)(1 - b2)`, `w -= alpha m / (sqrt(v) + eps)`).
    Noise is drawn inside the step with `tf.random.stateless_normal`, seeded
    by the step count, unless given.

    Args:
        params: NumPy weights from `extract_params`.
        weights: `{term: float}` loss weights of the phase.
        phase: 1, 2 or 3: which parts train.
        config: a `BenchmarkConfig` (Adam settings, batch and latent sizes).
        jit_compile: compile the step with XLA.
    """

    def __init__(self, params, weights, phase, config, jit_compile=False):
        self.config = config
        self.weights = dict(weights)
        self.params = tf.nest.map_structure(lambda a: tf.Variable(a, dtype=tf.float32), params)
        trained = cm.PHASES[phase].trained_parts
        self.trained = [v for name in trained for v in _flatten(self.params[name])]
        self.m = [tf.Variable(tf.zeros_like(v)) for v in self.trained]
        self.v = [tf.Variable(tf.zeros_like(v)) for v in self.trained]
        self.iterations = tf.Variable(0, dtype=tf.int64)
        self._seed = int(config.seed)
        # One tf.function per noise source, each traced once (a shared one would retrace on None vs dict).
        self._step_drawn = tf.function(lambda x, y: self._train_step(x, y), jit_compile=jit_compile)
        self._step_given = tf.function(lambda x, y, noise: self._train_step(x, y, noise), jit_compile=jit_compile)

    def _draw_noise(self):
        shape = (self.config.batch_size, self.config.latent_dim)
        return {
            key: tf.random.stateless_normal(shape, seed=tf.stack([self.iterations, tf.constant(self._seed + i, tf.int64)]))
            for i, key in enumerate(NOISE_KEYS)
        }

    def apply_adam(self, gradients):
        """One Adam update of the trained variables with `gradients` (same order as `self.trained`)."""
        c = self.config
        t = tf.cast(self.iterations + 1, tf.float32)
        alpha = c.learning_rate * tf.sqrt(1.0 - tf.pow(c.beta_2, t)) / (1.0 - tf.pow(c.beta_1, t))
        for w, g, m, v in zip(self.trained, gradients, self.m, self.v):
            m.assign_add((g - m) * (1.0 - c.beta_1))
            v.assign_add((tf.square(g) - v) * (1.0 - c.beta_2))
            w.assign_sub(alpha * m / (tf.sqrt(v) + c.epsilon))
        self.iterations.assign_add(1)

    def _train_step(self, x, y, noise=None):
        if noise is None:
            noise = self._draw_noise()
        with tf.GradientTape(watch_accessed_variables=False) as tape:
            tape.watch(self.trained)
            terms = hand_objective.objective(F, self.params, x, y, noise, self.weights)
        self.apply_adam(tape.gradient(terms["loss"], self.trained))
        return terms

    def step(self, x, y, noise=None):
        """One training step; returns the terms (tensors) computed before the update."""
        if noise is None:
            return self._step_drawn(x, y)
        return self._step_given(x, y, {k: tf.convert_to_tensor(v) for k, v in noise.items()})

    def objective(self, x, y, noise):
        """The terms on the current weights, as floats (no update)."""
        terms = hand_objective.objective(F, self.params, tf.constant(x), tf.constant(y), noise, self.weights)
        return {k: float(v) for k, v in terms.items()}

    def to_device(self, batches):
        """Batches as TensorFlow tensors, ready for `step`."""
        return [(tf.constant(x), tf.constant(y)) for x, y in batches]

    def sync(self, result):
        """Waits for `result` (a step's terms) and returns its loss as a float."""
        return float(result["loss"])

    def params_numpy(self):
        """Current weights, same layout as `params`."""
        return tf.nest.map_structure(lambda v: np.array(v.numpy()), self.params)
