"""Reading images defensively, and counting the ones that had to be skipped.

A dataset of tens of thousands of files always has a few truncated or missing
ones. A builder must not crash halfway through because of one of them: it
skips the example, counts it by reason in a `SkipLog`, logs a warning, and
reports the counts in the dataset's metadata and description.
"""

import collections
import contextlib
import io
import json
import logging

import numpy as np
from etils import epath
from PIL import Image

logger = logging.getLogger(__name__)

SKIP_REPORT_KEY = "skipped_examples"


class BadImageError(ValueError):
    """An image file is missing, truncated or not decodable."""


_DECODE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


@contextlib.contextmanager
def _loaded(data, name):
    """The fully decoded PIL image of `data`; a decoding error inside the block becomes a `BadImageError`."""
    if not data:
        raise BadImageError(f"{name} is empty")
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()  # forces a full decode: truncated files raise here
            yield image
    except _DECODE_ERRORS as err:
        raise BadImageError(f"{name} is not a readable image: {err}") from err


def read_image(path, mode="RGB"):
    """Decodes an image file fully, so that truncated files fail here.

    Args:
        path: file path.
        mode: PIL mode to convert to ("RGB", "L", or None to keep the file's).

    Returns:
        `uint8` array `(H, W, 3)` for "RGB", `(H, W)` for "L"; the file's own
        layout for None.

    Raises:
        BadImageError: the file is missing, empty, truncated or not an image.
    """
    path = epath.Path(path)
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, PermissionError, OSError) as err:
        raise BadImageError(f"cannot read {path}: {err}") from err
    return decode_image(data, mode=mode, name=str(path))


def decode_image(data, mode="RGB", name="<bytes>"):
    """Like `read_image`, from the file's bytes."""
    with _loaded(data, name) as image:
        if mode is not None and image.mode != mode:
            image = image.convert(mode)
        array = np.asarray(image)
    if array.size == 0:
        raise BadImageError(f"{name} has no pixels")
    return array


def checked_image(data, name="<bytes>"):
    """Validates an encoded colour image; returns what a TFDS `Image` feature should store.

    The original bytes are kept (no re-encoding loss, no time spent) when they
    are a fully decodable RGB or greyscale JPEG/PNG; anything else that PIL can
    read (CMYK JPEG, palette PNG, BMP, ...) is returned as an RGB `uint8` array
    for TFDS to re-encode.

    Raises:
        BadImageError: the bytes are not a readable image.
    """
    with _loaded(data, name) as image:
        if image.format in ("JPEG", "PNG") and image.mode in ("RGB", "L"):
            if image.width and image.height:
                return data
        array = np.asarray(image.convert("RGB"))
    if array.size == 0:
        raise BadImageError(f"{name} has no pixels")
    return np.ascontiguousarray(array)


def is_grey_png(data):
    """True for an 8-bit single-channel ("L") PNG, which a uint8 mask feature can store as is."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.format == "PNG" and image.mode == "L"
    except (OSError, ValueError, SyntaxError):
        return False


def jpeg_short_side(data, short_side, name="<bytes>", quality=90):
    """JPEG bytes of an image whose shorter side is at most `short_side` pixels.

    The original bytes are returned when they already are a small enough
    RGB/greyscale JPEG; otherwise the image is decoded (fully: truncated files
    raise), resized with antialiasing (never upscaled) and re-encoded.

    Raises:
        BadImageError: the bytes are not a readable image.
    """
    with _loaded(data, name) as image:
        small = min(image.size) <= short_side
        if small and image.format == "JPEG" and image.mode in ("RGB", "L"):
            return data
        image = image.convert("RGB")
        if not small:
            scale = short_side / min(image.size)
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            image = image.resize(size, Image.BILINEAR, reducing_gap=2.0)
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=quality)
    return out.getvalue()


class SkipLog:
    """Counts skipped examples per split and reason, and logs each one.

    Args:
        dataset: dataset name, for the log messages.
    """

    def __init__(self, dataset):
        self.dataset = dataset
        self.counts = collections.defaultdict(collections.Counter)

    def skip(self, split, reason, detail):
        """Records one skipped example of `split` and logs `detail`."""
        self.counts[split][reason] += 1
        logger.warning("%s/%s: skipped an example (%s): %s", self.dataset, split, reason, detail)

    def total(self, split=None):
        splits = [split] if split is not None else list(self.counts)
        return sum(sum(self.counts[s].values()) for s in splits)

    def as_dict(self):
        return {split: dict(sorted(reasons.items())) for split, reasons in sorted(self.counts.items())}

    def publish(self, info, split):
        """Writes the counts into `info.metadata` and the description (call per split).

        The metadata is saved with the prepared dataset (`metadata.json`); the
        description line is what `describe_skips` rebuilds on reload.
        """
        report = dict(info.metadata.get(SKIP_REPORT_KEY, {}))
        report[split] = dict(sorted(self.counts[split].items()))
        info.metadata[SKIP_REPORT_KEY] = report
        total = self.total(split)
        if total:
            logger.warning("%s/%s: %d example(s) skipped: %s", self.dataset, split, total, report[split])
        proto = info.as_proto
        proto.description = _strip_report(proto.description) + describe_skips(report)


_REPORT_HEADER = "\n\nSkipped while building"


def _strip_report(description):
    return description.split(_REPORT_HEADER)[0]


def describe_skips(report):
    """One description paragraph for a `{split: {reason: count}}` report."""
    if not report:
        return ""
    if not any(sum(reasons.values()) for reasons in report.values()):
        return _REPORT_HEADER + " (missing or corrupt files): none."
    parts = []
    for split, reasons in sorted(report.items()):
        total = sum(reasons.values())
        detail = ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items()))
        parts.append(f"{split}: {total}" + (f" ({detail})" if detail else ""))
    return _REPORT_HEADER + " (missing or corrupt files): " + "; ".join(parts) + "."


def read_skip_report(data_path):
    """The skip report saved with a prepared dataset, or {} if there is none.

    Used by the builders' `_info()` so that a reloaded dataset's description
    still states how many examples were skipped.
    """
    path = epath.Path(data_path) / "metadata.json"
    try:
        return json.loads(path.read_text()).get(SKIP_REPORT_KEY, {})
    except (FileNotFoundError, OSError, ValueError, AttributeError):
        return {}
