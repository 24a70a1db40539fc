"""Hand-written JAX training loop of CMVA's objective: one `jax.jit` step with a hand-written Adam."""

import functools
import types

import jax
import jax.numpy as jnp
import numpy as np

import cmva_keras as cm
from cmva_benchmark import hand_objective
from cmva_benchmark.model import NOISE_KEYS

F = types.SimpleNamespace(
    dense=lambda x, kernel, bias: x @ kernel + bias,
    relu=jax.nn.relu,
    exp=jnp.exp,
    sqrt=jnp.sqrt,
    mean=jnp.mean,
    sum_last=lambda t: jnp.sum(t, axis=-1),
    concat_last=lambda a, b: jnp.concatenate([a, b], axis=-1),
)


def adam_update(params, gradients, state, *, learning_rate, beta_1, beta_2, epsilon):
    """Keras' Adam formula on pytrees.

    `t = step + 1`, `alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)`,
    `m += (g - m)(1 - b1)`, `v += (g^2 - v)(1 - b2)`, `w -= alpha m / (sqrt(v) + eps)`.

    Args:
        params, gradients: pytrees of arrays with the same structure.
        state: `(step, m, v)`: int32 scalar step count and pytrees like `params`.

    Returns:
        `(new_params, new_state)`.
    """
    step, m, v = state
    t = (step + 1).astype(jnp.float32)
    alpha = learning_rate * jnp.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)
    m = jax.tree.map(lambda m, g: m + (g - m) * (1.0 - beta_1), m, gradients)
    v = jax.tree.map(lambda v, g: v + (g * g - v) * (1.0 - beta_2), v, gradients)
    params = jax.tree.map(lambda w, m, v: w - alpha * m / (jnp.sqrt(v) + epsilon), params, m, v)
    return params, (step + 1, m, v)


def adam_init(params):
    """Adam state `(step, m, v)` with zero moments."""
    return jnp.zeros((), jnp.int32), jax.tree.map(jnp.zeros_like, params), jax.tree.map(jnp.zeros_like, params)


class JaxLoop:
    """One CMVA training step as a jitted pure function of (trained weights, frozen weights, Adam state, key).

    Gradients are taken with respect to the phase's trained parts only; the
    trained weights and Adam state are donated to the step, as Keras does.

    Args:
        params: NumPy weights from `extract_params`.
        weights: `{term: float}` loss weights of the phase.
        phase: 1, 2 or 3: which parts train.
        config: a `BenchmarkConfig`.
    """

    def __init__(self, params, weights, phase, config):
        self.config = config
        self.weights = dict(weights)
        trained = cm.PHASES[phase].trained_parts
        as_jax = functools.partial(jax.tree.map, jnp.asarray)
        self.trained = {k: as_jax(v) for k, v in params.items() if k in trained}
        self.frozen = {k: as_jax(v) for k, v in params.items() if k not in trained}
        self.opt_state = adam_init(self.trained)
        self.key = jax.random.PRNGKey(config.seed)
        self._step = jax.jit(self._train_step, donate_argnums=(0, 2, 3))

    def _train_step(self, trained, frozen, opt_state, key, x, y, noise):
        c = self.config
        if noise is None:
            key, *subkeys = jax.random.split(key, len(NOISE_KEYS) + 1)
            shape = (c.batch_size, c.latent_dim)
            noise = {k: jax.random.normal(s, shape) for k, s in zip(NOISE_KEYS, subkeys)}

        def loss_fn(trained):
            terms = hand_objective.objective(F, {**frozen, **trained}, x, y, noise, self.weights)
            return terms["loss"], terms

        (_, terms), gradients = jax.value_and_grad(loss_fn, has_aux=True)(trained)
        trained, opt_state = adam_update(
            trained, gradients, opt_state,
            learning_rate=c.learning_rate, beta_1=c.beta_1, beta_2=c.beta_2, epsilon=c.epsilon,
        )
        return trained, opt_state, key, terms

    def step(self, x, y, noise=None):
        """One training step; returns the terms (device arrays) computed before the update."""
        self.trained, self.opt_state, self.key, terms = self._step(
            self.trained, self.frozen, self.opt_state, self.key, x, y, noise
        )
        return terms

    def objective(self, x, y, noise):
        """The terms on the current weights, as floats (no update)."""
        terms = hand_objective.objective(F, {**self.frozen, **self.trained}, x, y, noise, self.weights)
        return {k: float(v) for k, v in terms.items()}

    def to_device(self, batches):
        """Batches as JAX arrays, ready for `step`."""
        return [(jnp.asarray(x), jnp.asarray(y)) for x, y in batches]

    def sync(self, result):
        """Waits for `result` (a step's terms) and returns its loss as a float."""
        return float(jax.block_until_ready(result["loss"]))

    def params_numpy(self):
        """Current weights, same layout as `params`."""
        return jax.tree.map(np.asarray, {**self.frozen, **self.trained})
