"""`--speed`: the summary of the step benchmark, the task models and serving, and the run that makes it.

No benchmark runs here: the three parts (`run_backends`, `run_tasks_speed`,
`run_serving`) are replaced by fakes that return results shaped like theirs.
"""

import importlib.util
import json
import os

import pytest

from cmva_benchmark import report, speed
from cmva_benchmark.tasks_speed import phase_figures, summarize_rounds

RUN_PY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "run.py")


def _step_row(steps_per_s, cpu_ratio):
    return {"first_step_s": 0.5, "steps_per_s": steps_per_s, "min": steps_per_s, "max": steps_per_s,
            "rounds": [steps_per_s], "steps_per_cpu_s": steps_per_s, "ratio": cpu_ratio, "cpu_ratio": cpu_ratio}


def _step_backend(cpu_ratios):
    """A `run_backend` result whose `keras` row has `cpu_ratios[phase]` against the hand-written loop."""
    phases = {str(phase): {"rows": {"keras": _step_row(50.0, ratio), "hand": _step_row(45.0, 1.0)},
                           "checks": {"hand": {"loss": 1e-7}}, "load_per_round": [1.0]}
              for phase, ratio in cpu_ratios.items()}
    return {"backend": "x", "versions": {"keras": "3"}, "load_before": 1.0, "load_after": 1.0, "seconds": 9.0,
            "phases": phases}


def _task_phase(images_per_s, memory_images_per_s):
    return phase_figures(summarize_rounds([(32 / images_per_s, 40 / images_per_s)], 1, 32),
                         summarize_rounds([(32 / memory_images_per_s, 40 / memory_images_per_s)], 1, 32))


def _task(phases):
    """A `measure_task` result with `phases[phase] = (images/s on the pipeline, images/s in memory)`."""
    return {"batch_size": 32, "steps": 10, "rounds": 3, "memory_batches": 8, "pipeline_alone": {"images_per_s": 900.0},
            "phases": {str(p): _task_phase(*rates) for p, rates in phases.items()}}


def _cells(table, backend, phase):
    line = next(line for line in table.splitlines() if line.startswith(f"| {backend} | {phase} |"))
    return [cell.strip() for cell in line.split("|")[1:-1]]


def test_summary_takes_each_figure_from_its_backend_phase_and_task():
    step = {"jax": _step_backend({3: 0.93, 2: 1.07}), "torch": _step_backend({3: 0.5, 2: 0.6})}
    # Food on jax, phase 2: 1000 images/s on the pipeline, 1031.99 in memory: an input wait of 3.1%.
    tasks = {"jax": {"food": _task({1: (200.0, 210.0), 2: (1000.0, 1000.0 / 0.969), 3: (300.0, 300.0)}),
                     "hand": _task({2: (400.0, 500.0)})}}
    rows = speed.summary_rows(step, tasks)
    assert [(r["backend"], r["phase"]) for r in rows] == [(b, p) for b in ("jax", "torch") for p in (1, 2, 3)]
    jax_2 = rows[1]
    assert jax_2["step_cpu_ratio"] == 1.07 and jax_2["food_images_per_s"] == pytest.approx(1000.0)
    assert jax_2["food_input_wait"] == pytest.approx(0.031) and jax_2["hand_input_wait"] == pytest.approx(0.2)
    table = speed.summary_table(rows)
    # One round per arm: the rounds' range is that one round's wait.
    assert _cells(table, "jax", 2) == ["jax", "2", "1.07x", "1000.0", "3.1% (3.1% to 3.1%)", "400.0",
                                       "20.0% (20.0% to 20.0%)"]
    assert _cells(table, "jax", 3)[2:5] == ["0.93x", "300.0", "0.0% (0.0% to 0.0%)"]
    assert _cells(table, "torch", 3)[2] == "0.50x"


