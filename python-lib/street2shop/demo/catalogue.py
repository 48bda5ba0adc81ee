"""Draw a small labelled fashion catalogue (shop shots, street photos, planted duplicates) with no download."""

from __future__ import annotations

import csv
import dataclasses
import functools
import io
import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from street2shop.errors import InvalidParameter, StorageError
from street2shop.images.decode import encode_jpeg, encode_png
from street2shop.progress import Progress

logger = logging.getLogger(__name__)

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
#: How a planted duplicate's picture is derived from its original's.
DUPLICATE_TRANSFORMS = ("crop", "resize", "recompress", "retouch", "flip", "exact_copy")
SPLITS = ("train", "val", "test")
MANIFEST_COLUMNS = (
    "image", "product_id", "type", "colours", "material", "gender", "pattern",
    "view", "source", "pair_id", "split", "mask",
)
DUPLICATE_COLUMNS = ("product_a", "product_b", "image_a", "image_b", "transform")

#: The file that marks a directory as a demo catalogue (and so as safe to replace).
MARKER_FILE = "demo_catalog.json"
_GENERATOR = "street2shop.demo.catalogue"
_FORMAT_VERSION = 1

_PALETTE = {
    "orange": (236, 122, 30), "yellow": (240, 204, 48), "white": (240, 238, 232), "green": (44, 128, 68),
    "grey": (134, 136, 140), "red": (194, 34, 46), "brown": (112, 72, 44), "beige": (214, 194, 160),
    "blue": (40, 74, 168), "black": (36, 36, 40), "pink": (238, 150, 182),
}
_SHOP_JPEG_QUALITY = 92
_MARGIN = 0.07  # of the picture, left around a shop shot's garment
_SPLIT_SHARES = (0.7, 0.15)  # train, val; the rest is test
_SECOND_VIEW_SHARE = 0.25
_TWIN_SHARE = 0.08

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
class _TypeProfile:
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
_PROFILES: dict[str, _TypeProfile] = {
    "t-shirts": _TypeProfile(
        "top", (("cotton",), ("cotton",), ("polyester",), ("viscose",), ("linen",), ("cotton", "elastane")),
        _ADULTS, ("round", "v"), (0.95, 1.15), (2.5, 3.0), (0.65, 1.0), (0.95, 1.05)),
    "polos": _TypeProfile(
        "top", (("cotton",), ("polyester",), ("cotton", "elastane")),
        _ADULTS, ("polo",), (0.95, 1.1), (2.6, 3.0), (0.7, 1.0), (0.95, 1.05)),
    "shirts": _TypeProfile(
        "top", (("cotton",), ("linen",), ("silk",), ("viscose",), ("polyester",)),
        _ADULTS, ("shirt",), (0.9, 1.05), (2.8, 3.3), (2.2, 2.6), (0.95, 1.05)),
    "blouses": _TypeProfile(
        "top", (("silk",), ("viscose",), ("polyester",), ("cotton",)),
        _WOMEN, ("round", "v"), (0.85, 1.0), (2.2, 2.7), (1.2, 2.4), (1.1, 1.35)),
    "sweaters": _TypeProfile(
        "top", (("wool",), ("cashmere",), ("cotton",), ("wool", "polyamide")),
        _ADULTS, ("round", "v", "turtle", "hood"), (1.0, 1.2), (2.4, 2.8), (2.3, 2.7), (0.88, 0.98)),
    "cardigans": _TypeProfile(
        "top", (("wool",), ("cashmere",), ("cotton",), ("viscose",)),
        _ADULTS, ("cardigan",), (0.95, 1.15), (2.4, 3.3), (2.2, 2.6), (0.95, 1.05)),
    "jackets/coats": _TypeProfile(
        "top", (("leather",), ("wool",), ("cotton",), ("polyester",), ("other",), ("linen",)),
        _ADULTS, ("lapel", "zip", "collar"), (1.05, 1.25), (2.7, 4.4), (2.4, 2.8), (1.0, 1.12),
        ("black", "brown", "beige", "grey", "blue", "green", "red", "white")),
    "down jackets": _TypeProfile(
        "top", (("polyamide",), ("polyester",), ("polyamide", "polyester")),
        _ADULTS, ("zip", "hood"), (1.2, 1.4), (2.4, 3.4), (2.3, 2.6), (0.95, 1.02)),
    "trousers": _TypeProfile(
        "bottom", (("wool",), ("cotton",), ("linen",), ("polyester",), ("leather",), ("viscose",)),
        _ADULTS, ("plain", "pleats"), (0.95, 1.1), (4.6, 5.4), (1.0, 1.05), (0.75, 0.95),
        ("black", "grey", "beige", "blue", "brown", "green", "white", "red")),
    "jeans": _TypeProfile(
        "bottom", (("cotton",), ("cotton", "elastane"), ("other",)),
        _ADULTS, ("jeans",), (0.95, 1.1), (4.6, 5.3), (0.95, 1.0), (0.6, 0.8),
        ("blue", "blue", "blue", "black", "grey", "white")),
    "leggings": _TypeProfile(
        "bottom", (("elastane",), ("polyamide", "elastane"), ("cotton", "elastane"), ("polyester",)),
        _WOMEN, ("band",), (0.9, 1.0), (4.5, 5.2), (0.92, 0.98), (0.38, 0.46)),
    "shorts": _TypeProfile(
        "bottom", (("cotton",), ("linen",), ("polyester",), ("other",)),
        _ADULTS, ("plain", "cuff"), (1.0, 1.15), (1.9, 2.5), (1.1, 1.2), (0.95, 1.1)),
    "skirts": _TypeProfile(
        "skirt", (("cotton",), ("wool",), ("leather",), ("silk",), ("polyester",), ("viscose",), ("linen",)),
        _WOMEN, ("plain", "pleated", "wrap"), (0.95, 1.05), (2.2, 5.0), (0.0, 0.0), (1.2, 2.0)),
    "dresses": _TypeProfile(
        "dress", (("silk",), ("viscose",), ("cotton",), ("polyester",), ("linen",)),
        _WOMEN, ("round", "v"), (0.95, 1.05), (4.5, 6.5), (0.0, 0.9), (1.3, 2.2)),
}


