"""Drawing synthetic dish photos: a plate of ingredient pieces on a cluttered table.

Each visible ingredient is drawn as several pieces with its own shape,
colour and texture (`food_catalogue.Look`), at a random position inside the
plate, size, rotation and colour jitter. Pieces of all ingredients are drawn
in a random order, so they occlude each other; the plate's size and place
change with a random zoom; table texture, cutlery, glasses and napkins add
clutter; a lighting ramp, sensor noise and JPEG compression finish the photo.
Everything is drawn with PIL from a `numpy.random.Generator`, so a seed fixes
the image.
"""

import math

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ("circle", "disc", "strip", "leaf", "flakes", "grain", "drop", "cap", "ring", "crescent",
          "halfpit", "star", "wedge", "square", "cluster", "triangle", "friedegg", "slice", "slab", "blob")
TEXTURES = ("solid", "highlight", "vein", "speckle", "rim", "stripes", "concentric", "tip", "radial",
            "spots", "seeds", "grid", "rimseeds", "wrinkle", "grill")

_ASPECT = {"strip": 0.13, "leaf": 0.5, "grain": 0.65, "drop": 1.3, "crescent": 0.55, "halfpit": 1.3,
           "wedge": 0.55, "slab": 0.62, "slice": 1.0, "friedegg": 0.8}


def _jitter(color, rng, amount=10):
    return tuple(int(np.clip(c + rng.normal(0, amount), 0, 255)) for c in color)


