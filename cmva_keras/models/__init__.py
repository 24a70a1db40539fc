"""The methods: CMVA and the paper's baselines, each a `StagedModel` (docs/architecture.md)."""

from cmva_keras.models.cadavae import CADAVAE
from cmva_keras.models.cmva import CMVA
from cmva_keras.models.cmvae import CMVAE
from cmva_keras.models.staged_model import StagedModel
from cmva_keras.models.with_mapper import WithMapper

__all__ = ["CADAVAE", "CMVA", "CMVAE", "StagedModel", "WithMapper"]
