"""Rendering posed hands into RGB, an RHD-style part mask and a depth map.

A hand is drawn as a palm polygon, fifteen finger bones (capsules whose
on-screen width follows perspective) and a forearm. Primitives of every hand
in the scene are drawn far-to-near (painter's algorithm on their mean depth),
so fingers occlude each other, the palm and the other hand by depth. Each
bone gets a darker rim, so overlapping fingers stay separable; shading
brightens what is nearer the camera, the palm side is pinker than the back,
and nails are drawn on fingertips whose back faces the camera.

Mask labels follow RHD: 0 background, 1 person (the forearm), 2-17 left
hand, 18-33 right hand. Within a hand: palm first, then three bones per
finger, thumb to pinky, knuckle to tip (`PART_LABELS`).
"""

import numpy as np
from PIL import Image, ImageDraw

from cmva_keras import keypoints
from cmva_keras.synthetic import hand_model

SKIN_TONES = ((236, 188, 160), (224, 172, 140), (198, 140, 105), (160, 110, 80), (120, 80, 58), (245, 205, 180))
PERSON_LABEL = 1
HAND_LABEL_BASE = {"left": 2, "right": 18}
MAX_DEPTH_MM = 5000.0


def part_label(side, part):
    """Mask label of a hand part: part 0 = palm, 1..15 = bones (finger-major, knuckle to tip)."""
    return HAND_LABEL_BASE[side] + part


def _project(points, K):
    points = np.asarray(points, np.float64)
    uvw = points @ np.asarray(K, np.float64).T
    return uvw[:, :2] / np.maximum(uvw[:, 2:3], 1e-6)


class Hand:
    """A hand placed in the camera frame.

    Attributes:
        side: "left" or "right".
        points: `(21, 3)` keypoints, mm, camera frame (RHD order, 0 = wrist).
        normals: `(5, 3, 3)` palmar normals of the bones, camera frame.
        rotation: `(3, 3)` hand frame -> camera frame.
        skin: RGB skin tone.
    """

    def __init__(self, side, points, normals, rotation, skin):
        self.side, self.points, self.normals, self.rotation, self.skin = side, points, normals, rotation, skin

    def palm_normal(self):
        return self.rotation @ np.array([0.0, 0.0, 1.0])


def place_hand(rng, side, rotation, palm_position, scale, skin):
    """Builds a `Hand` whose palm centre sits at `palm_position` (mm, camera frame)."""
    local, normals = hand_model.pose(hand_model.sample_articulation(rng), side, scale)
    offset = palm_position - rotation @ keypoints.palm_root(local)
    points = local @ rotation.T + offset
    normals = normals @ rotation.T
    return Hand(side, points, normals, rotation, skin)


def _shade(color, factor, tint=(0, 0, 0)):
    return tuple(int(min(255.0, max(0.0, c * factor + t))) for c, t in zip(color, tint))


def _primitives(hand, K):
    """(mean depth, kind, payload) for the forearm, palm and bones of `hand`."""
    prims = []
    pts = hand.points
    x_axis = hand.rotation @ np.array([1.0, 0.0, 0.0])
    y_axis = hand.rotation @ np.array([0.0, 1.0, 0.0])
    w = hand_model.WRIST_HALF_WIDTH
    wrist = pts[keypoints.WRIST]
    radial, ulnar = (wrist + w * x_axis, wrist - w * x_axis)
    if hand.side == "left":
        radial, ulnar = ulnar, radial
    # Forearm (label 1): a tapered quad leaving the wrist away from the fingers.
    far = wrist - 170.0 * y_axis
    arm = np.stack([wrist + 30 * x_axis, far + 36 * x_axis, far - 36 * x_axis, wrist - 30 * x_axis])
    prims.append((arm[:, 2].mean() + 25.0, "polygon", (arm, PERSON_LABEL, "arm")))
    # Palm: wrist corners, knuckles, thumb base.
    palm = np.stack([ulnar, *pts[list(keypoints.MCPS[::-1])], radial])  # pinky .. thumb knuckles
    prims.append((palm[:, 2].mean(), "polygon", (palm, part_label(hand.side, 0), "palm")))
    for f, finger in enumerate(hand_model.FINGERS):
        idx = keypoints.FINGERS[f][::-1]  # knuckle .. tip
        radii = hand_model.RADII[finger]
        for b in range(3):
            p0, p1 = pts[idx[b]], pts[idx[b + 1]]
            payload = (p0, p1, radii[b], radii[min(b + 1, 2)] * 0.95, part_label(hand.side, 1 + 3 * f + b),
                       hand.normals[f, b], b == 2)
            prims.append(((p0[2] + p1[2]) / 2, "bone", payload))
    return prims


def _capsule(draws, u0, u1, r0, r1, fills):
    d = u1 - u0
    n = np.array([-d[1], d[0]]) / max(np.hypot(*d), 1e-6)
    quad = [tuple(u0 + r0 * n), tuple(u1 + r1 * n), tuple(u1 - r1 * n), tuple(u0 - r0 * n)]
    for draw, fill in zip(draws, fills):
        draw.polygon(quad, fill=fill)
        draw.ellipse((u0[0] - r0, u0[1] - r0, u0[0] + r0, u0[1] + r0), fill=fill)
        draw.ellipse((u1[0] - r1, u1[1] - r1, u1[0] + r1, u1[1] + r1), fill=fill)


