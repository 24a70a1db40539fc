"""Tiny native-format folders written by the project's own generators, shared by the tests.

Each folder is generated once per test process (`tiny_folder`) and removed at
exit. Sizes are chosen so every split size is known by hand:

- yummly28k: 40 recipes -> test floor(0.15 * 40) = 6, train 34;
- recipe1m: 30 / 8 / 8 valid recipes (+3 per partition that the filters drop);
- rhd: 12 training and 5 evaluation samples;
- stb: 2 frames in each of the 12 sequences -> train 10 * 2 = 20, test 2 * 2 = 4.
"""

import atexit
import functools
import os
import shutil
import tempfile

TINY = {
    "yummly28k": {"num_recipes": 40},
    "recipe1m": {"num_train": 30, "num_val": 8, "num_test": 8},
    "rhd": {"num_train": 12, "num_eval": 5},
    "stb": {"frames_per_sequence": 2},
}
SPLITS = {
    "yummly28k": {"train": 34, "test": 6},
    "recipe1m": {"train": 30, "validation": 8, "test": 8},
    "rhd": {"train": 12, "test": 5},
    "stb": {"train": 20, "test": 4},
}

_ROOT = tempfile.mkdtemp(prefix="cmva_datasets_tests_")
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)


@functools.lru_cache(maxsize=None)
def tiny_folder(name, seed=0):
    """Path of a tiny synthetic folder in `name`'s native layout (generated once)."""
    from cmva_keras.synthetic import food, hand

    generators = {
        "yummly28k": food.generate_yummly,
        "recipe1m": food.generate_recipe1m,
        "rhd": hand.generate_rhd,
        "stb": hand.generate_stb,
    }
    path = os.path.join(_ROOT, f"{name}-seed{seed}")
    generators[name](path, seed=seed, **TINY[name])
    return path


def fresh_copy(name, tmp_path):
    """A private copy of a tiny folder, for tests that damage it."""
    target = os.path.join(tmp_path, name)
    shutil.copytree(tiny_folder(name), target)
    return target


@functools.lru_cache(maxsize=None)
def prepared(name):
    """A prepared builder of the tiny folder (shared, read-only)."""
    from cmva_keras import datasets

    return datasets.prepare(name, manual_dir=tiny_folder(name), data_dir=os.path.join(_ROOT, "tfds"))
