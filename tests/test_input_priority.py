"""The input pipeline's threads below the training step's while training (`cmva_keras.callbacks.InputPriority`).

A thread's lowered priority cannot be raised again by an unprivileged
process, so the fits that lower threads run in a fresh process.
"""

import json
import os
import subprocess
import sys

import keras
import pytest
from absl import logging

from cmva_keras.callbacks import input_priority
from cmva_keras.callbacks.input_priority import InputPriority, input_priority_callbacks, threads_to_lower
from cmva_keras.training.config import resolve_config

FIT_ON_A_PIPELINE = """
import json, os, threading, time
import keras, numpy as np, tensorflow as tf
from cmva_keras.callbacks import InputPriority
from cmva_keras.callbacks.input_priority import thread_names

def cpu_ns(tid, fields):
    # Nanoseconds on a CPU: schedstat's exact sum where the kernel keeps it, else the stat's sampled clock ticks
    # (a thread that ran 15 ms may be charged 0 or 2 ticks of 10 ms: too coarse for the shares compared below).
    try:
        with open(f"/proc/self/task/{tid}/schedstat") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return (int(fields[11]) + int(fields[12])) * 10**9 // os.sysconf("SC_CLK_TCK")

def table():
    rows = {}
    for tid, name in thread_names().items():
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        rows[tid] = {"name": name, "nice": int(fields[16]), "cpu": cpu_ns(tid, fields)}
    return rows

class Probe(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.begin = table()
    def on_train_batch_end(self, batch, logs=None):
        if batch == STEPS - 2:
            # The watcher runs at the lowest priority too: on a busy machine it may not yet have looked since the
            # map's last threads started. A pause lets it (the pipeline's threads, their buffer full, stay idle).
            time.sleep(0.5)
            self.during = table()

def heavy(x):  # work the tf.data threads must do for every example
    m = tf.reshape(tf.tile(x, [400 * 100]), (400, 400))
    for _ in range(4):
        m = tf.tanh(tf.matmul(m, m) / 400.0)
    return m[0, :8], m[1, :1]

STEPS = 24
options = tf.data.Options()
options.threading.max_intra_op_parallelism = 1
data = (tf.data.Dataset.from_tensor_slices(np.random.default_rng(0).normal(size=(64, 4)).astype("float32"))
        .repeat().map(heavy, num_parallel_calls=2).batch(4).with_options(options))
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
model.compile(optimizer="sgd", loss="mse")
runs = {}
for name, extra in (("normal", []), ("low", [InputPriority(interval=0.01)])):  # "low" last: it cannot be undone
    probe = Probe()
    model.fit(data, epochs=1, steps_per_epoch=STEPS, verbose=0, callbacks=[probe] + extra)
    runs[name] = {"begin": probe.begin, "during": probe.during,
                  "lowered": extra[0].lowered if extra else [],
                  "watchers": [t.name for t in threading.enumerate() if t.name == "cmva-input-priority"],
                  "main_nice": os.getpriority(os.PRIO_PROCESS, threading.main_thread().native_id)}

class Fail(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        raise RuntimeError("stop")

watching = lambda: sum(t.name == "cmva-input-priority" for t in threading.enumerate())
priority = InputPriority(interval=0.01)
try:
    model.fit(data, epochs=1, steps_per_epoch=4, verbose=0, callbacks=[priority, Fail()])
except RuntimeError:
    pass
runs["after_a_failed_fit"] = watching()
model.fit(data, epochs=1, steps_per_epoch=4, verbose=0, callbacks=[priority])
runs["after_the_next_fit"] = watching()
print(json.dumps(runs))
"""


def _fit_in_a_fresh_process():
    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend(), "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", FIT_ON_A_PIPELINE], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not input_priority.supported(), reason="per-thread priorities are Linux's (the CI's); "
                    "elsewhere the callback does nothing, tested below")
