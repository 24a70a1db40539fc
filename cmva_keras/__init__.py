"""cmva-keras: Cross-modal Variational Alignment of latent spaces, in Keras 3.

Reference: T. Theodoridis, T. Chatzis, V. Solachidis, K. Dimitropoulos,
P. Daras, "Cross-modal Variational Alignment of Latent Spaces", CVPR
Workshops 2020.
"""

# First, before anything runs a TensorFlow op: importing `devices` leaves TensorFlow (the input side) no GPU and one
# intra-op thread on the JAX and PyTorch backends (cmva_keras/datasets/devices.py).
# isort: off
from cmva_keras.datasets import devices as _devices  # noqa: F401
# isort: on

# Importing `datasets` registers the TFDS builders yummly28k, recipe1m, rhd and stb.
from cmva_keras import backbones, datasets, layers, losses, metrics, pipelines, synthetic, tasks
from cmva_keras.callbacks import (
    LossWeightRamp,
    NonFiniteLossError,
    NonFiniteLossGuard,
    PhaseCheckpoint,
    PhaseSchedule,
)
from cmva_keras.models import CADAVAE, CMVA, CMVAE, StagedModel, WithMapper
from cmva_keras.phases import PARTS, PHASES, TERMS

__version__ = "0.1.0"

__all__ = [
    "CADAVAE",
    "CMVA",
    "CMVAE",
    "LossWeightRamp",
    "NonFiniteLossError",
    "NonFiniteLossGuard",
    "PARTS",
    "PHASES",
    "PhaseCheckpoint",
    "PhaseSchedule",
    "StagedModel",
    "TERMS",
    "WithMapper",
    "backbones",
    "datasets",
    "layers",
    "losses",
    "metrics",
    "pipelines",
    "synthetic",
    "tasks",
]
