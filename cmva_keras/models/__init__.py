"""CMVA models."""

from cmva_keras.models.cmva import CMVA

__all__ = ["CMVA"]
