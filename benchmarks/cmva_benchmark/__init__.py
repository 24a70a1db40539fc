"""Speed benchmark of CMVA's Keras training step against hand-written loops of the same objective.

Benchmark code, not part of the `cmva_keras` package (not in the wheel): it
imports the library as `cmva_keras`. `python benchmarks/run.py --backend all`,
from the repository root, runs it (one process per backend) and writes a
Markdown table and JSON; docs/benchmarks.md holds the latest table. Modules:

- `config`: `BenchmarkConfig` (model sizes, Adam settings, timing schedule).
- `model`: the benchmark CMVA, its data and noise, its weights as arrays.
- `hand_objective`: the objective written once for the hand-written loops;
  `hand_tensorflow`, `hand_jax`, `hand_torch`: the loops (import one only
  under its backend's process).
- `rows`, `timing`, `runner`: timing of Keras `fit` and of the loops, with the
  first-step loss check against `CMVA.compute_objective`.
- `report`, `worker`, `launcher`: the per-backend processes and the report.
- `tasks_speed`, `serving`, `scaling`: the task models' speed, serving latency and data-parallel scaling;
  `speed`: the step benchmark, task models and serving in one run and one summary (`run.py --speed`).
"""

from cmva_benchmark.config import BenchmarkConfig, full_config, quick_config
from cmva_benchmark.model import (
    build_benchmark_cmva,
    extract_params,
    fixed_noise,
    keras_objective,
    loss_weights,
    synthetic_batches,
)
from cmva_benchmark.runner import EquivalenceError, check_equivalence, make_hand_loop, run_backend

__all__ = [
    "BenchmarkConfig",
    "EquivalenceError",
    "build_benchmark_cmva",
    "check_equivalence",
    "extract_params",
    "fixed_noise",
    "full_config",
    "keras_objective",
    "loss_weights",
    "make_hand_loop",
    "quick_config",
    "run_backend",
    "synthetic_batches",
]
