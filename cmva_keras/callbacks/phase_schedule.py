"""`PhaseSchedule`: runs a model's training phases (CMVA's three, or any `StagedModel`'s) inside one `model.fit`."""

import itertools

import keras
from absl import logging


@keras.saving.register_keras_serializable(package="cmva_keras")
class PhaseSchedule(keras.callbacks.Callback):
    """Switches a `StagedModel` (e.g. `CMVA`) through its phases 1, 2, ... by epoch counts.

    At the start of each epoch the phase is computed from the epoch index, so a
    run resumed with `keras.callbacks.BackupAndRestore` continues in the phase
    it was stopped in. At a phase boundary the model's loss weights and trained
    parts change, the optimizer restarts with fresh moments (the paper trains
    the phases as separate stages), and the training step is traced again. The
    phase is added to the epoch logs (and so to `History`) as `"phase"`.

    Args:
        phase_epochs: epochs of each of the model's phases, in order (CMVA: 1, 2
            and 3); a phase with 0 epochs is skipped. Its length must equal the
            number of the model's phases (checked when training begins).
        reset_optimizer: restart the optimizer's moments at each boundary.
        verbose: log each phase change.
    """

    def __init__(self, phase_epochs, reset_optimizer=True, verbose=1):
        super().__init__()
        phase_epochs = tuple(int(e) for e in phase_epochs)
        if not phase_epochs or min(phase_epochs) < 0 or sum(phase_epochs) == 0:
            raise ValueError(
                f"phase_epochs must be one non-negative epoch count per phase (CMVA: phases 1, 2, 3) "
                f"with a positive total; got {phase_epochs}."
            )
        self.phase_epochs = phase_epochs
        self.reset_optimizer = reset_optimizer
        self.verbose = verbose
        self._applied = False

    @property
    def total_epochs(self):
        return sum(self.phase_epochs)

    def phase_for_epoch(self, epoch):
        """Phase (1, 2, ...) of the 0-based `epoch`; epochs past the schedule stay in the last phase."""
        for phase, end in enumerate(itertools.accumulate(self.phase_epochs), start=1):
            if epoch < end:
                return phase
        return len(self.phase_epochs)

    def phase_start(self, phase):
        """First epoch (0-based) of `phase`."""
        return sum(self.phase_epochs[: phase - 1])

    def on_train_begin(self, logs=None):
        self._applied = False
        phases = getattr(self.model, "PHASES", None)
        if phases is not None and len(phases) != len(self.phase_epochs):
            raise ValueError(
                f"PhaseSchedule has {len(self.phase_epochs)} phase(s) {self.phase_epochs}, but "
                f"{type(self.model).__name__} has {len(phases)}: "
                + "; ".join(f"{n}: {p.description}" for n, p in sorted(phases.items()))
                + ". Give one epoch count per phase."
            )
        epochs = self.params.get("epochs") if self.params else None
        if epochs is not None and epochs != self.total_epochs:
            logging.warning(
                "fit(epochs=%d) but the phase schedule %s has %d epochs.",
                epochs, self.phase_epochs, self.total_epochs,
            )

    def on_epoch_begin(self, epoch, logs=None):
        phase = self.phase_for_epoch(epoch)
        model = self.model
        if self._applied and phase == model.phase:
            return
        changed = phase != model.phase
        model.set_phase(phase, reset_optimizer=changed and self.reset_optimizer)
        # The phase is read when the step is traced: trace it again.
        model.make_train_function(force=True)
        self._applied = True
        if self.verbose:
            logging.info("Epoch %d: phase %d (%s).", epoch + 1, phase, model.current_phase.description)

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["phase"] = self.model.phase

    def get_config(self):
        return {"phase_epochs": list(self.phase_epochs), "reset_optimizer": self.reset_optimizer, "verbose": self.verbose}
