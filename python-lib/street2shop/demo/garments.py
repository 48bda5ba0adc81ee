"""The demo's garments: the label vocabulary, ``GarmentSpec``, each type's profile and parametric outline,
and ``render_garment``, which draws one as a product shot with its mask."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import cv2
import numpy as np

from street2shop.demo.textures import frac, interleave, material_texture, pattern_alpha, smooth_noise, tone
from street2shop.errors import InvalidParameter

#: The report's 11 colour classes.
COLOURS = ("orange", "yellow", "white", "green", "grey", "red", "brown", "beige", "blue", "black", "pink")
#: The report's 11 material classes.
MATERIALS = (
    "cotton", "viscose", "polyamide", "elastane", "polyester", "wool", "leather", "silk", "cashmere", "linen", "other"
)
#: The genders the demo uses (the report's 6 minus girl, boy, baby).
GENDERS = ("men", "women", "kids")
#: The report's 15 general product types.
TYPES = (
    "sweaters", "t-shirts", "jackets/coats", "trousers", "skirts", "jeans", "sets", "shirts", "shorts",
    "down jackets", "cardigans", "dresses", "blouses", "polos", "leggings",
)
#: The types the demo draws (all but "sets"), each with its own parametric silhouette.
DEMO_TYPES = (
    "t-shirts", "polos", "shirts", "blouses", "sweaters", "cardigans", "jackets/coats", "down jackets",
    "trousers", "jeans", "leggings", "shorts", "skirts", "dresses",
)
#: Surface patterns; with one colour, stripes, dots and checks are drawn in a shade of it.
PATTERNS = ("plain", "stripes", "dots", "checks", "colourblock")

PALETTE = {
    "orange": (236, 122, 30), "yellow": (240, 204, 48), "white": (240, 238, 232), "green": (44, 128, 68),
    "grey": (134, 136, 140), "red": (194, 34, 46), "brown": (112, 72, 44), "beige": (214, 194, 160),
    "blue": (40, 74, 168), "black": (36, 36, 40), "pink": (238, 150, 182),
}
_MARGIN = 0.07  # of the picture, left around a shop shot's garment

# Part codes of the label map a garment is drawn into; later drawing overwrites earlier.
_BODY, _SLEEVE, _TRIM, _INNER, _HARDWARE, _PANEL = 1, 2, 3, 4, 5, 6
_PARTS = {"body": _BODY, "sleeve": _SLEEVE, "trim": _TRIM, "inner": _INNER, "hardware": _HARDWARE, "panel": _PANEL}


@dataclass(frozen=True)
class GarmentSpec:
    """What one product looks like: its labels and the shape parameters of its silhouette.

    Shape parameters are in the silhouette's own units (a top's shoulder half-width, a bottom's
    waist half-width); the drawing is scaled to fit the picture, so only their ratios matter.

    Attributes:
        garment_type: one of ``DEMO_TYPES``.
        colours: one or two names from ``COLOURS``, main colour first.
        materials: names from ``MATERIALS``; the first one sets the texture.
        gender: names from ``GENDERS``.
        pattern: one of ``PATTERNS``.
        width, length, sleeve, flare: silhouette proportions: body width and length, sleeve length
            (for legwear, how far apart the legs spread), hem width ratio (for legwear, leg width).
        style: a neckline or detail variant of the type (``round``, ``v``, ``hood``, ``pleated``...).
        pattern_scale, pattern_angle: pattern period (1 = a twelfth of the picture) and angle in degrees.
        rgb: the actual RGB of each colour (a shade of the named colour).
        back: draw the back view (no buttons, placket or fly; back pockets instead).
    """

    garment_type: str
    colours: tuple[str, ...]
    materials: tuple[str, ...]
    gender: tuple[str, ...]
    pattern: str = "plain"
    width: float = 1.0
    length: float = 2.6
    sleeve: float = 0.8
    flare: float = 1.0
    style: str = "round"
    pattern_scale: float = 1.0
    pattern_angle: float = 0.0
    rgb: tuple[tuple[int, int, int], ...] = ()
    back: bool = False

    def labels(self) -> dict[str, str]:
        """The manifest label columns of this garment."""
        return {
            "type": self.garment_type,
            "colours": "|".join(self.colours),
            "material": "|".join(self.materials),
            "gender": "|".join(self.gender),
            "pattern": self.pattern,
        }


@dataclass(frozen=True)
class TypeProfile:
    family: str
    materials: tuple[tuple[str, ...], ...]
    genders: tuple[tuple[str, ...], ...]
    styles: tuple[str, ...]
    width: tuple[float, float]
    length: tuple[float, float]
    sleeve: tuple[float, float]
    flare: tuple[float, float]
    colours: tuple[str, ...] = COLOURS


_ADULTS = (("men",), ("women",), ("kids",), ("men", "women"))
_WOMEN = (("women",), ("kids",), ("women", "kids"))
PROFILES: dict[str, TypeProfile] = {
    "t-shirts": TypeProfile(
        "top", (("cotton",), ("cotton",), ("polyester",), ("viscose",), ("linen",), ("cotton", "elastane")),
        _ADULTS, ("round", "v"), (0.95, 1.15), (2.5, 3.0), (0.65, 1.0), (0.95, 1.05)),
    "polos": TypeProfile(
        "top", (("cotton",), ("polyester",), ("cotton", "elastane")),
        _ADULTS, ("polo",), (0.95, 1.1), (2.6, 3.0), (0.7, 1.0), (0.95, 1.05)),
    "shirts": TypeProfile(
        "top", (("cotton",), ("linen",), ("silk",), ("viscose",), ("polyester",)),
        _ADULTS, ("shirt",), (0.9, 1.05), (2.8, 3.3), (2.2, 2.6), (0.95, 1.05)),
    "blouses": TypeProfile(
        "top", (("silk",), ("viscose",), ("polyester",), ("cotton",)),
        _WOMEN, ("round", "v"), (0.85, 1.0), (2.2, 2.7), (1.2, 2.4), (1.1, 1.35)),
    "sweaters": TypeProfile(
        "top", (("wool",), ("cashmere",), ("cotton",), ("wool", "polyamide")),
        _ADULTS, ("round", "v", "turtle", "hood"), (1.0, 1.2), (2.4, 2.8), (2.3, 2.7), (0.88, 0.98)),
    "cardigans": TypeProfile(
        "top", (("wool",), ("cashmere",), ("cotton",), ("viscose",)),
        _ADULTS, ("cardigan",), (0.95, 1.15), (2.4, 3.3), (2.2, 2.6), (0.95, 1.05)),
    "jackets/coats": TypeProfile(
        "top", (("leather",), ("wool",), ("cotton",), ("polyester",), ("other",), ("linen",)),
        _ADULTS, ("lapel", "zip", "collar"), (1.05, 1.25), (2.7, 4.4), (2.4, 2.8), (1.0, 1.12),
        ("black", "brown", "beige", "grey", "blue", "green", "red", "white")),
    "down jackets": TypeProfile(
        "top", (("polyamide",), ("polyester",), ("polyamide", "polyester")),
        _ADULTS, ("zip", "hood"), (1.2, 1.4), (2.4, 3.4), (2.3, 2.6), (0.95, 1.02)),
    "trousers": TypeProfile(
        "bottom", (("wool",), ("cotton",), ("linen",), ("polyester",), ("leather",), ("viscose",)),
        _ADULTS, ("plain", "pleats"), (0.95, 1.1), (4.6, 5.4), (1.0, 1.05), (0.75, 0.95),
        ("black", "grey", "beige", "blue", "brown", "green", "white", "red")),
    "jeans": TypeProfile(
        "bottom", (("cotton",), ("cotton", "elastane"), ("other",)),
        _ADULTS, ("jeans",), (0.95, 1.1), (4.6, 5.3), (0.95, 1.0), (0.6, 0.8),
        ("blue", "blue", "blue", "black", "grey", "white")),
    "leggings": TypeProfile(
        "bottom", (("elastane",), ("polyamide", "elastane"), ("cotton", "elastane"), ("polyester",)),
        _WOMEN, ("band",), (0.9, 1.0), (4.5, 5.2), (0.92, 0.98), (0.38, 0.46)),
    "shorts": TypeProfile(
        "bottom", (("cotton",), ("linen",), ("polyester",), ("other",)),
        _ADULTS, ("plain", "cuff"), (1.0, 1.15), (1.9, 2.5), (1.1, 1.2), (0.95, 1.1)),
    "skirts": TypeProfile(
        "skirt", (("cotton",), ("wool",), ("leather",), ("silk",), ("polyester",), ("viscose",), ("linen",)),
        _WOMEN, ("plain", "pleated", "wrap"), (0.95, 1.05), (2.2, 5.0), (0.0, 0.0), (1.2, 2.0)),
    "dresses": TypeProfile(
        "dress", (("silk",), ("viscose",), ("cotton",), ("polyester",), ("linen",)),
        _WOMEN, ("round", "v"), (0.95, 1.05), (4.5, 6.5), (0.0, 0.9), (1.3, 2.2)),
}


# --------------------------------------------------------------------------- silhouettes

# A drawing operation in silhouette units: (kind, part, points, width).
# kind: "fill" (polygon), "stroke" (polyline of the given width), "loop" (closed polyline),
# "dot" (disc of radius `width` at points[0]), "paint" (a stroke only where the garment already
# is, so the outline is kept); part: a _PARTS name, or "seam" (darker line)
# and "stitch" (lighter line), which shade the garment without changing its mask.
_Op = tuple[str, str, np.ndarray, float]


def _pts(*points: tuple[float, float]) -> np.ndarray:
    return np.asarray(points, dtype=np.float64)


def _arc(cx: float, cy: float, ax: float, ay: float, a0: float, a1: float, n: int = 24) -> np.ndarray:
    """Points of an elliptic arc, angles in degrees (0 = +x, 90 = +y, i.e. downwards)."""
    t = np.radians(np.linspace(a0, a1, n))
    return np.stack([cx + ax * np.cos(t), cy + ay * np.sin(t)], axis=1)


def _rect(x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    return _pts((x0, y0), (x1, y0), (x1, y1), (x0, y1))


def _mirror(points: np.ndarray) -> np.ndarray:
    return points * np.array([-1.0, 1.0])


def _hem(half_width: float, y: float, sag: float, n: int = 16) -> np.ndarray:
    """A hem from right to left, curving down by ``sag`` in the middle."""
    x = np.linspace(half_width, -half_width, n)
    return np.stack([x, y + sag * (1.0 - (x / half_width) ** 2)], axis=1)


def _neckline(spec: GarmentSpec, nw: float, ops: list[_Op]) -> None:
    """Necklines and collars shared by tops and dresses (neck centre at the origin)."""
    style = spec.style
    if spec.back:
        if style in ("polo", "shirt", "collar", "lapel", "zip"):
            ops.append(("fill", "trim", _rect(-nw * 1.1, -0.1, nw * 1.1, 0.14), 0))
        elif style == "turtle":
            ops.append(("fill", "trim", _rect(-nw * 1.05, -0.45, nw * 1.05, 0.1), 0))
        elif style == "hood":
            ops.append(("fill", "body", _arc(0, 0.25, nw * 1.45, 0.8, 0, 360, 40), 0))
            ops.append(("loop", "seam", _arc(0, 0.25, nw * 1.45, 0.8, 0, 360, 40), 0.03))
            ops.append(("stroke", "seam", _pts((0, -0.5), (0, 1.0)), 0.03))
        else:
            ops.append(("stroke", "trim", _arc(0, 0, nw, 0.1, 0, 180), 0.1))
        return
    if style in ("round", "polo", "shirt"):
        depth = 0.38 if style == "round" else 0.22
        ops.append(("fill", "inner", np.vstack([_arc(0, 0, nw, depth, 0, 180), _pts((-nw, -0.05), (nw, -0.05))]), 0))
        ops.append(("stroke", "trim", _arc(0, 0, nw, depth, 0, 180), 0.12))
    if style in ("v", "cardigan"):
        bottom = 0.85 if style == "v" else 1.15
        ops.append(("fill", "inner", _pts((-nw, -0.02), (nw, -0.02), (0, bottom)), 0))
        ops.append(("stroke", "trim", _pts((-nw, 0), (0, bottom), (nw, 0)), 0.13))
    if style in ("polo", "shirt"):
        reach = 0.62 if style == "polo" else 0.72
        flap = _pts((-nw * 1.12, -0.1), (-0.03, 0.3), (-nw * 0.75, reach), (-nw * 1.4, 0.32))
        for side in (flap, _mirror(flap)):
            ops.append(("fill", "trim", side, 0))
            ops.append(("loop", "seam", side, 0.025))
    if style == "turtle":
        top = _arc(0, -0.32, nw * 1.05, 0.14, 180, 360, 12)
        collar = np.vstack([_pts((-nw * 1.05, 0.12)), top, _pts((nw * 1.05, 0.12))])
        ops.append(("fill", "trim", collar, 0))
        ops.append(("stroke", "seam", _pts((-nw * 1.02, -0.12), (nw * 1.02, -0.12)), 0.03))
    if style == "hood":
        ops.append(("fill", "inner", _arc(0, -0.2, nw * 1.0, 0.5, 0, 360, 36), 0))
        ops.append(("loop", "trim", _arc(0, -0.2, nw * 1.0, 0.5, 0, 360, 36), 0.12))
        for side in (-1, 1):
            ops.append(("stroke", "hardware", _pts((side * nw * 0.35, 0.25), (side * nw * 0.42, 1.05)), 0.05))
    if style == "lapel":
        ops.append(("fill", "inner", _pts((-nw, -0.02), (nw, -0.02), (0, 1.5)), 0))
        lapel = _pts((-nw, -0.05), (0, 1.5), (-nw - 0.34, 0.62), (-nw - 0.12, 0.42), (-nw - 0.2, 0.2))
        for side in (lapel, _mirror(lapel)):
            ops.append(("fill", "trim", side, 0))
            ops.append(("loop", "seam", side, 0.025))
    if style == "zip":
        ops.append(("fill", "trim", _rect(-nw * 1.1, -0.35, nw * 1.1, 0.14), 0))
    if style == "collar":
        flap = _pts((-nw * 1.12, -0.12), (-0.03, 0.3), (-nw * 0.9, 0.8), (-nw * 1.55, 0.3))
        for side in (flap, _mirror(flap)):
            ops.append(("fill", "trim", side, 0))
            ops.append(("loop", "seam", side, 0.025))


def _top_ops(spec: GarmentSpec) -> tuple[list[_Op], float]:
    """Tops: t-shirts, polos, shirts, blouses, sweaters, cardigans, jackets, down jackets."""
    kind, style, back = spec.garment_type, spec.style, spec.back
    puffy = kind == "down jackets"
    hw, length = spec.width, spec.length
    nw = 0.36 * hw
    hh = hw * spec.flare
    shoulder_y, arm = 0.22, 1.2 if puffy else 1.0
    ops: list[_Op] = []
    if style == "hood" and not back:
        ops.append(("fill", "body", _arc(0, -0.35, nw * 1.45, 0.72, 0, 360, 36), 0))
    # Sleeves hang closer to the body the longer they are, as in a flat-lay product shot.
    sl = spec.sleeve
    theta = math.radians(float(np.interp(sl, [0.6, 2.4], [58.0, 21.0])))
    taper = float(np.interp(sl, [0.6, 2.4], [0.88, 0.58])) * (1.25 if kind == "blouses" else 1.0)
    taper *= 1.25 if puffy else 1.0
    cuffs = sl > 1.5 and kind in ("sweaters", "cardigans", "shirts", "down jackets", "blouses")
    for side in (-1.0, 1.0):
        s = np.array([side * hw, shoulder_y])
        a = np.array([side * hw * 0.96, shoulder_y + arm])
        d = np.array([side * math.sin(theta), math.cos(theta)])
        n = np.array([-side * math.cos(theta), math.sin(theta)])
        half = float(np.linalg.norm(s - a)) / 2 * taper
        end = (s + a) / 2 + sl * d
        ops.append(("fill", "sleeve", np.stack([s, end - half * n, end + half * n, a]), 0))
        if cuffs:
            c = 0.3 if kind != "down jackets" else 0.22
            cuff = np.stack([end - half * n - c * d, end - half * n, end + half * n, end + half * n - c * d])
            ops.append(("fill", "trim", cuff, 0))
        elif sl < 1.5:
            ops.append(("stroke", "seam", np.stack([end - half * n - 0.1 * d, end + half * n - 0.1 * d]), 0.025))
    body = _pts(
        (-nw, 0), (-hw, shoulder_y), (-hw * 0.96, shoulder_y + arm), (-hh, length),
        (hh, length), (hw * 0.96, shoulder_y + arm), (hw, shoulder_y), (nw, 0),
    )
    ops.append(("fill", "body", body, 0))
    if kind in ("sweaters", "cardigans", "down jackets"):
        band = 0.3 if kind != "down jackets" else 0.22
        top_half = hh - (hh - hw * 0.96) * band / (length - shoulder_y - arm)
        hem_band = _pts((-top_half, length - band), (top_half, length - band), (hh, length), (-hh, length))
        ops.append(("fill", "trim", hem_band, 0))
    else:
        ops.append(("stroke", "seam", _pts((-hh, length - 0.12), (hh, length - 0.12)), 0.02))
    _neckline(spec, nw, ops)
    if not back:
        _front_details(spec, hw, length, ops)
    elif kind == "shirts":
        ops.append(("stroke", "seam", _pts((-hw, 0.62), (hw, 0.62)), 0.025))
    elif kind == "jackets/coats":
        ops.append(("stroke", "seam", _pts((0, 0.14), (0, length)), 0.025))
    quilt = 0.5 if puffy else 0.0
    return ops, quilt


def _front_details(spec: GarmentSpec, hw: float, length: float, ops: list[_Op]) -> None:
    """Plackets, buttons, zips and pockets of a top's front."""
    kind, style = spec.garment_type, spec.style
    if style == "polo":
        ops.append(("fill", "trim", _pts((-0.1, 0.2), (0.1, 0.2), (0.1, 1.0), (-0.1, 1.0)), 0))
        for y in (0.45, 0.78):
            ops.append(("dot", "hardware", _pts((0, y)), 0.045))
    if style == "shirt":
        ops.append(("stroke", "seam", _pts((0.09, 0.25), (0.09, length)), 0.02))
        for y in np.arange(0.5, length - 0.2, 0.48):
            ops.append(("dot", "hardware", _pts((0, float(y))), 0.045))
        pocket = _pts((-hw * 0.72, 0.9), (-hw * 0.3, 0.9), (-hw * 0.3, 1.38), (-hw * 0.51, 1.48), (-hw * 0.72, 1.38))
        ops.append(("loop", "seam", pocket, 0.025))
    if style == "cardigan":
        ops.append(("stroke", "trim", _pts((0, 1.15), (0, length)), 0.16))
        for y in np.arange(1.35, length - 0.25, 0.42):
            ops.append(("dot", "hardware", _pts((0, float(y))), 0.055))
    if style == "lapel":
        ops.append(("stroke", "seam", _pts((0, 1.5), (0, length)), 0.025))
        for y in np.arange(1.8, min(length - 0.3, 3.4), 0.5):
            ops.append(("dot", "hardware", _pts((0.05, float(y))), 0.065))
    if style == "collar":
        ops.append(("stroke", "seam", _pts((0, 0.3), (0, length)), 0.025))
        for y in np.arange(0.55, length - 0.2, 0.5):
            ops.append(("dot", "hardware", _pts((0.02, float(y))), 0.06))
        for side in (-1, 1):
            ops.append(("loop", "seam", _rect(side * hw * 0.25, 0.9, side * hw * 0.7, 1.4), 0.025))
    if style in ("zip", "hood") and kind in ("down jackets", "jackets/coats"):
        ops.append(("stroke", "hardware", _pts((0, -0.3 if style == "zip" else 0.1), (0, length)), 0.06))
        ops.append(("dot", "hardware", _pts((0, 0.4)), 0.08))
    if kind in ("jackets/coats", "down jackets"):
        y = length * 0.68
        for side in (-1, 1):
            if style == "lapel":
                flap = _rect(side * hw * 0.25, y, side * hw * 0.78, y + 0.22)
                ops.append(("fill", "trim", flap, 0))
                ops.append(("loop", "seam", flap, 0.02))
            else:
                ops.append(("stroke", "seam", _pts((side * hw * 0.35, y - 0.3), (side * hw * 0.6, y + 0.35)), 0.035))