@dataclass(frozen=True)
class DemoCatalog:
    """Where a generated demo catalogue lies.

    Attributes:
        root: the catalogue directory.
        images_dir: pictures (``shop/<product>_v<view>.jpg``, ``user/<product>_u<k>.jpg``).
        masks_dir: garment masks, same relative paths with ``.png`` (255 = garment).
        manifest: every picture (shop and user), CSV.
        catalog: the shop pictures only: the gallery to index.
        queries: the user photos only: the retrieval queries.
        duplicates: the planted duplicate pairs.
    """

    root: Path
    images_dir: Path
    masks_dir: Path
    manifest: Path
    catalog: Path
    queries: Path
    duplicates: Path

    @classmethod
    def at(cls, root: str | os.PathLike) -> DemoCatalog:
        """The file layout of the catalogue at ``root`` (nothing is checked)."""
        root = Path(root)
        return cls(
            root=root,
            images_dir=root / "images",
            masks_dir=root / "masks",
            manifest=root / "manifest.csv",
            catalog=root / "catalog.csv",
            queries=root / "queries.csv",
            duplicates=root / "duplicates.csv",
        )

    def summary(self) -> dict:
        """The generation parameters and counts recorded in the catalogue's marker file."""
        return json.loads((self.root / MARKER_FILE).read_text(encoding="utf-8"))


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


# --------------------------------------------------------------------------- rendering


def _smooth_noise(size: int, cells: int, rng: np.random.Generator) -> np.ndarray:
    """Noise in [0, 1] that varies over about ``cells`` blobs across the picture."""
    grid = rng.random((cells + 1, cells + 1), dtype=np.float32)
    return np.clip(cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)


