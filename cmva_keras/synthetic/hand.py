"""Synthetic hand datasets written in RHD's and STB's native layouts.

`generate_rhd` writes what `RHD_published_v2.zip` unpacks to:

    training/{color,mask,depth}/%05d.png, training/anno_training.pickle
    evaluation/{color,mask,depth}/%05d.png, evaluation/anno_evaluation.pickle

320x320 images with a random perspective camera K (f 250-340 px), one hand in
front (left or right, 50/50) at 28-65 cm, and the other hand either also in
view (farther away) or out of the field of view, as in RHD. The pickle is a
Python-2-style protocol-2 pickle (`py2_pickle`) of `sample_id -> {'xyz' (42, 3)
float32 metres, 'uv_vis' (42, 3), 'K' (3, 3)}`, left hand in rows 0-20, right
in 21-41; masks use RHD's labels; depth is coded as RHD's `view_samples.py`
reads it (top 8 bits in R, bottom 8 in G, 0..65535 -> 0..5 m).

`generate_stb` writes a tiny STB: `images/B{1..6}{Counting,Random}/BB_left_%d.png`
and `BB_right_%d.png` (640x480, the Bumblebee stereo pair) and
`labels/B{1..6}{Counting,Random}_BB.mat` with `handPara` (3, 21, frames) in
millimetres, STB joint order, left camera frame. (STB's SK colour/depth
images and `_SK.mat` labels are not written: the builder does not use them.)

Both are deterministic: sample `i` of a split draws from
`numpy.random.default_rng([seed, split, i])`.
"""

import concurrent.futures
import os

import numpy as np
from PIL import Image

from cmva_keras import keypoints, progress
from cmva_keras.datasets import hand_annotations
from cmva_keras.synthetic import hand_model, hand_render, marker, py2_pickle

RHD_SIZE = (320, 320)
STB_SIZE = (640, 480)
_SPLIT_CODES = {"training": 1, "evaluation": 2}


def _camera(rng, size):
    f = rng.uniform(250.0, 340.0)
    cx, cy = size[0] / 2 + rng.normal(0, 2), size[1] / 2 + rng.normal(0, 2)
    return np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])


def _back_project(K, u, v, z):
    return z * np.linalg.solve(K, np.array([u, v, 1.0]))


def rhd_scene(rng, size=RHD_SIZE):
    """One RHD-like sample: (rgb, mask, depth_mm, hands dict side -> Hand, K)."""
    K = _camera(rng, size)
    skin = hand_render.SKIN_TONES[rng.integers(len(hand_render.SKIN_TONES))]
    front = "left" if rng.uniform() < 0.5 else "right"
    other = "right" if front == "left" else "left"
    w, h = size
    z = rng.uniform(280.0, 650.0)
    palm = _back_project(K, rng.uniform(0.3, 0.7) * w, rng.uniform(0.3, 0.7) * h, z)
    hands = {front: hand_render.place_hand(rng, front, hand_model.random_rotation(rng), palm, rng.uniform(0.88, 1.12), skin)}
    if rng.uniform() < 0.3:  # the other hand in view, farther away
        z2 = z + rng.uniform(80.0, 300.0)
        palm2 = _back_project(K, rng.uniform(-0.1, 1.1) * w, rng.uniform(-0.1, 1.1) * h, z2)
    else:  # out of the field of view
        z2 = rng.uniform(300.0, 700.0)
        palm2 = _back_project(K, rng.choice([-1.5, 2.5]) * w, rng.uniform(0, 1) * h, z2)
    hands[other] = hand_render.place_hand(rng, other, hand_model.random_rotation(rng), palm2, rng.uniform(0.88, 1.12), skin)
    back = hand_render.background(size, rng)
    rgb, mask, depth = hand_render.render([hands["left"], hands["right"]], K, size, back, rng.uniform(1500, 4800), rng)
    return hand_render.add_noise(rgb, rng), mask, depth, hands, K


def encode_rhd_depth(depth_mm):
    """Depth in mm -> RHD's RGB depth PNG array (R: top 8 bits, G: bottom 8 bits)."""
    code = np.clip(np.round(depth_mm / hand_render.MAX_DEPTH_MM * 65535.0), 0, 65535).astype(np.uint16)
    out = np.zeros(depth_mm.shape + (3,), np.uint8)
    out[..., 0] = code >> 8
    out[..., 1] = code & 255
    return out


def _rhd_sample(root, split, index, seed):
    rng = np.random.default_rng([seed, _SPLIT_CODES[split], index])
    rgb, mask, depth, hands, K = rhd_scene(rng)
    name = f"{index:05d}.png"
    Image.fromarray(rgb).save(os.path.join(root, split, "color", name), compress_level=1)
    Image.fromarray(mask).save(os.path.join(root, split, "mask", name), compress_level=1)
    Image.fromarray(encode_rhd_depth(depth)).save(os.path.join(root, split, "depth", name), compress_level=1)
    xyz, uv_vis = [], []
    for side in ("left", "right"):
        hand = hands[side]
        uv = hand_annotations.project(hand.points, K)
        vis = hand_render.visibility(hand, uv, mask, depth, RHD_SIZE)
        xyz.append(hand.points / 1000.0)
        uv_vis.append(np.concatenate([uv, vis[:, None]], axis=1))
    return index, {
        "xyz": np.concatenate(xyz).astype(np.float32),
        "uv_vis": np.concatenate(uv_vis).astype(np.float64),
        "K": K.astype(np.float64),
    }


