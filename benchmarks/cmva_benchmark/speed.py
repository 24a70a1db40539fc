"""`--speed`: the step benchmark, the task models' speed and the serving latency in one run, one report.

`python benchmarks/run.py --speed [--backend all]` runs, one after the other
in one invocation:

1. the step benchmark of the default mode (`launcher.run_backends`: Keras'
   training step against the hand-written loops), by default with one thread
   per framework (`--threads 1`, as the table of docs/benchmarks.md) and on
   phases 3, 2 and 1;
2. `--tasks_speed`'s training figures (`tasks_speed.run_tasks_speed`), one
   process per backend, each with its own thread setting (`--task_threads`;
   by default the framework's own threads for TensorFlow and JAX, one thread
   for torch, whose default threads are unmeasurable on a shared 2-core
   machine: docs/benchmarks.md, "Results (earlier runs, loaded machine)");
3. the serving latency (`serving.run_serving`, TensorFlow process, with
   TensorFlow's task threads).

It writes `<out>/speed.md`, which starts with one summary table (one row per
backend and phase: the Keras step's speed against the hand-written loop in
CPU time, and each task's images/s and input wait) and a serving table, then
the full reports of the two parts; `<out>/speed.json`, which holds all of it;
and the parts' own `benchmark.{md,json}` and `tasks_speed.{md,json}`.
"""

import dataclasses
import os

from cmva_benchmark.config import BACKENDS
from cmva_benchmark.launcher import run_backends, write_report
from cmva_benchmark.report import _fmt, _ratio, cpu_counters, machine_info, steal_fraction, write_results
from cmva_benchmark.runner import load_average
from cmva_benchmark.serving import BATCHES, run_serving
from cmva_benchmark.tasks_speed import (
    CONFIDENCE,
    WAIT_TARGET,
    _pct,
    run_tasks_speed,
    target_verdict,
    wait_interval_text,
)
from cmva_benchmark.tasks_speed import markdown_report as tasks_markdown

SPEED_PHASES = (1, 2, 3)
"""Phases of the summary table (and the default phases of both parts)."""
SUMMARY_TASKS = ("food", "hand")
"""Tasks with columns in the summary table."""
DEFAULT_TASK_THREADS = "tensorflow=0,jax=0,torch=1"
"""`--task_threads`' default: framework default threads for TensorFlow and JAX, one thread for torch."""
PART_NAMES = (("whole run", "run"), ("step benchmark", "step"), ("task models", "tasks"), ("serving", "serving"))
"""The parts whose steal time the report gives: (name in the report, key of `machine["steal"]`)."""
STEP_ROW = "keras"
"""The step benchmark's row the summary compares with the hand-written loop: Keras' default setup."""


def parse_task_threads(spec):
    """`"tensorflow=0,jax=0,torch=1"` -> `{backend: threads or None}` (0: the framework's default threads).

    Backends the spec leaves out keep `DEFAULT_TASK_THREADS`' setting.

    Raises:
        ValueError: naming the part that is not `BACKEND=N` with a known backend and an integer N >= 0.
    """
    threads = {}
    for text in (DEFAULT_TASK_THREADS, spec):
        for part in filter(None, (p.strip() for p in text.split(","))):
            backend, sep, value = part.partition("=")
            backend = backend.strip()
            if not sep or backend not in BACKENDS:
                raise ValueError(f"--task_threads: bad part {part!r}: expected BACKEND=N with BACKEND one of "
                                 f"{', '.join(BACKENDS)} (e.g. {DEFAULT_TASK_THREADS}).")
            try:
                count = int(value)
            except ValueError:
                count = -1
            if count < 0:
                raise ValueError(f"--task_threads: bad part {part!r}: the thread count must be an integer >= 0 "
                                 "(0: the framework's default threads).")
            threads[backend] = count or None
    return threads


def _get(tree, *keys):
    """`tree[k0][k1]...`, or None where a key is missing."""
    for key in keys:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def summary_rows(step_results, task_results, phases=SPEED_PHASES, tasks=SUMMARY_TASKS):
    """One dict per (backend, phase) of the figures the summary shows; None where a figure was not measured.

    `step_results`: `{backend: runner.run_backend(...)}`; `task_results`:
    `{backend: {task: tasks_speed.measure_task(...)}}`. Keys: `backend`,
    `phase`, `step_cpu_ratio` (the `keras` row's steps per CPU-second over
    the hand-written loop's, median over rounds), and per task
    `<task>_images_per_s` (on its training pipeline), `<task>_input_wait`,
    `<task>_input_wait_rounds` (its rounds' own waits) and
    `<task>_input_wait_verdict` (`tasks_speed.target_verdict` of those).
    """
    backends = [b for b in BACKENDS if b in step_results or b in task_results]
    backends += [b for b in list(step_results) + list(task_results) if b not in backends]
    rows = []
    for backend in backends:
        for phase in phases:
            row = {"backend": backend, "phase": phase, "step_cpu_ratio": _get(
                step_results, backend, "phases", str(phase), "rows", STEP_ROW, "cpu_ratio")}
            for task in tasks:
                figures = _get(task_results, backend, task, "phases", str(phase))
                row[f"{task}_images_per_s"] = _get(figures, "pipeline", "images_per_s")
                row[f"{task}_input_wait"] = _get(figures, "input_wait_fraction")
                row[f"{task}_input_wait_rounds"] = _get(figures, "input_wait_rounds")
                row[f"{task}_input_wait_verdict"] = target_verdict(row[f"{task}_input_wait_rounds"])
            rows.append(row)
    return rows