def _leg_edge(top: np.ndarray, bottom: np.ndarray, t: float) -> np.ndarray:
    return top + (bottom - top) * t


def _bottom_ops(spec: GarmentSpec) -> tuple[list[_Op], float]:
    """Legwear: trousers, jeans, leggings, shorts (waist centre at the origin)."""
    kind, back = spec.garment_type, spec.back
    ww, length = spec.width, spec.length
    hip, hip_y, rise, band = ww * 1.1, 0.9, 1.3, 0.24
    xc = -0.55 * ww * spec.sleeve  # leg hem centre; "sleeve" carries the legs' spread for bottoms
    legw = min(spec.flare * ww, 2 * (abs(xc) - 0.05 * ww))
    out_hem, in_hem = np.array([xc - legw / 2, length]), np.array([xc + legw / 2, length])
    outline = np.vstack([
        _pts((-ww, 0), (ww, 0), (hip, hip_y)), _mirror(out_hem[None]), _mirror(in_hem[None]),
        _pts((0, rise)), in_hem[None], out_hem[None], _pts((-hip, hip_y)),
    ])
    ops: list[_Op] = [("fill", "body", outline, 0)]
    band_half = ww + (hip - ww) * band / hip_y
    ops.append(("fill", "trim", _pts((-ww, 0), (ww, 0), (band_half, band), (-band_half, band)), 0))
    top_outer, top_inner = np.array([-hip, hip_y]), np.array([0.0, rise])
    if spec.pattern == "colourblock":
        for m in (1.0, -1.0):
            stripe = _pts((-band_half + 0.08, band), (-hip + 0.1, hip_y), tuple(out_hem + [0.1, 0]))
            ops.append(("paint", "panel", stripe * np.array([m, 1.0]), 0.2))
    if spec.style == "cuff":
        for m in (1.0, -1.0):
            o = _leg_edge(top_outer, out_hem, 1 - 0.25 / (length - hip_y))
            i = _leg_edge(top_inner, in_hem, 1 - 0.25 / (length - rise))
            ops.append(("fill", "trim", np.stack([o, i, in_hem, out_hem]) * np.array([m, 1.0]), 0))
    jeans = kind == "jeans"
    line = "stitch" if jeans else "seam"
    for m in (1.0, -1.0):
        mirror = np.array([m, 1.0])
        ops.append(("stroke", line, np.stack([out_hem + [0.04, -0.12], in_hem + [-0.04, -0.12]]) * mirror, 0.025))
        if kind == "trousers":
            crease = _pts((-0.55 * ww, hip_y), (xc, length - 0.15))
            ops.append(("stroke", "seam", crease * mirror, 0.018))
    if back:
        if kind != "leggings":
            for m in (1.0, -1.0):
                pocket = _pts(
                    (-0.82 * ww, 0.5), (-0.22 * ww, 0.45), (-0.24 * ww, 1.0), (-0.52 * ww, 1.12), (-0.8 * ww, 1.02)
                )
                ops.append(("loop", line, pocket * np.array([m, 1.0]), 0.025))
        ops.append(("stroke", "seam", _pts((0, band), (0, rise)), 0.025))
        return ops, 0.0
    if kind == "leggings":
        ops.append(("stroke", "seam", _pts((-0.15, rise - 0.2), (0, rise), (0.15, rise - 0.2)), 0.02))
        return ops, 0.0
    ops.append(("stroke", line, _pts((0.16, band), (0.16, rise - 0.35), (0.02, rise - 0.15)), 0.025))
    ops.append(("dot", "hardware", _pts((0, band / 2)), 0.06))
    for m in (1.0, -1.0):
        mirror = np.array([m, 1.0])
        if jeans:
            ops.append(("stroke", "stitch", _arc(-ww * 1.1, band, ww * 0.55, 0.42, 0, 90, 12) * mirror, 0.025))
            ops.append(("dot", "hardware", _pts((-ww * 0.56, band + 0.02)) * mirror, 0.035))
            ops.append(("fill", "trim", _rect(-0.62 * ww, -0.02, -0.54 * ww, band + 0.04) * mirror, 0))
        else:
            ops.append(("stroke", "seam", _pts((-ww * 0.72, band), (-hip * 0.98, 0.68)) * mirror, 0.025))
            if spec.style == "pleats":
                ops.append(("stroke", "seam", _pts((-ww * 0.42, band), (-ww * 0.44, 0.7)) * mirror, 0.02))
    return ops, 0.0


