"""Building blocks of the CMVA branches."""

from cmva_keras.layers.gaussian_encoder import GaussianEncoder
from cmva_keras.layers.gaussian_head import GaussianHead
from cmva_keras.layers.mapper import Mapper
from cmva_keras.layers.mlp import MLP

__all__ = ["GaussianEncoder", "GaussianHead", "Mapper", "MLP"]
