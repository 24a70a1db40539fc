"""Speed benchmark: CMVA's Keras training step against hand-written loops of the same objective.

From the repository root:

  .venv/bin/python benchmarks/run.py --backend all --threads 1   # the table of docs/benchmarks.md (5-7 min, 2 CPUs)
  .venv/bin/python benchmarks/run.py --backend torch --quick     # seconds-long smoke run
  .venv/bin/python benchmarks/run.py --scaling --backend jax --devices 1,2   # data-parallel steps/s
  .venv/bin/python benchmarks/run.py --tasks_speed --backend all   # task models: images/s, input wait, serving
  .venv/bin/python benchmarks/run.py --speed --backend all         # all of the above but scaling, one report
  .venv/bin/python benchmarks/run.py --speed --backend jax --quick --rounds 1 --task_steps 2 --task_rounds 1 \
      --phases 3 --tasks food --serving_calls 0 --out workdirs/speed-smoke   # a minute-long smoke run

`--scaling` times each task's default model on 1, 2, ... devices instead
(`cmva_benchmark/scaling.py`): the first N GPUs where there are some, else N
virtual CPU devices; it writes <out>/scaling.{md,json}.

`--tasks_speed` times each task's default model as training runs it, on its
real input pipeline and on the same batches held in memory, per backend and
phase: images/s, the fraction of step time lost to the input, and the
exported SavedModel's serving latency at batch 1 and 64
(`cmva_benchmark/tasks_speed.py`, `cmva_benchmark/serving.py`); it writes
<out>/tasks_speed.{md,json}.

`--speed` runs the step benchmark (`--threads`, default 1 here, as the
table of docs/benchmarks.md; 0: the frameworks' defaults), then the task
models per backend with `--task_threads` (default tensorflow=0,jax=0,torch=1:
0 is the framework's default threads; `--task_steps`, `--task_rounds`,
`--task_round_seconds`: rounds at least that long, so more steps in phase 2), then
the serving latency, in one invocation, on phases 3, 2 and 1 unless
`--phases` says otherwise (`cmva_benchmark/speed.py`). It writes
<out>/speed.{md,json}: speed.md starts with one summary table (per backend
and phase: Keras step vs hand-written loop in CPU time, each task's images/s
and input wait) and a serving table, then both parts' full reports, the
machine with its load average before and after, and the command; speed.json
holds all of it. The parts' benchmark.{md,json} and tasks_speed.{md,json} go
to the same folder.

Each backend runs in its own process (KERAS_BACKEND is fixed per process).
Before timing, each hand-written loop's first-step loss is checked against
`CMVA.compute_objective` on the same weights, batch and noise (1e-5 relative);
the run stops if it differs. Writes <out>/benchmark.{md,json} and prints the
Markdown. The benchmark is not part of the `cmva_keras` package (not in the
wheel); this script puts `benchmarks/` and the repository root on `sys.path`.
"""

import argparse
import os
import shlex
import sys

BENCHMARKS_DIR = os.path.dirname(os.path.abspath(__file__))
for _path in (BENCHMARKS_DIR, os.path.dirname(BENCHMARKS_DIR)):  # cmva_benchmark, and the checkout's cmva_keras
    if _path not in sys.path:
        sys.path.insert(0, _path)