def test_summary_says_n_a_where_a_figure_was_not_measured():
    step = {"jax": _step_backend({3: 0.9, 2: 1.1})}  # the step benchmark without phase 1
    tasks = {"jax": {"food": _task({1: (200.0, 210.0)})}, "torch": {"food": _task({1: (100.0, 100.0)})}}
    table = speed.summary_table(speed.summary_rows(step, tasks))
    assert _cells(table, "jax", 1) == ["jax", "1", "n/a", "200.0", "4.8% (4.8% to 4.8%)", "n/a", "n/a"]
    assert _cells(table, "jax", 2)[2:] == ["1.10x", "n/a", "n/a", "n/a", "n/a"]
    assert _cells(table, "torch", 1)[2:4] == ["n/a", "100.0"]  # no step benchmark on torch
    assert len(table.splitlines()) == 2 + 2 * 3


def _rounds_phase(waits):
    """A phase whose pipeline rounds are 1 s and whose in-memory rounds make each round's wait `waits[i]`."""
    return phase_figures(summarize_rounds([(1.0, 1.0)] * len(waits), 10, 32),
                         summarize_rounds([(1.0 - w, 1.0 - w) for w in waits], 10, 32))


def test_summary_cells_with_five_rounds_give_the_median_interval_and_the_verdict():
    under, over, straddling = [0.01, 0.02, -0.03, 0.04, 0.0], [0.06, 0.2, 0.08, 0.11, 0.07], [0.0, 0.01, 0.09, 0.02, 0.03]
    task = {"batch_size": 32, "steps": 10, "rounds": 5, "memory_batches": 8, "pipeline_alone": {"images_per_s": 1.0}}
    tasks = {"jax": {"food": dict(task, phases={"1": _rounds_phase(under), "2": _rounds_phase(over)}),
                     "hand": dict(task, phases={"2": _rounds_phase(straddling)})}}
    rows = speed.summary_rows({}, tasks)
    assert [r["food_input_wait_verdict"] for r in rows] == ["under", "over", None]
    assert rows[1]["hand_input_wait_verdict"] == "undecided"
    table = speed.summary_table(rows)
    assert _cells(table, "jax", 1)[4] == "1.0% (-3.0% to 4.0%, under)"
    assert _cells(table, "jax", 2)[4] == "8.0% (6.0% to 20.0%, over)"
    assert _cells(table, "jax", 2)[6] == "2.0% (0.0% to 9.0%, undecided)"
    assert speed.verdict_text(rows) == (
        "Input wait against the 5% target, from each cell's 90%+ interval for the median of its rounds' waits: "
        "under in 1, over in 1 (jax food phase 2), undecided in 1 (jax hand phase 2).")
    assert speed.verdict_text(speed.summary_rows({}, {"jax": {"food": _task({1: (1.0, 1.0)})}})) == ""  # 1 round


def test_cpu_counters_read_the_machines_cpu_line_and_steal_is_its_share_of_the_time_between_two(tmp_path):
    stat = tmp_path / "stat"
    stat.write_text("cpu  100 5 20 800 10 0 1 14 0 0\ncpu0 50 2 10 400 5 0 1 7 0 0\nintr 1 2\n")
    before = report.cpu_counters(str(stat))
    assert before == {"user": 100, "nice": 5, "system": 20, "idle": 800, "iowait": 10, "irq": 0, "softirq": 1,
                      "steal": 14}
    after = dict(before, user=160, idle=900, steal=54)  # 200 ticks passed, 40 of them stolen
    assert report.steal_fraction(before, after) == pytest.approx(0.2)
    assert report.steal_fraction(before, before) is None and report.steal_fraction(None, after) is None
    stat.write_text("intr 1 2\n")
    assert report.cpu_counters(str(stat)) is None and report.cpu_counters(str(tmp_path / "missing")) is None


