"""`NonFiniteLossGuard`: stops training at the first NaN or infinite objective term."""

import math

import keras
import numpy as np

from cmva_keras.backend import keras_private
from cmva_keras.phases import TERMS


class NonFiniteLossError(RuntimeError):
    """A term of the CMVA objective became NaN or infinite."""


class NonFiniteLossGuard(keras.callbacks.Callback):
    """Raises `NonFiniteLossError` naming the term, epoch, batch and phase.

    Checked after every batch, before any epoch-end checkpoint is written, so
    the last checkpoint on disk is a good one; its path (if any) is put in the
    message.

    Args:
        last_good_checkpoint: a callable returning the path of the last good
            checkpoint, or None; used only in the message.
    """

    def __init__(self, last_good_checkpoint=None):
        super().__init__()
        self.last_good_checkpoint = last_good_checkpoint
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if not logs:
            return
        for name in ("loss",) + TERMS:
            if name not in logs:
                continue
            value = float(np.asarray(logs[name]))
            if not math.isfinite(value):
                # Name the term itself rather than the total where possible.
                culprit = next(
                    (t for t in TERMS if t in logs and not math.isfinite(float(np.asarray(logs[t])))),
                    name,
                )
                # JAX keeps the variables outside the model during an epoch;
                # put them back so the model stays usable after the error.
                keras_private.sync_jax_state(self.model)
                checkpoint = self.last_good_checkpoint() if self.last_good_checkpoint else None
                kept = (
                    f" The last good checkpoint is kept at {checkpoint}."
                    if checkpoint else " No checkpoint had been written yet."
                )
                raise NonFiniteLossError(
                    f"Loss term '{culprit}' became {value if culprit == name else float(np.asarray(logs[culprit]))} "
                    f"at epoch {self._epoch + 1}, batch {batch + 1} (phase {getattr(self.model, 'phase', '?')}); "
                    f"training stopped.{kept} Check the inputs for NaN/inf values, lower the learning "
                    "rate, or lower that term's weight."
                )
