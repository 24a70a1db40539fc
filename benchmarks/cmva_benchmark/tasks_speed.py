"""The task models' training speed and how much of it the input pipeline costs.

`python benchmarks/run.py --tasks_speed [--backend all] [--tasks food,hand] [--phases 1,2,3]`
runs one process per backend (KERAS_BACKEND is fixed per process). Each
process, for each task, builds the run exactly as `scripts/train.py` does for
the default variant: `training.setup.build_datasets` (the embedded offline
synthetic dataset, the task's training pipeline with its cache, shuffling
and augmentation), the default model, compiled with the run's optimizer and
`jit_compile`. Then, for each phase (`model.set_phase`), it times Keras `fit`
twice on the same compiled step:

- **pipeline**: on the training pipeline itself (repeated), the path a
  training run takes;
- **in memory**: on `memory_batches` batches taken from that same pipeline
  beforehand and served from memory (`tf.data.Dataset.from_tensor_slices`
  of the stacked batches, repeated, prefetched): the same shapes, dtypes and
  Keras data adapter, but no decoding or augmentation while training.

Both get the callbacks training adds for the input: with the configs'
default `train.input_priority = "low"`, `InputPriority` runs the input's
threads below the step's (`cmva_keras/callbacks/input_priority.py`);
`--set train.input_priority=normal` measures without it.

Each round is one `fit` of two epochs of `steps` steps: the first epoch
(compilation, a new iterator whose shuffle buffer fills) is not timed; the
second is, from its first batch's start to its end (`timing.EpochTimer`), in
wall and in process CPU time (all threads, so the tf.data threads too).
Pipeline and in-memory rounds alternate (pipeline, memory, memory, pipeline,
...), so that the load of other processes, which drifts over minutes on a
shared machine, weighs on both alike. Figures are medians over rounds.

**Input wait fraction** = 1 - (in-memory seconds per step) / (pipeline
seconds per step), floored at 0: the part of a training step's wall time
that goes away when the input costs nothing. Why not time `next()` on the
iterator: on TensorFlow, `fit` calls `next` inside its compiled function;
on JAX and torch, Keras prefetches batches on its own, so a callback's gap
between `on_train_batch_end` and the next `on_train_batch_begin` misses the
wait. The difference of two `fit`s on one compiled step measures, through
the path `fit` takes, both the time the step blocks on the iterator and the
time the pipeline's threads take the cores from the step (on 2 CPUs these
are the same cores), which is what training loses to its input.
The headline figure uses each arm's median round; the report also gives
the lowest and highest of the rounds' own waits (each pipeline round against
the in-memory round run next to it, `round_waits`), which shows how far a
median of a few rounds moves on the machine it ran on. With 5 rounds or more
it gives, from those round waits, a distribution-free interval of at least
90% coverage for their median (`median_interval`) and whether that interval
lies under the 5% target, over it, or straddles it (`target_verdict`): on a
machine whose single rounds spread over tens of points, a cell near 5% is
"undecided" rather than read as met or missed from its median alone.
**Input CPU share** = 1 - (in-memory CPU-s per step) / (pipeline CPU-s per
step): the part of the process's CPU time the pipeline takes.

Also per task: the pipeline alone (batches read with no model), and the
cache fill (the one decoding pass at start-up, `pipelines.common.cache`).
Serving latency (`serving.py`) completes the report.
"""

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

DEFAULT_PHASES = (1, 2, 3)
WAIT_TARGET = 0.05
"""Issue 12's target: the input costs under this share of a training step's wall time."""
CONFIDENCE = 0.9
"""Least coverage of `median_interval`'s interval, which `target_verdict` holds against `WAIT_TARGET`."""


def input_wait_fraction(pipeline_seconds, memory_seconds):
    """1 - memory / pipeline seconds per step, floored at 0 (noise can make memory slower); None if unknown."""
    if not pipeline_seconds or memory_seconds is None:
        return None
    return max(0.0, 1.0 - memory_seconds / pipeline_seconds)


def round_waits(pipeline_rounds_s, memory_rounds_s):
    """The input wait of each round: `1 - memory / pipeline` seconds of the pipeline's and the in-memory arm's
    round of the same index (`compare_arms` runs them next to each other), not floored: a negative value is a
    round in which the in-memory arm happened to be the slower. How far these spread is how far one run's
    median can be trusted on its machine."""
    if len(pipeline_rounds_s) != len(memory_rounds_s):
        raise ValueError(f"{len(pipeline_rounds_s)} pipeline rounds against {len(memory_rounds_s)} in memory: "
                         "the rounds are compared pairwise, so both arms need as many.")
    return [1.0 - m / p for p, m in zip(pipeline_rounds_s, memory_rounds_s) if p]


