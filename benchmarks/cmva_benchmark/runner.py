"""Runs every benchmark row of the current Keras backend in this process and returns the results as a dict.

One process per backend (`KERAS_BACKEND` is fixed when Keras is imported);
`python benchmarks/run.py --backend all` starts one such process per backend.
"""

import os
import platform
import time

import keras

from cmva_benchmark.config import VARIANTS
from cmva_benchmark.model import (
    build_benchmark_cmva,
    extract_params,
    fixed_noise,
    keras_objective,
    loss_weights,
    synthetic_batches,
)
from cmva_benchmark.rows import HandRow, KerasRow
from cmva_benchmark.timing import summarize

TOLERANCE = 1e-5
"""Largest relative difference allowed between a hand-written loop's first loss and `compute_objective`'s."""

KERAS_COMPILE = {
    ("tensorflow", "keras"): {"jit_compile": False},
    ("tensorflow", "keras_xla"): {"jit_compile": True},
    ("tensorflow", "keras_all_terms"): {"jit_compile": False},
    ("tensorflow", "keras_batch_logs"): {"jit_compile": False},
    ("jax", "keras"): {},
    ("jax", "keras_all_terms"): {},
    ("jax", "keras_batch_logs"): {},
    ("jax", "keras_spe10"): {"steps_per_execution": 10},
    ("torch", "keras"): {},
    ("torch", "keras_all_terms"): {},
    ("torch", "keras_batch_logs"): {},
    ("torch", "keras_compile"): {"jit_compile": True},
}
"""`compile()` arguments of each Keras row."""


class EquivalenceError(AssertionError):
    """A hand-written loop's objective differs from `CMVA.compute_objective` on the same weights, batch and noise."""


def relative_error(reference, value):
    """`|value - reference| / max(|reference|, 1e-12)`."""
    return abs(value - reference) / max(abs(reference), 1e-12)


def make_hand_loop(backend, name, params, weights, phase, config):
    """The hand-written loop of `backend` for row `name` ("hand" or "hand_xla")."""
    if backend == "tensorflow":
        from cmva_benchmark.hand_tensorflow import TensorFlowLoop

        return TensorFlowLoop(params, weights, phase, config, jit_compile=name == "hand_xla")
    if backend == "jax":
        from cmva_benchmark.hand_jax import JaxLoop

        return JaxLoop(params, weights, phase, config)
    if backend == "torch":
        from cmva_benchmark.hand_torch import TorchLoop

        return TorchLoop(params, weights, phase, config)
    raise ValueError(f"No hand-written loop for backend {backend!r}; the backends are {tuple(VARIANTS)}.")


def check_equivalence(reference_terms, terms, row_name, tolerance=TOLERANCE):
    """Relative errors of `terms` against `reference_terms` ("loss" and each term); raises `EquivalenceError` above `tolerance`."""
    errors = {k: relative_error(reference_terms[k], terms[k]) for k in reference_terms}
    if errors["loss"] > tolerance:
        raise EquivalenceError(
            f"{row_name}: first-step loss {terms['loss']!r} differs from CMVA.compute_objective's "
            f"{reference_terms['loss']!r} by {errors['loss']:.2e} relative (allowed {tolerance:.0e}); "
            f"per term: { {k: f'{e:.1e}' for k, e in errors.items()} }. The hand-written loop does not "
            "compute the model's objective: fix it before timing."
        )
    return errors


def row_names(backend, config):
    """The rows timed for `backend`: its variants (minus torch.compile if disabled), restricted to
    `config.rows` when given ("hand" is always kept)."""
    names = list(VARIANTS[backend])
    if backend == "torch" and not config.torch_compile:
        names.remove("keras_compile")
    if config.rows:
        names = [n for n in names if n in config.rows]
        if "hand" not in names:
            names.append("hand")  # every ratio is taken against it
    return names


