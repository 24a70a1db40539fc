"""Test set-up for the dataset tests (helpers live in `dataset_fixtures.py`)."""

import os
import sys
import types

import tensorflow_datasets as tfds

sys.path.insert(0, os.path.dirname(__file__))
tfds.disable_progress_bar()

try:  # tfds.testing imports dill (TFDS's test extra) only for feature-pickling tests
    import dill  # noqa: F401
except ImportError:  # DatasetBuilderTestCase never calls it; a placeholder lets it import
    sys.modules["dill"] = types.ModuleType("dill")