from cmva_benchmark.config import BACKENDS, full_config, quick_config  # noqa: E402
from cmva_benchmark.launcher import run_backends, write_report  # noqa: E402


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="all", choices=("all",) + BACKENDS, help="Backend(s) to time.")
    parser.add_argument("--quick", action="store_true", help="Small layers, few steps: a seconds-long smoke run.")
    parser.add_argument("--out", default="workdirs/benchmark", help="Folder for the .md and .json results.")
    parser.add_argument("--threads", type=int, default=None, help="Intra-op threads per framework (default: theirs).")
    parser.add_argument("--rounds", type=int, default=None, help="Timed rounds (default 3).")
    parser.add_argument("--steps", type=int, default=None, help="Steps per round, a multiple of 10.")
    parser.add_argument("--phases", default=None, help="Comma-separated phases to time, e.g. 3,2 (default).")
    parser.add_argument("--rows", default=None, help="Comma-separated rows to time, e.g. keras,hand (default: all).")
    parser.add_argument("--no-torch-compile", action="store_true", help="Skip Keras torch with jit_compile=True.")
    parser.add_argument("--timeout", type=float, default=None, help="Seconds allowed per backend process.")
    parser.add_argument("--scaling", action="store_true",
                        help="Data-parallel scaling of the tasks' default models (jax or tensorflow).")
    parser.add_argument("--devices", default="1,2", help="--scaling: device counts, e.g. 1,2,4,8.")
    parser.add_argument("--tasks", default="food,hand",
                        help="--scaling, --tasks_speed: tasks whose default model is timed.")
    parser.add_argument("--tasks_speed", action="store_true",
                        help="Task models per backend: images/s per phase, input wait fraction, serving latency.")
    parser.add_argument("--memory_batches", type=int, default=8,
                        help="--tasks_speed: batches held in memory for the no-input-cost reference.")
    parser.add_argument("--serving_calls", type=int, default=20,
                        help="--tasks_speed: timed calls per signature and batch size (0: no serving).")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="--tasks_speed, --speed: config override of both tasks, e.g. data.cache=none.")
    parser.add_argument("--priority_ab", action="store_true",
                        help="--tasks_speed: also time the pipeline with the other train.input_priority, in the "
                             "same rounds (a third arm beside the pipeline and the in-memory batches).")
    parser.add_argument("--speed", action="store_true",
                        help="Step benchmark, task models and serving in one run: writes speed.{md,json}.")
    parser.add_argument("--task_steps", type=int, default=10, help="--speed: the task models' steps per round.")
    parser.add_argument("--task_rounds", type=int, default=3, help="--speed: the task models' timed rounds.")
    parser.add_argument("--task_round_seconds", type=float, default=0.0,
                        help="--speed, --tasks_speed: lengthen each phase's rounds to at least this many seconds "
                             "(phase 2's steps are short); 0: the same step count in every phase.")
    parser.add_argument("--task_threads", default="", metavar="BACKEND=N,...",
                        help="--speed: the task models' threads per backend, 0: framework default "
                             "(default tensorflow=0,jax=0,torch=1).")
    parser.add_argument("--torch_draw_ab", action="store_true",
                        help="PyTorch only: the step with seeded_normal's own noise draw against keras.random.normal, "
                             "alternating rounds in one process (--phases, default 3,2; --rounds, default 10 here; "
                             "--steps, default 100; one thread unless --threads).")
    return parser.parse_args(argv)


def tasks_speed(args):
    """`--tasks_speed`: the task models' training and serving figures; writes tasks_speed.{md,json}."""
    from cmva_benchmark.report import machine_info, write_results
    from cmva_benchmark.serving import run_serving
    from cmva_benchmark.tasks_speed import DEFAULT_PHASES, markdown_report, run_tasks_speed

    backends = BACKENDS if args.backend == "all" else (args.backend,)
    task_names = args.tasks.split(",")
    phases = tuple(int(p) for p in args.phases.split(",")) if args.phases else DEFAULT_PHASES
    machine = dict(machine_info(), load_before=round(os.getloadavg()[0], 2), threads=args.threads or "default")
    results = run_tasks_speed(backends, task_names, phases=phases, steps=args.steps or 10, rounds=args.rounds or 3,
                              memory_batches=args.memory_batches, overrides=args.set, threads=args.threads,
                              timeout=args.timeout, round_seconds=args.task_round_seconds or None,
                              priority_ab=args.priority_ab)
    serving = (run_serving(task_names, calls=args.serving_calls, threads=args.threads, timeout=args.timeout)
               if args.serving_calls else [])
    machine["load_after"] = round(os.getloadavg()[0], 2)
    command = " ".join(["python benchmarks/run.py"] + (sys.argv[1:] if len(sys.argv) > 1 else []))
    text = markdown_report(results, serving, command, machine)
    write_results(args.out, "tasks_speed", text,
                  {"command": command, "machine": machine, "training": results, "serving": serving})
    print(text)
    return results, serving


