"""Synthetic stand-ins for the paper's datasets, written in their native on-disk formats.

The default run needs no download: `ensure_default("food")` writes a
Yummly-28K-format folder and `ensure_default("hand")` an RHD-format folder
into a cache, and the same TFDS builders and input pipelines read them as
they would read the real datasets. `food.generate_recipe1m` and
`hand.generate_stb` write tiny Recipe1M- and STB-format folders for tests.
"""

from cmva_keras.synthetic.cache import default_cache_dir, default_path, ensure_default
from cmva_keras.synthetic.food import generate_recipe1m, generate_yummly
from cmva_keras.synthetic.hand import generate_rhd, generate_stb

__all__ = [
    "default_cache_dir",
    "default_path",
    "ensure_default",
    "generate_recipe1m",
    "generate_rhd",
    "generate_stb",
    "generate_yummly",
]
