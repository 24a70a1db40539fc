"""Test set-up for the dataset tests (helpers live in `dataset_fixtures.py`)."""

import os
import sys

import tensorflow_datasets as tfds

sys.path.insert(0, os.path.dirname(__file__))
tfds.disable_progress_bar()

