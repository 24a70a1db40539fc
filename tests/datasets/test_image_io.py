"""Defensive image decoding (cmva_keras/datasets/image_io.py): bad bytes raise BadImageError naming the file."""

import io

import numpy as np
import pytest
from PIL import Image

from cmva_keras.datasets import image_io

GRADIENT = np.tile(np.arange(64, dtype=np.uint8)[None, :, None] * 4, (48, 1, 3))
_buffer = io.BytesIO()
Image.fromarray(GRADIENT).save(_buffer, format="JPEG")
JPEG = _buffer.getvalue()
BAD = {"empty": b"", "truncated": JPEG[: len(JPEG) // 2], "not an image": b"<html>404</html>"}
DECODERS = {
    "decode_image": lambda data: image_io.decode_image(data, name="img7.jpg"),
    "checked_image": lambda data: image_io.checked_image(data, name="img7.jpg"),
    "jpeg_short_side": lambda data: image_io.jpeg_short_side(data, 16, name="img7.jpg"),
}


@pytest.mark.parametrize("decoder", sorted(DECODERS))
@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_bytes_raise_bad_image_error_naming_the_file(decoder, kind):
    with pytest.raises(image_io.BadImageError, match="img7.jpg"):
        DECODERS[decoder](BAD[kind])


def test_good_images_decode_keep_or_shrink():
    assert image_io.decode_image(JPEG).shape == (48, 64, 3)
    assert image_io.checked_image(JPEG) is JPEG  # a readable RGB JPEG is kept as is
    small = image_io.jpeg_short_side(JPEG, 16)
    assert Image.open(io.BytesIO(small)).size == (21, 16)  # short side 48 -> 16, aspect kept
    assert image_io.jpeg_short_side(small, 16) is small  # already small enough: untouched