def median_interval(values, confidence=CONFIDENCE):
    """A distribution-free interval for the median of what `values` (e.g. a phase's `round_waits`) were drawn
    from: `(low, high, coverage)`, or None with too few values to reach `confidence` (fewer than 5 for 0.9).

    It is `[x(k), x(n+1-k)]` of the n sorted values, with the largest k whose
    coverage `1 - 2 P(B < k)`, B ~ Binomial(n, 1/2), is at least
    `confidence`: each draw falls below the median with probability 1/2, so
    the number B of draws below it is Binomial(n, 1/2), and the interval
    misses the median only where fewer than k draws fall below it or fewer
    than k above it, each with probability P(B < k). It assumes only that
    the rounds are independent draws from one distribution, not that the
    distribution is normal; single rounds on a shared machine have long
    tails. n = 5 gives the lowest and highest value
    (93.75%); n = 9 the second lowest and second highest (96.1%).
    """
    xs = sorted(values)
    n, below, interval = len(xs), 0, None
    for k in range(1, n // 2 + 1):
        below += math.comb(n, k - 1)  # 2**n P(B < k)
        coverage = 1.0 - 2.0 * below / 2 ** n
        if coverage < confidence:
            break
        interval = (xs[k - 1], xs[n - k], coverage)
    return interval


def target_verdict(waits, target=WAIT_TARGET, confidence=CONFIDENCE):
    """Whether a phase's round waits put its input wait under or over `target`: "under" where all of
    `median_interval` lies below it, "over" where all of it lies above, "undecided" where it straddles it;
    None with too few rounds for an interval."""
    return interval_verdict(median_interval(waits or [], confidence), target)


def interval_verdict(interval, target=WAIT_TARGET):
    """`target_verdict` of a `median_interval` (None: None)."""
    if interval is None:
        return None
    low, high, _ = interval
    return "under" if high < target else "over" if low > target else "undecided"


def round_times(fit, steps, rounds):
    """Runs `fit(epochs, callbacks)` for 1 + `rounds` epochs; returns the timed rounds' (wall, CPU) seconds.

    `steps`: the steps per epoch `fit` runs (for the record). The first epoch is warm-up (compilation, buffers filling) and is dropped.
    """
    from cmva_benchmark.timing import EpochTimer

    class RoundTimer(EpochTimer):
        def __init__(self):
            super().__init__()
            self.rounds = []

        def on_epoch_end(self, epoch, logs=None):
            super().on_epoch_end(epoch, logs)
            self.rounds.append((self.seconds, self.cpu_seconds))

    timer = RoundTimer()
    fit(1 + rounds, [timer])
    return timer.rounds[1:]


def steps_for_round(min_steps, step_seconds, round_seconds):
    """Steps per timed round: `min_steps`, or more where `round_seconds` asks rounds to last at least that long.

    Phase 2's steps take a tenth of phase 1's: at a fixed step count its
    rounds last a fraction of a second, and a scheduling hiccup of a few
    milliseconds moves its input-wait fraction by several points.
    """
    if not round_seconds or not step_seconds or step_seconds <= 0:
        return int(min_steps)
    return max(int(min_steps), math.ceil(round_seconds / step_seconds))


def summarize_rounds(rounds, steps, batch_size):
    """Per-step medians of `(wall, CPU)` rounds: seconds, CPU seconds, images/s, images per CPU-s."""
    wall = statistics.median(w for w, _ in rounds) / steps
    cpu = statistics.median(c for _, c in rounds) / steps
    return {"step_s": wall, "step_cpu_s": cpu, "images_per_s": batch_size / wall,
            "images_per_cpu_s": batch_size / cpu if cpu > 0 else None,
            "rounds_s": [w for w, _ in rounds], "rounds_cpu_s": [c for _, c in rounds]}


def in_memory(dataset, num_batches):
    """`num_batches` batches of `dataset` as a repeated, prefetched in-memory `tf.data.Dataset` of whole batches."""
    import numpy as np
    import tensorflow as tf

    batches = list(dataset.take(num_batches).as_numpy_iterator())
    if len(batches) < num_batches:
        raise ValueError(f"The pipeline gave {len(batches)} batches, fewer than the {num_batches} asked for.")
    stacked = tuple(np.stack([b[i] for b in batches]) for i in range(len(batches[0])))
    return tf.data.Dataset.from_tensor_slices(stacked).repeat().prefetch(tf.data.AUTOTUNE)


def compare_arms(model, arms, *, steps, rounds, batch_size):
    """`fit` of the compiled `model` on each arm in turn, `rounds` times; `{name: summarize_rounds(...)}`.

    `arms`: `{name: (dataset, callbacks)}`. Each round is one `fit` of two
    epochs of `steps` steps per arm, the first untimed (a new iterator: a
    pipeline's shuffle buffer fills). Round r takes the arms in their order
    rotated by r (two arms: AB, BA, AB, ...; three: ABC, BCA, CAB, ...), so
    that every arm runs as often in every position and a change in the
    machine's load over the run weighs on all alike.
    """
    names = list(arms)
    timed_rounds = {name: [] for name in names}
    for round_index in range(rounds):
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            dataset, callbacks = arms[name]
            timed_rounds[name] += round_times(fitter(model, dataset, steps, callbacks), steps, 1)
    return {name: summarize_rounds(timed_rounds[name], steps, batch_size) for name in names}


def compare_input(model, pipeline, memory, *, steps, rounds, batch_size, callbacks=()):
    """`fit` of the compiled `model` on `pipeline` and on `memory` in alternating rounds (`compare_arms`, ABBA);
    returns `phase_figures`: `{"pipeline": summary, "memory": summary, "input_wait_fraction", "input_cpu_share"}`.
    """
    timed = compare_arms(model, {"pipeline": (pipeline, callbacks), "memory": (memory, callbacks)}, steps=steps,
                         rounds=rounds, batch_size=batch_size)
    return phase_figures(timed["pipeline"], timed["memory"])


def compare_priorities(model, pipeline, memory, *, steps, rounds, batch_size, priority):
    """`compare_input` with a third arm, the pipeline with the other `train.input_priority`, in the same rounds.

    `priority`: the run's setting ("low" or "normal"); the main figures are
    its, and `"other_priority"` holds the other setting's `phase_figures`
    against the same in-memory rounds. Lowering a thread cannot be undone:
    the few threads that outlive a "low" round's iterators stay lowered in
    the "normal" rounds after it, which, if anything, flatters "normal".
    """
    from cmva_keras.callbacks import InputPriority

    low, normal = [InputPriority()], []
    same, other = (low, normal) if priority == "low" else (normal, low)
    timed = compare_arms(model, {"pipeline": (pipeline, same), "memory": (memory, same),
                                 "other_priority": (pipeline, other)},
                         steps=steps, rounds=rounds, batch_size=batch_size)
    figures = phase_figures(timed["pipeline"], timed["memory"])
    figures["other_priority"] = dict(phase_figures(timed["other_priority"], timed["memory"]),
                                     input_priority="normal" if priority == "low" else "low")
    return figures


def fitter(model, dataset, steps, callbacks=()):
    """`fit(epochs, callbacks)` for `round_times`: `model.fit` on `dataset`, `steps` per epoch, plus `callbacks`."""
    def fit(epochs, more_callbacks):
        model.fit(dataset, epochs=epochs, steps_per_epoch=steps, shuffle=False, verbose=0,
                  callbacks=list(more_callbacks) + list(callbacks))

    return fit


def phase_figures(pipeline, memory):
    """A phase's figures from the `summarize_rounds` of its pipeline and in-memory rounds: both, and the two
    fractions the input costs (of the step's wall time, and of the process's CPU time)."""
    return {"pipeline": pipeline, "memory": memory,
            "input_wait_fraction": input_wait_fraction(pipeline["step_s"], memory["step_s"]),
            "input_wait_rounds": round_waits(pipeline["rounds_s"], memory["rounds_s"]),
            "input_cpu_share": input_wait_fraction(pipeline["step_cpu_s"], memory["step_cpu_s"])}


def pipeline_alone(dataset, steps):
    """Wall and CPU seconds per batch of reading `steps` batches of `dataset` with no model.

    After `steps` untimed batches: the pipelines' warps are compiled by XLA once per batch shape (the hand's
    padded windows take a few), a one-off cost a training run amortises.
    """
    iterator = iter(dataset)
    for _ in range(steps):
        next(iterator)
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        next(iterator)
    return {"batch_s": (time.perf_counter() - start) / steps, "batch_cpu_s": (time.process_time() - cpu) / steps}


def measure_task(task_name, phases=DEFAULT_PHASES, steps=10, rounds=3, memory_batches=8, overrides=(), log=print,
                 round_seconds=None, priority_ab=False):
    """One task's figures on this process's backend (see the module docstring); returns a JSON-able dict.

    `round_seconds`: per phase, first time an epoch of `steps` steps on the
    in-memory batches (after one that compiles the phase's step), and
    lengthen that phase's rounds to at least this many seconds
    (`steps_for_round`); None: `steps` in every phase. `priority_ab`: also
    time the pipeline with the other `train.input_priority`, in the same
    rounds (`compare_priorities`).
    """
    import keras

    from cmva_keras.callbacks.input_priority import input_priority_callbacks, priority_setting
    from cmva_keras.training.config import resolve_config
    from cmva_keras.training.loop import make_optimizer
    from cmva_keras.training.setup import build_datasets, build_model

    config = resolve_config(task_name, "default", overrides=list(overrides))
    keras.utils.set_random_seed(config.seed)
    start = time.perf_counter()
    data = build_datasets(config)  # the training pipeline; its cache is filled here
    build_s = time.perf_counter() - start
    train = data.train if data.train_steps else data.train.repeat()
    batch_size = int(config.train.batch_size)
    alone = pipeline_alone(train, steps)
    memory = in_memory(train, memory_batches)
    model = build_model(config, data)
    model.build((None,) + tuple(data.input_shape))
    model.compile(optimizer=make_optimizer(config.train), jit_compile=config.train.jit_compile)
    callbacks = input_priority_callbacks(config.train)  # as training runs: the input's threads below the step's
    result = {
        "task": task_name, "backend": keras.backend.backend(), "batch_size": batch_size,
        "input_shape": list(data.input_shape), "parameters": int(model.count_params()),
        "cache": str(config.data.get("cache", "")), "input_priority": priority_setting(config.train),
        "datasets_build_s": build_s,
        "pipeline_alone": dict(alone, images_per_s=batch_size / alone["batch_s"]),
        "steps": steps, "rounds": rounds, "round_seconds": round_seconds, "memory_batches": memory_batches,
        "phases": {},
    }
    for phase in phases:
        model.set_phase(phase)
        phase_steps = steps
        if round_seconds:  # the phase's step time, from an epoch after the one that compiles it
            [(seconds, _)] = round_times(fitter(model, memory, steps, callbacks), steps, 1)
            phase_steps = steps_for_round(steps, seconds / steps, round_seconds)
        if priority_ab:
            timed = compare_priorities(model, train, memory, steps=phase_steps, rounds=rounds, batch_size=batch_size,
                                       priority=result["input_priority"])
        else:
            timed = compare_input(model, train, memory, steps=phase_steps, rounds=rounds, batch_size=batch_size,
                                  callbacks=callbacks)
        timed["steps"] = phase_steps
        timed["load_after"] = os.getloadavg()[0]
        result["phases"][str(phase)] = timed
        log(f"{result['backend']} {task_name} phase {phase}: {timed['pipeline']['images_per_s']:.1f} images/s, "
            f"input wait {timed['input_wait_fraction']:.1%}")
    return result


def run_tasks_speed(backends, task_names, phases=DEFAULT_PHASES, steps=10, rounds=3, memory_batches=8,
                    overrides=(), threads=None, timeout=None, round_seconds=None, priority_ab=False):
    """One process per backend, each measuring every task; returns `{backend: {task: result}}`."""
    from cmva_benchmark.launcher import worker_environment

    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for backend in backends:
            out = os.path.join(tmp, f"{backend}.json")
            arguments = json.dumps({"tasks": list(task_names), "phases": list(phases), "steps": steps,
                                    "rounds": rounds, "memory_batches": memory_batches,
                                    "overrides": list(overrides), "round_seconds": round_seconds,
                                    "priority_ab": bool(priority_ab)})
            command = [sys.executable, "-m", "cmva_benchmark.tasks_speed", arguments, out]
            completed = subprocess.run(command, env=worker_environment(backend, threads), timeout=timeout)
            if completed.returncode != 0:
                raise RuntimeError(f"The {backend} task-speed process failed with exit code "
                                   f"{completed.returncode}; its output is above.")
            with open(out) as f:
                results[backend] = json.load(f)
    return results


def _pct(value):
    return "n/a" if value is None else f"{value:.1%}"


def wait_range_text(waits):
    """A phase's per-round input waits (`round_waits`) as "lowest to highest" (percent, signed); "n/a" if none."""
    if not waits:
        return "n/a"
    return f"{min(waits):.1%} to {max(waits):.1%}"


def wait_interval_text(waits):
    """A phase's round waits as `median_interval`'s "low to high, <verdict>" (percent, signed), or, with too
    few rounds for an interval, `wait_range_text`'s lowest to highest; "n/a" if none."""
    interval = median_interval(waits or [])
    if interval is None:
        return wait_range_text(waits)
    return f"{interval[0]:.1%} to {interval[1]:.1%}, {interval_verdict(interval)}"


def training_table(results):
    """Markdown table: one row per (task, backend, phase) of `{backend: {task: measure_task(...)}}`."""
    lines = ["| task | backend | phase | images/s | images/s, input in memory | input wait | "
             "input wait, rounds (lowest to highest) | "
             f"input wait, rounds' median: {CONFIDENCE:.0%}+ interval, against {WAIT_TARGET:.0%} | "
             "images per CPU-s | input CPU share | pipeline alone, images/s | steps per round |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for backend, tasks in results.items():
        for task_name, r in tasks.items():
            for phase, p in r["phases"].items():
                cpu = p["pipeline"]["images_per_cpu_s"]
                lines.append(
                    f"| {task_name} | {backend} | {phase} | {p['pipeline']['images_per_s']:.1f} | "
                    f"{p['memory']['images_per_s']:.1f} | {_pct(p['input_wait_fraction'])} | "
                    f"{wait_range_text(p.get('input_wait_rounds'))} | "
                    f"{wait_interval_text(p.get('input_wait_rounds'))} | "
                    f"{'n/a' if cpu is None else f'{cpu:.1f}'} | {_pct(p['input_cpu_share'])} | "
                    f"{r['pipeline_alone']['images_per_s']:.0f} | {p.get('steps', r['steps'])} |")
    return "\n".join(lines)


def priority_table(results):
    """Markdown table of the `priority_ab` phases: the input wait with each `train.input_priority`; "" if none."""
    lines = []
    for backend, tasks in results.items():
        for task_name, r in tasks.items():
            for phase, p in r["phases"].items():
                other = p.get("other_priority")
                if other is None:
                    continue
                waits = {r["input_priority"]: p, other["input_priority"]: other}
                lines.append(f"| {task_name} | {backend} | {phase} | {_pct(waits['normal']['input_wait_fraction'])} | "
                             f"{_pct(waits['low']['input_wait_fraction'])} | "
                             f"{waits['normal']['pipeline']['images_per_s']:.1f} | "
                             f"{waits['low']['pipeline']['images_per_s']:.1f} | {p.get('steps', r['steps'])} |")
    if not lines:
        return ""
    return "\n".join(["| task | backend | phase | input wait, priority normal | input wait, priority low | "
                      "images/s, normal | images/s, low | steps per round |",
                      "| --- | --- | --- | --- | --- | --- | --- | --- |"] + lines)


def _round_length(result):
    """How long the rounds were: a step count, or the shortest one and the seconds that set the rest."""
    if not result.get("round_seconds"):
        return f"{result['steps']} steps"
    return f"at least {result['steps']} steps and {result['round_seconds']:g} s (steps per round: the table's)"


def markdown_report(results, serving, command, machine):
    """The whole `--tasks_speed` report: command, machine, training table, serving table."""
    from cmva_benchmark.serving import serving_table

    out = [f"Command: `{command}`", "",
           f"Machine: {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['platform']}, "
           f"Python {machine['python']}; run {machine['date']}; load average {machine.get('load_before', 'n/a')} "
           f"before, {machine.get('load_after', 'n/a')} after.", ""]
    if results:
        first = next(iter(next(iter(results.values())).values()))
        out += [f"Training: the default config of each task on its offline synthetic data, batch "
                f"{first['batch_size']}; per phase, {first['rounds']} rounds of {_round_length(first)} on each input, "
                f"alternating, each after an untimed epoch; medians; in memory: {first['memory_batches']} batches "
                "of the same pipeline.", "",
                training_table(results), ""]
        priorities = priority_table(results)
        if priorities:
            out += ["The pipeline with each `train.input_priority` (`--priority_ab`), in the same rounds, against the "
                    "same in-memory rounds:", "", priorities, ""]
    if serving:
        out += ["Serving: the exported SavedModel (TensorFlow backend, untrained weights of the default "
                "model), `tf.saved_model.load`, called through its signatures.", "", serving_table(serving), ""]
    return "\n".join(out)


def main(argv):
    arguments = json.loads(argv[1])
    results = {}
    for task_name in arguments["tasks"]:
        results[task_name] = measure_task(
            task_name, phases=tuple(arguments["phases"]), steps=arguments["steps"], rounds=arguments["rounds"],
            memory_batches=arguments["memory_batches"], overrides=arguments.get("overrides", ()),
            log=lambda message: print(message, flush=True), round_seconds=arguments.get("round_seconds"),
            priority_ab=arguments.get("priority_ab", False))
    with open(argv[2], "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main(sys.argv)
