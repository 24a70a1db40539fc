"""Hand-written PyTorch training loop of CMVA's objective: eager, `torch.optim.Adam`."""

import types

import torch

import cmva_keras as cm
from cmva_benchmark import hand_objective
from cmva_benchmark.model import NOISE_KEYS

F = types.SimpleNamespace(
    # addmm is what torch.nn.Linear runs: one fused bias + matmul kernel.
    dense=lambda x, kernel, bias: torch.addmm(bias, x, kernel),
    relu=torch.relu,
    exp=torch.exp,
    sqrt=torch.sqrt,
    mean=torch.mean,
    sum_last=lambda t: torch.sum(t, dim=-1),
    concat_last=lambda a, b: torch.cat([a, b], dim=-1),
)


def _map(fn, tree):
    if isinstance(tree, dict):
        return {k: _map(fn, v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_map(fn, v) for v in tree)
    return fn(tree)


def _leaves(tree):
    if isinstance(tree, dict):
        return [leaf for v in tree.values() for leaf in _leaves(v)]
    if isinstance(tree, (list, tuple)):
        return [leaf for v in tree for leaf in _leaves(v)]
    return [tree]


class TorchLoop:
    """A plain eager PyTorch training step: forward, `backward()`, `torch.optim.Adam.step()`.

    Only the phase's trained parts require gradients, so autograd skips the
    frozen parts' weight gradients. `torch.optim.Adam` puts epsilon outside the
    bias correction (`w -= lr/(1-b1^t) m / (sqrt(v)/sqrt(1-b2^t) + eps)`),
    Keras inside; with the same `epsilon` the two differ only where
    `|gradient|` is near `epsilon`, which does not change the step's cost.

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
        self.params = {
            name: _map(lambda a, t=name in trained: torch.tensor(a, requires_grad=t), part)
            for name, part in params.items()
        }
        self.trained = [p for name in trained for p in _leaves(self.params[name])]
        self.optimizer = torch.optim.Adam(
            self.trained, lr=config.learning_rate, betas=(config.beta_1, config.beta_2), eps=config.epsilon
        )
        self.generator = torch.Generator().manual_seed(config.seed)

    def step(self, x, y, noise=None):
        """One training step; returns the terms (detached tensors) computed before the update."""
        if noise is None:
            shape = (self.config.batch_size, self.config.latent_dim)
            noise = {k: torch.randn(shape, generator=self.generator) for k in NOISE_KEYS}
        else:
            noise = {k: torch.as_tensor(v) for k, v in noise.items()}
        terms = hand_objective.objective(F, self.params, x, y, noise, self.weights)
        self.optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        self.optimizer.step()
        return {k: v.detach() for k, v in terms.items()}

    def objective(self, x, y, noise):
        """The terms on the current weights, as floats (no update)."""
        with torch.no_grad():
            noise = {k: torch.as_tensor(v) for k, v in noise.items()}
            terms = hand_objective.objective(F, self.params, torch.as_tensor(x), torch.as_tensor(y), noise, self.weights)
        return {k: float(v) for k, v in terms.items()}

    def to_device(self, batches):
        """Batches as torch tensors, ready for `step`."""
        return [(torch.as_tensor(x), torch.as_tensor(y)) for x, y in batches]

    def sync(self, result):
        """Returns a step's loss as a float (eager CPU: already computed)."""
        return float(result["loss"])

    def params_numpy(self):
        """Current weights, same layout as `params`."""
        return _map(lambda t: t.detach().numpy().copy(), self.params)
