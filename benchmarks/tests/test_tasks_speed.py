"""The task-model benchmark (`--tasks_speed`): the input-wait measurement, the serving helpers, the report.

The two `fit` measurements use a tiny Dense model and sleeps (which take wall
time but no CPU), so that their outcome does not depend on the machine's load:
a pipeline slower than the step shows a large wait, one that prefetching
hides behind a slower step shows almost none.
"""

import itertools
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from cmva_benchmark.serving import percentiles, serving_table, signature_inputs
from cmva_benchmark.tasks_speed import (
    compare_arms,
    compare_input,
    compare_priorities,
    in_memory,
    input_wait_fraction,
    markdown_report,
    median_interval,
    phase_figures,
    priority_table,
    round_waits,
    steps_for_round,
    summarize_rounds,
    target_verdict,
    training_table,
    wait_interval_text,
    wait_range_text,
)

BATCH = 8


def test_input_wait_fraction_is_the_share_of_the_step_the_input_costs():
    assert input_wait_fraction(0.2, 0.15) == pytest.approx(0.25)
    assert input_wait_fraction(0.1, 0.1) == 0.0
    assert input_wait_fraction(0.1, 0.12) == 0.0  # noise: memory slower than the pipeline
    assert input_wait_fraction(None, 0.1) is None


def test_rounds_last_the_asked_seconds_but_never_fewer_steps_than_asked():
    assert steps_for_round(30, 0.013, 2.0) == 154  # a phase-2 step of 13 ms: 2 s of it
    assert steps_for_round(30, 0.15, 2.0) == 30  # a slow step: the minimum already lasts longer
    assert steps_for_round(30, 0.013, None) == 30 and steps_for_round(30, 0.0, 2.0) == 30


def test_rounds_are_summarised_per_step_as_medians():
    summary = summarize_rounds([(1.0, 2.0), (3.0, 1.0), (2.0, 4.0)], steps=10, batch_size=32)
    assert summary["step_s"] == pytest.approx(0.2) and summary["step_cpu_s"] == pytest.approx(0.2)
    assert summary["images_per_s"] == pytest.approx(160.0)


def _sleepy_pipeline(seconds, prefetch):
    """Batches of (x (BATCH, 4), y (BATCH, 1)), each delayed by `seconds` of sleep in the pipeline."""
    x, y = np.ones((BATCH, 4), "float32"), np.zeros((BATCH, 1), "float32")

    def slow(x, y):
        tf.py_function(lambda: time.sleep(seconds), [], [])
        return x, y

    ds = tf.data.Dataset.from_tensors((x, y)).repeat().map(slow)
    return ds.prefetch(4) if prefetch else ds


def _model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


class _SlowStep(keras.callbacks.Callback):
    """Makes every training step last at least `seconds` longer (as a heavy model would)."""

    def __init__(self, seconds):
        super().__init__()
        self.seconds = seconds

    def on_train_batch_begin(self, batch, logs=None):
        time.sleep(self.seconds)


def test_a_pipeline_slower_than_the_step_shows_a_large_input_wait():
    pipeline = _sleepy_pipeline(0.04, prefetch=False)
    timed = compare_input(_model(), pipeline, in_memory(pipeline, 2), steps=6, rounds=2, batch_size=BATCH)
    # About 40 ms of input against a step of about 1 ms: most of the step is waiting.
    assert timed["input_wait_fraction"] > 0.5
    assert timed["pipeline"]["images_per_s"] < timed["memory"]["images_per_s"]


def test_a_pipeline_hidden_behind_a_slower_step_shows_almost_no_input_wait():
    pipeline = _sleepy_pipeline(0.005, prefetch=True)
    timed = compare_input(_model(), pipeline, in_memory(pipeline, 2), steps=6, rounds=2, batch_size=BATCH,
                          callbacks=[_SlowStep(0.04)])
    # 5 ms of input prefetched during 40 ms steps: a few percent at most, against 1 - 40 / 45 = 11% if it were not.
    assert timed["input_wait_fraction"] < 0.08


def test_in_memory_batches_are_the_pipelines_batches_repeated():
    pipeline = tf.data.Dataset.range(6).map(lambda i: (tf.fill((2, 3), tf.cast(i, tf.float32)), i))
    memory = list(in_memory(pipeline, 3).take(5).as_numpy_iterator())
    assert [int(y) for _, y in memory] == [0, 1, 2, 0, 1]
    np.testing.assert_array_equal(memory[2][0], np.full((2, 3), 2.0))
    with pytest.raises(ValueError, match="fewer"):
        in_memory(pipeline, 7)


def test_percentiles_of_call_times():
    figures = percentiles([0.001 * i for i in range(1, 11)])  # 1 .. 10 ms
    assert figures["median_ms"] == pytest.approx(5.5) and figures["p90_ms"] == pytest.approx(9.1)