def summary_table(rows, tasks=SUMMARY_TASKS):
    """Markdown table of `summary_rows`; "n/a" where a figure is missing."""
    header = ["backend", "phase", "Keras step vs hand-written, CPU time [1]"]
    for task in tasks:
        header += [f"{task} images/s", f"{task} input wait [2]"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        cells = [row["backend"], str(row["phase"]), _ratio(row["step_cpu_ratio"])]
        for task in tasks:
            rate = row[f"{task}_images_per_s"]
            wait = _pct(row[f"{task}_input_wait"])
            rounds = row.get(f"{task}_input_wait_rounds")
            if row[f"{task}_input_wait"] is not None and rounds:
                wait += f" ({wait_interval_text(rounds)})"
            cells += ["n/a" if rate is None else f"{rate:.1f}", wait]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def verdict_text(rows, tasks=SUMMARY_TASKS):
    """One sentence: how many summary cells' input waits are under, over and undecided against the target,
    naming the cells that are not under; "" where no cell had enough rounds for a verdict."""
    cells = {"under": [], "over": [], "undecided": []}
    for row in rows:
        for task in tasks:
            verdict = row.get(f"{task}_input_wait_verdict")
            if verdict:
                cells[verdict].append(f"{row['backend']} {task} phase {row['phase']}")
    if not any(cells.values()):
        return ""
    parts = [f"under in {len(cells['under'])}"]
    for verdict in ("over", "undecided"):
        named = f" ({', '.join(cells[verdict])})" if cells[verdict] else ""
        parts.append(f"{verdict} in {len(cells[verdict])}{named}")
    return (f"Input wait against the {WAIT_TARGET:.0%} target, from each cell's {CONFIDENCE:.0%}+ interval for "
            f"the median of its rounds' waits: {', '.join(parts)}.")


def serving_summary_table(serving, batches=BATCHES):
    """Markdown table of the median serving latency per (task, signature) and batch size (`run_serving` rows)."""
    medians = {}
    for r in serving:
        medians.setdefault((r["task"], r["signature"]), {})[r["batch"]] = r["median_ms"]
    lines = ["| task | signature | " + " | ".join(f"batch {b}, median ms" for b in batches) + " |",
             "| --- | --- |" + " --- |" * len(batches)]
    for (task, signature), by_batch in medians.items():
        cells = ["n/a" if by_batch.get(b) is None else f"{by_batch[b]:.1f}" for b in batches]
        lines.append(f"| {task} | `{signature}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _threads_text(threads):
    return "framework default" if not threads else str(threads)


def steal_text(steal):
    """The machine line's sentence on the CPU time other guests took (`{part: steal_fraction}`); "" if unknown."""
    parts = [(name, (steal or {}).get(key)) for name, key in PART_NAMES]
    parts = [f"{name} {value:.1%}" for name, value in parts if value is not None]
    if not parts:
        return ""
    return "CPU time the hypervisor gave to other guests (steal, share of the machine's): " + ", ".join(parts) + "."


def markdown_report(document, step_text, tasks_text):
    """`speed.md`: the summary and serving tables first, then both parts' reports, the machine and the command."""
    machine = document["machine"]
    threads = document["tasks"]["threads"]
    task_threads = ", ".join(f"{b} {_threads_text(threads[b])}" for b in document["tasks"]["results"])
    out = ["## Speed summary", "", summary_table(document["summary"]), "",
           f"[1] Steps per CPU-second of Keras' default training step (row `{STEP_ROW}`) over the hand-written "
           "loop's in the same framework, median over rounds (above 1: Keras is faster), on the step "
           "benchmark's MLP CMVA (63-d input, not the task models), "
           f"threads: {_threads_text(document['step']['threads'])}. The default mode times phases 3 and 2; "
           "`--speed` adds phase 1, whose hand-written loops pass the same first-step loss check.",
           "[2] Share of the training step's wall time the input pipeline costs: 1 - (s/step, the same batches "
           "in memory) / (s/step, on the training pipeline), from each arm's median round. In brackets, from the "
           "rounds' own waits (each pipeline round against the in-memory round next to it; negative: that "
           f"in-memory round was the slower): with 5 rounds or more, a distribution-free interval of at least "
           f"{CONFIDENCE:.0%} coverage for their median, and whether it lies under the {WAIT_TARGET:.0%} target, "
           "over it, or straddles it (undecided); with fewer, their lowest and highest. Images/s are on the "
           f"training pipeline, the task's default model; threads: {task_threads}.",
           "n/a: not measured in this run (its phase, task or backend was not asked for).", ""]
    verdicts = verdict_text(document["summary"])
    if verdicts:
        out += [verdicts, ""]
    if document["serving"]:
        out += ["Serving latency of the exported SavedModel (TensorFlow, `tf.saved_model.load`, per call):", "",
                serving_summary_table(document["serving"]), ""]
    out += ["## Step benchmark: Keras training step against hand-written loops", "", step_text.rstrip(), "",
            "## Task models: training speed, input wait, serving", "", tasks_text.rstrip(), "",
            "## Run", "",
            f"Machine: {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['platform']}, Python "
            f"{machine['python']}; run {machine['date']}; load average {_fmt(machine['load_before'], 2)} before, "
            f"{_fmt(machine['load_after'], 2)} after. {steal_text(machine.get('steal'))}".rstrip(), "",
            f"Command: `{document['command']}`", ""]
    return "\n".join(out)


def run_speed(backends, config, out_dir, command, *, threads=1, task_threads=None, task_names=SUMMARY_TASKS,
              task_phases=SPEED_PHASES, task_steps=10, task_rounds=3, memory_batches=8, overrides=(),
              serving_calls=20, timeout=None, log=print, task_round_seconds=None):
    """Runs the three parts one after the other and writes `speed.{md,json}` (and the parts' files) into `out_dir`.

    Args:
        backends: backends of the step benchmark and of the task models.
        config: the step benchmark's `BenchmarkConfig`.
        command: the command line, for the reports.
        threads: the step benchmark's threads per framework (0 or None: the frameworks' defaults).
        task_threads: `{backend: threads or None}` of the task models (`parse_task_threads`); serving
            uses TensorFlow's.
        task_names, task_phases, task_steps, task_rounds, memory_batches, overrides: `run_tasks_speed`'s.
        task_round_seconds: `run_tasks_speed`'s `round_seconds` (None: `task_steps` in every phase).
        serving_calls: timed calls per signature and batch (0: no serving).

    Returns:
        `(document, text)`: what `speed.json` and `speed.md` hold.
    """
    task_threads = dict(parse_task_threads(""), **(task_threads or {}))
    machine = dict(machine_info(), load_before=_round(load_average()))
    counters = {"run": cpu_counters()}
    steal = {}

    def part_done(part, start):
        counters[part] = cpu_counters()
        steal[part] = steal_fraction(counters[start], counters[part])

    log(f"[speed] 1/3 step benchmark, threads {_threads_text(threads)}")
    step = run_backends(backends, config, threads=threads or None, timeout=timeout)
    part_done("step", "run")
    step_text = write_report(step, config, out_dir, command=command, threads=threads or None)
    tasks = {}
    for backend in backends:
        log(f"[speed] 2/3 task models on {backend}, threads {_threads_text(task_threads[backend])}")
        tasks.update(run_tasks_speed((backend,), task_names, phases=task_phases, steps=task_steps,
                                     rounds=task_rounds, memory_batches=memory_batches, overrides=overrides,
                                     threads=task_threads[backend], timeout=timeout,
                                     round_seconds=task_round_seconds))
    part_done("tasks", "step")
    serving = []
    if serving_calls:
        log(f"[speed] 3/3 serving, threads {_threads_text(task_threads['tensorflow'])}")
        serving = run_serving(task_names, calls=serving_calls, threads=task_threads["tensorflow"], timeout=timeout)
        part_done("serving", "tasks")
    machine["load_after"] = _round(load_average())
    steal["run"] = steal_fraction(counters["run"], cpu_counters())
    machine["steal"] = steal
    tasks_machine = dict(machine, threads=task_threads)
    tasks_text = tasks_markdown(tasks, serving, command, tasks_machine)
    write_results(out_dir, "tasks_speed", tasks_text,
                  {"command": command, "machine": tasks_machine, "training": tasks, "serving": serving})
    document = {
        "command": command, "machine": machine,
        "summary": summary_rows(step, tasks),
        "step": {"threads": threads or None, "config": dataclasses.asdict(config), "results": step},
        "tasks": {"threads": task_threads, "phases": list(task_phases), "steps": task_steps,
                  "round_seconds": task_round_seconds, "rounds": task_rounds, "memory_batches": memory_batches, "overrides": list(overrides),
                  "results": tasks},
        "serving": serving,
    }
    text = markdown_report(document, step_text, tasks_text)
    write_results(out_dir, "speed", text, document)
    log(f"[speed] wrote {os.path.join(out_dir, 'speed.md')} and speed.json")
    return document, text


def _round(load):
    return None if load is None else round(load, 2)