def test_the_threads_training_starts_run_at_the_lowest_priority_and_the_others_keep_theirs():
    runs = _fit_in_a_fresh_process()
    normal, low = runs["normal"], runs["low"]
    # Without the callback nothing is lowered: the probe below could tell.
    assert all(row["nice"] < input_priority.LOWEST for row in normal["during"].values())

    begin, during = low["begin"], low["during"]
    lowered = {str(tid) for tid in low["lowered"]}
    assert lowered, "no thread was lowered"
    assert not lowered & set(begin), "a thread that existed before training was lowered"
    for tid, row in begin.items():  # the model's threads, the main thread: as they were
        if tid in during:
            assert during[tid]["nice"] == row["nice"], (tid, row["name"])
    alive = lowered & set(during)
    assert alive and all(during[tid]["nice"] == input_priority.LOWEST for tid in alive)
    # The pipeline's map ran on the lowered threads: they did most of the new threads' work.
    new = [row for tid, row in during.items() if tid not in begin]
    new_cpu = sum(row["cpu"] for row in new)
    assert new_cpu > 0
    assert sum(during[tid]["cpu"] for tid in alive) >= 0.8 * new_cpu
    # After training: the watcher has stopped, the main thread's priority is untouched.
    assert low["watchers"] == []
    assert low["main_nice"] == normal["main_nice"]
    # A fit that raises skips on_train_end; the callback's next fit stops that watcher before starting its own.
    assert runs["after_a_failed_fit"] == 1
    assert runs["after_the_next_fit"] == 0


def test_which_threads_are_lowered_new_and_unnamed_only():
    names = {1: "python", 2: "tf_Compute", 3: "python", 4: "python", 5: "tf_XLAEigen", 6: "llvm-worker-0"}
    assert threads_to_lower(names, known={1, 2}, unnamed="python") == [3, 4]
    assert threads_to_lower(names, known={1, 2, 3, 4}, unnamed="python") == []
    assert threads_to_lower(names, known=set(), unnamed="python3") == []


def test_where_threads_have_no_priority_of_their_own_it_does_nothing_and_says_so(monkeypatch):
    monkeypatch.setattr(input_priority, "supported", lambda: False)
    monkeypatch.setattr(input_priority, "_warned", False)
    messages = []
    monkeypatch.setattr(logging, "info", lambda message, *args: messages.append(message % args))
    callback = InputPriority()
    callback.on_train_begin()
    assert callback._watcher is None
    callback.on_train_end()
    assert any("keep the training step's priority" in m for m in messages)


def test_the_setting_is_checked_when_the_config_is_resolved():
    assert [type(c) for c in input_priority_callbacks(resolve_config("food", "default").train)] == [InputPriority]
    normal = resolve_config("food", "default", overrides=["train.input_priority=normal"])
    assert input_priority_callbacks(normal.train) == []
    with pytest.raises(ValueError, match="train.input_priority must be one of"):
        resolve_config("hand", "default", overrides=["train.input_priority=high"])
    with pytest.raises(ValueError, match="niceness must be 1"):
        InputPriority(niceness=0)


def test_the_training_loop_stops_the_watcher_when_fit_raises(tmp_path, monkeypatch):
    import threading
    from types import SimpleNamespace

    from cmva_keras.training import loop

    class Interrupted(RuntimeError):
        pass

    started = []

    def fit_that_raises(model, *args, callbacks=(), **kwargs):  # as Keras does: on_train_begin, then an exception
        for callback in callbacks:
            if isinstance(callback, InputPriority):
                callback.on_train_begin()
                started.append(callback)
        raise Interrupted()

    monkeypatch.setattr(keras.Model, "fit", fit_that_raises)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    data = SimpleNamespace(input_shape=(4,), train=None, train_steps=1, validation=None, validation_eval=None)
    with pytest.raises(Interrupted):
        loop._fit(model, resolve_config("food", "smoke"), data, str(tmp_path), SimpleNamespace(num_processes=1))
    assert len(started) == 1 and started[0]._watcher is None
    assert not any(t.name == "cmva-input-priority" for t in threading.enumerate())