def scaling(args):
    """`--scaling`: steps/s per task and device count, with the scaling efficiency; writes scaling.{md,json}."""
    from cmva_benchmark.report import write_results
    from cmva_benchmark.scaling import markdown_table, run_scaling

    backend = "jax" if args.backend == "all" else args.backend
    try:
        results = run_scaling(backend, args.tasks.split(","), [int(d) for d in args.devices.split(",")],
                              steps=args.steps or 10, rounds=args.rounds or 3, timeout=args.timeout)
    except ValueError as error:
        raise SystemExit(f"run.py: {error}") from None
    command = " ".join(["python benchmarks/run.py"] + sys.argv[1:])
    text = markdown_table(results, command)
    write_results(args.out, "scaling", text, results)
    print(text)
    return results


def step_config(args, phases=None):
    """The step benchmark's `BenchmarkConfig` from the arguments; `phases` where `--phases` is not given."""
    overrides = {} if phases is None else {"phases": phases}
    if args.rounds is not None:
        overrides["rounds"] = args.rounds
    if args.steps is not None:
        overrides["steps_per_round"] = args.steps
    if args.phases:
        overrides["phases"] = tuple(int(p) for p in args.phases.split(","))
    if args.rows:
        overrides["rows"] = tuple(args.rows.split(","))
    if args.no_torch_compile:
        overrides["torch_compile"] = False
    try:
        return (quick_config if args.quick else full_config)(**overrides)
    except ValueError as error:
        raise SystemExit(f"run.py: {error}") from None


def speed(args, command):
    """`--speed`: step benchmark, task models and serving in one run; writes speed.{md,json} (and the parts').

    `command`: the command line, as the reports give it.
    """
    from cmva_benchmark.speed import SPEED_PHASES, parse_task_threads, run_speed

    try:
        task_threads = parse_task_threads(args.task_threads)
    except ValueError as error:
        raise SystemExit(f"run.py: {error}") from None
    phases = tuple(int(p) for p in args.phases.split(",")) if args.phases else SPEED_PHASES
    config = step_config(args, phases=tuple(reversed(SPEED_PHASES)))  # --phases, where given, replaces it
    backends = BACKENDS if args.backend == "all" else (args.backend,)
    document, text = run_speed(
        backends, config, args.out, command, threads=1 if args.threads is None else args.threads,
        task_threads=task_threads, task_names=tuple(args.tasks.split(",")), task_phases=phases,
        task_steps=args.task_steps, task_rounds=args.task_rounds, memory_batches=args.memory_batches,
        overrides=args.set, serving_calls=args.serving_calls, timeout=args.timeout,
        task_round_seconds=args.task_round_seconds or None)
    print(text)
    return document


def torch_draw_ab(args):
    """`--torch_draw_ab`: per phase, the step's CPU time with each noise draw (`cmva_benchmark/torch_draw.py`)."""
    if "keras" in sys.modules and sys.modules["keras"].backend.backend() != "torch":
        raise SystemExit("run.py: --torch_draw_ab times the PyTorch step; run it with KERAS_BACKEND=torch.")
    os.environ["KERAS_BACKEND"] = "torch"
    import torch

    from cmva_benchmark.torch_draw import report_line, summary, time_draws, time_phase

    torch.set_num_threads(args.threads or 1)
    config = step_config(args)
    steps = config.steps_per_round
    draws = time_draws()
    lines = ["one (64, 64) draw, us: " + ", ".join(f"{name} {us:.1f}" for name, us in draws.items())]
    print(lines[-1], flush=True)
    for phase in config.phases:
        figures = summary(time_phase(config, phase, steps, args.rounds or 10), steps)
        lines.append(report_line(phase, steps, figures))
        print(lines[-1], flush=True)
    return lines


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.torch_draw_ab:
        return torch_draw_ab(args)
    if args.scaling:
        return scaling(args)
    if args.tasks_speed:
        return tasks_speed(args)
    if args.speed:
        return speed(args, shlex.join(getattr(sys, "orig_argv", sys.argv) if argv is None
                                      else ["python", "benchmarks/run.py", *argv]))
    config = step_config(args)
    backends = BACKENDS if args.backend == "all" else (args.backend,)
    results = run_backends(backends, config, threads=args.threads, timeout=args.timeout)
    text = write_report(results, config, args.out, threads=args.threads)
    print(text)
    return results


if __name__ == "__main__":
    main()
