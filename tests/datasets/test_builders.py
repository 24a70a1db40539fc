"""One `DatasetBuilderTestCase` per builder, on native-format folders written by the generators.

The folders are tiny (tens of samples) and contain no third-party material;
the expected split sizes follow from the generator arguments (see conftest).
"""

import tensorflow_datasets as tfds
from dataset_fixtures import SPLITS, tiny_folder

import cmva_keras.datasets as datasets


class _TinyFolder:
    """Mixin: the tiny generated folder of `DATASET_CLASS.name` is the dummy data."""

    def test_session(self, *args, **kwargs):
        return super().test_session(*args, **kwargs)

    test_session.__test__ = False  # tf.test.TestCase's deprecated helper, not a test

    @classmethod
    def setUpClass(cls):
        cls.EXAMPLE_DIR = tiny_folder(cls.DATASET_CLASS.name)
        super().setUpClass()


class Yummly28kTest(_TinyFolder, tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = datasets.Yummly28k
    SPLITS = SPLITS["yummly28k"]


class Recipe1mTest(_TinyFolder, tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = datasets.Recipe1m
    SPLITS = SPLITS["recipe1m"]


class RhdTest(_TinyFolder, tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = datasets.Rhd
    SPLITS = SPLITS["rhd"]


class StbTest(_TinyFolder, tfds.testing.DatasetBuilderTestCase):
    DATASET_CLASS = datasets.Stb
    SPLITS = SPLITS["stb"]
