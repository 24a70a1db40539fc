"""`InputPriority`: while training runs, the input pipeline's threads give way to the training step's.

Why. The input pipeline (tf.data: reading the cache, the random warps of
`cmva_keras.pipelines`) and the training step share the machine's cores. At
equal priority, an input thread that wakes while the step has work on every
core takes a core from one of the step's threads, and the step's parallel
op then waits for its slowest part. The step's threads are not busy all the
time (they wait for each other and for Python between ops); an input thread
at the lowest priority runs in those gaps instead, and is preempted as soon
as a step thread wakes. Measured on the offline default's phase 2 (a 12-16
ms step that keeps both cores of a 2-CPU machine busy), the pipeline at
each priority in the same 9 rounds (`benchmarks/run.py --tasks_speed
--priority_ab`): the input's share of the step time fell from 13.5% to 5.7%
(TensorFlow, food), 7.0% to 4.4% (TensorFlow, hand), 9.5% to 2.1% (JAX,
food) and 5.6% to 3.4% (JAX, hand) (docs/benchmarks.md, "The input's
threads below the step's").

How. Linux gives each thread its own nice value, and a new thread starts
with its creator's. tf.data starts its worker threads when an iterator first
runs, from the thread that reads it, so they cannot be started low, and an
unprivileged process cannot raise a priority it has lowered. So, from
`on_train_begin` to `on_train_end`, a watcher thread lowers to
`niceness` every thread of the process that

1. did not exist when training began: the training framework's compute
   threads (TensorFlow's and XLA's pools, JAX's, PyTorch's) are created
   when the model is built and compiled, before `fit`; and
2. has no name of its own: TensorFlow names some of its pools
   (`tf_Compute`, `tf_XLAEigen`), while tf.data's threads, and threads
   started from Python, carry the process's name.

Measured on the three backends: the threads a `fit` on in-memory arrays
creates used no CPU, and the threads a `fit` on the pipelines creates carry
the pipeline's CPU, but for one part: on the TensorFlow backend the
pipelines' XLA-compiled warps split their loops over TensorFlow's intra-op
pool, which the step shares and which therefore stays as it is. tf.data's
threads end with their iterator, so nothing stays lowered beyond the
iterators of the training run (its validation iterators included: they are
input too). The watcher lowers itself as well.

A `fit` that ends in an exception does not call `on_train_end`: its watcher
keeps lowering new threads until the callback's next `fit` begins (which
stops it first) or the process ends; the training loop
(`cmva_keras.training.loop`) stops it in a `finally`.

Trade-off: where other processes keep every core busy, a lowest-priority
input gets little CPU and becomes what the step waits for; the training
configs' `train.input_priority = "normal"` leaves the priorities alone.
Elsewhere than Linux (no per-thread nice values, or no /proc to find the
threads) the callback does nothing and says so once in the log.
"""

import os
import sys
import threading

import keras
from absl import logging

LOWEST = 19
INTERVAL_S = 0.05  # tf.data starts an iterator's threads when it first runs; they are found within this
TASKS = "/proc/self/task"
PRIORITIES = ("low", "normal")

_warned = False


def supported():
    """True where threads have their own nice values and can be listed: Linux, with /proc mounted."""
    return sys.platform.startswith("linux") and os.path.isdir(TASKS) and hasattr(os, "setpriority")


def process_name():
    """The name a thread of this process has when nobody named it (Linux's `comm` of the process)."""
    with open("/proc/self/comm") as f:
        return f.read().strip()


def thread_names():
    """`{thread id: name}` of this process's threads now (threads that end while being read are left out)."""
    names = {}
    for entry in os.listdir(TASKS):
        try:
            with open(os.path.join(TASKS, entry, "comm")) as f:
                names[int(entry)] = f.read().strip()
        except (OSError, ValueError):
            continue
    return names


def threads_to_lower(names, known, unnamed):
    """The thread ids in `names` (`{tid: name}`) not in `known` whose name is `unnamed` (the process's own)."""
    return sorted(tid for tid, name in names.items() if tid not in known and name == unnamed)


class InputPriority(keras.callbacks.Callback):
    """Lowers the threads that training starts, tf.data's among them, to `niceness`; see the module docstring.

    Args:
        niceness: the nice value the input's threads get, 1 to 19 (19, the
            lowest priority: the measured setting).
        interval: seconds between two looks for new threads.

    `lowered` holds the ids of the threads lowered during the last `fit`.
    """

    def __init__(self, niceness=LOWEST, interval=INTERVAL_S):
        super().__init__()
        niceness = int(niceness)
        if not 1 <= niceness <= LOWEST:
            raise ValueError(f"niceness must be 1 (slightly lower than the step's threads) to {LOWEST} (the "
                             f"lowest priority), got {niceness}.")
        self.niceness = niceness
        self.interval = float(interval)
        self.lowered = []
        self._stop = None
        self._watcher = None

    def on_train_begin(self, logs=None):
        global _warned
        self.on_train_end()  # a watcher a failed fit left running
        self.lowered = []
        if not supported():
            if not _warned:
                _warned = True
                logging.info("InputPriority: threads have no priority of their own on %s; the input pipeline's "
                             "threads keep the training step's priority.", sys.platform)
            return
        known = set(thread_names())
        unnamed = process_name()
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, args=(known, unnamed, self._stop),
                                         name="cmva-input-priority", daemon=True)
        self._watcher.start()

    def _watch(self, known, unnamed, stop):
        while True:
            for tid in threads_to_lower(thread_names(), known, unnamed):
                known.add(tid)
                try:
                    if os.getpriority(os.PRIO_PROCESS, tid) < self.niceness:
                        os.setpriority(os.PRIO_PROCESS, tid, self.niceness)
                        self.lowered.append(tid)
                except OSError:  # the thread ended meanwhile
                    continue
            if stop.wait(self.interval):
                return

    def on_train_end(self, logs=None):
        if self._watcher is not None:
            self._stop.set()
            self._watcher.join()
            self._watcher = None


def priority_setting(train_config):
    """A training config's `train.input_priority`, checked: "low" (the default) or "normal"."""
    value = str(train_config.get("input_priority", "low")).lower()
    if value not in PRIORITIES:
        raise ValueError(f"train.input_priority must be one of {PRIORITIES}, got {value!r}: \"low\" runs the input "
                         "pipeline's threads below the training step's (cmva_keras.callbacks.InputPriority), "
                         "\"normal\" leaves them alone.")
    return value


def input_priority_callbacks(train_config):
    """`[InputPriority()]` for `train.input_priority` "low", `[]` for "normal" (`priority_setting`)."""
    return [InputPriority()] if priority_setting(train_config) == "low" else []
