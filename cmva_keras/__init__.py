"""cmva-keras: Cross-modal Variational Alignment of latent spaces, in Keras 3.

Reference: T. Theodoridis, T. Chatzis, V. Solachidis, K. Dimitropoulos,
P. Daras, "Cross-modal Variational Alignment of Latent Spaces", CVPR
Workshops 2020.
"""

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
