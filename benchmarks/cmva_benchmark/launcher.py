"""Starts one benchmark process per backend and writes the combined JSON and Markdown report."""

import dataclasses
import json
import os
import shlex
import subprocess
import sys
import tempfile

from cmva_benchmark.config import BACKENDS
from cmva_benchmark.report import machine_info, markdown_report, write_results
from cmva_benchmark.worker import config_to_json

BENCHMARKS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
"""`benchmarks/`, which holds the `cmva_benchmark` package."""
REPO_ROOT = os.path.dirname(BENCHMARKS_DIR)
"""The repository root, which holds the `cmva_keras` package being measured."""


def worker_environment(backend, threads=None):
    """The environment of a backend's process: `KERAS_BACKEND`, no GPU, quiet TF, optional thread limits.

    `PYTHONPATH` starts with `benchmarks/` (for `cmva_benchmark`) and the
    repository root (so the checkout's `cmva_keras` is the one measured).
    `threads` caps the intra-op threads of every framework (OpenMP for torch,
    TF's intra/inter-op pools; JAX/XLA only supports one thread or its default).
    """
    env = dict(os.environ, KERAS_BACKEND=backend, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (BENCHMARKS_DIR, REPO_ROOT, env.get("PYTHONPATH")) if p)
    if threads:
        env.update(
            OMP_NUM_THREADS=str(threads), TF_NUM_INTRAOP_THREADS=str(threads), TF_NUM_INTEROP_THREADS=str(threads)
        )
        if threads == 1:
            env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false"
                                " intra_op_parallelism_threads=1").strip()
    return env


def run_backends(backends, config, threads=None, timeout=None):
    """Runs `cmva_benchmark.worker` once per backend, one after the other; returns `{backend: result}`.

    Raises:
        RuntimeError: naming the backend whose process failed, with its exit code.
    """
    unknown = [b for b in backends if b not in BACKENDS]
    if unknown:
        raise ValueError(f"Unknown backend(s) {unknown}: choose from {BACKENDS} or 'all'.")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            out = os.path.join(tmp, f"{backend}.json")
            command = [sys.executable, "-m", "cmva_benchmark.worker", config_to_json(config), out]
            completed = subprocess.run(command, env=worker_environment(backend, threads), timeout=timeout)
            if completed.returncode != 0:
                raise RuntimeError(
                    f"The {backend} benchmark process failed with exit code {completed.returncode}; "
                    "its output is above."
                )
            with open(out) as f:
                results[backend] = json.load(f)
    return results


def write_report(results, config, out_dir, command=None, threads=None):
    """Writes `benchmark.json` and `benchmark.md` into `out_dir`; returns the Markdown text."""
    command = command or shlex.join(getattr(sys, "orig_argv", sys.argv))
    machine = dict(machine_info(), threads=threads or "framework default")
    config_dict = dataclasses.asdict(config)
    text = markdown_report(results, command, machine, config_dict)
    write_results(out_dir, "benchmark", text,
                  {"command": command, "machine": machine, "config": config_dict, "results": results})
    return text
