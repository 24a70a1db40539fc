"""`PhaseCheckpoint`: saves `phase_<n>.keras` when each training phase ends, optionally its best epoch."""

import json
import math
import os

import keras
from absl import logging

from cmva_keras.callbacks.validation_metrics import metric_key

BEST_EPOCHS = "best_epochs.json"


class PhaseCheckpoint(keras.callbacks.Callback):
    """Writes the whole model to `directory/phase_<n>.keras` at the end of phase n.

    With `keep_best`, each phase's epochs are judged on validation data and
    the phase ends on its best epoch (docs/architecture.md, "Watching a
    run"): the best weights so far are written to
    `phase_<n>_best.weights.h5` (on disk, so a resumed run keeps them) and
    restored when the phase ends, before `phase_<n>.keras` is saved; the next
    phase starts from them. What judges a phase is its `Phase.best_by`: a
    term (lowest `val_<term>` wins) or an inference path (the task's primary
    metric on it, `val_<metric>` or `val_<path>_<metric>`); empty means the
    model's primary path. `best_epochs.json` records the winning epoch
    (1-based) and value of each phase. Must come after `ValidationMetrics`.

    Args:
        directory: where to write.
        schedule: the run's `PhaseSchedule`, which says where phases end.
        keep_best: end each phase on its best validation epoch.
        metric: the task's primary metric (e.g. "f1", "epe"), for phases
            judged on a path.
        higher_is_better: the metric's direction.
    """

    def __init__(self, directory, schedule, keep_best=False, metric=None, higher_is_better=True):
        super().__init__()
        if keep_best and not metric:
            raise ValueError("PhaseCheckpoint(keep_best=True) needs the task's primary metric (metric=...).")
        self.directory = directory
        self.schedule = schedule
        self.keep_best = keep_best
        self.metric = metric
        self.higher_is_better = higher_is_better
        self.last_saved = None
        self._checked_resume = False

    # ------------------------------------------------------------- best epoch
    def monitor(self, phase):
        """`(log key, higher_is_better)` that judges the epochs of `phase`."""
        model = self.model
        spec = getattr(model.PHASES[phase], "best_by", "") or ""
        if spec in tuple(model.TERMS) + ("loss",):
            return f"val_{spec}", False
        path = spec or model.INFERENCE_PATHS[0]
        return metric_key(self.metric, path, model.INFERENCE_PATHS[0]), self.higher_is_better

    def best_path(self, phase):
        return os.path.join(self.directory, f"phase_{phase}_best.weights.h5")

    def _records(self):
        path = os.path.join(self.directory, BEST_EPOCHS)
        if not os.path.exists(path):
            return {}
        with open(path) as f:
            return json.load(f)

    def _write_records(self, records):
        path = os.path.join(self.directory, BEST_EPOCHS)
        with open(path + ".tmp", "w") as f:
            json.dump(records, f, indent=1)
        os.replace(path + ".tmp", path)

    def on_epoch_begin(self, epoch, logs=None):
        if self.keep_best and not self._checked_resume:
            # A resumed run repeats the epochs from `epoch` on: forget what they had recorded.
            self._checked_resume = True
            records = {k: v for k, v in self._records().items() if v["epoch"] <= epoch}
            self._write_records(records)

    def _track_best(self, epoch, phase, logs):
        key, higher = self.monitor(phase)
        if key not in (logs or {}):
            raise ValueError(
                f"train.keep_best judges phase {phase} by {key!r}, which the epoch's logs lack: validation "
                "data is needed (a dataset with a validation split, or train.validation_fraction > 0) and "
                "ValidationMetrics must come before PhaseCheckpoint."
            )
        value = float(logs[key])
        records = self._records()
        best = records.get(str(phase))
        improved = math.isfinite(value) and (
            best is None or (value > best["value"] if higher else value < best["value"])
        )
        if improved:
            self.model.save_weights(self.best_path(phase))
            records[str(phase)] = {"epoch": epoch + 1, "monitor": key, "value": value}
            self._write_records(records)

    # ------------------------------------------------------------ phase ends
    def on_epoch_end(self, epoch, logs=None):
        phase = self.schedule.phase_for_epoch(epoch)
        if self.keep_best:
            self._track_best(epoch, phase, logs)
        last_epoch_of_phase = self.schedule.phase_start(phase) + self.schedule.phase_epochs[phase - 1] - 1
        if epoch == last_epoch_of_phase:
            if self.keep_best and os.path.exists(self.best_path(phase)):
                self.model.load_weights(self.best_path(phase))
                best = self._records()[str(phase)]
                logging.info("Phase %d ends on its best epoch, %d (%s = %.4g).", phase, best["epoch"],
                             best["monitor"], best["value"])
            path = os.path.join(self.directory, f"phase_{phase}.keras")
            self.model.save(path)
            self.last_saved = path
            logging.info("Saved the end of phase %d to %s.", phase, path)
