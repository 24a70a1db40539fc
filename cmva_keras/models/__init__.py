"""The methods: CMVA and the paper's baselines, each a `StagedModel` (docs/architecture.md)."""

from cmva_keras.models.cmva import CMVA
from cmva_keras.models.staged_model import StagedModel
from cmva_keras.models.with_mapper import WithMapper

__all__ = ["CMVA", "StagedModel", "WithMapper"]
