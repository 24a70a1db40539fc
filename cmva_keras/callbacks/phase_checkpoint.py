"""`PhaseCheckpoint`: saves `phase_<n>.keras` when each training phase ends."""

import os

import keras
from absl import logging


class PhaseCheckpoint(keras.callbacks.Callback):
    """Writes the whole model to `directory/phase_<n>.keras` at the end of phase n.

    Args:
        directory: where to write.
        schedule: the run's `PhaseSchedule`, which says where phases end.
    """

    def __init__(self, directory, schedule):
        super().__init__()
        self.directory = directory
        self.schedule = schedule
        self.last_saved = None

    def on_epoch_end(self, epoch, logs=None):
        phase = self.schedule.phase_for_epoch(epoch)
        last_epoch_of_phase = self.schedule.phase_start(phase) + self.schedule.phase_epochs[phase - 1] - 1
        if epoch == last_epoch_of_phase:
            path = os.path.join(self.directory, f"phase_{phase}.keras")
            self.model.save(path)
            self.last_saved = path
            logging.info("Saved the end of phase %d to %s.", phase, path)
