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

`prepare(..., beam_options="direct_running_mode=multi_processing,direct_num_workers=4")`
generates the examples with Apache Beam (the optional extra `beam`; see
`builder_base` for what runs in the workers and how skips are counted). The
options are Beam's pipeline flags, comma-separated and without their `--`,
as for TFDS's `tfds build --beam_pipeline_options`; the same options select
another runner (`runner=DataflowRunner,project=...,region=...,temp_location=gs://...`).
"""

import contextlib
import logging
import re
import time

import tensorflow_datasets as tfds
from etils import epath

from cmva_keras import progress
from cmva_keras.datasets import image_io
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


BEAM_INSTALL = "pip install 'cmva-keras[beam]'"  # in a checkout: .venv/bin/pip install -c constraints.txt -e '.[beam]'
_BEAM_FLAG = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*(=.*)?", re.DOTALL)
_WORKER_LOG_LEVEL = "default_sdk_harness_log_level"


class SourceMismatchError(RuntimeError):
    """A prepared dataset was built from different files than the given manual_dir."""


class BeamNotInstalledError(ImportError):
    """Beam options were given, but apache-beam is not installed."""


def beam_pipeline_options(options):
    """Beam `PipelineOptions` from comma-separated flags (`"direct_num_workers=2,direct_running_mode=..."`).

    Args:
        options: a string of comma-separated `name=value` (or `name` for a
            switch) Beam pipeline flags, with or without their leading `--`;
            a list of such flags; a `PipelineOptions` (returned as is); or
            None / "" (no Beam: returns None). A value cannot hold a comma
            (as with `tfds build --beam_pipeline_options`); pass a list or a
            `PipelineOptions` for that. Unless the flags set it,
            `default_sdk_harness_log_level=WARNING` is added: the workers
            then log the examples they skip, not every bundle they process.

    Raises:
        BeamNotInstalledError: apache-beam is not installed (the message says how to install it).
        ValueError: a flag is malformed, unknown to Beam, or has an invalid value.
    """
    if options is None or (isinstance(options, str) and not options.strip()):
        return None
    try:
        with _beam_info_quiet(True), _dropped(logging.getLogger(), "apitools not found"):
            # Importing Beam says at INFO and WARNING that its optional Google Cloud clients are missing.
            import apache_beam  # noqa: F401
        from apache_beam.options import pipeline_options
    except ImportError as err:
        raise BeamNotInstalledError(
            f"Beam options were given ({options!r}), but apache-beam is not installed ({err}). "
            f"Install the optional extra: {BEAM_INSTALL} (in a checkout: "
            ".venv/bin/pip install -c constraints.txt -e '.[beam]'), or prepare without Beam options."
        ) from err
    if isinstance(options, pipeline_options.PipelineOptions):
        return options
    if isinstance(options, str):
        options = options.split(",")
    flags = []
    for option in options:
        option = str(option).strip()
        if not option:
            continue
        name = option[2:] if option.startswith("--") else option
        if not _BEAM_FLAG.fullmatch(name):
            raise ValueError(f"Beam option {option!r} is not NAME=VALUE (e.g. direct_num_workers=2); "
                             "pass comma-separated Beam pipeline flags without spaces in the names.")
        flags.append("--" + name)
    if not any(f.split("=", 1)[0] == "--" + _WORKER_LOG_LEVEL for f in flags):
        flags.append(f"--{_WORKER_LOG_LEVEL}=WARNING")  # the workers' skip warnings, not their INFO chatter
    parsed = pipeline_options.PipelineOptions(flags=flags)
    try:
        # Beam drops flags it does not know (with a warning) and runs on: compare what it keeps with all given.
        with _silenced("apache_beam.options.pipeline_options"):
            known = parsed.get_all_options(retain_unknown_options=False)
        given = parsed.get_all_options(retain_unknown_options=True)
    except SystemExit as err:  # argparse rejects a bad value (e.g. an unknown direct_running_mode)
        raise ValueError(f"invalid Beam options {flags}: see the message above (Beam's option parser)") from err
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValueError(f"unknown Beam option(s) {unknown} in {flags}: not flags of Beam's pipeline options "
                         "(e.g. runner, direct_running_mode, direct_num_workers, project, region, temp_location).")
    return parsed


def _check_cloud_paths(beam_options, **paths):
    """On Dataflow, the workers read manual_dir and data_dir (the work items): both must be Cloud Storage paths."""
    if beam_options is None:
        return
    runner = str(beam_options.get_all_options().get("runner") or "")
    if "dataflow" not in runner.lower():
        return
    local = {name: path for name, path in paths.items() if not str(path or "").startswith("gs://")}
    if local:
        raise ValueError(
            f"runner={runner}: Dataflow's workers read the dataset's files and the work items from manual_dir and "
            f"data_dir, so both must be Cloud Storage paths (gs://BUCKET/...); got "
            + ", ".join(f"{name}={path!r}" for name, path in local.items())
            + ". Copy the dataset to a bucket (gsutil -m cp -r DIR gs://BUCKET/...) and pass both as gs:// paths.")


@contextlib.contextmanager
def _silenced(logger_name):
    """The logger's records dropped inside the block (a warning the caller turns into a clearer error)."""
    target = logging.getLogger(logger_name)
    disabled, target.disabled = target.disabled, True
    try:
        yield
    finally:
        target.disabled = disabled


