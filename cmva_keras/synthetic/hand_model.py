"""A 21-joint kinematic hand with realistic bone lengths and joint-angle limits.

Hand frame of a right hand (millimetres): origin at the wrist, +y from the
wrist towards the middle finger's knuckle, +x towards the thumb, +z out of the
palm (the side the fingers curl towards). A left hand is the mirror image
(x -> -x).

Each finger has a knuckle (MCP) with flexion and abduction, and two hinge
joints (PIP, DIP). The thumb starts at its carpometacarpal joint (CMC) with
flexion and abduction, then two hinges (MCP, IP). Angles are drawn from a
"curl" synergy (fingers tend to close together, as in grasps) plus per-joint
noise, and clipped to anatomical ranges:

    MCP flexion -15..90 deg, abduction about +-20 deg,
    PIP 0..110 deg, DIP 0..80 deg (about 2/3 of PIP),
    thumb CMC flexion 0..50, abduction 0..60, MCP 0..60, IP -10..80 deg.

Keypoints come out in RHD's order: 0 wrist, then thumb, index, middle, ring,
pinky, each from tip to knuckle (`keypoints`; `cmva_keras.keypoints`).
"""

import math

import numpy as np

from cmva_keras import keypoints as hand_keypoints

FINGERS = hand_keypoints.FINGER_NAMES

# Knuckle (thumb: CMC) positions of a right hand, mm, in the hand frame.
_BASES = {
    "thumb": np.array([24.0, 26.0, 6.0]),
    "index": np.array([23.0, 86.0, 0.0]),
    "middle": np.array([3.0, 90.0, 0.0]),
    "ring": np.array([-16.0, 85.0, 0.0]),
    "pinky": np.array([-33.0, 75.0, 0.0]),
}
# Bone lengths, knuckle to tip (thumb: metacarpal, proximal, distal), mm.
BONES = {
    "thumb": (42.0, 32.0, 27.0),
    "index": (41.0, 24.0, 20.0),
    "middle": (45.0, 28.0, 22.0),
    "ring": (42.0, 27.0, 21.0),
    "pinky": (34.0, 20.0, 18.0),
}
# Finger radii, mm, knuckle to tip (used by the renderer).
RADII = {
    "thumb": (11.0, 10.0, 9.0),
    "index": (9.0, 8.0, 7.0),
    "middle": (9.5, 8.5, 7.5),
    "ring": (9.0, 8.0, 7.0),
    "pinky": (8.0, 7.0, 6.0),
}
_SPREAD = {"index": 12.0, "middle": 0.0, "ring": -10.0, "pinky": -20.0}  # abduction at full spread, deg
WRIST_HALF_WIDTH = 28.0  # mm, used by the renderer for the palm polygon


def _rot(axis, degrees):
    """Rotation matrix about `axis` (Rodrigues)."""
    x, y, z = (float(v) for v in axis)
    n = math.sqrt(x * x + y * y + z * z)
    x, y, z = x / n, y / n, z / n
    a = math.radians(degrees)
    c, s, t = math.cos(a), math.sin(a), 1.0 - math.cos(a)
    return np.array([
        [c + t * x * x, t * x * y - s * z, t * x * z + s * y],
        [t * x * y + s * z, c + t * y * y, t * y * z - s * x],
        [t * x * z - s * y, t * y * z + s * x, c + t * z * z],
    ])


