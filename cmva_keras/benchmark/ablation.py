"""Where CMVA's Keras step loses time: each proposal of `proposals.py` timed alone, and (torch) a step breakdown.

`scripts/benchmark.py --profile` runs `profile_backend` once per backend. The
ablation rows are "keras" (plain `CMVA`), one "lean:<proposal>" row per
proposal that applies to the backend, "keras_lean" (its default proposals) and "hand";
ratios are against "keras" within each round, so a ratio of 1.10 is a 10%
faster step.
"""

import functools
import time

import keras
import numpy as np

from cmva_keras.benchmark.model import build_benchmark_cmva, synthetic_batches
from cmva_keras.benchmark.proposals import BACKEND_PROPOSALS
from cmva_keras.benchmark.runner import build_rows, framework_versions, load_average, time_rows


def ablation_rows(backend):
    """Row names of the ablation: baseline, each proposal alone, all proposals, hand-written."""
    return ["keras"] + [f"lean:{p}" for p in BACKEND_PROPOSALS[backend]] + ["keras_lean", "hand"]


def torch_step_breakdown(config, phase, steps=30, lean=False, **flags):
    """Milliseconds per step of each part of the Keras torch training step, measured with `perf_counter`.

    Re-runs the steps of `cmva_keras/backend/torch_step.py` (or `LeanCMVA`'s)
    on one model outside `fit`, timing: zero_grad + variable list, forward
    (`compute_objective`), backward, `optimizer.apply`, metric update
    (`_update_metrics`, i.e. the trackers and `get_metrics_result`).
    """
    import torch

    from cmva_keras.benchmark.model import make_adam
    from cmva_keras.benchmark.proposals import LeanCMVA

    if lean:
        model = build_benchmark_cmva(config, phase, model_class=functools.partial(LeanCMVA, **flags))
    else:
        model = build_benchmark_cmva(config, phase)
    model.compile(optimizer=make_adam(config))
    batches = [(torch.as_tensor(x), torch.as_tensor(y)) for x, y in synthetic_batches(config)]
    model.optimizer.build(model.trainable_variables)
    parts = {"variables+zero_grad": [], "forward": [], "backward": [], "optimizer.apply": [], "metrics": []}
    for i in range(steps + 3):
        x, y = batches[i % len(batches)]
        t0 = time.perf_counter()
        if lean:
            variables = model._phase_variables()
            gradients = [v.value.grad for v in variables if v.value.grad is not None]
            if gradients:
                torch._foreach_zero_(gradients)
        else:
            model.zero_grad()
            variables = model.phase_trainable_variables
        t1 = time.perf_counter()
        terms, y_pred = model.compute_objective(x, y, training=True)
        t2 = time.perf_counter()
        terms["loss"].backward()
        t3 = time.perf_counter()
        with torch.no_grad():
            model.optimizer.apply([v.value.grad for v in variables], variables)
            t4 = time.perf_counter()
            terms = {k: v.detach() for k, v in terms.items()}
            model._update_metrics(terms, y, None if y_pred is None else y_pred.detach())
        t5 = time.perf_counter()
        if i >= 3:
            for key, seconds in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                parts[key].append(seconds * 1e3)
    return {key: float(np.median(values)) for key, values in parts.items()}


def torch_hand_breakdown(config, phase, steps=30):
    """Milliseconds per step of the hand-written torch loop: zero_grad, forward, backward, Adam step."""
    import torch

    from cmva_keras.benchmark import hand_objective
    from cmva_keras.benchmark import hand_torch
    from cmva_keras.benchmark.hand_torch import TorchLoop
    from cmva_keras.benchmark.model import NOISE_KEYS, extract_params, loss_weights

    reference = build_benchmark_cmva(config, phase)
    loop = TorchLoop(extract_params(reference), loss_weights(reference), phase, config)
    batches = [(torch.as_tensor(x), torch.as_tensor(y)) for x, y in synthetic_batches(config)]
    parts = {"zero_grad": [], "forward": [], "backward": [], "optimizer.step": []}
    shape = (config.batch_size, config.latent_dim)
    for i in range(steps + 3):
        x, y = batches[i % len(batches)]
        t0 = time.perf_counter()
        loop.optimizer.zero_grad(set_to_none=True)
        t1 = time.perf_counter()
        noise = {k: torch.randn(shape) for k in NOISE_KEYS}
        terms = hand_objective.objective(hand_torch.F, loop.params, x, y, noise, loop.weights)
        t2 = time.perf_counter()
        terms["loss"].backward()
        t3 = time.perf_counter()
        loop.optimizer.step()
        t4 = time.perf_counter()
        if i >= 3:
            for key, seconds in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
                parts[key].append(seconds * 1e3)
    return {key: float(np.median(values)) for key, values in parts.items()}


def profile_backend(config, log=print):
    """The ablation (and on torch the step breakdowns) for every phase of `config`; a JSON-ready dict."""
    backend = keras.backend.backend()
    start = time.perf_counter()
    result = {"backend": backend, "versions": framework_versions(), "load_before": load_average(), "phases": {}}
    batches = synthetic_batches(config)
    for phase in config.phases:
        names = ablation_rows(backend)
        log(f"[{backend}] phase {phase} ablation: {', '.join(names)}")
        rows, checks = build_rows(backend, config, phase, names, batches, log=log)
        loads = []
        timed = time_rows(rows, config, reference="keras", log=log, loads=loads)
        phase_result = {"rows": timed, "checks": checks, "load_per_round": loads}
        del rows
        if backend == "torch":
            phase_result["breakdown_ms"] = {
                "keras": torch_step_breakdown(config, phase),
                "keras_lean": torch_step_breakdown(config, phase, lean=True),
                "keras_lean + direct_calls": torch_step_breakdown(config, phase, lean=True, direct_calls=True),
                "hand": torch_hand_breakdown(config, phase),
            }
            log(f"  breakdown (ms/step): {phase_result['breakdown_ms']}")
        result["phases"][str(phase)] = phase_result
    result["load_after"] = load_average()
    result["seconds"] = time.perf_counter() - start
    return result
