"""TFDS builders for the paper's four datasets, and helpers to load them.

Importing this package registers the builders `yummly28k`, `recipe1m`, `rhd`
and `stb` with TFDS, so `tfds.builder("rhd")` works after `import cmva_keras`
(once `cmva_keras/__init__.py` imports this package). Each builder reads the
files exactly as the dataset ships them from the folder the user downloaded
(`manual_dir`); nothing is ever downloaded.

    from cmva_keras import datasets
    builder = datasets.prepare("rhd", manual_dir="~/data/RHD_published_v2")
    train = datasets.as_dataset(builder, "train")      # or datasets.load(...)
"""

from cmva_keras.datasets.loading import (
    NAMES,
    SourceMismatchError,
    as_dataset,
    default_data_dir,
    load,
    num_examples,
    prepare,
    vocabulary,
)
from cmva_keras.datasets.manual_dir import ManualDataError
from cmva_keras.datasets.recipe1m import Recipe1m
from cmva_keras.datasets.rhd import Rhd
from cmva_keras.datasets.safe_pickle import UnsafePickleError
from cmva_keras.datasets.stb import Stb
from cmva_keras.datasets.yummly28k import Yummly28k

__all__ = [
    "NAMES",
    "ManualDataError",
    "Recipe1m",
    "Rhd",
    "SourceMismatchError",
    "Stb",
    "UnsafePickleError",
    "Yummly28k",
    "as_dataset",
    "default_data_dir",
    "load",
    "num_examples",
    "prepare",
    "vocabulary",
]
