"""Turning RHD's and STB's native labels into one 21-keypoint convention.

The convention of every hand builder (RHD's keypoint order, palm root;
the constants are in `cmva_keras.keypoints`):

    0 palm centre, then thumb, index, middle, ring, pinky, each finger from
    tip to knuckle: 1-4 thumb (tip..MCP), 5-8 index, 9-12 middle, 13-16 ring,
    17-20 pinky. 12 is the middle finger's MCP, 11 its PIP.

- RHD labels the wrist as keypoint 0; as ColorHandPose3D does, it is replaced
  by the palm centre, the midpoint of the wrist and the middle MCP (0 and 12).
  Its image position is the projection of that 3D point with K, so that 2D
  and 3D labels stay exactly consistent.
- STB's `handPara` is ordered palm, then pinky, ring, middle, index, thumb,
  each from knuckle to tip: `STB_TO_RHD` reorders it.

Coordinates: `xyz` in millimetres in the camera frame (x right, y down, z
forward), `uv` in pixels (u right, v down), `K` the 3x3 intrinsics.
"""

import numpy as np

from cmva_keras.keypoints import MIDDLE_MCP, MIDDLE_PIP, NUM_KEYPOINTS, PALM_ROOT, ROOT, palm_root

# RHD index -> STB index: palm, then thumb/index/middle/ring/pinky tip..MCP.
STB_TO_RHD = np.array([0] + list(range(20, 0, -1)), dtype=np.int64)

# BB (Point Grey Bumblebee2) left camera, from STB's readme.
STB_BB_K = np.array(
    [[822.79041, 0.0, 318.47345], [0.0, 822.79041, 250.31296], [0.0, 0.0, 1.0]], dtype=np.float32
)
STB_BB_BASELINE_MM = 120.054

LEFT, RIGHT = 0, 1
RHD_LEFT_LABELS = (2, 17)  # inclusive mask label range of the left hand
RHD_RIGHT_LABELS = (18, 33)


def project(xyz, K):
    """Pinhole projection: `(N, 3)` camera points -> `(N, 2)` pixels (non-finite for z = 0)."""
    uvw = np.asarray(xyz, np.float64) @ np.asarray(K, np.float64).T
    with np.errstate(divide="ignore", invalid="ignore"):
        return (uvw[:, :2] / uvw[:, 2:3]).astype(np.float32)


def rhd_hand_side(mask):
    """`LEFT` or `RIGHT`: the hand with more mask pixels (ties go right, as in ColorHandPose3D)."""
    mask = np.asarray(mask)
    left = np.count_nonzero((mask >= RHD_LEFT_LABELS[0]) & (mask <= RHD_LEFT_LABELS[1]))
    right = np.count_nonzero((mask >= RHD_RIGHT_LABELS[0]) & (mask <= RHD_RIGHT_LABELS[1]))
    return LEFT if left > right else RIGHT


def rhd_keypoints(anno, side):
    """The 21 keypoints of one hand of an RHD annotation, palm-rooted.

    Args:
        anno: dict with 'xyz' (42, 3) metres, 'uv_vis' (42, 3), 'K' (3, 3).
        side: `LEFT` (keypoints 0-20) or `RIGHT` (21-41).

    Returns:
        dict: 'xyz_mm' (21, 3) float32, 'uv' (21, 2) float32, 'visible' (21,)
        bool, 'K' (3, 3) float32.
    """
    start = 0 if side == LEFT else NUM_KEYPOINTS
    xyz = np.asarray(anno["xyz"], np.float64)[start:start + NUM_KEYPOINTS] * 1000.0
    uv_vis = np.asarray(anno["uv_vis"], np.float64)[start:start + NUM_KEYPOINTS]
    K = np.asarray(anno["K"], np.float32)
    uv = uv_vis[:, :2].astype(np.float32)
    visible = uv_vis[:, 2] == 1
    palm = palm_root(xyz)
    xyz[ROOT] = palm
    uv[ROOT] = project(palm[None], K)[0]
    visible[ROOT] = visible[list(PALM_ROOT)].any()
    return {"xyz_mm": xyz.astype(np.float32), "uv": uv, "visible": visible, "K": K}


def stb_keypoints(hand_para_frame):
    """STB `handPara[:, :, i]` (3, 21) millimetres -> RHD-ordered keypoints in the BB left camera.

    Returns:
        dict like `rhd_keypoints`; every keypoint visible (STB has no
        visibility labels), K the BB intrinsics.
    """
    xyz = np.asarray(hand_para_frame, np.float64).T[STB_TO_RHD]
    return {
        "xyz_mm": xyz.astype(np.float32),
        "uv": project(xyz, STB_BB_K),
        "visible": np.ones(NUM_KEYPOINTS, bool),
        "K": STB_BB_K.copy(),
    }


def keypoints_problem(keypoints):
    """Why a set of keypoints cannot be used (None if it can).

    The crop and the targets need every point in front of the camera and a
    middle-finger MCP-PIP bone of non-zero length (the normalising scale).
    """
    xyz = np.asarray(keypoints["xyz_mm"], np.float64)
    if not np.all(np.isfinite(xyz)) or not np.all(np.isfinite(keypoints["uv"])):
        return "non-finite keypoints"
    if np.any(xyz[:, 2] <= 1.0):
        return "keypoints behind the camera"
    if np.linalg.norm(xyz[MIDDLE_MCP] - xyz[MIDDLE_PIP]) < 1.0:
        return "zero-length reference bone"
    return None


def decode_rhd_depth(depth_rgb):
    """RHD depth PNG (top 8 bits in R, bottom 8 in G) -> 16-bit code; metres = code / 65535 * 5."""
    depth_rgb = np.asarray(depth_rgb)
    return (depth_rgb[..., 0].astype(np.uint16) << 8) | depth_rgb[..., 1].astype(np.uint16)