class _Signature:
    structured_input_signature = ((), {
        "image_bytes": tf.TensorSpec([None], tf.string), "hand_side": tf.TensorSpec([None], tf.int32),
        "scale_mm": tf.TensorSpec([None], tf.float32)})


def test_signature_inputs_fill_extra_inputs_with_zeros_of_the_batch():
    encoded = np.array([b"a", b"b", b"c"], dtype=object)
    inputs = signature_inputs(_Signature(), encoded, np.zeros((3, 2, 2, 3), np.uint8), batch=2)
    assert inputs["image_bytes"].numpy().tolist() == [b"a", b"b"]
    assert inputs["hand_side"].dtype == tf.int32 and inputs["hand_side"].numpy().tolist() == [0, 0]
    assert inputs["scale_mm"].dtype == tf.float32 and inputs["scale_mm"].shape == (2,)


def _phase(images_per_s, memory_images_per_s):
    return phase_figures(summarize_rounds([(32 / images_per_s, 64 / images_per_s)], 1, 32),
                         summarize_rounds([(32 / memory_images_per_s, 64 / memory_images_per_s)], 1, 32))


def _results():
    task = {"batch_size": 32, "steps": 10, "rounds": 3, "memory_batches": 8,
            "pipeline_alone": {"images_per_s": 5000.0}, "phases": {"1": _phase(100.0, 100.0), "2": _phase(90.0, 100.0)}}
    return {"tensorflow": {"food": task, "hand": task}, "jax": {"food": task}}


def test_each_rounds_wait_pairs_it_with_the_in_memory_round_next_to_it_and_keeps_its_sign():
    waits = round_waits([1.0, 1.2, 1.1], [0.9, 1.0, 1.15])
    assert waits == pytest.approx([0.1, 1 / 6, -0.05 / 1.1])
    with pytest.raises(ValueError, match="3 pipeline rounds against 2 in memory"):
        round_waits([1.0, 1.2, 1.1], [0.9, 1.0])


def test_a_phase_gives_its_median_wait_and_the_range_of_its_rounds_waits():
    pipeline = summarize_rounds([(1.0, 1.0), (1.2, 1.2), (1.1, 1.1)], 10, 32)
    memory = summarize_rounds([(0.9, 0.9), (1.0, 1.0), (1.15, 1.15)], 10, 32)
    figures = phase_figures(pipeline, memory)
    # The headline: medians 1.1 and 1.0 s; the rounds, paired, spread from -4.5% to 16.7%.
    assert figures["input_wait_fraction"] == pytest.approx(1 - 1.0 / 1.1)
    assert wait_range_text(figures["input_wait_rounds"]) == "-4.5% to 16.7%"
    assert wait_range_text([]) == "n/a" and wait_range_text(None) == "n/a"


def _coverage_by_enumeration(n, k):
    """P(x(k) <= median <= x(n+1-k)) for n draws, by counting the 2**n equally likely below/above patterns."""
    covered = sum(k <= sum(pattern) <= n - k for pattern in itertools.product((0, 1), repeat=n))
    return covered / 2 ** n


