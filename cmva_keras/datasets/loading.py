"""From a builder name and a folder to `tf.data` splits: `prepare`, `load`, `vocabulary`.

`load("rhd", manual_dir, data_dir, "train")` prepares the dataset once
(TFDS caches it under `data_dir`) and returns the split with images left
encoded (`tfds.decode.SkipDecoding`): shuffle buffers then hold compressed
bytes, and the input pipelines decode in their parallel map. Masks and depth
maps, which no pipeline uses, are dropped.

Synthetic folders (with a `CMVA_SYNTHETIC.json` marker) are prepared inside
themselves (`<manual_dir>/tfds`) unless `data_dir` is given, so a synthetic
and a real copy of a dataset never overwrite each other; if a prepared copy
came from another source than `manual_dir`, `prepare` refuses it.
"""

import contextlib
import logging
import time

import tensorflow_datasets as tfds
from etils import epath

from cmva_keras import progress
from cmva_keras.datasets import devices
from cmva_keras.datasets import manual_dir as manual_dir_lib

logger = logging.getLogger(__name__)

NAMES = ("yummly28k", "recipe1m", "rhd", "stb")
_ENCODED = ("image", "images")
_DROPPED = ("mask", "depth")
_VALIDATION = {"val": "validation", "valid": "validation", "eval": "test", "evaluation": "test"}
# Examples a synthetic set prepares into, from the sizes in its marker: the total of the progress bar.
_SYNTHETIC_EXAMPLES = {
    "yummly28k": lambda marker: marker["num_recipes"],
    "rhd": lambda marker: marker["num_train"] + marker["num_eval"],
}


class SourceMismatchError(RuntimeError):
    """A prepared dataset was built from different files than the given manual_dir."""


def default_data_dir(manual_dir):
    """`<manual_dir>/tfds` for synthetic folders, else None (TFDS's default data_dir)."""
    if manual_dir is not None and (epath.Path(manual_dir) / manual_dir_lib.SYNTHETIC_MARKER).exists():
        return str(epath.Path(manual_dir) / "tfds")
    return None


def prepare(name, manual_dir=None, data_dir=None):
    """Builds (once) and returns the TFDS builder `name` from the files in `manual_dir`.

    Args:
        name: "yummly28k", "recipe1m", "rhd" or "stb".
        manual_dir: folder holding the dataset as it ships (or a synthetic one).
        data_dir: where TFDS keeps the prepared copy (default: see module doc).

    Returns:
        the prepared `tfds.core.DatasetBuilder`.

    Raises:
        ManualDataError: `manual_dir` is missing or incomplete.
        SourceMismatchError: `data_dir` holds a copy built from other files.
    """
    if name not in NAMES:
        raise ValueError(f"unknown dataset {name!r}; expected one of {NAMES}")
    devices.hide_gpus_from_tensorflow()
    if data_dir is None:
        data_dir = default_data_dir(manual_dir)
    builder = tfds.builder(name, data_dir=data_dir)
    if not _is_prepared(builder):
        logger.info("preparing %s from %s into %s", name, manual_dir, builder.data_dir)
        start = time.time()
        bar = progress.bar(total=_expected_examples(name, manual_dir), description=f"preparing {name}",
                           unit="examples")
        with bar, _tfds_quiet():
            builder.progress = bar
            try:
                builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=manual_dir))
            finally:
                builder.progress = None
        counts = ", ".join(f"{split} {info.num_examples}" for split, info in builder.info.splits.items())
        logger.info("prepared %s in %.1f s: %s examples", name, time.time() - start, counts)
    _check_source(builder, manual_dir)
    return builder


def _is_prepared(builder):
    # TFDS's is_prepared() warns "Variant folder ... has no dataset_info.json" whenever the folder does not
    # exist yet, that is before every first preparation; a missing folder just means "not prepared". A folder
    # that exists without its files still gets TFDS's warning, which then points at something to delete.
    return builder.data_path.exists() and builder.is_prepared()


def _expected_examples(name, manual_dir):
    """How many examples preparing `manual_dir` gives, where known (the synthetic sets), else None."""
    count = _SYNTHETIC_EXAMPLES.get(name)
    if manual_dir is None or count is None:
        return None
    source = manual_dir_lib.source_of(manual_dir)
    try:
        return int(count(source)) if source["kind"] == "synthetic" else None
    except (KeyError, TypeError, ValueError):  # a marker from another version of the generator
        return None


class _TFDSInfo(logging.Filter):
    """Drops TFDS's own INFO records ("Generating dataset ...", "Done writing ..."); keeps its warnings."""

    def filter(self, record):
        return record.levelno >= logging.WARNING or "tensorflow_datasets" not in record.pathname


