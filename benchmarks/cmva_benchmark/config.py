"""`BenchmarkConfig`: the model sizes, optimizer settings and timing schedule of the speed benchmark."""

import dataclasses

VARIANTS = {
    # Keras rows first, then the hand-written loops they are compared with.
    "tensorflow": ("keras", "keras_all_terms", "keras_batch_logs", "keras_xla", "hand", "hand_xla"),
    "jax": ("keras", "keras_all_terms", "keras_batch_logs", "keras_spe10", "hand"),
    "torch": ("keras", "keras_all_terms", "keras_batch_logs", "keras_compile", "hand"),
}
"""Benchmark rows per backend; `"hand"` is each backend's reference loop.

`keras_all_terms` is the default Keras row with `inactive_terms_every=1`:
every term computed on every step, as the hand-written loops do (the default
samples the terms a phase only logs; `StagedModel`'s module doc).
`keras_batch_logs` is the default Keras row with Keras' own `CallbackList`,
which hands every step's logs to a thread that converts them to Python
numbers; the default row's `fit` skips that where no callback reads them
(`cmva_keras/callbacks/epoch_logs.py`).
"""

BACKENDS = tuple(VARIANTS)


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig:
    """What is timed and how.

    The model is the hand task's CMVA with an MLP source encoder on a 63-d
    input (so that the benchmark measures step overhead, not convolutions):
    E1, E2 = `GaussianEncoder(latent_dim, hidden_units)`, D1, D2 =
    `MLP(target_dim, hidden_units)`, `Mapper(latent_dim)`, regression.

    Attributes:
        input_dim: size of one source input `x`, `(batch, input_dim)`.
        target_dim: size of one target `y`, `(batch, target_dim)` (21 x 3 keypoints).
        hidden_units: hidden layers of E1, D1, E2 and D2 (the output layer comes on top).
        latent_dim: `d`, the latent size of both branches and of the mapper.
        batch_size: samples per training step.
        learning_rate, beta_1, beta_2, epsilon: Adam settings, shared by every
            row (Keras' `Adam` defaults except the paper's learning rate).
        phases: CMVA phases to time (3: everything trained; 2: mapper only).
        rounds: timed rounds; steps/s is the median over rounds.
        steps_per_round: training steps in one timed round (a multiple of 10,
            so that `steps_per_execution=10` runs whole executions).
        warmup_steps: untimed steps after the first (compiling) step.
        num_batches: distinct random batches, cycled through.
        torch_compile: also time Keras torch with `jit_compile=True` (slow to compile).
        rows: only these row names (e.g. `("keras", "hand")`); empty: every row.
        seed: seed of the weights, data and noise.
    """

    input_dim: int = 63
    target_dim: int = 63
    hidden_units: tuple = (512,) * 5
    latent_dim: int = 64
    batch_size: int = 64
    learning_rate: float = 1e-4
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7
    phases: tuple = (3, 2)
    rounds: int = 3
    steps_per_round: int = 100
    warmup_steps: int = 20
    num_batches: int = 10
    torch_compile: bool = True
    rows: tuple = ()
    seed: int = 0

    def __post_init__(self):
        if self.steps_per_round <= 0 or self.steps_per_round % 10:
            raise ValueError(
                f"steps_per_round must be a positive multiple of 10 (for steps_per_execution=10); "
                f"got {self.steps_per_round}."
            )
        if self.rounds < 1 or self.warmup_steps < 0 or self.num_batches < 1:
            raise ValueError(
                f"Need rounds >= 1, warmup_steps >= 0 and num_batches >= 1; got rounds={self.rounds}, "
                f"warmup_steps={self.warmup_steps}, num_batches={self.num_batches}."
            )
        known = {row for rows in VARIANTS.values() for row in rows}
        unknown = sorted(set(self.rows) - known)
        if unknown:
            raise ValueError(f"Unknown row(s) {unknown}: the rows are {sorted(known)}.")
        bad = [p for p in self.phases if p not in (1, 2, 3)]
        if bad or not self.phases:
            raise ValueError(f"phases must be a non-empty subset of (1, 2, 3); got {self.phases}.")


def full_config(**overrides):
    """The configuration of the table in docs/benchmarks.md (hand task sizes)."""
    return dataclasses.replace(BenchmarkConfig(), **overrides)


def quick_config(**overrides):
    """A smoke run of seconds per backend: small layers, phase 3 only, few steps, no torch.compile."""
    quick = BenchmarkConfig(
        hidden_units=(64,) * 2, latent_dim=8, phases=(3,), steps_per_round=20, warmup_steps=2,
        num_batches=4, torch_compile=False,
    )
    return dataclasses.replace(quick, **overrides)
