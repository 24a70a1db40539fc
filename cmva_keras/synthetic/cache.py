"""`ensure_default`: the offline default datasets, generated once into a cache folder.

The cache is `cache_dir`, else `$CMVA_CACHE_DIR`, else `~/.cache/cmva_keras`.
A set is generated into a temporary folder and renamed into place when
complete, so an interrupted run never leaves a half-written set that a
later run would trust.

Generating is announced at INFO (the scripts show INFO), with a progress
bar on a terminal (`cmva_keras.progress`) and a summary line at the end.
"""

import logging
import os
import shutil
import time

from cmva_keras.datasets.manual_dir import SYNTHETIC_MARKER
from cmva_keras.synthetic import food, hand

logger = logging.getLogger(__name__)

# task -> (dataset name, generator, default arguments): the sizes configs/food.py
# and configs/hand.py train on by default (the hand set generates and prepares in
# about a minute on 2 CPU cores).
DEFAULTS = {
    "food": ("yummly28k", food.generate_yummly, {"num_recipes": 3000, "seed": 0}),
    "hand": ("rhd", hand.generate_rhd, {"num_train": 6000, "num_eval": 500, "seed": 0}),
}


def default_cache_dir():
    """`$CMVA_CACHE_DIR`, or `~/.cache/cmva_keras`."""
    return os.environ.get("CMVA_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "cmva_keras")


def default_path(task, cache_dir=None, **overrides):
    """Where `ensure_default(task, ...)` keeps its set."""
    name, _, arguments = _spec(task)
    arguments = {**arguments, **overrides}
    tag = "-".join(f"{k}{v}" for k, v in sorted(arguments.items()))
    return os.path.join(cache_dir or default_cache_dir(), "synthetic", f"{name}-{tag}")


def _spec(task):
    if task not in DEFAULTS:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(DEFAULTS)}")
    return DEFAULTS[task]


def ensure_default(task, cache_dir=None, **overrides):
    """Returns the folder of the default synthetic set of `task`, generating it on first use.

    Args:
        task: "food" (Yummly-28K layout, for the `yummly28k` builder) or
            "hand" (RHD layout, for the `rhd` builder).
        cache_dir: cache folder (default `default_cache_dir()`).
        **overrides: generator arguments to change (e.g. `num_recipes=200`
            for a quick test); they are part of the folder name.

    Returns:
        the folder, to pass as `manual_dir` to `cmva_keras.datasets.load`.
    """
    name, generator, arguments = _spec(task)
    arguments = {**arguments, **overrides}
    path = default_path(task, cache_dir, **overrides)
    if os.path.exists(os.path.join(path, SYNTHETIC_MARKER)):
        logger.info("using the synthetic %s set in %s", name, path)
        return path
    logger.info("generating the synthetic %s set (%s task, %s) into %s (first use)", name, task,
                ", ".join(f"{k}={v}" for k, v in sorted(arguments.items())), path)
    start = time.time()
    partial = f"{path}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    try:
        generator(partial, **arguments)
        if os.path.exists(path):  # an incomplete leftover, or another process won the race
            if os.path.exists(os.path.join(path, SYNTHETIC_MARKER)):
                shutil.rmtree(partial, ignore_errors=True)
                return path
            shutil.rmtree(path)
        os.replace(partial, path)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    logger.info("generated the synthetic %s set in %.1f s", name, time.time() - start)
    return path
