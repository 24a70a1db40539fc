"""The timed rows of the benchmark: a Keras `fit` setup or a hand-written loop, behind one interface.

Every row offers `first_step()` (seconds for the first, compiling step),
`run(steps)` (wall and process-CPU seconds for `steps` synchronised training
steps) and
`first_loss(x, y, noise)` (hand-written rows only: the loss of one step on
fixed noise, compared with `CMVA.compute_objective` before timing).
"""

import time

import keras
import numpy as np

from cmva_benchmark.model import make_adam
from cmva_benchmark.timing import EpochTimer


class KerasRow:
    """`model.fit` on in-memory NumPy arrays, one epoch per call, timed by `EpochTimer`.

    This is the path a user takes: Keras' data adapter, its training loop and
    callbacks (History only, `verbose=0`) are part of the measured step.

    Args:
        name: row name, e.g. "keras_xla".
        model: a built, uncompiled benchmark CMVA (see `build_benchmark_cmva`).
        batches: list of NumPy `(x, y)` batches, cycled.
        config: the `BenchmarkConfig`.
        batch_logs: give `fit` Keras' own `keras.callbacks.CallbackList`, as
            Keras builds it, which hands every step's logs over to be converted
            to Python numbers; by default `StagedModel.fit` skips that where no
            callback reads them (`cmva_keras/callbacks/epoch_logs.py`).
        compile_kwargs: passed to `model.compile` (`jit_compile`, `steps_per_execution`).
    """

    kind = "keras"

    def __init__(self, name, model, batches, config, batch_logs=False, **compile_kwargs):
        self.name = name
        self.batch_logs = bool(batch_logs)
        self.model = model
        self.config = config
        self.batches = batches
        self.steps_per_execution = int(compile_kwargs.get("steps_per_execution", 1))
        model.compile(optimizer=make_adam(config), **compile_kwargs)
        self._data = {}

    def _arrays(self, steps):
        if steps not in self._data:
            chosen = [self.batches[i % len(self.batches)] for i in range(steps)]
            self._data[steps] = (np.concatenate([b[0] for b in chosen]), np.concatenate([b[1] for b in chosen]))
        return self._data[steps]

    def _fit(self, steps, callbacks=()):
        x, y = self._arrays(steps)
        callbacks = list(callbacks)
        if self.batch_logs:  # what Keras' fit builds for these arguments
            callbacks = keras.callbacks.CallbackList(callbacks, add_history=True, add_progbar=False, verbose=0,
                                                     epochs=1, steps=steps, model=self.model)
        self.model.fit(
            x, y, batch_size=self.config.batch_size, epochs=1, shuffle=False, verbose=0, callbacks=callbacks
        )

    def first_step(self):
        """Seconds of the first `fit` call on one execution (`steps_per_execution` steps): tracing and compiling."""
        start = time.perf_counter()
        self._fit(self.steps_per_execution)
        return time.perf_counter() - start

    def run(self, steps):
        """`(wall seconds, CPU seconds)` for `steps` training steps inside one `fit` epoch."""
        timer = EpochTimer()
        self._fit(steps, [timer])
        return timer.seconds, timer.cpu_seconds


class HandRow:
    """A hand-written loop (`hand_tensorflow`, `hand_jax`, `hand_torch`) stepping over pre-converted batches.

    Args:
        name: row name, e.g. "hand_xla".
        loop: a `TensorFlowLoop`, `JaxLoop` or `TorchLoop`.
        batches: list of NumPy `(x, y)` batches, converted once to the framework's tensors.
    """

    kind = "hand"

    def __init__(self, name, loop, batches):
        self.name = name
        self.loop = loop
        self.batches = loop.to_device(batches)
        self._next = 0

    def _batch(self):
        batch = self.batches[self._next % len(self.batches)]
        self._next += 1
        return batch

    def first_loss(self, x, y, noise):
        """The terms of one training step on `(x, y)` with fixed `noise`, as floats."""
        terms = self.loop.step(*self.loop.to_device([(x, y)])[0], noise)
        return {k: float(np.asarray(v)) for k, v in terms.items()}

    def first_step(self):
        """Seconds of the first step with drawn noise: tracing and compiling included."""
        start = time.perf_counter()
        self.loop.sync(self.loop.step(*self._batch()))
        return time.perf_counter() - start

    def run(self, steps):
        """`(wall seconds, CPU seconds)` for `steps` training steps, waiting for the last one to finish."""
        start, cpu_start = time.perf_counter(), time.process_time()
        result = None
        for _ in range(steps):
            result = self.loop.step(*self._batch())
        self.loop.sync(result)
        return time.perf_counter() - start, time.process_time() - cpu_start
