"""The files a finished training run leaves in its workdir, and reading them back.

`scripts/train.py` writes them (`training.loop.train`); evaluation and export
read them through `read_run`, so both give the same error for a workdir that
holds no finished run.
"""

import glob
import json
import os

MODEL = "model.keras"  # the trained CMVA
CONFIG = "config.json"  # the resolved config
VOCABULARY = "vocabulary.json"  # food: the ingredient names, in output order
TENSORBOARD = "tensorboard"  # TensorBoard logs: train/ and validation/
COMPARISON = "comparison.json"  # marks a folder of scripts/compare.py (runs in <method>/seed<s>)


def read_run(workdir):
    """`(model_path, config dict, vocabulary list or None)` of a finished run.

    Raises:
        FileNotFoundError: the workdir, its model or its config is missing;
            the message names the missing path and what to pass instead; for a
            comparison folder (scripts/compare.py), one of its run folders.
    """
    if not os.path.isdir(workdir):
        raise FileNotFoundError(f"Workdir {workdir} does not exist; pass the --workdir of a finished training run.")
    if os.path.exists(os.path.join(workdir, COMPARISON)) and not os.path.exists(os.path.join(workdir, MODEL)):
        found = sorted(glob.glob(os.path.join(glob.escape(workdir), "*", "seed*", MODEL)))
        example = os.path.dirname(found[0]) if found else os.path.join(workdir, "cmva", "seed0")
        raise FileNotFoundError(
            f"{workdir}: this is a comparison folder (scripts/compare.py); pass one of its run folders, "
            f"e.g. {example}"
        )
    for name in (MODEL, CONFIG):
        path = os.path.join(workdir, name)
        if not os.path.exists(path):
            raise FileNotFoundError(
                f"{path} is missing: {workdir} holds no finished training run. "
                "Train first (scripts/train.py --workdir ...) or pass the --workdir of a run it completed."
            )
    with open(os.path.join(workdir, CONFIG)) as f:
        config = json.load(f)
    vocabulary = None
    vocabulary_path = os.path.join(workdir, VOCABULARY)
    if os.path.exists(vocabulary_path):
        with open(vocabulary_path) as f:
            vocabulary = json.load(f)
    return os.path.join(workdir, MODEL), config, vocabulary
