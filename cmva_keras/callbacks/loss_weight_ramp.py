"""`LossWeightRamp`: a linear warm-up of one objective term's weight (CADA-VAE's schedules)."""

import keras


def ramp_factor(epoch, start, end):
    """`clip((epoch - start) / (end - start), 0, 1)`: 0 before `start`, 1 from `end` on.

    CADA-VAE's official code ramps each weight as `clip((epoch - start) /
    (end - start) * max, 0, max)`; here the maximum is the term's base weight
    (`loss_weights`), and this is the factor it is multiplied by.
    """
    if end <= start:
        return 1.0 if epoch >= start else 0.0
    return float(min(max((epoch - start) / (end - start), 0.0), 1.0))


class LossWeightRamp(keras.callbacks.Callback):
    """Multiplies term `term`'s weight by `ramp_factor(epoch in phase, start, end)` each epoch.

    Epochs are counted from the start of `phase` (as given by `schedule`, a
    `PhaseSchedule`), so a ramp of the VAE phase of CADA-VAE starts when that
    phase does, and a resumed run recomputes the same factor. Place it after
    the `PhaseSchedule` in the callback list.

    Args:
        term: the objective term, e.g. "distance".
        start, end: epochs within the phase where the ramp leaves 0 and reaches 1.
        phase: the phase the ramp belongs to.
        schedule: the run's `PhaseSchedule`, or None to count from epoch 0 of `fit`.
    """

    def __init__(self, term, start, end, phase=1, schedule=None):
        super().__init__()
        self.term = term
        self.start = float(start)
        self.end = float(end)
        self.phase = int(phase)
        self.schedule = schedule

    def on_epoch_begin(self, epoch, logs=None):
        first = self.schedule.phase_start(self.phase) if self.schedule is not None else 0
        self.model.set_term_factor(self.term, ramp_factor(epoch - first, self.start, self.end))

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[f"weight_{self.term}"] = float(
                # The variable, not `.value` (a MirroredVariable under tf.distribute, which NumPy refuses).
                keras.ops.convert_to_numpy(self.model.loss_weight_variables[self.term])
            )
