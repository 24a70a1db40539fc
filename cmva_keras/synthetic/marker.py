"""The `CMVA_SYNTHETIC.json` file every generator leaves at the root of its output.

It records the generator, its arguments and the format version, so a
prepared TFDS copy can tell synthetic data from a downloaded dataset
(`cmva_keras.datasets.manual_dir.source_of`). It is written last: a folder
that has it is complete.
"""

import json
import os

from cmva_keras.datasets.manual_dir import SYNTHETIC_MARKER

FORMAT_VERSION = 1


def write(root, generator, **arguments):
    """Writes the marker for `generator(**arguments)` into `root`."""
    record = {"generator": generator, "format_version": FORMAT_VERSION, **arguments}
    path = os.path.join(os.fspath(root), SYNTHETIC_MARKER)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1, sort_keys=True)
    return record
