"""TFDS builder for the Stereo Hand Pose Tracking Benchmark (STB, Zhang et al. 2016).

Layout (the released dataset):

    <manual_dir>/[STB/]images/B{1..6}{Counting,Random}/BB_left_<i>.png   (640x480)
        (also BB_right_<i>.png, SK_color_<i>.png, SK_depth_<i>.png: unused)
    <manual_dir>/[STB/]labels/B{1..6}{Counting,Random}_BB.mat

- `handPara` (3, 21, frames), millimetres, in the left Bumblebee (BB) camera
  frame, joint order palm, then pinky, ring, middle, index, thumb (knuckle to
  tip), is reordered to RHD's order (`hand_annotations.STB_TO_RHD`); joint 0
  is already the palm centre. The labels go with the `BB_left` images (the
  right image would need the 120.054 mm baseline shift).
- K is the BB camera's (fx = fy = 822.79041, cx 318.47345, cy 250.31296);
  pixel keypoints are the projections; every keypoint counts as visible; the
  hand is a left hand.
- Splits: `train` = B2-B6 (10 x 1,500 frames), `test` = B1 (2 x 1,500).
- A missing or corrupt image, or an unusable label (non-finite, behind the
  camera), skips (and counts) its frame; a missing label file is an error
  (the folder is incomplete). Reading `.mat` files needs SciPy.
"""

import functools
import io

import numpy as np
import tensorflow_datasets as tfds

from cmva_keras.datasets import hand_annotations, hand_features, image_io, manual_dir
from cmva_keras.datasets.builder_base import ManualBuilder
from cmva_keras.keypoints import NUM_KEYPOINTS

_DESCRIPTION = """Stereo Hand Pose Tracking Benchmark: 18,000 stereo frames of one left
hand counting and moving, with 3D labels of 21 joints in millimetres. Left Bumblebee
images, 21 keypoints in RHD order with the palm centre as root, BB intrinsics."""

_CITATION = """@inproceedings{zhang20173d,
  title={3D Hand Pose Tracking and Estimation Using Stereo Matching},
  author={Zhang, Jiawei and Jiao, Jianbo and Chen, Mingliang and Qu, Liangqiong and Xu, Xiaobin and Yang, Qingxiong},
  booktitle={arXiv:1610.07214}, year={2016}}"""

TRAIN_SEQUENCES = tuple(f"B{k}{kind}" for k in range(2, 7) for kind in ("Counting", "Random"))
TEST_SEQUENCES = ("B1Counting", "B1Random")


class Stb(ManualBuilder):
    """STB: left-camera frames with 21 palm-rooted 3D keypoints."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release: BB left images, RHD keypoint order."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """STB (TFDS name `stb`) cannot be downloaded automatically.
Get the Stereo Hand Pose Tracking Benchmark from
https://github.com/zhjwustc/icip17_stereo_hand_pose_dataset (images and labels),
unpack it and pass the folder as manual_dir. Expected layout:

    <manual_dir>/[STB/]images/B1Counting/BB_left_0.png ... (all 12 sequences B1-B6 x Counting/Random)
    <manual_dir>/[STB/]labels/B1Counting_BB.mat ...         (the `_BB.mat` label of each sequence)

`cmva_keras.synthetic.hand.generate_stb(out_dir)` writes a tiny synthetic set in
this layout."""

    def _info(self):
        report = image_io.read_skip_report(self.data_path)
        features = hand_features.common_features()
        features.update({"sequence": tfds.features.Text(), "frame": tfds.features.Scalar(dtype=np.int32)})
        return tfds.core.DatasetInfo(
            builder=self,
            description=_DESCRIPTION + image_io.describe_skips(report),
            features=tfds.features.FeaturesDict(features),
            supervised_keys=("image", "keypoints_xyz_mm"),
            homepage="https://github.com/zhjwustc/icip17_stereo_hand_pose_dataset",
            citation=_CITATION,
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager):
        sequences = TRAIN_SEQUENCES + TEST_SEQUENCES
        required = [f"labels/{s}_BB.mat" for s in sequences] + [f"images/{s}" for s in sequences]
        root = manual_dir.find_root(
            manual_dir.resolve(dl_manager), required, dataset=self.name,
            instructions=self.MANUAL_DOWNLOAD_INSTRUCTIONS, subdirs=("STB", "stereohandposedataset"),
        )
        self._skips = image_io.SkipLog(self.name)
        self.info.metadata["source"] = manual_dir.source_of(root)
        return {
            "train": self._generate_examples("train", root, TRAIN_SEQUENCES),
            "test": self._generate_examples("test", root, TEST_SEQUENCES),
        }

    def _generate_examples(self, split, root, sequences):
        items = []
        for sequence in sequences:
            hand_para = read_hand_para(root / "labels" / f"{sequence}_BB.mat")
            items += [(sequence, frame, hand_para[:, :, frame]) for frame in range(hand_para.shape[2])]
        return self._examples(split, items, functools.partial(_example, root=root))


def _example(item, skip, *, root):
    """A frame's example, or a skip for a missing/corrupt image or an unusable label (`ManualBuilder._examples`)."""
    sequence, frame, hand_para = item
    path = root / "images" / sequence / f"BB_left_{frame}.png"
    try:
        image = image_io.checked_image(path.read_bytes(), str(path))
    except (OSError, image_io.BadImageError) as err:
        skip("bad image", repr(err))
        return
    keypoints = hand_annotations.stb_keypoints(hand_para)
    problem = hand_annotations.keypoints_problem(keypoints)
    if problem:
        skip("bad label", f"{sequence}/{frame}: {problem}")
        return
    example = hand_features.common_example(image, keypoints, hand_annotations.LEFT)
    example.update({"sequence": sequence, "frame": frame})
    yield f"{sequence}/{frame:05d}", example


def read_hand_para(path):
    """`handPara` of an STB label file: float64 `(3, 21, frames)`, millimetres."""
    try:
        from scipy import io as scipy_io
    except ImportError as err:  # pragma: no cover - scipy is a dependency
        raise ImportError("reading STB's .mat labels needs SciPy: pip install scipy") from err
    try:
        mat = scipy_io.loadmat(io.BytesIO(path.read_bytes()))
    except (OSError, ValueError, TypeError) as err:
        raise manual_dir.ManualDataError(f"stb: cannot read {path}: {err}") from err
    hand_para = np.asarray(mat.get("handPara"), np.float64)
    if hand_para.ndim != 3 or hand_para.shape[:2] != (3, NUM_KEYPOINTS):
        raise manual_dir.ManualDataError(f"stb: {path} has no handPara of shape (3, 21, frames), got {hand_para.shape}")
    return hand_para