def _shape(draw, shape, w, h, rng, fill, outline=None, width=1):
    """Draws `shape` in the box (w, h) on `draw` (mask or colour layer)."""
    box = (0, 0, w - 1, h - 1)
    if shape in ("circle", "disc", "grain", "halfpit", "friedegg"):
        draw.ellipse(box, fill=fill, outline=outline, width=width)
    elif shape in ("square", "strip"):
        draw.rectangle(box, fill=fill, outline=outline, width=width)
    elif shape == "slab":
        draw.rounded_rectangle(box, radius=max(2, h // 3), fill=fill, outline=outline, width=width)
    elif shape == "slice":
        draw.rounded_rectangle((0, h * 0.25, w - 1, h - 1), radius=max(2, w // 8), fill=fill, outline=outline, width=width)
        draw.ellipse((0, 0, w * 0.55, h * 0.55), fill=fill, outline=outline, width=width)
        draw.ellipse((w * 0.45, 0, w - 1, h * 0.55), fill=fill, outline=outline, width=width)
    elif shape == "leaf":
        pts = [(w * t, h / 2 - (h / 2) * math.sin(math.pi * t)) for t in np.linspace(0, 1, 9)]
        pts += [(w * t, h / 2 + (h / 2) * math.sin(math.pi * t)) for t in np.linspace(1, 0, 9)]
        draw.polygon(pts, fill=fill, outline=outline, width=width)
    elif shape in ("flakes", "blob"):
        n = 5 if shape == "flakes" else 9
        angles = np.sort(rng.uniform(0, 2 * math.pi, n))
        radii = rng.uniform(0.55, 1.0, n)
        pts = [(w / 2 + r * w / 2 * math.cos(a), h / 2 + r * h / 2 * math.sin(a)) for a, r in zip(angles, radii)]
        draw.polygon(pts, fill=fill, outline=outline, width=width)
    elif shape == "drop":
        draw.ellipse((0, h * 0.3, w - 1, h - 1), fill=fill, outline=outline, width=width)
        draw.polygon([(w * 0.12, h * 0.6), (w / 2, 0), (w * 0.88, h * 0.6)], fill=fill)
    elif shape == "cap":
        draw.pieslice((0, 0, w - 1, h * 1.2), 180, 360, fill=fill, outline=outline, width=width)
        draw.rectangle((w * 0.38, h * 0.55, w * 0.62, h - 1), fill=fill, outline=outline, width=width)
    elif shape == "ring":
        draw.ellipse(box, fill=fill, outline=outline, width=width)
    elif shape == "crescent":
        draw.chord((0, 0, w - 1, h * 2), 180, 360, fill=fill, outline=outline, width=width)
    elif shape == "wedge":
        draw.pieslice((0, 0, w - 1, h * 2 - 1), 180, 360, fill=fill, outline=outline, width=width)
    elif shape == "star":
        n = 7
        pts = []
        for k in range(2 * n):
            r = (0.5 if k % 2 == 0 else 0.22) * min(w, h)
            a = math.pi * k / n
            pts.append((w / 2 + r * math.cos(a), h / 2 + r * math.sin(a)))
        draw.polygon(pts, fill=fill, outline=outline, width=width)
    elif shape == "cluster":
        for cx, cy, r in ((0.3, 0.3, 0.28), (0.7, 0.3, 0.28), (0.5, 0.55, 0.3), (0.25, 0.6, 0.22), (0.75, 0.6, 0.22)):
            draw.ellipse(((cx - r) * w, (cy - r) * h, (cx + r) * w, (cy + r) * h), fill=fill, outline=outline, width=width)
        draw.rectangle((w * 0.42, h * 0.6, w * 0.58, h - 1), fill=fill)
    elif shape == "triangle":
        draw.polygon([(0, h * 0.25), (w - 1, h * 0.25), (w / 2, h - 1)], fill=fill, outline=outline, width=width)
        draw.ellipse((0, 0, w * 0.55, h * 0.5), fill=fill)
        draw.ellipse((w * 0.45, 0, w - 1, h * 0.5), fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def _cut_holes(mask_draw, shape, w, h):
    if shape == "ring":
        mask_draw.ellipse((w * 0.3, h * 0.3, w * 0.7, h * 0.7), fill=0)
    elif shape == "crescent":
        mask_draw.chord((w * 0.12, h * 0.45, w * 0.88, h * 2), 180, 360, fill=0)


def _texture(draw, look, w, h, rng, accent):
    t = look.texture
    if t == "highlight":
        draw.ellipse((w * 0.2, h * 0.15, w * 0.45, h * 0.38), fill=_mix(look.color, (255, 255, 255), 0.55))
    elif t == "vein":
        draw.line((w * 0.05, h / 2, w * 0.95, h / 2), fill=accent, width=max(1, int(h / 12)))
        for x in np.linspace(0.25, 0.75, 3):
            draw.line((w * x, h / 2, w * (x + 0.12), h * 0.2), fill=accent, width=1)
            draw.line((w * x, h / 2, w * (x + 0.12), h * 0.8), fill=accent, width=1)
    elif t in ("speckle", "seeds", "spots", "rimseeds"):
        count = {"speckle": max(4, int(w * h / 40)), "seeds": max(4, int(w * h / 55)),
                 "spots": 4, "rimseeds": max(3, int(w * h / 90))}[t]
        radius = {"speckle": 0.7, "seeds": 0.9, "spots": max(1.5, min(w, h) / 9), "rimseeds": 0.9}[t]
        lo = 0.3 if t == "rimseeds" else 0.12
        for x, y in zip(rng.uniform(lo, 1 - lo, count), rng.uniform(lo, 1 - lo, count)):
            draw.ellipse((x * w - radius, y * h - radius, x * w + radius, y * h + radius), fill=accent)
    elif t == "stripes":
        step = max(3, int(min(w, h) / 4)) if h > w * 0.3 else max(3, int(w / 6))
        for x in range(step // 2, w, step):
            draw.line((x, 0, x, h), fill=accent, width=max(1, step // 3))
    elif t == "concentric":
        for f in (0.2, 0.35):
            draw.ellipse((w * f, h * f, w * (1 - f), h * (1 - f)), outline=accent, width=1)
    elif t == "tip":
        draw.rectangle((0, h * 0.3, w * 0.16, h * 0.9), fill=accent)
    elif t == "radial":
        for a in np.linspace(math.pi * 1.1, math.pi * 1.9, 4):
            draw.line((w / 2, h - 1, w / 2 + w * 0.45 * math.cos(a), h - 1 + h * 0.9 * math.sin(a)), fill=accent, width=1)
    elif t == "grid":
        for f in (1 / 3, 2 / 3):
            draw.line((w * f, 0, w * f, h), fill=accent, width=2)
            draw.line((0, h * f, w, h * f), fill=accent, width=2)
    elif t == "wrinkle":
        for _ in range(4):
            x0, y0 = rng.uniform(0.15, 0.85) * w, rng.uniform(0.15, 0.85) * h
            draw.arc((x0 - w * 0.2, y0 - h * 0.2, x0 + w * 0.2, y0 + h * 0.2), rng.uniform(0, 180), rng.uniform(180, 360), fill=accent, width=1)
    elif t == "grill":
        step = max(5, int(w / 4))
        for x in range(-h, w, step):
            draw.line((x, h, x + h, 0), fill=accent, width=max(2, step // 3))
    if look.shape == "halfpit":
        draw.ellipse((w * 0.3, h * 0.38, w * 0.7, h * 0.68), fill=(120, 70, 35))
    if look.shape == "friedegg":
        draw.ellipse((w * 0.32, h * 0.3, w * 0.68, h * 0.7), fill=accent)


def _mix(a, b, t):
    return tuple(int(round(x * (1 - t) + y * t)) for x, y in zip(a, b))


PIECE_SCALE = 1.25  # pieces a little larger than life, so they survive downscaling to ~100 px


def draw_piece(canvas, look, center, scale, rng):
    """Pastes one rotated, jittered piece of an ingredient onto `canvas` (PIL RGB)."""
    size = rng.uniform(*look.size) * scale * PIECE_SCALE
    aspect = _ASPECT.get(look.shape, 1.0) * rng.uniform(0.85, 1.15)
    w, h = max(3, int(size)), max(3, int(size * aspect))
    mask = Image.new("L", (w, h), 0)
    mask_draw = ImageDraw.Draw(mask)
    _shape(mask_draw, look.shape, w, h, rng, fill=255)
    _cut_holes(mask_draw, look.shape, w, h)
    color = _jitter(look.color, rng)
    accent = _jitter(look.accent, rng, 8)
    layer = Image.new("RGB", (w, h), color)
    layer_draw = ImageDraw.Draw(layer)
    _texture(layer_draw, look, w, h, rng, accent)
    if look.texture in ("rim", "rimseeds"):
        _shape(layer_draw, look.shape, w, h, rng, fill=None, outline=accent, width=max(1, int(min(w, h) / 10)))
    angle = rng.uniform(0, 360)
    mask = mask.rotate(angle, resample=Image.BILINEAR, expand=True)
    layer = layer.rotate(angle, resample=Image.BILINEAR, expand=True)
    canvas.paste(layer, (int(center[0] - layer.width / 2), int(center[1] - layer.height / 2)), mask)


def _table(size, colors, rng):
    w, h = size
    base, second = _jitter(colors[0], rng, 12), _jitter(colors[1], rng, 12)
    canvas = Image.new("RGB", size, base)
    draw = ImageDraw.Draw(canvas)
    style = rng.integers(3)
    if style == 0:  # wood grain
        for y in range(0, h, 3):
            draw.line((0, y, w, y + rng.integers(-3, 4)), fill=_jitter(base, rng, 9), width=2)
    elif style == 1:  # checked cloth
        step = int(rng.integers(18, 34))
        for x in range(0, w, step * 2):
            draw.rectangle((x, 0, x + step - 1, h), fill=_mix(base, second, 0.45))
        for y in range(0, h, step * 2):
            draw.rectangle((0, y, w, y + step - 1), fill=_mix(base, second, 0.6))
    return canvas, second


def _clutter(canvas, second, rng):
    draw = ImageDraw.Draw(canvas)
    w, h = canvas.size
    for _ in range(int(rng.integers(1, 4))):
        kind = rng.integers(3)
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        if kind == 0:  # fork or knife
            grey = _jitter((175, 178, 185), rng, 10)
            length, angle = rng.uniform(80, 150), rng.uniform(0, math.pi)
            dx, dy = math.cos(angle) * length, math.sin(angle) * length
            draw.line((x, y, x + dx, y + dy), fill=grey, width=int(rng.integers(4, 8)))
        elif kind == 1:  # glass
            r = rng.uniform(22, 40)
            draw.ellipse((x - r, y - r, x + r, y + r), outline=_jitter((200, 225, 240), rng), width=4)
        else:  # napkin
            s = rng.uniform(40, 80)
            draw.rectangle((x, y, x + s, y + s * 0.7), fill=_jitter(second, rng))


def render_dish(looks, table_colors, rng, size=(360, 240)):
    """A dish photo showing `looks` (one `Look` per visible ingredient).

    Args:
        looks: list of `food_catalogue.Look`.
        table_colors: two RGB colours of the cuisine's table setting.
        rng: `numpy.random.Generator`.
        size: (width, height) in pixels.

    Returns:
        PIL RGB image.
    """
    w, h = size
    canvas, second = _table(size, table_colors, rng)
    _clutter(canvas, second, rng)
    zoom = rng.uniform(0.8, 1.25)
    k = min(w / 360.0, h / 240.0)
    cx, cy = w / 2 + rng.normal(0, 22 * k), h / 2 + rng.normal(0, 14 * k)
    rx, ry = 140 * k * zoom * rng.uniform(0.9, 1.1), 100 * k * zoom * rng.uniform(0.9, 1.1)
    plate = _jitter([(250, 250, 248), (235, 228, 210), (210, 225, 240)][rng.integers(3)], rng, 5)
    draw = ImageDraw.Draw(canvas)
    draw.ellipse((cx - rx - 8 * k, cy - ry - 6 * k, cx + rx + 8 * k, cy + ry + 6 * k), fill=_mix(plate, (120, 120, 120), 0.25))
    draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=plate)
    pieces = []
    for look in looks:
        gx, gy = rng.uniform(-0.45, 0.45), rng.uniform(-0.45, 0.45)  # where this ingredient sits
        for _ in range(int(rng.integers(look.pieces[0], look.pieces[1] + 1))):
            px = gx + rng.normal(0, 0.25)
            py = gy + rng.normal(0, 0.25)
            norm = math.hypot(px, py)
            if norm > 0.85:
                px, py = px * 0.85 / norm, py * 0.85 / norm
            pieces.append((look, (cx + px * rx, cy + py * ry), rng.uniform()))
    pieces.sort(key=lambda p: (-(p[0].size[0] >= 60), p[2]))  # big bases (tortilla) first, then random order
    for look, center, _ in pieces:
        draw_piece(canvas, look, center, zoom * k, rng)
    return _photo_effects(canvas, rng)


def _photo_effects(canvas, rng):
    array = np.asarray(canvas).astype(np.float32)
    h, w = array.shape[:2]
    gx, gy = rng.normal(0, 0.12, 2)
    ramp = 1.0 + gx * np.linspace(-1, 1, w)[None, :] + gy * np.linspace(-1, 1, h)[:, None]
    array = array * ramp[..., None] * rng.uniform(0.85, 1.1)
    array += rng.normal(0, rng.uniform(2, 7), array.shape).astype(np.float32)
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))