def generate_rhd(out_dir, num_train=6000, num_eval=500, seed=0, workers=2):
    """Writes a synthetic RHD in its native layout and returns `out_dir`.

    Args:
        out_dir: folder to create (files inside are overwritten).
        num_train: samples in `training/` (ids 00000..).
        num_eval: samples in `evaluation/`.
        seed: dataset seed.
        workers: threads (PNG encoding and noise release the GIL; the
            output does not depend on this).

    Returns:
        `out_dir` as a string.
    """
    root = os.fspath(out_dir)
    with progress.bar(total=num_train + num_eval, description="generating rhd", unit="samples") as bar:
        for split, count in (("training", num_train), ("evaluation", num_eval)):
            for sub in ("color", "mask", "depth"):
                os.makedirs(os.path.join(root, split, sub), exist_ok=True)
            annotations = {}
            with concurrent.futures.ThreadPoolExecutor(max(1, workers)) as pool:
                for index, annotation in pool.map(lambda i, split=split: _rhd_sample(root, split, i, seed), range(count)):
                    annotations[index] = annotation
                    bar.update()
            with open(os.path.join(root, split, f"anno_{split}.pickle"), "wb") as f:
                f.write(py2_pickle.dumps(annotations))
    marker.write(root, "rhd", num_train=int(num_train), num_eval=int(num_eval), seed=int(seed))
    return root


STB_SEQUENCES = tuple(f"B{k}{kind}" for k in range(1, 7) for kind in ("Counting", "Random"))


def stb_frame(rng):
    """One STB-like frame: (left rgb, right rgb, left-hand keypoints mm in RHD order, left camera)."""
    K = hand_annotations.STB_BB_K.astype(np.float64)
    w, h = STB_SIZE
    z = rng.uniform(300.0, 550.0)
    palm = _back_project(K, rng.uniform(0.35, 0.65) * w, rng.uniform(0.35, 0.65) * h, z)
    skin = hand_render.SKIN_TONES[rng.integers(len(hand_render.SKIN_TONES))]
    hand = hand_render.place_hand(rng, "left", hand_model.random_rotation(rng), palm, rng.uniform(0.9, 1.1), skin)
    back = hand_render.background(STB_SIZE, rng)
    bg_depth = rng.uniform(1500, 3000)
    left, _, _ = hand_render.render([hand], K, STB_SIZE, back, bg_depth, rng)
    shift = np.array([-hand_annotations.STB_BB_BASELINE_MM, 0.0, 0.0])
    right_hand = hand_render.Hand("left", hand.points + shift, hand.normals, hand.rotation, skin)
    right, _, _ = hand_render.render([right_hand], K, STB_SIZE, back, bg_depth, rng)
    return hand_render.add_noise(left, rng), hand_render.add_noise(right, rng), hand.points


def generate_stb(out_dir, frames_per_sequence=4, seed=0):
    """Writes a tiny synthetic STB in its native layout and returns `out_dir`.

    All 12 sequences (B1-B6 x Counting/Random) get `frames_per_sequence`
    frames, so the `stb` builder gives 10 * frames training examples (B2-B6)
    and 2 * frames test examples (B1).
    """
    from scipy import io as scipy_io  # only needed to write the .mat labels

    root = os.fspath(out_dir)
    os.makedirs(os.path.join(root, "labels"), exist_ok=True)
    rhd_to_stb = hand_annotations.STB_TO_RHD  # an involution: the same index list maps back
    for s, sequence in enumerate(STB_SEQUENCES):
        folder = os.path.join(root, "images", sequence)
        os.makedirs(folder, exist_ok=True)
        hand_para = np.zeros((3, keypoints.NUM_KEYPOINTS, frames_per_sequence))
        for i in range(frames_per_sequence):
            rng = np.random.default_rng([seed, 100 + s, i])
            left, right, points = stb_frame(rng)
            palm_rooted = points.copy()
            palm_rooted[keypoints.ROOT] = keypoints.palm_root(points)  # STB's joint 0 is the palm centre
            hand_para[:, :, i] = palm_rooted[rhd_to_stb].T
            Image.fromarray(left).save(os.path.join(folder, f"BB_left_{i}.png"), compress_level=1)
            Image.fromarray(right).save(os.path.join(folder, f"BB_right_{i}.png"), compress_level=1)
        scipy_io.savemat(os.path.join(root, "labels", f"{sequence}_BB.mat"), {"handPara": hand_para})
    marker.write(root, "stb", frames_per_sequence=int(frames_per_sequence), seed=int(seed))
    return root
