"""`HistoryWriter`: the per-epoch record of a run, as `history.json`."""

import json
import math
import os

import keras
import numpy as np


def _plain(value):
    value = float(np.asarray(value))
    return value if math.isfinite(value) else str(value)


class HistoryWriter(keras.callbacks.Callback):
    """Writes `path` after every epoch: a list of `{"epoch": n, "phase": p, <term>: value, ...}`.

    Written as the run goes, so it survives a crash; a resumed run keeps the
    epochs before the one it resumes from. Must come after `PhaseSchedule` in
    the callback list, which adds `"phase"` to the logs.
    """

    def __init__(self, path):
        super().__init__()
        self.path = path
        self.records = []

    def on_train_begin(self, logs=None):
        self.records = []
        if os.path.exists(self.path):
            with open(self.path) as f:
                self.records = json.load(f)

    def on_epoch_end(self, epoch, logs=None):
        record = {"epoch": epoch + 1}
        record.update({k: _plain(v) for k, v in sorted((logs or {}).items())})
        if "phase" in record:
            record["phase"] = int(record["phase"])
        # A resumed run rewrites the epochs from where it resumed.
        self.records = [r for r in self.records if r["epoch"] < epoch + 1] + [record]
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.records, f, indent=1)
        os.replace(tmp, self.path)
