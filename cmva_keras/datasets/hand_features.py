"""The features every hand builder (`rhd`, `stb`) shares, in one place.

Keypoints follow `hand_annotations`: 21 points in RHD's order with the palm
centre as point 0; millimetres in the camera frame; pixels; K; hand side.
The hand input pipeline reads only these fields, so it works on either
dataset.
"""

import numpy as np
import tensorflow_datasets as tfds

from cmva_keras.datasets import hand_annotations

HAND_SIDES = ("left", "right")


def common_features():
    """Feature connectors shared by the hand builders."""
    return {
        "image": tfds.features.Image(shape=(None, None, 3), encoding_format="png"),
        "keypoints_xyz_mm": tfds.features.Tensor(shape=(hand_annotations.NUM_KEYPOINTS, 3), dtype=np.float32),
        "keypoints_uv": tfds.features.Tensor(shape=(hand_annotations.NUM_KEYPOINTS, 2), dtype=np.float32),
        "keypoints_visible": tfds.features.Tensor(shape=(hand_annotations.NUM_KEYPOINTS,), dtype=np.bool_),
        "camera_K": tfds.features.Tensor(shape=(3, 3), dtype=np.float32),
        "hand_side": tfds.features.ClassLabel(names=list(HAND_SIDES)),
    }


def common_example(image, keypoints, side):
    """The shared fields of one example from `hand_annotations` keypoints."""
    return {
        "image": image,
        "keypoints_xyz_mm": keypoints["xyz_mm"],
        "keypoints_uv": keypoints["uv"],
        "keypoints_visible": keypoints["visible"],
        "camera_K": keypoints["K"],
        "hand_side": int(side),
    }
