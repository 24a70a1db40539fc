"""Finding a dataset's files inside the folder the user downloaded (`manual_dir`).

Archives unpack either into the folder itself or into one sub-folder
(`RHD_published_v2/`, `Yummly28K/`, ...). `find_root` accepts both and, when
the expected files are not there, raises `ManualDataError` naming the dataset,
the expected layout and where to get it, instead of failing halfway through a
build.
"""

import json

from etils import epath

SYNTHETIC_MARKER = "CMVA_SYNTHETIC.json"


class ManualDataError(FileNotFoundError):
    """The manual download folder is missing or does not hold the expected files."""


def resolve(dl_manager):
    """`dl_manager.manual_dir`, or the configured path when TFDS finds it missing or empty.

    TFDS raises a generic AssertionError for a missing folder; returning the
    configured path lets `find_root` raise `ManualDataError` with the layout.
    """
    try:
        return dl_manager.manual_dir
    except AssertionError:
        return getattr(dl_manager, "_manual_dir", None)


def find_root(manual_dir, required, *, dataset, instructions, subdirs=()):
    """Returns the folder under `manual_dir` that holds every path in `required`.

    Args:
        manual_dir: the folder passed as `manual_dir` (str or path).
        required: relative paths (files or folders) that must all exist.
        dataset: the TFDS name, used in the error message.
        instructions: the builder's `MANUAL_DOWNLOAD_INSTRUCTIONS` (layout and
            source), repeated in the error message.
        subdirs: names of sub-folders the archive may unpack into; any
            immediate sub-folder is also tried.

    Returns:
        `epath.Path` of the dataset root.

    Raises:
        ManualDataError: no candidate folder holds all of `required`.
    """
    if manual_dir is None:
        raise ManualDataError(
            f"{dataset}: no manual_dir given. Pass the folder that holds the downloaded "
            f"files (e.g. `--manual_dir` or `download_config=tfds.download.DownloadConfig("
            f"manual_dir=...)`).\n{instructions}"
        )
    manual_dir = epath.Path(manual_dir)
    if not manual_dir.exists():
        raise ManualDataError(f"{dataset}: manual_dir {manual_dir} does not exist.\n{instructions}")
    candidates = [manual_dir] + [manual_dir / name for name in subdirs]
    candidates += sorted(p for p in manual_dir.iterdir() if p.is_dir() and p not in candidates)
    best, best_missing = None, None
    for root in candidates:
        missing = [rel for rel in required if not (root / rel).exists()]
        if not missing:
            return root
        if best_missing is None or len(missing) < len(best_missing):
            best, best_missing = root, missing
    raise ManualDataError(
        f"{dataset}: the manual_dir {manual_dir} is incomplete: "
        f"{', '.join(str(best / m) for m in best_missing)} not found.\n{instructions}"
    )


def source_of(root):
    """Where the files under `root` come from, recorded in a prepared dataset's metadata.

    The synthetic generators leave `CMVA_SYNTHETIC.json` (generator, seed,
    sizes) at the root of what they write; a downloaded dataset has none.
    `cmva_keras.datasets.load` compares this record with the folder it is
    given, so a synthetic and a real dataset never share a prepared copy.
    """
    marker = epath.Path(root) / SYNTHETIC_MARKER
    if marker.exists():
        try:
            return {"kind": "synthetic", **json.loads(marker.read_text())}
        except ValueError:
            return {"kind": "synthetic"}
    return {"kind": "downloaded"}