def test_the_run_reports_the_steal_of_each_part_and_of_the_whole_run(fake_parts, tmp_path, monkeypatch):
    # Counters at the start, after the step benchmark, the task models, serving, and at the end:
    # 100 ticks per part, of which 0, 10 and 30 stolen.
    steals = iter([0, 0, 10, 40, 40])
    monkeypatch.setattr(speed, "cpu_counters", lambda: dict.fromkeys(report.STAT_FIELDS, 0) | {
        "steal": (s := next(steals)), "idle": next(ticks) - s})
    ticks = iter([0, 100, 200, 300, 300])
    document = _load_run_py().main(["--speed", "--backend", "jax", "--quick", "--serving_calls", "2",
                                     "--out", str(tmp_path)])
    assert document["machine"]["steal"] == pytest.approx({"step": 0.0, "tasks": 0.1, "serving": 0.3,
                                                          "run": 40 / 300})
    run = (tmp_path / "speed.md").read_text().split("## Run")[1]
    assert ("steal, share of the machine's): whole run 13.3%, step benchmark 0.0%, task models 10.0%, "
            "serving 30.0%.") in run


def test_serving_summary_has_batch_1_and_64_medians_per_task_and_signature():
    serving = [{"task": "food", "signature": "serving_bytes", "batch": 1, "median_ms": 4.24},
               {"task": "food", "signature": "serving_bytes", "batch": 64, "median_ms": 150.0},
               {"task": "hand", "signature": "serving_default", "batch": 1, "median_ms": 7.0}]
    lines = speed.serving_summary_table(serving).splitlines()
    assert len(lines) == 2 + 2
    assert lines[2] == "| food | `serving_bytes` | 4.2 | 150.0 |"
    assert lines[3] == "| hand | `serving_default` | 7.0 | n/a |"


@pytest.mark.parametrize("spec, expected", [
    ("", {"tensorflow": None, "jax": None, "torch": 1}),
    ("tensorflow=0,jax=0,torch=1", {"tensorflow": None, "jax": None, "torch": 1}),
    ("torch=2", {"tensorflow": None, "jax": None, "torch": 2}),
    (" jax=1 , tensorflow=4 ", {"tensorflow": 4, "jax": 1, "torch": 1}),
    ("torch=0", {"tensorflow": None, "jax": None, "torch": None}),
])
def test_task_threads_parser(spec, expected):
    assert speed.parse_task_threads(spec) == expected


@pytest.mark.parametrize("spec, bad", [
    ("torch=x", "'torch=x'"), ("cuda=1", "'cuda=1'"), ("jax=1,torch", "'torch'"), ("jax=-1", "'jax=-1'"),
])
def test_task_threads_parser_names_the_bad_part(spec, bad):
    with pytest.raises(ValueError, match=f"bad part {bad}"):
        speed.parse_task_threads(spec)