def _skirt_ops(spec: GarmentSpec) -> tuple[list[_Op], float]:
    """Skirts: waistband and a flared panel (waist centre at the origin)."""
    ww, length = spec.width, spec.length
    hem, band, sag = ww * spec.flare, 0.22, 0.05 * spec.length * spec.flare
    ops: list[_Op] = [("fill", "body", np.vstack([_pts((-ww, 0), (ww, 0)), _hem(hem, length, sag)]), 0)]
    if spec.pattern == "colourblock":
        t = 0.62
        half = ww + (hem - ww) * t
        tier = np.vstack([_pts((-half, length * t), (half, length * t)), _hem(hem, length, sag)])
        ops.append(("fill", "panel", tier, 0))
        ops.append(("stroke", "seam", _pts((-half, length * t), (half, length * t)), 0.025))
    band_half = ww + (hem - ww) * band / length
    ops.append(("fill", "trim", _pts((-ww, 0), (ww, 0), (band_half, band), (-band_half, band)), 0))
    if spec.back:
        ops.append(("stroke", "seam", _pts((0, band), (0, min(1.0, length * 0.4))), 0.03))
    elif spec.style == "pleated":
        for f in np.linspace(-0.85, 0.85, 9):
            ops.append(("stroke", "seam", _pts((ww * f, band), (hem * f, length + sag * (1 - f * f))), 0.02))
    elif spec.style == "wrap":
        edge = _pts((ww * 0.55, band), (ww * 0.2, length * 0.5), (-hem * 0.35, length + sag * 0.85))
        ops.append(("stroke", "seam", edge, 0.03))
        ops.append(("dot", "hardware", _pts((ww * 0.6, band + 0.15)), 0.07))
    else:
        for m in (1.0, -1.0):
            ops.append(("stroke", "seam", _pts((-ww * 0.5 * m, band), (-ww * 0.52 * m, band + 0.55)), 0.02))
    return ops, 0.0