@pytest.mark.parametrize("n", range(1, 13))
def test_the_median_interval_is_the_narrowest_order_statistics_pair_with_90_percent_coverage(n):
    values = [float(v) for v in np.random.default_rng(n).permutation(n)]  # 0 .. n-1, shuffled
    interval = median_interval(values, 0.9)
    ks = [k for k in range(1, n // 2 + 1) if _coverage_by_enumeration(n, k) >= 0.9]
    if not ks:
        assert interval is None  # n <= 4: even the lowest and highest cover less than 90%
        return
    k = max(ks)
    low, high, coverage = interval
    assert (low, high) == (k - 1, n - k)  # the k-th lowest and k-th highest of 0 .. n-1
    assert coverage == pytest.approx(_coverage_by_enumeration(n, k))
    assert k == n // 2 or _coverage_by_enumeration(n, k + 1) < 0.9  # one step narrower falls short


def test_the_median_interval_covers_a_skewed_distributions_median_as_often_as_it_says():
    # Exponential draws (long right tail, as a loaded machine's slow rounds): the median is ln 2.
    rng = np.random.default_rng(0)
    hits = []
    for _ in range(2000):
        low, high, coverage = median_interval(rng.exponential(size=9).tolist(), 0.9)
        hits.append(low <= np.log(2) <= high)
    assert coverage == pytest.approx(492 / 512)
    assert abs(np.mean(hits) - coverage) < 0.02


def test_the_target_verdict_needs_the_whole_interval_on_one_side():
    assert target_verdict([0.01, 0.02, -0.03, 0.04, 0.0]) == "under"  # 5 rounds: lowest to highest
    assert target_verdict([0.06, 0.2, 0.08, 0.11, 0.07]) == "over"
    assert target_verdict([0.01, 0.02, -0.03, 0.06, 0.0]) == "undecided"  # one round over 5%
    # 9 rounds: the second lowest and highest; one outlier on either side does not decide.
    assert target_verdict([0.3, 0.01, 0.02, 0.0, 0.03, -0.2, 0.01, 0.02, 0.04]) == "under"
    assert target_verdict([0.01, 0.02, 0.03, 0.04]) is None  # too few rounds for a 90% interval
    assert target_verdict(None) is None


def test_the_wait_interval_text_gives_the_interval_and_verdict_or_the_range_of_too_few_rounds():
    assert wait_interval_text([0.06, 0.2, 0.08, 0.11, 0.07]) == "6.0% to 20.0%, over"
    assert wait_interval_text([0.3, 0.01, 0.02, 0.0, 0.03, -0.2, 0.01, 0.02, 0.04]) == "0.0% to 4.0%, under"
    assert wait_interval_text([0.1, -0.02]) == "-2.0% to 10.0%"
    assert wait_interval_text([]) == "n/a"


def test_training_table_has_one_row_per_backend_task_and_phase():
    lines = training_table(_results()).splitlines()
    assert len(lines) == 2 + 3 * 2
    cells = [c.strip() for c in lines[3].split("|")[1:-1]]
    assert cells[:8] == ["food", "tensorflow", "2", "90.0", "100.0", "10.0%", "10.0% to 10.0%", "10.0% to 10.0%"]
    assert [c.strip() for c in lines[2].split("|")[1:-1]][5] == "0.0%"


def test_report_holds_the_command_machine_training_and_serving_tables():
    serving = [{"task": "food", "signature": "serving_bytes", "batch": b, "image_shape": [240, 360, 3],
                "median_ms": 10.0 * b, "p90_ms": 12.0 * b, "images_per_s": 100.0} for b in (1, 64)]
    machine = {"nproc": 2, "cpu_model": "cpu", "platform": "linux", "python": "3.11", "date": "today",
               "load_before": 1.0, "load_after": 2.0}
    text = markdown_report(_results(), serving, "python benchmarks/run.py --tasks_speed", machine)
    assert "`python benchmarks/run.py --tasks_speed`" in text and "load average 1.0 before, 2.0 after" in text
    assert "| jax | 2 |" in text.replace("| food | jax | 2 |", "| jax | 2 |")
    assert "| food | `serving_bytes` | encoded bytes | 64 | 640.0 | 768.0 | 100 |" in text
    assert serving_table(serving).count("\n") == 3


class _Named(keras.callbacks.Callback):
    """Records, in `log`, its name each time a `fit` it is given begins."""

    def __init__(self, name, log):
        super().__init__()
        self.name, self.log = name, log

    def on_train_begin(self, logs=None):
        self.log.append(self.name)


def test_arms_take_turns_in_rotated_order_and_each_gets_its_own_callbacks():
    data = tf.data.Dataset.from_tensors((np.ones((BATCH, 4), "float32"), np.zeros((BATCH, 1), "float32"))).repeat()
    log = []
    arms = {name: (data, [_Named(name, log)]) for name in "ABC"}
    timed = compare_arms(_model(), arms, steps=2, rounds=3, batch_size=BATCH)
    assert "".join(log) == "ABCBCACAB"
    assert sorted(timed) == ["A", "B", "C"] and all(len(t["rounds_s"]) == 3 for t in timed.values())
    log.clear()
    compare_arms(_model(), {k: arms[k] for k in "AB"}, steps=2, rounds=4, batch_size=BATCH)
    assert "".join(log) == "ABBAABBA"


@pytest.mark.parametrize("priority, other", [("low", "normal"), ("normal", "low")])
def test_the_priority_comparison_runs_the_pipeline_with_the_other_setting_too(monkeypatch, priority, other):
    import cmva_keras.callbacks

    log = []
    monkeypatch.setattr(cmva_keras.callbacks, "InputPriority", lambda: _Named("low", log))
    pipeline = _sleepy_pipeline(0.0, prefetch=True)
    figures = compare_priorities(_model(), pipeline, in_memory(pipeline, 2), steps=2, rounds=3, batch_size=BATCH,
                                 priority=priority)
    assert figures["other_priority"]["input_priority"] == other
    assert {"pipeline", "memory", "input_wait_fraction"} <= set(figures["other_priority"])
    # The run's setting applies to the pipeline and the in-memory arms, the other one to the third arm only.
    assert log.count("low") == (6 if priority == "low" else 3)


def test_the_priority_table_shows_both_settings_side_by_side():
    results = _results()
    phase = results["tensorflow"]["food"]["phases"]["2"]
    results["tensorflow"]["food"] = dict(results["tensorflow"]["food"], input_priority="low",
                                         phases={"2": dict(phase, other_priority=dict(_phase(80.0, 100.0),
                                                                                      input_priority="normal"))})
    lines = priority_table(results).splitlines()
    assert len(lines) == 3
    assert [c.strip() for c in lines[2].split("|")[1:-1]][:7] == ["food", "tensorflow", "2", "20.0%", "10.0%",
                                                                 "80.0", "90.0"]
    assert priority_table(_results()) == ""