def _load_run_py():
    spec = importlib.util.spec_from_file_location("benchmark_run", RUN_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bad_task_threads_stop_the_script_with_the_bad_part():
    with pytest.raises(SystemExit, match="bad part 'cuda=1'"):
        _load_run_py().main(["--speed", "--task_threads", "cuda=1"])


@pytest.fixture
def fake_parts(monkeypatch):
    """Replaces the three runs with fakes that record their calls; returns the list of calls."""
    recorded = []

    def run_backends(backends, config, threads=None, timeout=None):
        recorded.append(("step", tuple(backends), threads, config))
        ratios = {phase: 1.0 + phase / 100 for phase in config.phases}
        return {b: _step_backend(ratios) for b in backends}

    def run_tasks_speed(backends, task_names, phases, steps, rounds, memory_batches, overrides, threads, timeout,
                        round_seconds):
        recorded.append(("tasks", tuple(backends), threads, (tuple(task_names), tuple(phases), steps, rounds),
                         round_seconds))
        return {b: {t: _task({p: (100.0 * p, 100.0 * p) for p in phases}) for t in task_names} for b in backends}

    def run_serving(task_names, calls=20, threads=None, timeout=None):
        recorded.append(("serving", tuple(task_names), threads, calls))
        return [{"task": t, "signature": "serving_default", "batch": b, "image_shape": [8, 8, 3], "median_ms": 2.0 * b,
                 "p90_ms": 3.0 * b, "images_per_s": 500.0} for t in task_names for b in (1, 64)]

    monkeypatch.setattr(speed, "run_backends", run_backends)
    monkeypatch.setattr(speed, "run_tasks_speed", run_tasks_speed)
    monkeypatch.setattr(speed, "run_serving", run_serving)
    return recorded


def test_speed_runs_the_three_parts_with_their_threads_and_writes_the_summary_first(fake_parts, tmp_path):
    argv = ["--speed", "--backend", "all", "--quick", "--rounds", "1", "--steps", "10", "--task_steps", "2",
            "--task_rounds", "1", "--task_round_seconds", "1.5", "--serving_calls", "2", "--task_threads", "jax=2",
            "--out", str(tmp_path)]
    document = _load_run_py().main(argv)
    step, *tasks, serving = fake_parts
    assert step[:3] == ("step", ("tensorflow", "jax", "torch"), 1)  # --threads defaults to 1 in --speed
    config = step[3]
    assert config.phases == (3, 2, 1) and config.rounds == 1 and config.steps_per_round == 10
    assert config.hidden_units == (64, 64)  # --quick
    assert [(c[1], c[2]) for c in tasks] == [(("tensorflow",), None), (("jax",), 2), (("torch",), 1)]
    assert tasks[0][3] == (("food", "hand"), (1, 2, 3), 2, 1) and tasks[0][4] == 1.5
    assert serving == ("serving", ("food", "hand"), None, 2)  # TensorFlow's task threads

    text = (tmp_path / "speed.md").read_text()
    lines = text.splitlines()
    assert lines[0] == "## Speed summary" and lines[2].startswith("| backend | phase | Keras step vs hand-written")
    assert _cells(text, "jax", 1)[2:4] == ["1.01x", "100.0"] and _cells(text, "torch", 3)[2] == "1.03x"
    assert text.index("| food | `serving_default` | 2.0 | 128.0 |") < text.index("## Step benchmark")
    assert text.index("## Step benchmark") < text.index("## Task models") < text.index("## Run")
    run = text.split("## Run")[1]
    assert "load average" in run and "before" in run and "after" in run
    assert "Command: `python benchmarks/run.py --speed --backend all --quick" in run and "--task_threads jax=2" in run
    saved = json.loads((tmp_path / "speed.json").read_text())
    assert saved == json.loads(json.dumps(document))
    assert len(saved["summary"]) == 3 * 3 and saved["summary"][3]["backend"] == "jax"
    assert saved["step"]["threads"] == 1 and saved["tasks"]["threads"] == {"tensorflow": None, "jax": 2, "torch": 1}
    assert set(saved["machine"]) >= {"load_before", "load_after", "nproc"} and len(saved["serving"]) == 4
    assert {"benchmark.md", "benchmark.json", "tasks_speed.md", "tasks_speed.json"} <= set(os.listdir(tmp_path))


def test_speed_phases_and_step_threads_follow_the_options(fake_parts, tmp_path):
    argv = ["--speed", "--backend", "torch", "--quick", "--phases", "3", "--threads", "0", "--serving_calls", "0",
            "--task_threads", "torch=0", "--out", str(tmp_path)]
    _load_run_py().main(argv)
    assert [c[0] for c in fake_parts] == ["step", "tasks"]  # no serving with --serving_calls 0
    assert fake_parts[0][2] is None and fake_parts[0][3].phases == (3,)  # --threads 0: the frameworks' defaults
    assert fake_parts[1][1:3] == (("torch",), None) and fake_parts[1][3][1] == (3,)
    assert fake_parts[1][4] is None  # no --task_round_seconds: the same steps in every phase
    text = (tmp_path / "speed.md").read_text()
    assert _cells(text, "torch", 3)[2] == "1.03x" and _cells(text, "torch", 2)[2:] == ["n/a"] * 5
    assert "Serving latency" not in text
