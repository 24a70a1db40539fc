"""Timing helpers: a `fit` callback that times whole epochs, and summary statistics."""

import statistics
import time

import keras


class EpochTimer(keras.callbacks.Callback):
    """Wall time of one `fit` epoch, from the first batch's start to the (synchronised) epoch end.

    Only `on_train_batch_begin` and `on_epoch_end` are implemented: a callback
    with `on_train_batch_end` would switch off Keras' asynchronous batch-end
    dispatch on JAX and torch, changing what is measured. At `on_epoch_end`
    Keras has already converted the epoch's logs to Python floats, so every
    asynchronously dispatched step has finished.

    Attributes:
        seconds: the last epoch's wall time, seconds.
        cpu_seconds: the CPU time all of this process's threads spent in it, seconds.
    """

    def __init__(self):
        super().__init__()
        self._start = None
        self.seconds = None
        self.cpu_seconds = None

    def on_train_batch_begin(self, batch, logs=None):
        if batch == 0:
            self._start = (time.perf_counter(), time.process_time())

    def on_epoch_end(self, epoch, logs=None):
        self.seconds = time.perf_counter() - self._start[0]
        self.cpu_seconds = time.process_time() - self._start[1]


def median(values):
    """Median of a non-empty list of numbers."""
    return statistics.median(values)


def summarize(rates, ratios=None, cpu_rates=None, cpu_ratios=None):
    """Summary of per-round steps/s (and per-round ratios): median, min, max.

    `cpu_rates` are steps per CPU-second of the process (all its threads), a
    measure that other processes competing for the cores disturb less.
    """
    summary = {"steps_per_s": median(rates), "min": min(rates), "max": max(rates), "rounds": list(rates)}
    if ratios:
        summary["ratio"] = median(ratios)
        summary["ratios"] = list(ratios)
    if cpu_rates:
        summary["steps_per_cpu_s"] = median(cpu_rates)
        summary["cpu_rounds"] = list(cpu_rates)
    if cpu_ratios:
        summary["cpu_ratio"] = median(cpu_ratios)
    return summary
