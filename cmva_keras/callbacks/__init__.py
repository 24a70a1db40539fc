"""Callbacks that drive CMVA training."""

from cmva_keras.callbacks.epoch_logs import EpochLogsCallbackList
from cmva_keras.callbacks.input_priority import InputPriority
from cmva_keras.callbacks.loss_weight_ramp import LossWeightRamp
from cmva_keras.callbacks.non_finite_guard import NonFiniteLossError, NonFiniteLossGuard
from cmva_keras.callbacks.phase_checkpoint import PhaseCheckpoint
from cmva_keras.callbacks.phase_schedule import PhaseSchedule
from cmva_keras.callbacks.validation_metrics import ValidationMetrics

__all__ = ["EpochLogsCallbackList", "InputPriority", "LossWeightRamp", "NonFiniteLossError", "NonFiniteLossGuard",
           "PhaseCheckpoint", "PhaseSchedule", "ValidationMetrics"]