def default_data_dir(manual_dir):
    """`<manual_dir>/tfds` for synthetic folders, else None (TFDS's default data_dir)."""
    if manual_dir is not None and (epath.Path(manual_dir) / manual_dir_lib.SYNTHETIC_MARKER).exists():
        return str(epath.Path(manual_dir) / "tfds")
    return None


def prepare(name, manual_dir=None, data_dir=None, beam_options=None):
    """Builds (once) and returns the TFDS builder `name` from the files in `manual_dir`.

    Args:
        name: "yummly28k", "recipe1m", "rhd" or "stb".
        manual_dir: folder holding the dataset as it ships (or a synthetic one).
        data_dir: where TFDS keeps the prepared copy (default: see module doc).
        beam_options: None (default: generate in this process), or Apache
            Beam pipeline options (`beam_pipeline_options`'s argument): the
            examples are then generated by a Beam pipeline on the runner
            they name (DirectRunner by default). No progress bar then: the
            runner reports its own progress.

    Returns:
        the prepared `tfds.core.DatasetBuilder`.

    Raises:
        ManualDataError: `manual_dir` is missing or incomplete.
        SourceMismatchError: `data_dir` holds a copy built from other files.
        BeamNotInstalledError: `beam_options` given without apache-beam installed.
    """
    if name not in NAMES:
        raise ValueError(f"unknown dataset {name!r}; expected one of {NAMES}")
    beam_options = beam_pipeline_options(beam_options)
    _check_cloud_paths(beam_options, manual_dir=manual_dir, data_dir=data_dir)
    if data_dir is None:
        data_dir = default_data_dir(manual_dir)
    builder = tfds.builder(name, data_dir=data_dir)
    if not _is_prepared(builder):
        logger.info("preparing %s from %s into %s%s", name, manual_dir, builder.data_dir,
                    " with Apache Beam" if beam_options is not None else "")
        start = time.time()
        if beam_options is None:
            bar = progress.bar(total=_expected_examples(name, manual_dir), description=f"preparing {name}",
                               unit="examples")
        else:
            bar = contextlib.nullcontext()
        config = tfds.download.DownloadConfig(manual_dir=manual_dir, beam_options=beam_options)
        with bar, _tfds_quiet(), _beam_info_quiet(beam_options is not None):
            builder.progress = bar if beam_options is None else None
            try:
                builder.download_and_prepare(download_config=config)
            finally:
                builder.progress = None
        counts = ", ".join(f"{split} {info.num_examples}" for split, info in builder.info.splits.items())
        logger.info("prepared %s in %.1f s: %s examples", name, time.time() - start, counts)
    _check_source(builder, manual_dir)
    return builder


def preparation_summary(builder):
    """One line on a prepared builder: where it is, its split sizes, and what was skipped while preparing.

    `prepare_data.py` prints it; the skip counts are the same with and without Beam.
    """
    counts = ", ".join(f"{split} {info.num_examples}" for split, info in builder.info.splits.items())
    report = builder.info.metadata.get(image_io.SKIP_REPORT_KEY) or {}
    skipped = "; ".join(
        f"{split} {sum(reasons.values())}" + (" (" + ", ".join(f"{n} {r}" for r, n in sorted(reasons.items())) + ")"
                                              if reasons else "")
        for split, reasons in sorted(report.items())) or "none recorded"
    return f"{builder.name} {builder.version} in {builder.data_dir}: {counts} examples; skipped examples: {skipped}"


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


@contextlib.contextmanager
def _dropped(target, text):
    """`target`'s records containing `text` dropped inside the block."""
    drop = _DropMessage(text)
    target.addFilter(drop)
    try:
        yield
    finally:
        target.removeFilter(drop)


@contextlib.contextmanager
def _beam_info_quiet(active):
    """Beam's own INFO lines (runner start-up, servers, bundles) off while `prepare` runs a pipeline; warnings stay."""
    beam_logger = logging.getLogger("apache_beam")
    level = beam_logger.level
    if active and beam_logger.getEffectiveLevel() < logging.WARNING:
        beam_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        beam_logger.setLevel(level)


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
