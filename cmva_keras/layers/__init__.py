"""Building blocks of the CMVA branches."""

from cmva_keras.layers.conv_image_decoder import ConvImageDecoder
from cmva_keras.layers.gaussian_encoder import GaussianEncoder
from cmva_keras.layers.gaussian_head import GaussianHead
from cmva_keras.layers.mapper import Mapper
from cmva_keras.layers.mlp import MLP

__all__ = ["ConvImageDecoder", "GaussianEncoder", "GaussianHead", "Mapper", "MLP"]