def render(hands, K, size, background, background_depth_mm, rng):
    """Draws `hands` over `background`.

    Args:
        hands: list of `Hand`.
        K: `(3, 3)` intrinsics.
        size: (width, height).
        background: PIL RGB image of `size`.
        background_depth_mm: depth of the background, mm.
        rng: `numpy.random.Generator` (shading jitter).

    Returns:
        (rgb uint8 (H, W, 3), mask uint8 (H, W), depth float32 (H, W) mm).
    """
    rgb = background.copy()
    mask = Image.new("L", size, 0)
    depth = Image.new("F", size, float(background_depth_mm))
    draws = (ImageDraw.Draw(rgb), ImageDraw.Draw(mask), ImageDraw.Draw(depth))
    f = float(K[0, 0])
    items = []
    for hand in hands:
        centre = hand.points[:, 2].mean()
        palm_faces_camera = hand.palm_normal()[2] < 0
        for depth_key, kind, payload in _primitives(hand, K):
            items.append((depth_key, kind, payload, hand, centre, palm_faces_camera))
    items.sort(key=lambda item: -item[0])
    for depth_key, kind, payload, hand, centre, palm_faces in items:
        light = min(1.3, max(0.72, 1.0 + 0.22 * float(centre - depth_key) / 60.0))
        if kind == "polygon":
            points, label, what = payload
            uv = [tuple(p) for p in _project(points, K)]
            if what == "arm":
                color = _shade(hand.skin, light * 0.93)
            elif palm_faces:
                color = _shade(hand.skin, light * 1.02, (14, -6, -4))
            else:
                color = _shade(hand.skin, light * 0.9)
            rim = _shade(color, 0.72)
            draws[0].polygon(uv, fill=color, outline=rim, width=2)
            draws[1].polygon(uv, fill=label)
            draws[2].polygon(uv, fill=float(depth_key))
            continue
        p0, p1, r0_mm, r1_mm, label, palmar, is_tip = payload
        u0, u1 = _project(np.stack([p0, p1]), K)
        r0, r1 = f * r0_mm / p0[2], f * r1_mm / p1[2]
        palm_side = -palmar[2]  # > 0: the palm side of this bone faces the camera
        color = _shade(hand.skin, light * (0.94 + 0.06 * palm_side), (8 * max(palm_side, 0), -3, -3))
        rim = _shade(color, 0.68)
        _capsule(draws[:1], u0, u1, r0 + 1.2, r1 + 1.2, (rim,))
        _capsule(draws, u0, u1, r0, r1, (color, label, float(depth_key)))
        if is_tip and palm_side < -0.3:  # the back of the fingertip faces us: a nail
            c = u0 + 0.72 * (u1 - u0)
            rn = 0.55 * r1
            draws[0].ellipse((c[0] - rn, c[1] - rn, c[0] + rn, c[1] + rn), fill=_shade(color, 1.12, (10, 10, 12)))
    return np.asarray(rgb), np.asarray(mask), np.asarray(depth, np.float32)


def background(size, rng):
    """A cluttered background: colour gradient, random shapes (some skin-coloured), lines."""
    w, h = size
    c0, c1 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = np.linspace(0, 1, w if rng.uniform() < 0.5 else h)
    ramp = c0[None] * (1 - t[:, None]) + c1[None] * t[:, None]
    grad = np.broadcast_to(ramp[None, :, :] if len(t) == w else ramp[:, None, :], (h, w, 3))
    image = Image.fromarray(grad.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(int(rng.integers(4, 11))):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.uniform() < 0.15:
            color = SKIN_TONES[rng.integers(len(SKIN_TONES))]
        x, y = rng.uniform(-0.1, 1.1) * w, rng.uniform(-0.1, 1.1) * h
        s = rng.uniform(0.05, 0.35) * min(w, h)
        kind = rng.integers(4)
        if kind == 0:
            draw.ellipse((x - s, y - s * rng.uniform(0.4, 1), x + s, y + s), fill=color)
        elif kind == 1:
            draw.rectangle((x - s, y - s / 2, x + s, y + s / 2), fill=color)
        elif kind == 2:
            draw.line((x, y, x + rng.normal() * 2 * s, y + rng.normal() * 2 * s), fill=color, width=int(rng.integers(2, 9)))
        else:
            pts = [(x + rng.normal() * s, y + rng.normal() * s) for _ in range(int(rng.integers(3, 7)))]
            draw.polygon(pts, fill=color)
    return image


def add_noise(rgb, rng):
    """A global exposure change and luminance noise in 2x2-pixel grains.

    Grainy rather than per-pixel noise keeps the PNGs small and fast to write
    (per-pixel noise made encoding 3x slower and the files 8x larger).
    """
    h, w = rgb.shape[:2]
    grain = rng.standard_normal(((h + 1) // 2, (w + 1) // 2, 1), dtype=np.float32)
    grain = np.repeat(np.repeat(grain, 2, axis=0), 2, axis=1)[:h, :w] * np.float32(rng.uniform(2, 6))
    noisy = rgb.astype(np.float32) * np.float32(rng.uniform(0.85, 1.15)) + grain
    return np.clip(noisy, 0, 255).astype(np.uint8)


def visibility(hand, uv, mask, depth_mm, size):
    """RHD-style visibility: inside the image, on this hand's mask, not behind something else."""
    w, h = size
    lo = HAND_LABEL_BASE[hand.side]
    visible = np.zeros(len(uv), bool)
    for i, (u, v) in enumerate(uv):
        x, y = int(round(u)), int(round(v))
        if 0 <= x < w and 0 <= y < h:
            on_hand = lo <= mask[y, x] <= lo + 15
            visible[i] = on_hand and depth_mm[y, x] >= hand.points[i, 2] - 25.0
    return visible
