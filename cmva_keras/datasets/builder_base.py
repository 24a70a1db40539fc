"""`ManualBuilder`: the common base of the project's four TFDS builders.

TFDS 4.9.10 resolves a builder's `code_path` through `importlib_resources`,
a package it only declares for Python < 3.9, so preparing a builder defined
outside `tensorflow_datasets` fails with `ModuleNotFoundError` on newer
Pythons. The builders are plain modules of this package, so their code path
is simply their source file.
"""

import inspect

import tensorflow_datasets as tfds
from etils import epath


class ManualBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A `GeneratorBasedBuilder` whose files come from `manual_dir` only."""

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls):
        return epath.Path(inspect.getfile(cls))