def build_rows(backend, config, phase, names, batches, log=print):
    """Builds every row of one phase and checks the hand-written ones against `compute_objective`.

    Returns:
        `(rows, checks)`: rows by name, and per checked row the relative error
        of the loss and of each term on the first step.
    """
    reference = build_benchmark_cmva(config, phase)
    params, weights = extract_params(reference), loss_weights(reference)
    x, y = batches[0]
    noise = fixed_noise(config)
    reference_terms = keras_objective(reference, x, y, noise)
    rows, checks = {}, {}
    for name in names:
        if name.startswith("hand"):
            row = HandRow(name, make_hand_loop(backend, name, params, weights, phase, config), batches)
            checks[name] = check_equivalence(reference_terms, row.first_loss(x, y, noise), f"{backend} {name}")
        else:
            model = reference if name == "keras" else build_benchmark_cmva(config, phase)
            if name == "keras_all_terms":
                model.inactive_terms_every = 1  # every term on every step, as the hand-written loops
            row = KerasRow(name, model, batches, config, batch_logs=name == "keras_batch_logs",
                           **KERAS_COMPILE[(backend, name)])
        rows[name] = row
    for name, errors in checks.items():
        log(f"  {name}: first-step loss matches compute_objective (relative error {errors['loss']:.1e})")
    return rows, checks


def time_rows(rows, config, log=print, loads=None):
    """First step, warm-up, then `config.rounds` rounds of every row in rotating order.

    Returns:
        `{row: {"first_step_s", "steps_per_s", "min", "max", "rounds", "ratio", "ratios",
        "steps_per_cpu_s", "cpu_rounds", "cpu_ratio"}}`; `ratio` is the median over rounds of
        (row's steps/s) / ("hand" row's steps/s, same round), absent without a "hand" row;
        the `cpu_` entries count steps per CPU-second of the process instead of per wall-clock second.
        The load average after each round is appended to `loads` when given.
    """
    names = list(rows)
    first = {}
    for name in names:
        first[name] = rows[name].first_step()
        log(f"  {name}: first step {first[name]:.2f} s")
    for name in names:
        if config.warmup_steps:
            rows[name].run(config.warmup_steps)
    rates = {name: [] for name in names}
    cpu_rates = {name: [] for name in names}
    for r in range(config.rounds):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order:
            seconds, cpu_seconds = rows[name].run(config.steps_per_round)
            rates[name].append(config.steps_per_round / seconds)
            cpu_rates[name].append(config.steps_per_round / max(cpu_seconds, 1e-9))
        load = load_average()
        if loads is not None:
            loads.append(load)
        log("  round %d: %s (load average %s)" % (
            r + 1, ", ".join(f"{n} {rates[n][-1]:.1f}/s ({cpu_rates[n][-1]:.1f}/cpu-s)" for n in names),
            "n/a" if load is None else f"{load:.1f}"))
    results = {}
    for name in names:
        ratios = cpu_ratios = None
        if "hand" in rates:
            ratios = [a / b for a, b in zip(rates[name], rates["hand"])]
            cpu_ratios = [a / b for a, b in zip(cpu_rates[name], cpu_rates["hand"])]
        results[name] = {"first_step_s": first[name], **summarize(rates[name], ratios, cpu_rates[name], cpu_ratios)}
    return results


def load_average():
    """The 1-minute load average (other processes compete for the CPUs), or None where unknown."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def framework_versions():
    """Versions of Keras and of the running backend's framework."""
    backend = keras.backend.backend()
    versions = {"keras": keras.__version__}
    if backend == "tensorflow":
        import tensorflow as tf

        versions["tensorflow"] = tf.__version__
    elif backend == "jax":
        import jax

        versions["jax"] = jax.__version__
    elif backend == "torch":
        import torch

        versions["torch"] = torch.__version__
        versions["torch_threads"] = torch.get_num_threads()
    return versions


def run_backend(config, log=print):
    """Times every row of the current backend for each of `config.phases`; returns a JSON-ready dict."""
    backend = keras.backend.backend()
    start = time.perf_counter()
    result = {
        "backend": backend,
        "versions": framework_versions(),
        "python": platform.python_version(),
        "load_before": load_average(),
        "phases": {},
    }
    names = row_names(backend, config)
    batches = synthetic_batches(config)
    for phase in config.phases:
        log(f"[{backend}] phase {phase}: building {', '.join(names)}")
        rows, checks = build_rows(backend, config, phase, names, batches, log=log)
        loads = []
        timed = time_rows(rows, config, log=log, loads=loads)
        result["phases"][str(phase)] = {"rows": timed, "checks": checks, "load_per_round": loads}
        del rows
    result["load_after"] = load_average()
    result["seconds"] = time.perf_counter() - start
    return result


__all__ = ["EquivalenceError", "build_rows", "check_equivalence", "run_backend", "time_rows"]