def _dress_ops(spec: GarmentSpec) -> tuple[list[_Op], float]:
    """Dresses: a bodice (sleeveless or short sleeves), a belt and a flared skirt."""
    w, length = spec.width, spec.length
    nw, waist_y, waist = 0.3 * w, 2.0, 0.7 * w
    hem, sag = waist * spec.flare, 0.04 * spec.length * spec.flare
    ops: list[_Op] = []
    if spec.sleeve >= 0.3:
        hw = 0.9 * w
        theta = math.radians(float(np.interp(spec.sleeve, [0.3, 0.9], [62.0, 50.0])))
        for side in (-1.0, 1.0):
            s, a = np.array([side * hw, 0.2]), np.array([side * hw * 0.95, 1.05])
            d = np.array([side * math.sin(theta), math.cos(theta)])
            n = np.array([-side * math.cos(theta), math.sin(theta)])
            half = float(np.linalg.norm(s - a)) / 2 * 0.9
            end = (s + a) / 2 + spec.sleeve * d
            ops.append(("fill", "sleeve", np.stack([s, end - half * n, end + half * n, a]), 0))
        bodice = _pts(
            (-nw, 0), (-hw, 0.2), (-hw * 0.95, 1.05), (-waist, waist_y),
            (waist, waist_y), (hw * 0.95, 1.05), (hw, 0.2), (nw, 0),
        )
    else:
        bodice = _pts(
            (-nw, 0), (-nw - 0.22 * w, 0.02), (-0.62 * w, 0.7), (-0.82 * w, 1.05), (-waist, waist_y),
            (waist, waist_y), (0.82 * w, 1.05), (0.62 * w, 0.7), (nw + 0.22 * w, 0.02), (nw, 0),
        )
    ops.append(("fill", "body", bodice, 0))
    skirt = np.vstack([_pts((-waist, waist_y - 0.05), (waist, waist_y - 0.05)), _hem(hem, length, sag)])
    ops.append(("fill", "panel", skirt, 0))
    _neckline(dataclasses.replace(spec, style=spec.style if spec.style in ("round", "v") else "round"), nw, ops)
    ops.append(("fill", "trim", _rect(-waist * 1.02, waist_y - 0.14, waist * 1.02, waist_y + 0.1), 0))
    if spec.back:
        ops.append(("stroke", "seam", _pts((0, 0.15), (0, waist_y - 0.15)), 0.03))
    return ops, 0.0