def _cross(a, b):
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def sample_articulation(rng):
    """Joint angles in degrees: {finger: (flexion1, abduction, flexion2, flexion3)}."""
    curl = rng.uniform(0, 1) ** 0.8
    spread = rng.uniform(0, 1)
    angles = {}
    for finger in FINGERS:
        c = float(np.clip(curl + rng.normal(0, 0.3), 0, 1))
        if finger == "thumb":
            flex1 = np.clip(50 * c + rng.normal(0, 8), 0, 50)
            abduct = np.clip(60 * spread * (1 - 0.5 * c) + rng.normal(0, 8), 0, 60)
            flex2 = np.clip(60 * c + rng.normal(0, 10), 0, 60)
            flex3 = np.clip(70 * c + rng.normal(0, 10), -10, 80)
        else:
            flex1 = np.clip(-10 + 95 * c + rng.normal(0, 8), -15, 90)
            abduct = np.clip(_SPREAD[finger] * spread * (1 - 0.7 * c) + rng.normal(0, 3), -22, 22)
            flex2 = np.clip(105 * c + rng.normal(0, 10), 0, 110)
            flex3 = np.clip(0.67 * flex2 + rng.normal(0, 6), 0, 80)
        angles[finger] = (float(flex1), float(abduct), float(flex2), float(flex3))
    return angles


def finger_chain(finger, angles, scale=1.0):
    """One finger of a right hand: joints knuckle to tip `(4, 3)` mm, and palmar normals `(3, 3)`.

    The palmar normal of a bone is the unit vector on its palm side (the
    renderer shades with it and draws nails on the opposite side).
    """
    flex1, abduct, flex2, flex3 = angles
    bones = np.asarray(BONES[finger]) * scale
    base = _BASES[finger] * scale
    palm_normal = np.array([0.0, 0.0, 1.0])
    if finger == "thumb":
        # Rest: pointing out of the hand towards +x+y, slightly out of the palm plane.
        direction = np.array([0.62, 0.72, 0.3])
        direction /= np.linalg.norm(direction)
        hinge = _cross(direction, palm_normal)
        hinge /= np.linalg.norm(hinge)
        # CMC: abduction lifts the thumb away from the palm plane, flexion swings it across the palm.
        direction = _rot(hinge, -abduct * 0.6) @ direction
        direction = _rot(np.array([0.2, 0.3, 1.0]), -flex1) @ direction
    else:
        direction = np.array([0.0, 1.0, 0.0])
        direction = _rot(palm_normal, -abduct) @ direction  # abduction: towards +x for positive
    hinge = _cross(direction, palm_normal)
    if np.linalg.norm(hinge) < 1e-6:
        hinge = np.array([1.0, 0.0, 0.0])
    hinge /= np.linalg.norm(hinge)
    joints, normals = [base], []
    # Flexion turns the finger about its hinge towards +z (the palm side).
    flexions = (flex1, flex2, flex3) if finger != "thumb" else (0.0, flex2, flex3)
    for length, flex in zip(bones, flexions):
        direction = _rot(hinge, flex) @ direction
        joints.append(joints[-1] + length * direction)
        normals.append(_cross(hinge, direction))
    return np.stack(joints), np.stack(normals)


def keypoints(angles, side, scale=1.0):
    """The 21 keypoints in RHD order, `(21, 3)` mm in the hand frame.

    Args:
        angles: from `sample_articulation`.
        side: "left" or "right".
        scale: hand size factor (1.0 = bone lengths above).
    """
    return pose(angles, side, scale)[0]


def pose(angles, side, scale=1.0):
    """Keypoints `(21, 3)` (RHD order) and palmar normals `(5, 3, 3)` (finger, bone knuckle..tip).

    A left hand mirrors x; its palmar normals are mirrored as vectors too,
    so they still point to the palm side.
    """
    points, normals = [np.zeros(3)], []
    for finger in FINGERS:
        chain, finger_normals = finger_chain(finger, angles[finger], scale)
        points.extend(chain[::-1])  # tip .. knuckle
        normals.append(finger_normals)
    points, normals = np.stack(points), np.stack(normals)
    if side == "left":
        mirror = np.array([-1.0, 1.0, 1.0])
        points, normals = points * mirror, normals * mirror
    return points, normals


def random_rotation(rng):
    """A rotation matrix uniform over SO(3) (random unit quaternion)."""
    q = rng.normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array([
        [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
        [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
        [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
    ])
