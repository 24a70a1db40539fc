"""TFDS builder for the Rendered Hand Pose Dataset (RHD, Zimmermann & Brox 2017).

Layout (the unpacked `RHD_published_v2.zip`):

    <manual_dir>/[RHD_published_v2/]training/{color,mask,depth}/%05d.png
    <manual_dir>/[RHD_published_v2/]training/anno_training.pickle
    <manual_dir>/[RHD_published_v2/]evaluation/{color,mask,depth}/%05d.png
    <manual_dir>/[RHD_published_v2/]evaluation/anno_evaluation.pickle

- `anno_*.pickle` (Python 2, NumPy) maps sample id -> {'xyz' (42, 3) metres,
  'uv_vis' (42, 3), 'K' (3, 3)}; left hand 0-20, right hand 21-41. It is read
  with `safe_pickle`, which refuses any pickle that names something other
  than NumPy's array reconstruction, so a crafted file cannot run code.
- The hand kept is the one with more mask pixels (labels 2-17 left, 18-33
  right), as ColorHandPose3D does; its keypoint 0 (wrist) is replaced by the
  palm centre (midpoint of keypoints 0 and 12).
- Depth PNGs store 16 bits in R (top) and G (bottom), 0..65535 = 0..5 m; the
  builder keeps the PNG as it ships (`hand_annotations.decode_rhd_depth`
  turns it into the 16-bit code). Colour and depth PNGs are stored without
  re-encoding; only masks that are not 8-bit greyscale PNGs are re-encoded.
- Splits: `train` = training (41,258), `test` = evaluation (2,728).
- A missing or corrupt colour/mask/depth PNG skips (and counts) its sample,
  as do unusable labels (non-finite, behind the camera, zero-length bone).
"""

import functools

import numpy as np
import tensorflow_datasets as tfds

from cmva_keras.datasets import hand_annotations, hand_features, image_io, manual_dir, safe_pickle
from cmva_keras.datasets.builder_base import ManualBuilder

_DESCRIPTION = """Rendered Hand Pose Dataset: 320x320 synthetic renderings of people with
3D keypoints of both hands, segmentation masks and depth. One hand per sample (the
one with more mask pixels), 21 keypoints in RHD order with the palm centre as root,
millimetres in the camera frame, pixel coordinates, visibility and intrinsics."""

_CITATION = """@inproceedings{zimmermann2017learning,
  title={Learning to Estimate 3D Hand Pose from Single RGB Images},
  author={Zimmermann, Christian and Brox, Thomas}, booktitle={ICCV}, year={2017}}"""

_SPLITS = {"train": "training", "test": "evaluation"}


class Rhd(ManualBuilder):
    """RHD: one hand per image, 21 palm-rooted 3D keypoints."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "First release: dominant hand, palm root, mask and depth kept."}
    MANUAL_DOWNLOAD_INSTRUCTIONS = """RHD (TFDS name `rhd`) cannot be downloaded automatically.
Get the RHD archive (it unpacks to `RHD_published_v2/`) from
https://lmb.informatik.uni-freiburg.de/resources/datasets/RenderedHandposeDataset.en.html ,
unpack it and pass the folder as manual_dir. Expected layout:

    <manual_dir>/[RHD_published_v2/]training/{color,mask,depth}/NNNNN.png
    <manual_dir>/[RHD_published_v2/]training/anno_training.pickle
    <manual_dir>/[RHD_published_v2/]evaluation/{color,mask,depth}/NNNNN.png
    <manual_dir>/[RHD_published_v2/]evaluation/anno_evaluation.pickle

`cmva_keras.synthetic.hand.generate_rhd(out_dir)` writes a synthetic set in this
layout for offline runs."""

    def _info(self):
        report = image_io.read_skip_report(self.data_path)
        features = hand_features.common_features()
        features.update({
            "mask": tfds.features.Image(shape=(None, None, 1), encoding_format="png"),
            "depth": tfds.features.Image(shape=(None, None, 3), encoding_format="png"),
            "sample_id": tfds.features.Scalar(dtype=np.int64),
        })
        return tfds.core.DatasetInfo(
            builder=self,
            description=_DESCRIPTION + image_io.describe_skips(report),
            features=tfds.features.FeaturesDict(features),
            supervised_keys=("image", "keypoints_xyz_mm"),
            homepage="https://lmb.informatik.uni-freiburg.de/resources/datasets/RenderedHandposeDataset.en.html",
            citation=_CITATION,
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager):
        required = []
        for folder in _SPLITS.values():
            required += [f"{folder}/anno_{folder}.pickle"] + [f"{folder}/{sub}" for sub in ("color", "mask", "depth")]
        root = manual_dir.find_root(
            manual_dir.resolve(dl_manager), required, dataset=self.name,
            instructions=self.MANUAL_DOWNLOAD_INSTRUCTIONS, subdirs=("RHD_published_v2",),
        )
        self._skips = image_io.SkipLog(self.name)
        self.info.metadata["source"] = manual_dir.source_of(root)
        return {split: self._generate_examples(split, root / folder) for split, folder in _SPLITS.items()}

    def _generate_examples(self, split, folder):
        pickle_path = folder / f"anno_{folder.name}.pickle"
        try:
            annotations = safe_pickle.load_rhd_annotations(pickle_path.read_bytes())
        except safe_pickle.UnsafePickleError as err:
            raise safe_pickle.UnsafePickleError(f"{self.name}: refusing {pickle_path}: {err}") from err
        except (ValueError, EOFError) as err:
            raise manual_dir.ManualDataError(f"{self.name}: {pickle_path} is not an RHD annotation file: {err}") from err
        items = [(sample_id, annotations[sample_id]) for sample_id in sorted(annotations)]
        return self._examples(split, items, functools.partial(_example, split=split, folder=folder))


def _example(item, skip, *, split, folder):
    """A sample's example, or a skip for a missing/corrupt PNG or an unusable label (`ManualBuilder._examples`)."""
    sample_id, annotation = item
    name = f"{sample_id:05d}.png"
    try:
        color = image_io.checked_image((folder / "color" / name).read_bytes(), str(folder / "color" / name))
        depth = image_io.checked_image((folder / "depth" / name).read_bytes(), str(folder / "depth" / name))
        mask_bytes = (folder / "mask" / name).read_bytes()
        mask = image_io.decode_image(mask_bytes, mode=None, name=str(folder / "mask" / name))
    except (OSError, image_io.BadImageError) as err:
        skip("bad image", repr(err))
        return
    labels = mask[..., 0] if mask.ndim == 3 else mask
    side = hand_annotations.rhd_hand_side(labels)
    keypoints = hand_annotations.rhd_keypoints(annotation, side)
    problem = hand_annotations.keypoints_problem(keypoints)
    if problem:
        skip("bad label", f"{folder.name}/{sample_id}: {problem}")
        return
    example = hand_features.common_example(color, keypoints, side)
    example.update({
        "mask": mask_bytes if image_io.is_grey_png(mask_bytes) else labels[..., None].astype(np.uint8),
        "depth": depth,
        "sample_id": sample_id,
    })
    yield f"{split}/{sample_id:05d}", example