@contextlib.contextmanager
def _tfds_quiet():
    """TFDS's own progress bars and INFO lines off while `prepare` shows its bar and its two lines.

    TFDS's bars (splits, examples per split, shuffling) have no total, so no
    ETA, and TFDS draws them whether or not stderr is a terminal, filling logs
    with carriage returns and cursor-up codes. Its INFO lines say what
    `prepare`'s lines say, and on a terminal they would break into the bar.
    TFDS has no getter for the bar setting, so the previous one is read from
    its module to be restored.
    """
    from tensorflow_datasets.core.utils import tqdm_utils

    shown = getattr(tqdm_utils, "_active", True)
    tfds.display_progress_bar(False)
    tfds_logger, drop_info = logging.getLogger("absl"), _TFDSInfo()  # TFDS logs through absl.logging
    tfds_logger.addFilter(drop_info)
    try:
        yield
    finally:
        tfds_logger.removeFilter(drop_info)
        tfds.display_progress_bar(shown)


def _check_source(builder, manual_dir):
    if manual_dir is None:
        return
    recorded = dict(builder.info.metadata.get("source", {}) or {})
    found = manual_dir_lib.source_of(manual_dir)
    if not found.get("kind") == "synthetic":
        try:  # the marker may sit one level down (e.g. RHD_published_v2/)
            for child in epath.Path(manual_dir).iterdir():
                if child.is_dir() and (child / manual_dir_lib.SYNTHETIC_MARKER).exists():
                    found = manual_dir_lib.source_of(child)
                    break
        except OSError:
            pass
    if recorded and recorded != found:
        raise SourceMismatchError(
            f"{builder.name}: the prepared copy in {builder.data_dir} was built from {recorded}, "
            f"but manual_dir {manual_dir} holds {found}. Pass another data_dir, or delete "
            f"{builder.data_dir} to rebuild it."
        )


def as_dataset(builder, split, shuffle_files=False, with_ids=False):
    """The split of a prepared builder, images left encoded, masks and depth dropped.

    With `with_ids`, each example also has TFDS's `tfds_id` (its file and
    record: stable whatever order the files are read in).
    """
    split = _VALIDATION.get(split, split) if split not in builder.info.splits else split
    features = builder.info.features
    decoders = {k: tfds.decode.SkipDecoding() for k in _ENCODED if k in features}
    if with_ids:
        _quiet_tfds_id_deprecation()
    # No auto-cache: TFDS caches a split under 250 MiB in memory, and tf.data throws that cache away (with a
    # warning) whenever an iterator stops before the end: Keras peeking at the first batch to build the
    # model, steps_per_epoch, --max_examples. The pipelines read the same records in the same order
    # without it; a local TFRecord file reads fast next to decoding and augmenting its images.
    read_config = tfds.ReadConfig(add_tfds_id=with_ids, try_autocache=False)
    ds = builder.as_dataset(split=split, decoders=decoders or None, shuffle_files=shuffle_files,
                            read_config=read_config)
    dropped = [k for k in _DROPPED if k in features]
    if dropped:
        ds = ds.map(lambda ex: {k: v for k, v in ex.items() if k not in dropped})
    return ds


class _DropMessage(logging.Filter):
    def __init__(self, text):
        super().__init__()
        self.text = text

    def filter(self, record):
        return self.text not in record.getMessage()


def _quiet_tfds_id_deprecation():
    """Drops TF's deprecation notice for `CounterV2`, which TFDS's reader uses to add `tfds_id`s.

    The notice is about TFDS's own code (tensorflow_datasets/core/reader.py);
    a user can do nothing about it. Only that message is dropped.
    """
    tf_logger = logging.getLogger("tensorflow")
    if not any(isinstance(f, _DropMessage) for f in tf_logger.filters):
        tf_logger.addFilter(_DropMessage("CounterV2 (from tensorflow.python.data.experimental.ops.counter)"))


def load(name, manual_dir=None, data_dir=None, split="train", shuffle_files=False):
    """`as_dataset(prepare(name, manual_dir, data_dir), split)`: a `tf.data.Dataset` of examples."""
    return as_dataset(prepare(name, manual_dir, data_dir), split, shuffle_files=shuffle_files)


def vocabulary(builder, data_dir=None):
    """The ingredient class names of a prepared food builder (index = class id).

    Args:
        builder: a prepared `yummly28k`/`recipe1m` builder, or its name
            (then read from `data_dir`).
    """
    if isinstance(builder, str):
        builder = tfds.builder(builder, data_dir=data_dir)
    if "ingredients" not in builder.info.features:
        raise ValueError(f"{builder.name} has no ingredient vocabulary")
    labels = builder.info.features["ingredients"].feature
    if labels.num_classes is None:
        raise ValueError(f"{builder.name} is not prepared yet (no vocabulary in {builder.data_dir}); call prepare()")
    return list(labels.names)


def num_examples(builder, split):
    """Number of examples in a split of a prepared builder."""
    split = _VALIDATION.get(split, split) if split not in builder.info.splits else split
    return builder.info.splits[split].num_examples
