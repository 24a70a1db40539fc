"""The food task's config: `cmva_keras/configs/food.py` (shipped in the package), re-exported here.

Its header gives the exact command, the runtime and the result of each variant.
"""

from cmva_keras.configs.food import VARIANTS, get_config  # noqa: F401
