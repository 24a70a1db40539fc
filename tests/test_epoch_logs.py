"""`fit` without the per-step logs hand-over where nothing reads it (cmva_keras/callbacks/epoch_logs.py).

What Keras' own `fit` does is the reference: the steps per epoch its
`CallbackList` is given, its History, and the trained weights.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny import build_tiny_cmva, tiny_data

from cmva_keras.callbacks import NonFiniteLossGuard, PhaseSchedule
from cmva_keras.callbacks.epoch_logs import (
    EpochLogsCallbackList,
    epoch_logs_callbacks,
    reads_batch_logs,
    steps_per_epoch_of,
)


class StepsSeen(keras.callbacks.Callback):
    """Records `params["steps"]` and `params["epochs"]` at the start of training (no batch-end hook)."""

    def on_train_begin(self, logs=None):
        self.seen = (self.params.get("steps"), self.params.get("epochs"))


class BatchReader(keras.callbacks.Callback):
    """Reads every training batch's logs: Keras' own `fit` path."""

    def __init__(self):
        super().__init__()
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))


class OldStyleReader(keras.callbacks.Callback):
    def on_batch_end(self, batch, logs=None):
        pass


def test_which_callbacks_read_batch_logs():
    assert reads_batch_logs(BatchReader())
    assert reads_batch_logs(OldStyleReader())
    assert reads_batch_logs(NonFiniteLossGuard())
    assert reads_batch_logs(keras.callbacks.ProgbarLogger())
    assert reads_batch_logs(keras.callbacks.TerminateOnNaN())
    assert not reads_batch_logs(keras.callbacks.History())
    assert not reads_batch_logs(keras.callbacks.EarlyStopping())
    assert reads_batch_logs(keras.callbacks.ModelCheckpoint("model.keras"))
    assert not reads_batch_logs(StepsSeen())
    assert not reads_batch_logs(PhaseSchedule({1: 1, 2: 1, 3: 1}))


def test_a_list_for_batch_log_readers_is_refused():
    with pytest.raises(ValueError, match="BatchReader"):
        EpochLogsCallbackList([BatchReader()])
    with pytest.raises(ValueError, match="progress bar"):
        EpochLogsCallbackList([], add_progbar=True)


def _keras_steps(x, y=None, **fit_kwargs):
    """`params["steps"]` as a plain Keras model's `fit` gives it (the reference)."""
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    seen = StepsSeen()
    model.fit(x, y, epochs=1, verbose=0, shuffle=False, callbacks=[seen], **fit_kwargs)
    return seen.seen[0]


def test_steps_per_epoch_are_counted_as_keras_counts_them():
    x, y = np.zeros((70, 3), "float32"), np.zeros((70, 1), "float32")
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    cases = [
        ((x, y), {"batch_size": 16}),
        ((x, y), {}),  # Keras' default batch size
        ((x, y), {"batch_size": 16, "steps_per_epoch": 2}),
        ((data,), {}),
        ((data.repeat(),), {"steps_per_epoch": 3}),
    ]
    for args, kwargs in cases:
        ours = steps_per_epoch_of(args[0], kwargs.get("batch_size"), kwargs.get("steps_per_epoch"))
        assert ours == _keras_steps(*args, **kwargs), (args[0].__class__.__name__, kwargs)
    assert steps_per_epoch_of(data.filter(lambda a, b: True)) is None  # unknown to Keras too
    assert steps_per_epoch_of(x, 16, validation_split=0.2) is ...  # Keras' split decides: left to Keras


def test_only_fits_whose_batch_logs_nobody_reads_get_the_list():
    model = build_tiny_cmva()
    x, _ = tiny_data()
    lean = epoch_logs_callbacks(model, [StepsSeen()], verbose=0, epochs=2, x=x, batch_size=8)
    assert isinstance(lean, EpochLogsCallbackList) and lean.params["steps"] == 4 and lean.params["epochs"] == 2
    assert any(isinstance(c, keras.callbacks.History) for c in lean.callbacks)
    assert epoch_logs_callbacks(model, None, verbose="auto", epochs=1, x=x) is None
    assert epoch_logs_callbacks(model, None, verbose=2, epochs=1, x=x) is None
    assert epoch_logs_callbacks(model, [BatchReader()], verbose=0, epochs=1, x=x) is None
    assert epoch_logs_callbacks(model, [], verbose=0, epochs=1, x=x, validation_split=0.25) is None
    given = keras.callbacks.CallbackList([])
    assert epoch_logs_callbacks(model, given, verbose=0, epochs=1, x=x) is None


KERAS_BATCH_END = keras.callbacks.CallbackList.on_train_batch_end


def _trained(callbacks, monkeypatch, phase=3, **fit_kwargs):
    """A tiny CMVA trained 2 epochs of 4 batches with `callbacks`, verbose=0; (model, history, batch-end calls)."""
    calls = []

    def counting(self, batch, logs=None):
        calls.append(batch)
        return KERAS_BATCH_END(self, batch, logs)

    monkeypatch.setattr(keras.callbacks.CallbackList, "on_train_batch_end", counting)
    keras.utils.set_random_seed(7)
    model = build_tiny_cmva()
    model.set_phase(phase)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    x, y = tiny_data()
    history = model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=callbacks, **fit_kwargs)
    return model, history, calls


def test_fit_without_batch_log_readers_trains_as_keras_does_without_the_per_step_hand_over(monkeypatch):
    seen = StepsSeen()
    lean_model, lean_history, lean_calls = _trained([seen], monkeypatch)
    reader = BatchReader()
    keras_model, keras_history, keras_calls = _trained([reader], monkeypatch)
    assert keras_calls == [0, 1, 2, 3] * 2  # Keras' list hands over every step's logs...
    assert lean_calls == []  # ...ours hands over none
    assert len(reader.losses) == 8
    assert seen.seen == (4, 2)
    assert lean_model.history is lean_history and set(lean_history.history) == set(keras_history.history)
    for name, values in keras_history.history.items():
        np.testing.assert_allclose(lean_history.history[name], values, rtol=1e-5, atol=1e-7, err_msg=name)
    for a, b in zip(lean_model.get_weights(), keras_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_fit_still_stops_when_a_callback_asks(monkeypatch):
    class StopAfterFirstEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = True

    _, history, calls = _trained([StopAfterFirstEpoch()], monkeypatch)
    assert calls == [] and len(history.history["loss"]) == 1


def test_validation_runs_as_in_keras_fit(monkeypatch):
    x, y = tiny_data(n=16, seed=3)
    _, lean_history, lean_calls = _trained([], monkeypatch, validation_data=(x, y))
    _, keras_history, _ = _trained([BatchReader()], monkeypatch, validation_data=(x, y))
    assert lean_calls == [] and len(lean_history.history["val_loss"]) == 2
    for name in ("val_loss", "val_rec_1", "val_w2"):
        np.testing.assert_allclose(lean_history.history[name], keras_history.history[name], rtol=1e-5, err_msg=name)