def _fine_noise(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, unit-variance pixel noise (uniform: drawn from bytes, several times faster than normal)."""
    raw = np.frombuffer(rng.bytes(math.prod(shape)), np.uint8).reshape(shape)
    return (raw.astype(np.float32) - 127.5) * np.float32(1 / 73.9)


def _frac(values: np.ndarray) -> np.ndarray:
    """The fractional part (NumPy's float ``%`` is much slower)."""
    return values - np.floor(values)


@functools.lru_cache(maxsize=4)
def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column coordinates of every pixel (shared, read-only)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    yy.flags.writeable = False
    xx.flags.writeable = False
    return yy, xx


def _material_texture(spec: GarmentSpec, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A multiplicative brightness map and an additive highlight map for the garment's material."""
    material = spec.materials[0]
    yy, xx = _grid(size)
    fine = _fine_noise((size, size), rng)
    add = np.zeros((size, size), np.float32)
    px = max(size / 256.0, 1.0)  # texture features keep their size in pixels roughly constant across sizes
    if spec.garment_type == "jeans" or material == "other":  # denim: a twill with vertical streaks
        twill = np.sin((xx + yy) * np.float32(2 * np.pi / (3.6 * px)))
        streaks = cv2.blur(fine, (1, 15))
        mult = 1.0 + 0.07 * twill + 0.25 * streaks + 0.22 * (_smooth_noise(size, 3, rng) - 0.5)
    elif material in ("wool", "cashmere"):  # knit: columns of chevron stitches
        col = xx * np.float32(1 / (4.5 * px))
        chevron = np.abs(_frac(col) - 0.5)
        knit = np.sin(np.float32(2 * np.pi) * (yy * np.float32(1 / (3.8 * px)) + chevron * 1.3))
        ribs = np.cos(np.float32(2 * np.pi) * col)
        amp = 0.1 if material == "wool" else 0.06
        mult = 1.0 + amp * (0.65 * knit + 0.35 * ribs) + 0.025 * fine
        if material == "cashmere":
            mult = cv2.GaussianBlur(mult, (0, 0), 0.8) + 0.03 * cv2.GaussianBlur(fine, (0, 0), 0.6)
    elif material == "leather":  # smooth grain, glossy patches
        mult = 0.9 + 0.16 * _smooth_noise(size, 7, rng) + 0.02 * cv2.GaussianBlur(fine, (0, 0), 0.7)
        gloss = np.clip((_smooth_noise(size, 4, rng) - 0.55) * np.float32(1 / 0.45), 0.0, 1.0)
        add = 0.45 * gloss * gloss
    elif material in ("silk", "viscose", "polyester", "polyamide", "elastane"):  # flowing sheen bands
        strength = {"silk": 0.3, "viscose": 0.16, "polyester": 0.1, "polyamide": 0.18, "elastane": 0.14}[material]
        angle = rng.uniform(0, np.pi)
        warp = 5.0 * _smooth_noise(size, 3, rng)
        period = np.float32(2 * np.pi / (size / 3.5))
        bands = np.sin((xx * np.float32(np.cos(angle)) + yy * np.float32(np.sin(angle))) * period + warp)
        peak = np.clip(bands, 0.0, 1.0)
        peak = peak * peak * peak
        add = strength * peak * peak
        mult = 0.98 + 0.04 * bands + 0.012 * fine
    elif material == "linen":  # irregular slubby threads both ways
        slubs = cv2.blur(fine, (9, 1)) + cv2.blur(fine, (1, 9))
        mult = 1.0 + 0.25 * slubs + 0.04 * cv2.GaussianBlur(fine, (0, 0), 0.6)
    else:  # cotton: a fine plain weave
        mult = 1.0 + 0.04 * _weave(size) + 0.05 * cv2.GaussianBlur(fine, (0, 0), 0.7)
    return mult.astype(np.float32, copy=False), add


@functools.lru_cache(maxsize=4)
def _weave(size: int) -> np.ndarray:
    """A one-pixel checkerboard of -0.5 and 0.5 (shared, read-only)."""
    index = np.add.outer(np.arange(size), np.arange(size)) % 2
    weave = index.astype(np.float32) - 0.5
    weave.flags.writeable = False
    return weave


def _pattern_alpha(spec: GarmentSpec, size: int) -> np.ndarray | None:
    """Where the pattern colour shows, in [0, 1], or None for plain and colourblock garments."""
    if spec.pattern in ("plain", "colourblock"):
        return None
    yy, xx = _grid(size)
    angle = math.radians(spec.pattern_angle)
    inverse_period = np.float32(12.0 / (spec.pattern_scale * size))
    c = size / 2
    cos, sin = np.float32(math.cos(angle) * inverse_period), np.float32(math.sin(angle) * inverse_period)
    u = (xx - c) * cos + (yy - c) * sin  # in periods
    v = (yy - c) * cos - (xx - c) * sin
    if spec.pattern == "stripes":
        alpha = (_frac(v) < 0.42).astype(np.float32)
    elif spec.pattern == "dots":
        row = np.floor(v)
        uu = _frac(u + 0.5 * (row - 2 * np.floor(row / 2))) - 0.5
        vv = v - row - 0.5
        alpha = (uu * uu + vv * vv < 0.28**2).astype(np.float32)
    else:  # checks: a simple tartan, bands crossing
        alpha = np.clip(0.6 * (_frac(u) < 0.36) + 0.6 * (_frac(v) < 0.36), 0.0, 1.0).astype(np.float32)
    return cv2.GaussianBlur(alpha, (0, 0), 0.6)


def _tone(rgb: np.ndarray, amount: float = 0.3) -> np.ndarray:
    """A visibly different shade of the same colour: darker for light colours, lighter for dark ones."""
    luminance = float(rgb @ np.array([0.299, 0.587, 0.114]))
    if luminance > 110:
        return rgb * (1.0 - amount)
    return rgb + (255.0 - rgb) * amount * 0.8


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
    if spec.garment_type not in _PROFILES:
        raise InvalidParameter(f"unknown garment type {spec.garment_type!r}; expected one of {', '.join(DEMO_TYPES)}")
    rng = np.random.default_rng(rng)
    ops, quilt = _BUILDERS[_PROFILES[spec.garment_type].family](spec)
    outline = np.vstack([points for kind, part, points, _ in ops if kind == "fill" and part != "inner"])
    low, high = outline.min(axis=0), outline.max(axis=0)
    scale = float(np.min((1 - 2 * _MARGIN) * size / np.maximum(high - low, 1e-6)))
    offset = size / 2 - (low + high) / 2 * scale
    labels, lines = _rasterise(ops, size, scale, offset)
    garment = labels > 0

    # Colours are planar (3, H, W): NumPy broadcasts an (H, W) map over planes ten times faster
    # than over an (H, W, 1) channel axis.
    rgb_of = spec.rgb or tuple(_PALETTE[c] for c in spec.colours)
    main = np.asarray(rgb_of[0], np.float32)
    second = np.asarray(rgb_of[1], np.float32) if len(rgb_of) > 1 else _tone(main)
    colour = np.empty((3, size, size), np.float32)
    colour[:] = main[:, None, None]
    alpha = _pattern_alpha(spec, size)
    if spec.pattern == "colourblock":
        _paint(colour, (labels == _SLEEVE) | (labels == _TRIM) | (labels == _PANEL), second)
    elif alpha is not None:
        alpha *= (labels == _BODY) | (labels == _SLEEVE) | (labels == _PANEL)
        colour += (second - main)[:, None, None] * alpha
        if len(rgb_of) == 1:
            _paint(colour, labels == _TRIM, _tone(main, 0.15))
    _paint(colour, labels == _HARDWARE, _tone(main, 0.5))

    mult, add = _material_texture(spec, size, rng)
    dist = cv2.distanceTransform(garment.astype(np.uint8), cv2.DIST_L2, 3)
    edge = 1.0 - 0.24 * np.exp(-dist / np.float32(0.025 * size))
    folds = 0.88 + 0.17 * _smooth_noise(size, 5, rng)
    part_light = np.ones((size, size), np.float32)
    part_light[labels == _SLEEVE] = 0.96
    part_light[labels == _TRIM] = 0.93
    part_light[labels == _INNER] = 0.55
    shade = mult * edge * folds * part_light
    if quilt:
        spacing = quilt * scale
        phase = _frac((np.arange(size, dtype=np.float32) - offset[1]) / spacing)
        shade *= (0.82 + 0.26 * np.sin(np.pi * phase))[:, None]
        lines += np.where(phase < 0.06, -0.3, 0.0)[:, None].astype(np.float32)
    outer = labels != _INNER
    lines = cv2.GaussianBlur(lines, (0, 0), 0.5) * outer
    rgb = colour * (shade * (1.0 + lines)) + 255.0 * (add * outer)

    background = (rng.uniform(247, 255) + rng.uniform(-2, 2, 3)).astype(np.float32)[:, None, None]
    soft = cv2.GaussianBlur(garment.astype(np.float32), (0, 0), 0.6)
    picture = (rgb - background) * soft + background
    mask = np.where(garment, 255, 0).astype(np.uint8)
    return _interleave(picture), mask


def _paint(planes: np.ndarray, where: np.ndarray, rgb: np.ndarray) -> None:
    for channel in range(3):
        np.copyto(planes[channel], np.float32(rgb[channel]), where=where)


def _interleave(planes: np.ndarray) -> np.ndarray:
    """Planar (3, H, W) float values to an (H, W, 3) uint8 picture, rounded and clipped."""
    clipped = np.clip(planes + 0.5, 0, 255).astype(np.uint8)
    return cv2.merge(list(clipped))


# --------------------------------------------------------------------------- street photos


def _muted_colour(rng: np.random.Generator) -> np.ndarray:
    base = rng.uniform(60, 220)
    return np.clip(base + rng.normal(0, 35, 3), 10, 245).astype(np.float32)


def _clutter_background(
    size: int, rng: np.random.Generator, distractors: Sequence[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """A room-like scene: a gradient or texture, furniture-like shapes and pieces of other garments."""
    yy, xx = _grid(size)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = xx * np.float32(math.cos(angle) / (2 * size)) + yy * np.float32(math.sin(angle) / (2 * size))
    ramp -= ramp.min()
    c1, c2 = _muted_colour(rng), _muted_colour(rng)
    planes = c1[:, None, None] + (c2 - c1)[:, None, None] * ramp
    kind = rng.integers(4)
    steps = np.arange(size)
    if kind == 0:  # wooden floor: planks with grain
        plank = max(4, int(size / rng.uniform(5, 10)))
        row_light = rng.uniform(0.8, 1.2, size // plank + 1).astype(np.float32)[steps // plank]
        row_light[steps % plank < 2] *= 0.7
        grain = cv2.blur(_fine_noise((size, size), rng), (25, 1))
        planes *= row_light[:, None] * (1.0 + 0.3 * grain)
    elif kind == 1:  # tiles
        tile = max(6, int(size / rng.uniform(3, 7)))
        line = steps % tile < 2
        planes = np.where(line[:, None] | line[None, :], planes * 0.55 + 100, planes)
    elif kind == 2:  # a printed fabric (bedspread, sofa)
        planes *= 0.7 + 0.6 * _smooth_noise(size, int(rng.integers(6, 14)), rng)
    scene = _interleave(planes)
    for _ in range(int(rng.integers(3, 9))):
        colour = tuple(float(c) for c in _muted_colour(rng))
        x0, y0 = (int(v) for v in rng.integers(-size // 4, size, 2))
        w, h = (int(v) for v in rng.integers(size // 10, size // 2, 2))
        shape = rng.integers(3)
        if shape == 0:
            cv2.rectangle(scene, (x0, y0), (x0 + w, y0 + h), colour, -1, cv2.LINE_AA)
        elif shape == 1:
            cv2.circle(scene, (x0, y0), w // 2, colour, -1, cv2.LINE_AA)
        else:
            cv2.line(scene, (x0, y0), (x0 + w, y0 + h), colour, max(2, size // 40), cv2.LINE_AA)
    for _ in range(int(rng.integers(0, 3)) if distractors else 0):
        other_rgb, other_mask = distractors[int(rng.integers(len(distractors)))]
        scene = _paste(scene, other_rgb, other_mask, rng, scale=rng.uniform(0.35, 0.7))
    sigma = rng.uniform(0.0, 2.0)
    if sigma > 0.3:  # the background is out of focus
        scene = cv2.GaussianBlur(scene, (0, 0), sigma)
    return scene


def _paste(
    scene: np.ndarray, rgb: np.ndarray, mask: np.ndarray, rng: np.random.Generator, *, scale: float
) -> np.ndarray:
    """Paste a rotated, scaled garment cut-out near a border of the scene, partly out of frame."""
    size = scene.shape[0]
    h, w = mask.shape
    along, depth = rng.uniform(0, size), rng.uniform(-0.1, 0.15) * size
    centre = [(depth, along), (size - depth, along), (along, depth), (along, size - depth)][int(rng.integers(4))]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.uniform(-60, 60)), scale * size / max(h, w))
    matrix[:, 2] += np.asarray(centre) - np.array([w / 2, h / 2])
    warped = cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255))
    alpha = cv2.warpAffine(mask.astype(np.float32) * np.float32(1 / 255), matrix, (size, size), flags=cv2.INTER_LINEAR)
    return cv2.blendLinear(scene, warped, 1.0 - alpha, alpha)


def _occluder(size: int, target: tuple[float, float], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A hand and arm, a bag or a round object over ``target``: its picture and its 0/1 mask."""
    mask = np.zeros((size, size), np.uint8)
    tx, ty = (int(round(v)) for v in target)
    kind = rng.integers(3)
    if kind == 0:  # a hand holding the garment, the arm coming from the nearest border
        colour = np.array([rng.uniform(150, 240), rng.uniform(105, 185), rng.uniform(80, 150)], np.float32)
        borders = [(tx, -size // 5), (tx, size + size // 5), (-size // 5, ty), (size + size // 5, ty)]
        bx, by = borders[int(np.argmin([ty, size - ty, tx, size - tx]))]
        arm = max(3, int(size * rng.uniform(0.08, 0.13)))
        cv2.line(mask, (bx, by), (tx, ty), 1, arm, cv2.LINE_8)
        cv2.ellipse(mask, (tx, ty), (int(arm * 0.9), int(arm * 0.7)), float(rng.uniform(0, 180)), 0, 360, 1, -1)
    elif kind == 1:  # a bag or a box
        w, h = (float(v) for v in rng.uniform(0.15, 0.3, 2) * size)
        box = cv2.boxPoints(((tx, ty), (w, h), float(rng.uniform(-30, 30)))).astype(np.int32)
        cv2.fillPoly(mask, [box], 1)
        colour = _muted_colour(rng)
    else:  # a cup, a plate
        cv2.circle(mask, (tx, ty), int(size * rng.uniform(0.07, 0.14)), 1, -1)
        colour = _muted_colour(rng)
    light = 0.8 + 0.35 * _smooth_noise(size, 3, rng)
    return _interleave(colour[:, None, None] * light), mask


def make_street_photo(
    garment_rgb: np.ndarray,
    garment_mask: np.ndarray,
    rng: np.random.Generator | int | None = None,
    *,
    size: int | None = None,
    distractors: Sequence[tuple[np.ndarray, np.ndarray]] = (),
    occlusion_probability: float = 0.6,
    jpeg_quality: tuple[int, int] | None = (30, 75),
) -> tuple[np.ndarray, np.ndarray]:
    """Turn a product shot into a consumer-style photo of the same garment, with its mask.

    The garment is cut out with its mask, scaled, rotated and seen in perspective over a cluttered
    scene (gradients, floors, tiles, furniture-like shapes, other garments), partly hidden by a hand
    or an object, then the whole photo gets a white-balance and lighting change, blur, noise and
    (optionally) a low-quality JPEG round trip. The mask follows the same geometry and loses
    the hidden part.

    Args:
        garment_rgb: ``(H, W, 3)`` uint8 RGB product shot.
        garment_mask: ``(H, W)`` uint8 mask, non-zero on the garment.
        rng: the randomness (a Generator or a seed).
        size: side of the square output; defaults to the longer side of the input.
        distractors: ``(rgb, mask)`` cut-outs of other garments to scatter in the background.
        occlusion_probability: chance that something hides part of the garment.
        jpeg_quality: range of JPEG qualities for a round trip, or None for none.

    Returns:
        ``(rgb, mask)``: the photo (uint8 RGB) and its mask (uint8, 255 = visible garment).
    """
    if garment_rgb.ndim != 3 or garment_rgb.shape[2] != 3 or garment_rgb.shape[:2] != garment_mask.shape[:2]:
        raise InvalidParameter("garment_rgb must be HxWx3 and garment_mask HxW of the same size")
    if not np.any(garment_mask):
        raise InvalidParameter("garment_mask is empty")
    rng = np.random.default_rng(rng)
    size = int(size or max(garment_mask.shape))
    scene = _clutter_background(size, rng, distractors)

    ys, xs = np.nonzero(garment_mask)
    cx, cy = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
    extent = max(xs.max() - xs.min(), ys.max() - ys.min()) + 1
    scale = rng.uniform(0.6, 1.05) * size / extent
    shift = rng.uniform(-0.1, 0.1, 2) * size
    affine = cv2.getRotationMatrix2D((float(cx), float(cy)), float(rng.uniform(-25, 25)), float(scale))
    affine[:, 2] += np.array([size / 2, size / 2]) + shift - np.array([cx, cy])
    corners = np.array([[0, 0], [size, 0], [size, size], [0, size]], np.float32)
    jitter = rng.normal(0, 0.05 * size, (4, 2)).astype(np.float32)
    homography = cv2.getPerspectiveTransform(corners, corners + jitter) @ np.vstack([affine, [0, 0, 1]])
    warped = cv2.warpPerspective(
        garment_rgb, homography, (size, size), flags=cv2.INTER_LINEAR, borderValue=(255, 255, 255)
    )
    coverage = cv2.warpPerspective(
        (garment_mask > 0).astype(np.float32), homography, (size, size), flags=cv2.INTER_LINEAR
    )
    # A slightly eroded soft alpha hides the product shot's white fringe.
    alpha = np.clip((coverage - 0.25) * 2.0, 0.0, 1.0)
    scene = cv2.blendLinear(scene, warped, 1.0 - alpha, alpha)
    visible = coverage >= 0.5

    if visible.any() and rng.random() < occlusion_probability:
        ys, xs = np.nonzero(visible)
        area = int(np.count_nonzero(visible))
        for _ in range(4):
            pick = int(rng.integers(len(xs)))
            layer, hidden = _occluder(size, (float(xs[pick]), float(ys[pick])), rng)
            kept = visible & (hidden == 0)
            if np.count_nonzero(kept) >= 0.55 * area:
                soft = cv2.GaussianBlur(hidden.astype(np.float32), (0, 0), 0.7)
                scene = cv2.blendLinear(scene, layer, 1.0 - soft, soft)
                visible = kept
                break

    yy, xx = _grid(size)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = xx * np.float32(math.cos(angle) / size) + yy * np.float32(math.sin(angle) / size)
    lighting = np.float32(rng.uniform(0.72, 1.15)) * (1.0 + np.float32(rng.uniform(0.0, 0.3)) * (ramp - ramp.mean()))
    if rng.random() < 0.5:  # vignetting
        r2 = ((xx - size / 2) ** 2 + (yy - size / 2) ** 2) * np.float32(4 / size**2)
        lighting *= 1.0 - np.float32(rng.uniform(0.05, 0.18)) * r2
    balance = rng.normal(1.0, 0.07, 3)
    lit = [plane * (lighting * np.float32(gain)) for plane, gain in zip(cv2.split(scene), balance)]
    photo = _interleave(np.stack(lit))
    gamma = rng.uniform(0.8, 1.25)
    photo = cv2.LUT(photo, np.clip(255.0 * (np.arange(256) / 255.0) ** gamma + 0.5, 0, 255).astype(np.uint8))
    if rng.random() < 0.2:  # camera shake
        length = int(rng.integers(3, 8))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0
        rotation = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), float(rng.uniform(0, 180)), 1.0)
        kernel = cv2.warpAffine(kernel, rotation, (length, length))
        photo = cv2.filter2D(photo, -1, kernel / max(float(kernel.sum()), 1e-6))
    elif rng.random() < 0.7:
        photo = cv2.GaussianBlur(photo, (0, 0), rng.uniform(0.3, 1.3))
    noisy = photo.astype(np.float32) + _fine_noise(photo.shape, rng) * np.float32(rng.uniform(2, 7)) + 0.5
    photo = np.clip(noisy, 0, 255).astype(np.uint8)
    if jpeg_quality is not None:
        quality = int(rng.integers(jpeg_quality[0], jpeg_quality[1] + 1))
        photo = cv2.imdecode(np.frombuffer(encode_jpeg(photo, quality), np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1].copy()
    return photo, np.where(visible, 255, 0).astype(np.uint8)


# --------------------------------------------------------------------------- the catalogue plan


@dataclass(frozen=True)
class _Product:
    product_id: str
    number: int
    spec: GarmentSpec
    split: str
    pair_id: int
    views: int = 1
    original: _Product | None = None
    transform: str = ""


def _shade_of(name: str, rng: np.random.Generator) -> tuple[int, int, int]:
    """A random shade of a named colour that still reads as that colour."""
    base = np.asarray(_PALETTE[name], np.float64)
    shade = base * rng.uniform(0.9, 1.08) + rng.normal(0, 5, 3)
    return tuple(int(v) for v in np.clip(np.clip(shade, base - 20, base + 20), 0, 255))


def _sample_spec(garment_type: str, rng: np.random.Generator) -> GarmentSpec:
    profile = _PROFILES[garment_type]
    main = str(rng.choice(profile.colours))
    colours: tuple[str, ...] = (main,)
    if rng.random() < 0.45:
        colours += (str(rng.choice([c for c in COLOURS if c != main])),)
    return _reshape(
        GarmentSpec(
            garment_type=garment_type,
            colours=colours,
            materials=profile.materials[int(rng.integers(len(profile.materials)))],
            gender=profile.genders[int(rng.integers(len(profile.genders)))],
        ),
        rng,
    )


def _reshape(spec: GarmentSpec, rng: np.random.Generator, avoid_pattern: str | None = None) -> GarmentSpec:
    """Draw the spec's pattern, shape and shades anew, keeping its labels."""
    profile = _PROFILES[spec.garment_type]
    if len(spec.colours) > 1:
        choices = ("stripes", "dots", "checks", "colourblock")
    else:
        choices = ("plain", "plain", "stripes", "dots", "checks")
    pattern = str(rng.choice([p for p in choices if p != avoid_pattern]))
    return dataclasses.replace(
        spec,
        pattern=pattern,
        width=float(rng.uniform(*profile.width)),
        length=float(rng.uniform(*profile.length)),
        sleeve=float(rng.uniform(*profile.sleeve)),
        flare=float(rng.uniform(*profile.flare)),
        style=str(rng.choice(profile.styles)),
        pattern_scale=float(rng.uniform(0.6, 1.4)),
        pattern_angle=float(rng.choice([0.0, 0.0, 90.0, 45.0, -45.0]) + rng.uniform(-5, 5)),
        rgb=tuple(_shade_of(c, rng) for c in spec.colours),
    )


def _plan(n_products: int, duplicate_fraction: float, rng: np.random.Generator) -> list[_Product]:
    """Labels, shapes, splits and planted duplicates of every product, originals first."""
    n_dup = min(n_products, int(round(n_products * duplicate_fraction)))
    numbers = rng.permutation(n_products + n_dup) + 1
    digits = max(4, len(str(n_products + n_dup)))
    types = np.resize(np.asarray(DEMO_TYPES), n_products)
    types = types[rng.permutation(n_products)]
    # Twins share every label with an earlier product but look different: a dedup must not merge them.
    n_twins = max(1, int(round(n_products * _TWIN_SHARE))) if n_products >= 2 else 0
    twins = set(int(i) for i in rng.choice(np.arange(1, n_products), size=n_twins, replace=False)) if n_twins else set()
    order = rng.permutation(n_products)
    n_train = int(round(n_products * _SPLIT_SHARES[0]))
    n_val = int(round(n_products * _SPLIT_SHARES[1]))
    split_of = {
        int(i): "train" if rank < n_train else "val" if rank < n_train + n_val else "test"
        for rank, i in enumerate(order)
    }
    products: list[_Product] = []
    for i in range(n_products):
        if i in twins:
            model = products[int(rng.integers(i))].spec
            spec = _reshape(model, rng, avoid_pattern=model.pattern)
        else:
            spec = _sample_spec(str(types[i]), rng)
        number = int(numbers[i])
        views = 2 if rng.random() < _SECOND_VIEW_SHARE else 1
        products.append(_Product(f"P{number:0{digits}d}", number, spec, split_of[i], number, views))
    transforms = [DUPLICATE_TRANSFORMS[k % len(DUPLICATE_TRANSFORMS)] for k in range(n_dup)]
    transforms = [transforms[int(k)] for k in rng.permutation(n_dup)]
    for k, index in enumerate(sorted(int(i) for i in rng.choice(n_products, size=n_dup, replace=False))):
        original = products[index]
        number = int(numbers[n_products + k])
        products.append(
            dataclasses.replace(
                original,
                product_id=f"P{number:0{digits}d}",
                number=number,
                views=1,
                original=original,
                transform=transforms[k],
            )
        )
    return products


# --------------------------------------------------------------------------- writing


def _derive_duplicate(transform: str, jpeg: bytes, mask_png: bytes, rng: np.random.Generator) -> tuple[bytes, bytes]:
    """The picture and mask bytes of a planted duplicate, made from its original's files."""
    if transform == "exact_copy":
        return jpeg, mask_png
    rgb = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
    mask = cv2.imdecode(np.frombuffer(mask_png, np.uint8), cv2.IMREAD_UNCHANGED)
    quality = _SHOP_JPEG_QUALITY
    h, w = mask.shape
    if transform == "crop":
        top, bottom, left, right = (int(round(v)) for v in rng.uniform(0.03, 0.1, 4) * [h, h, w, w])
        rgb, mask = rgb[top : h - bottom, left : w - right], mask[top : h - bottom, left : w - right]
    elif transform == "resize":
        factor = float(rng.choice([0.5, 0.75, 1.25]))
        new = (max(1, round(w * factor)), max(1, round(h * factor)))
        rgb = cv2.resize(rgb, new, interpolation=cv2.INTER_AREA if factor < 1 else cv2.INTER_LINEAR)
        mask = cv2.resize(mask, new, interpolation=cv2.INTER_NEAREST)
    elif transform == "recompress":
        quality = int(rng.integers(30, 56))
    elif transform == "retouch":
        contrast, brightness = rng.uniform(0.85, 1.15), rng.uniform(-14, 14)
        rgb = np.clip(rgb.astype(np.float32) * contrast + brightness + 0.5, 0, 255).astype(np.uint8)
    elif transform == "flip":
        rgb, mask = rgb[:, ::-1], mask[:, ::-1]
    else:
        raise InvalidParameter(f"unknown duplicate transform {transform!r}")
    return encode_jpeg(np.ascontiguousarray(rgb), quality), encode_png(np.ascontiguousarray(mask))


def _write_csv(path: Path, columns: Sequence[str], rows: list[dict]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def _looks_like_catalogue(path: Path) -> bool:
    try:
        marker = json.loads((path / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("generator") == _GENERATOR


def _check_target(out: Path) -> None:
    """Refuse to replace anything but an empty directory or an earlier demo catalogue."""
    if out.exists() and not out.is_dir():
        raise InvalidParameter(f"output {out} exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not _looks_like_catalogue(out):
        raise InvalidParameter(
            f"output {out} is a non-empty directory that is not a demo catalogue (no {MARKER_FILE}); "
            "refusing to overwrite it: choose an empty or new directory"
        )


def _validate(n_products: int, user_photos: int, image_size: int, duplicate_fraction: float, seed: int) -> None:
    def integer_in(value: object, low: int, high: int) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high

    checks = (
        (integer_in(n_products, 1, 100_000), f"n_products must be an integer in 1..100000, got {n_products!r}"),
        (integer_in(user_photos, 0, 50), f"user_photos_per_product must be an integer in 0..50, got {user_photos!r}"),
        (integer_in(image_size, 64, 2048), f"image_size must be an integer in 64..2048, got {image_size!r}"),
        (integer_in(seed, 0, 2**63 - 1), f"seed must be a non-negative integer, got {seed!r}"),
        (
            isinstance(duplicate_fraction, (int, float)) and 0.0 <= duplicate_fraction <= 1.0,
            f"duplicate_fraction must be in [0, 1], got {duplicate_fraction!r}",
        ),
    )
    for ok, message in checks:
        if not ok:
            raise InvalidParameter(message)


def make_demo_catalog(
    out_dir: str | os.PathLike,
    *,
    n_products: int = 120,
    user_photos_per_product: int = 2,
    image_size: int = 256,
    duplicate_fraction: float = 0.1,
    seed: int = 0,
) -> DemoCatalog:
    """Generate a labelled demo catalogue: shop shots, consumer photos, masks and planted duplicates.

    Each product gets a shop shot on white (``view`` 1; a quarter of them also a back view,
    ``view`` 2) and ``user_photos_per_product`` street photos sharing its ``pair_id``. About
    ``duplicate_fraction`` of the products get a planted near-duplicate: another product id, the
    same labels, a shop picture derived from the original's (see ``DUPLICATE_TRANSFORMS``), no
    user photos, and the original's ``pair_id`` and ``split``, so that a retrieval hit on either
    counts and no duplicate straddles train and test. Some distinct products share every label
    but differ in pattern and shape. ``view`` is a shop picture's view number and a user photo's
    photo number. The same seed gives the same bytes.

    The catalogue is built in a temporary sibling directory and renamed into place at the end;
    an existing ``out_dir`` is replaced only if it is empty or an earlier demo catalogue.

    Args:
        out_dir: where to write the catalogue.
        n_products: number of distinct (original) products.
        user_photos_per_product: consumer photos per original product.
        image_size: side of the square pictures, in pixels.
        duplicate_fraction: share of products that get a planted duplicate.
        seed: the random seed.

    Raises:
        InvalidParameter: a bad parameter, or ``out_dir`` holds something else.
        StorageError: the catalogue could not be written.
    """
    _validate(n_products, user_photos_per_product, image_size, duplicate_fraction, seed)
    out = Path(os.path.abspath(out_dir))
    _check_target(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
        staging.chmod(0o755)  # mkdtemp makes it private; the catalogue is ordinary data
    except OSError as err:
        raise StorageError(f"cannot create a working directory next to {out}: {err}") from err
    try:
        _build(staging, n_products, user_photos_per_product, image_size, duplicate_fraction, seed)
        _swap_into_place(staging, out)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise StorageError(f"cannot write the demo catalogue to {out}: {err}") from err
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return DemoCatalog.at(out)


def _swap_into_place(staging: Path, out: Path) -> None:
    """Rename the finished catalogue over ``out``, moving an earlier one aside first."""
    _check_target(out)
    previous = None
    if out.is_dir():
        if any(out.iterdir()):
            previous = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent)) / "catalogue"
            os.rename(out, previous)
        else:
            out.rmdir()
    try:
        os.rename(staging, out)
    except OSError:
        if previous is not None:
            os.rename(previous, out)
            shutil.rmtree(previous.parent, ignore_errors=True)
        raise
    if previous is not None:
        shutil.rmtree(previous.parent, ignore_errors=True)


def _build(root: Path, n_products: int, user_photos: int, size: int, duplicate_fraction: float, seed: int) -> None:
    plan = _plan(n_products, duplicate_fraction, np.random.default_rng([seed, 0]))
    originals = [p for p in plan if p.original is None]
    duplicates = [p for p in plan if p.original is not None]
    for folder in ("images/shop", "images/user", "masks/shop", "masks/user"):
        (root / folder).mkdir(parents=True)
    total = sum(p.views for p in originals) + len(duplicates) + user_photos * len(originals)
    rows: list[dict] = []
    files: dict[str, tuple[bytes, bytes]] = {}
    pool: list[tuple[np.ndarray, np.ndarray]] = []  # other garments' cut-outs for street backgrounds
    pool_owner: list[int] = []

    def write(relative: str, jpeg: bytes, mask_png: bytes, product: _Product, view: int, source: str) -> None:
        mask_relative = relative[: -len(".jpg")] + ".png"
        (root / "images" / relative).write_bytes(jpeg)
        (root / "masks" / mask_relative).write_bytes(mask_png)
        rows.append({
            "image": relative, "product_id": product.product_id, **product.spec.labels(), "view": view,
            "source": source, "pair_id": product.pair_id, "split": product.split, "mask": mask_relative,
        })

    with Progress(total, "demo catalogue") as progress:
        for product in originals:
            for view in range(1, product.views + 1):
                spec = dataclasses.replace(product.spec, back=view == 2)
                rgb, mask = render_garment(spec, size, np.random.default_rng([seed, 1, product.number, view]))
                relative = f"shop/{product.product_id}_v{view}.jpg"
                jpeg, mask_png = encode_jpeg(rgb, _SHOP_JPEG_QUALITY), encode_png(mask)
                write(relative, jpeg, mask_png, product, view, "shop")
                files[relative] = (jpeg, mask_png)
                if view == 1 and len(pool) < 24:
                    half = max(32, size // 2)
                    pool.append((cv2.resize(rgb, (half, half), interpolation=cv2.INTER_AREA),
                                 cv2.resize(mask, (half, half), interpolation=cv2.INTER_NEAREST)))
                    pool_owner.append(product.number)
                progress.update()
        duplicate_rows = []
        for product in duplicates:
            source_image = f"shop/{product.original.product_id}_v1.jpg"
            jpeg, mask_png = _derive_duplicate(
                product.transform, *files[source_image], np.random.default_rng([seed, 2, product.number])
            )
            relative = f"shop/{product.product_id}_v1.jpg"
            write(relative, jpeg, mask_png, product, 1, "shop")
            duplicate_rows.append({
                "product_a": product.original.product_id, "product_b": product.product_id,
                "image_a": source_image, "image_b": relative, "transform": product.transform,
            })
            progress.update()
        for product in originals:
            others = [cut for cut, owner in zip(pool, pool_owner) if owner != product.number]
            for k in range(1, user_photos + 1):
                rng = np.random.default_rng([seed, 3, product.number, k])
                back = product.views == 2 and rng.random() < 0.3
                rgb, mask = render_garment(dataclasses.replace(product.spec, back=back), size, rng)
                photo, photo_mask = make_street_photo(rgb, mask, rng, distractors=others, jpeg_quality=None)
                relative = f"user/{product.product_id}_u{k}.jpg"
                jpeg = encode_jpeg(photo, int(rng.integers(30, 76)))  # shoppers' photos are poor
                write(relative, jpeg, encode_png(photo_mask), product, k, "user")
                progress.update()

    rows.sort(key=lambda row: row["image"])
    _write_csv(root / "manifest.csv", MANIFEST_COLUMNS, rows)
    _write_csv(root / "catalog.csv", MANIFEST_COLUMNS, [r for r in rows if r["source"] == "shop"])
    _write_csv(root / "queries.csv", MANIFEST_COLUMNS, [r for r in rows if r["source"] == "user"])
    duplicate_rows.sort(key=lambda row: row["product_b"])
    _write_csv(root / "duplicates.csv", DUPLICATE_COLUMNS, duplicate_rows)
    marker = {
        "generator": _GENERATOR,
        "format": _FORMAT_VERSION,
        "parameters": {
            "n_products": n_products, "user_photos_per_product": user_photos, "image_size": size,
            "duplicate_fraction": duplicate_fraction, "seed": seed,
        },
        "counts": {
            "products": len(plan), "original_products": len(originals), "duplicates": len(duplicates),
            "shop_images": sum(1 for r in rows if r["source"] == "shop"),
            "user_images": sum(1 for r in rows if r["source"] == "user"),
        },
    }
    (root / MARKER_FILE).write_text(json.dumps(marker, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    logger.info(
        "demo catalogue: %d products (%d planted duplicates), %d pictures", len(plan), len(duplicates), len(rows)
    )
