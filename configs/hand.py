"""The hand task's config: `cmva_keras/configs/hand.py` (shipped in the package), re-exported here.

Its header gives the exact command, the runtime and the result of each variant.
"""

from cmva_keras.configs.hand import VARIANTS, get_config  # noqa: F401
