"""`fit` without per-batch logs where nothing reads them: `EpochLogsCallbackList`, `epoch_logs_callbacks`.

Why. After every training step, Keras' `CallbackList.on_train_batch_end`
hands the step's logs to the callbacks. Where none of them has a batch-end
hook, it still does so, on a thread of its own: it submits the call to a
thread pool, whose thread converts every logged value to a Python number,
waiting for the step's result to reach the host, and then calls hooks that
do nothing. On JAX and PyTorch, whose `fit` runs the Python loop ahead of
the computation, that is a thread hand-over and a host synchronisation per
step that nothing uses. Measured on the step benchmark's model (one
thread, 7 rounds of 100 steps each, CPU time against the hand-written loop;
Keras' own list, then this one): JAX phase 3 0.954x / 0.979x, phase 2
1.161x / 1.252x; PyTorch phase 3 1.007x / 1.014x, phase 2 1.007x / 1.069x.
TensorFlow's `fit` runs its steps in step with Python, and gains nothing.
The benchmark's `keras_batch_logs` row times Keras' list beside the default
row (`benchmarks/cmva_benchmark/config.py`; `docs/benchmarks.md`).

What. `epoch_logs_callbacks(...)` returns, for a `fit` whose batch logs
nobody reads, the `CallbackList` Keras would build (the same callbacks, a
`History`, the same `params`), as an `EpochLogsCallbackList`, which skips
the per-batch training hand-over; `fit` then uses it as given. Everything
else is Keras' own: epoch logs, evaluation, `on_train_batch_begin`,
`stop_training`. Nobody reads batch logs when `verbose=0` (no progress bar)
and no callback overrides `on_train_batch_end` or `on_batch_end`: `History`,
`EarlyStopping`, `LearningRateScheduler` and this package's callbacks but
`NonFiniteLossGuard` do not; Keras' `ModelCheckpoint`, `BackupAndRestore`,
`TensorBoard` and `TerminateOnNaN` do. Elsewhere, or where the epoch's step
count is not known beforehand the way Keras counts it (a `validation_split`,
a generator), it returns None and `fit` builds its own list as usual.
`StagedModel.fit` does this for every model of the package.
"""

import math

import keras

_BATCH_END_HOOKS = ("on_train_batch_end", "on_batch_end")


def reads_batch_logs(callback):
    """True if `callback` overrides a training batch-end hook of `keras.callbacks.Callback`."""
    return any(getattr(type(callback), name, None) is not getattr(keras.callbacks.Callback, name)
               for name in _BATCH_END_HOOKS)


def batch_log_readers(callbacks):
    """The names of the callbacks in `callbacks` (a list, possibly nested, or None) that `reads_batch_logs`."""
    return [type(c).__name__ for c in keras.tree.flatten(callbacks or []) if reads_batch_logs(c)]


class EpochLogsCallbackList(keras.callbacks.CallbackList):
    """A `keras.callbacks.CallbackList` whose training batch-end call does nothing (see the module docstring).

    Only for callbacks none of which `reads_batch_logs`; the constructor
    refuses others.
    """

    def __init__(self, callbacks=None, **kwargs):
        readers = batch_log_readers(callbacks)
        if readers or kwargs.get("add_progbar"):
            raise ValueError(
                f"EpochLogsCallbackList hands no batch logs to callbacks, and {readers or ['the progress bar']} "
                "read them; use keras.callbacks.CallbackList.")
        super().__init__(callbacks, **kwargs)

    def on_train_batch_end(self, batch, logs=None):
        return None

    def on_batch_end(self, batch, logs=None):
        return None


def steps_per_epoch_of(x, batch_size=None, steps_per_epoch=None, validation_split=0.0):
    """The steps in an epoch as Keras' `fit` counts them (`params["steps"]`), or `...` where that needs Keras'
    data adapters (a generator, a `validation_split`); None where Keras does not know it either."""
    if steps_per_epoch:
        return int(steps_per_epoch)
    if type(x).__module__.startswith("tensorflow") and hasattr(x, "cardinality"):  # a tf.data.Dataset
        cardinality = int(x.cardinality())
        return cardinality if cardinality >= 0 else None
    if validation_split:
        return ...
    leaves = keras.tree.flatten(x) if x is not None else []
    sizes = {int(leaf.shape[0]) for leaf in leaves if getattr(leaf, "shape", None)}
    if len(sizes) != 1 or not all(hasattr(leaf, "shape") for leaf in leaves):
        return ...
    return math.ceil(sizes.pop() / int(batch_size or 32))


def epoch_logs_callbacks(model, callbacks, *, verbose, epochs, x=None, batch_size=None, steps_per_epoch=None,
                         validation_split=0.0):
    """The `EpochLogsCallbackList` for a `fit` of `model` with these arguments, or None (see the module docstring).

    None: `callbacks` is already a `CallbackList`, `verbose` is not 0, a
    callback reads batch logs, or the epoch's step count needs Keras' data
    adapters.
    """
    if isinstance(callbacks, keras.callbacks.CallbackList) or verbose != 0 or batch_log_readers(callbacks):
        return None
    steps = steps_per_epoch_of(x, batch_size, steps_per_epoch, validation_split)
    if steps is ...:
        return None
    # CallbackList flattens `callbacks` itself, as Keras' own fit relies on.
    return EpochLogsCallbackList(callbacks, add_history=True, add_progbar=False, verbose=verbose, epochs=epochs,
                                 steps=steps, model=model)
