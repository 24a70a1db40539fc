"""`ManualBuilder`: the common base of the project's four TFDS builders.

TFDS 4.9.10 resolves a builder's `code_path` through `importlib_resources`,
a package it only declares for Python < 3.9, so preparing a builder defined
outside `tensorflow_datasets` fails with `ModuleNotFoundError` on newer
Pythons. The builders are plain modules of this package, so their code path
is simply their source file.

Preparing reports its progress through `progress`, a bar that
`cmva_keras.datasets.prepare` sets and that advances once per example
generated. TFDS's "Downloading and preparing dataset Unknown size ..." and
"... downloaded and prepared to ..." lines are not printed: nothing
downloads here and no size is known before preparing; `prepare` logs what
it prepares from where, and the split sizes when done.
"""

import inspect

import tensorflow_datasets as tfds
from etils import epath


class ManualBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A `GeneratorBasedBuilder` whose files come from `manual_dir` only."""

    progress = None  # while preparing: a bar (`update()`) advanced once per example generated

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls):
        return epath.Path(inspect.getfile(cls))

    def _generate_splits(self, dl_manager, download_config):
        """TFDS's split generation, with each generated example counted on `self.progress`."""
        bar = self.progress
        if bar is None:
            return super()._generate_splits(dl_manager, download_config)
        split_generators = self._split_generators

        def counted(dl_manager):
            return {split: _counted(examples, bar) for split, examples in split_generators(dl_manager).items()}

        self._split_generators = counted  # what TFDS calls inside; the class's method again afterwards
        try:
            return super()._generate_splits(dl_manager, download_config)
        finally:
            del self._split_generators

    def _log_download_bytes(self):
        pass  # see the module docstring

    def _log_download_done(self):
        pass


def _counted(examples, bar):
    for example in examples:
        yield example
        bar.update()