_BUILDERS = {"top": _top_ops, "bottom": _bottom_ops, "skirt": _skirt_ops, "dress": _dress_ops}


def _rasterise(ops: list[_Op], size: int, scale: float, offset: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Draw the operations into a part-label map and a shading map (seams negative, stitches positive)."""
    labels = np.zeros((size, size), np.uint8)
    lines = np.zeros((size, size), np.float32)
    shift = 4  # sub-pixel precision of OpenCV drawing
    for kind, part, points, width in ops:
        px = np.round((points * scale + offset) * (1 << shift)).astype(np.int32)
        thickness = max(1, round(width * scale))
        if part in ("seam", "stitch"):
            target, value = lines, (-0.35 if part == "seam" else 0.3)
        else:
            target, value = labels, _PARTS[part]
        if kind == "fill":
            cv2.fillPoly(target, [px], value, cv2.LINE_8, shift)
        elif kind in ("stroke", "loop"):
            cv2.polylines(target, [px], kind == "loop", value, thickness, cv2.LINE_8, shift)
        elif kind == "paint":
            stroke = np.zeros_like(labels)
            cv2.polylines(stroke, [px], False, 1, thickness, cv2.LINE_8, shift)
            target[(stroke > 0) & (labels > 0)] = value
        elif kind == "dot":
            radius = max(1, round(width * scale * (1 << shift)))
            cv2.circle(target, (int(px[0, 0]), int(px[0, 1])), radius, value, -1, cv2.LINE_8, shift)
    return labels, lines


def render_garment(
    spec: GarmentSpec, size: int, rng: np.random.Generator | int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one garment centred on a near-white background, as a product shot.

    Args:
        spec: what to draw.
        size: side of the square picture, in pixels.
        rng: randomness of the fabric's folds, grain and sheen (a Generator or a seed).

    Returns:
        ``(rgb, mask)``: an ``(size, size, 3)`` uint8 RGB picture and an ``(size, size)`` uint8
        mask, 255 on the garment and 0 elsewhere.
    """
    if spec.garment_type not in PROFILES:
        raise InvalidParameter(f"unknown garment type {spec.garment_type!r}; expected one of {', '.join(DEMO_TYPES)}")
    rng = np.random.default_rng(rng)
    ops, quilt = _BUILDERS[PROFILES[spec.garment_type].family](spec)
    outline = np.vstack([points for kind, part, points, _ in ops if kind == "fill" and part != "inner"])
    low, high = outline.min(axis=0), outline.max(axis=0)
    scale = float(np.min((1 - 2 * _MARGIN) * size / np.maximum(high - low, 1e-6)))
    offset = size / 2 - (low + high) / 2 * scale
    labels, lines = _rasterise(ops, size, scale, offset)
    garment = labels > 0

    # Colours are planar (3, H, W): NumPy broadcasts an (H, W) map over planes ten times faster
    # than over an (H, W, 1) channel axis.
    rgb_of = spec.rgb or tuple(PALETTE[c] for c in spec.colours)
    main = np.asarray(rgb_of[0], np.float32)
    second = np.asarray(rgb_of[1], np.float32) if len(rgb_of) > 1 else tone(main)
    colour = np.empty((3, size, size), np.float32)
    colour[:] = main[:, None, None]
    alpha = pattern_alpha(spec.pattern, spec.pattern_scale, spec.pattern_angle, size)
    if spec.pattern == "colourblock":
        _paint(colour, (labels == _SLEEVE) | (labels == _TRIM) | (labels == _PANEL), second)
    elif alpha is not None:
        alpha *= (labels == _BODY) | (labels == _SLEEVE) | (labels == _PANEL)
        colour += (second - main)[:, None, None] * alpha
        if len(rgb_of) == 1:
            _paint(colour, labels == _TRIM, tone(main, 0.15))
    _paint(colour, labels == _HARDWARE, tone(main, 0.5))

    mult, add = material_texture(spec.materials[0], spec.garment_type, size, rng)
    dist = cv2.distanceTransform(garment.astype(np.uint8), cv2.DIST_L2, 3)
    edge = 1.0 - 0.24 * np.exp(-dist / np.float32(0.025 * size))
    folds = 0.88 + 0.17 * smooth_noise(size, 5, rng)
    part_light = np.ones((size, size), np.float32)
    part_light[labels == _SLEEVE] = 0.96
    part_light[labels == _TRIM] = 0.93
    part_light[labels == _INNER] = 0.55
    shade = mult * edge * folds * part_light
    if quilt:
        spacing = quilt * scale
        phase = frac((np.arange(size, dtype=np.float32) - offset[1]) / spacing)
        shade *= (0.82 + 0.26 * np.sin(np.pi * phase))[:, None]
        lines += np.where(phase < 0.06, -0.3, 0.0)[:, None].astype(np.float32)
    outer = labels != _INNER
    lines = cv2.GaussianBlur(lines, (0, 0), 0.5) * outer
    rgb = colour * (shade * (1.0 + lines)) + 255.0 * (add * outer)

    background = (rng.uniform(247, 255) + rng.uniform(-2, 2, 3)).astype(np.float32)[:, None, None]
    soft = cv2.GaussianBlur(garment.astype(np.float32), (0, 0), 0.6)
    picture = (rgb - background) * soft + background
    mask = np.where(garment, 255, 0).astype(np.uint8)
    return interleave(picture), mask


def _paint(planes: np.ndarray, where: np.ndarray, rgb: np.ndarray) -> None:
    for channel in range(3):
        np.copyto(planes[channel], np.float32(rgb[channel]), where=where)
