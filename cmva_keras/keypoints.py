"""The 21 hand keypoints: their order and the index sets built on it.

Every hand array in the package (RHD, STB, the synthetic hands, predictions,
plots, metrics) uses RHD's keypoint order:

    0 wrist, then the fingers thumb, index, middle, ring, pinky, each listed
    from tip to knuckle: tip, DIP, PIP, MCP.

So finger `f` (0 thumb .. 4 pinky) holds keypoints `1 + 4f` (tip) to `4 + 4f`
(MCP); for example 9-12 is the middle finger, 12 its MCP and 11 its PIP. The
thumb's four slots keep RHD's generic names; anatomically they are its tip,
IP, MCP and CMC joints.

Constants (all derived from `FINGER_NAMES` and `JOINT_NAMES` below, so the
order is written once):

- `NUM_KEYPOINTS` (21) and `NAMES`: "wrist", "thumb_tip", "thumb_dip", ...,
  "pinky_mcp", in order.
- `WRIST`: 0. RHD labels the wrist there; in built data it holds the palm
  root instead (RHD's builder replaces the wrist by it, STB labels the palm
  there), see `ROOT`.
- `FINGERS`: per finger, its indices `(tip, DIP, PIP, MCP)`.
- `TIPS`, `DIPS`, `PIPS`, `MCPS`: one index per finger, thumb to pinky
  (`TIPS == (1, 5, 9, 13, 17)`, `MCPS == (4, 8, 12, 16, 20)`).
- `FINGER_BONES`, `BONES`: the skeleton as `(parent, child)` pairs from the
  wrist outwards, per finger `(wrist, MCP), (MCP, PIP), (PIP, DIP), (DIP,
  tip)`; `BONES` is the flat list of all 20.
- `MIDDLE_MCP`, `MIDDLE_PIP`, `SCALE_BONE`: the middle finger's MCP-PIP bone,
  whose length is the unit poses are divided by (ColorHandPose3D's scale).
- `PALM_ROOT`, `palm_root`: the palm root is the midpoint of the wrist and the
  middle MCP, `(WRIST, MIDDLE_MCP) == (0, 12)`, as in ColorHandPose3D.
- `ROOT`: the index holding the palm root in built data (0, the wrist's slot),
  the point poses are re-centred on.
"""

import numpy as np

FINGER_NAMES = ("thumb", "index", "middle", "ring", "pinky")
JOINT_NAMES = ("tip", "dip", "pip", "mcp")  # the listing order within a finger

WRIST = 0
FINGERS = tuple(
    tuple(1 + len(JOINT_NAMES) * f + j for j in range(len(JOINT_NAMES))) for f in range(len(FINGER_NAMES))
)
TIPS, DIPS, PIPS, MCPS = (tuple(finger[j] for finger in FINGERS) for j in range(len(JOINT_NAMES)))

NAMES = ("wrist",) + tuple(f"{finger}_{joint}" for finger in FINGER_NAMES for joint in JOINT_NAMES)
NUM_KEYPOINTS = len(NAMES)

FINGER_BONES = tuple(
    ((WRIST, mcp), (mcp, pip), (pip, dip), (dip, tip)) for tip, dip, pip, mcp in FINGERS
)
BONES = tuple(bone for bones in FINGER_BONES for bone in bones)

_MIDDLE = FINGER_NAMES.index("middle")
MIDDLE_MCP = MCPS[_MIDDLE]
MIDDLE_PIP = PIPS[_MIDDLE]
SCALE_BONE = (MIDDLE_MCP, MIDDLE_PIP)

PALM_ROOT = (WRIST, MIDDLE_MCP)
ROOT = WRIST


def palm_root(points):
    """The palm root of `(..., 21, D)` points: the mean of `PALM_ROOT`'s two keypoints, `(..., D)`."""
    points = np.asarray(points)
    return 0.5 * (points[..., PALM_ROOT[0], :] + points[..., PALM_ROOT[1], :])
