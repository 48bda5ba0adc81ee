"""A worn outfit's garments: boxes from a person's body landmarks, each cut out with GrabCut.

``top`` spans shoulders to hips, ``bottom`` hips to ankles (trousers, a skirt), ``full`` shoulders
to ankles (knees when the ankles are hidden: a dress, a coat). A part whose landmarks are not
visible is left out. Every box lies inside the person's box.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from street2shop.segmentation.garment import Segmentation, crop_to_garment, segment_garment
from street2shop.segmentation.params import SegmentParams
from street2shop.segmentation.person import Person

#: The parts, in the order answers list them.
PARTS = ("top", "bottom", "full")
#: A landmark counts when its visibility is at least this.
MIN_VISIBILITY = 0.5
#: Boxes with a shorter side (pixels) are left out.
MIN_SIDE = 12
#: How far a part's box reaches past its landmarks, as a fraction of the torso's length
#: (collar above the shoulders, hem below the hips, cloth beside the joints).
_ABOVE_SHOULDERS, _BELOW_HIPS, _WAIST_ABOVE_HIPS, _BELOW_ANKLES, _BELOW_KNEES, _SIDE = 0.2, 0.15, 0.1, 0.08, 0.2, 0.2
#: The crop GrabCut sees around a part's box, as a fraction of the box (it learns the background there).
_CROP_MARGIN = 0.25

Box = tuple[int, int, int, int]
#: GrabCut's settings for a part: smaller and fewer passes than for a product shot, since the person
#: mask already seeds it and it runs twice a served request (bench/person_model.py).
PART_PARAMS = SegmentParams(work_size=128, iterations=3)


@dataclass(frozen=True)
class GarmentPart:
    """One garment of a worn outfit.

    Attributes:
        part: ``top``, ``bottom`` or ``full``.
        box: ``(x0, y0, x1, y1)`` from the landmarks, x1/y1 exclusive, inside the person's box.
        segmentation: GrabCut's garment inside the box, at the picture's size (``method`` ``model``).
    """

    part: str
    box: Box
    segmentation: Segmentation

    def crop(self, rgb: np.ndarray) -> np.ndarray:
        """The garment on white, cropped to its mask (what search embeds for this part)."""
        return crop_to_garment(rgb, self.segmentation)


def part_boxes(person: Person, width: int, height: int) -> dict[str, Box]:
    """The boxes of the parts whose landmarks are visible, in :data:`PARTS` order, clipped to the person's box."""
    points = {name: person.point(name) for name in (
        "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_hip", "right_hip",
        "left_knee", "right_knee", "left_ankle", "right_ankle",
    )}
    seen = {name: value[2] >= MIN_VISIBILITY for name, value in points.items()}

    def both(joint: str) -> bool:
        return seen[f"left_{joint}"] and seen[f"right_{joint}"]

    def coords(*joints: str, axis: int) -> list[float]:
        return [points[f"{side}_{joint}"][axis] for joint in joints for side in ("left", "right") if seen[f"{side}_{joint}"]]

    if not (both("shoulder") and both("hip")):
        return {}
    shoulders_y, hips_y = coords("shoulder", axis=1), coords("hip", axis=1)
    torso = max(1.0, math.hypot(
        np.mean(coords("shoulder", axis=0)) - np.mean(coords("hip", axis=0)), np.mean(shoulders_y) - np.mean(hips_y)
    ))
    side = _SIDE * torso
    boxes: dict[str, tuple[float, float, float, float]] = {}
    top_xs = coords("shoulder", "elbow", "hip", axis=0)
    top = (min(top_xs) - side, min(shoulders_y) - _ABOVE_SHOULDERS * torso, max(top_xs) + side, max(hips_y) + _BELOW_HIPS * torso)
    boxes["top"] = top
    if both("knee"):
        if both("ankle"):
            leg_end = max(coords("ankle", axis=1)) + _BELOW_ANKLES * torso
            leg_xs = coords("hip", "knee", "ankle", axis=0)
        else:
            leg_end = max(coords("knee", axis=1)) + _BELOW_KNEES * torso
            leg_xs = coords("hip", "knee", axis=0)
        boxes["bottom"] = (min(leg_xs) - side, min(hips_y) - _WAIST_ABOVE_HIPS * torso, max(leg_xs) + side, leg_end)
        boxes["full"] = (min(top[0], boxes["bottom"][0]), top[1], max(top[2], boxes["bottom"][2]), leg_end)
    px0, py0, px1, py1 = person.box
    clipped = {}
    for part in PARTS:
        if part not in boxes:
            continue
        x0, y0, x1, y1 = boxes[part]
        box = (max(px0, math.floor(x0)), max(py0, math.floor(y0)), min(px1, math.ceil(x1)), min(py1, math.ceil(y1)))
        if box[2] - box[0] >= MIN_SIDE and box[3] - box[1] >= MIN_SIDE:
            clipped[part] = tuple(int(v) for v in box)
    return clipped


def segment_parts(rgb: np.ndarray, person: Person, *, params: SegmentParams = PART_PARAMS) -> list[GarmentPart]:
    """Each visible part's box, and GrabCut's garment inside it, seeded by the person mask.

    GrabCut runs on a crop around the ``top`` and ``bottom`` boxes (the box plus a quarter of it
    each side) and is kept inside the person (the mask, dilated a little); where it finds less
    than half of the person in the box, the person mask is kept instead. ``full`` is the union of
    the two inside its box, so a picture costs two GrabCut runs.
    """
    height, width = rgb.shape[:2]
    boxes = part_boxes(person, width, height)
    person_mask = np.where(person.mask >= 0.5, 255, 0).astype(np.uint8)
    reach = max(3, round(0.02 * max(height, width))) | 1
    near_person = cv2.dilate(person_mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (reach, reach))) > 0
    masks: dict[str, tuple[np.ndarray, tuple[str, ...]]] = {}
    for part in ("top", "bottom"):
        if part in boxes:
            masks[part] = _segment_in_box(rgb, person_mask, near_person, boxes[part], params)
    if "full" in boxes:
        union = np.zeros((height, width), np.uint8)
        for mask, _ in masks.values():
            union |= mask
        masks["full"] = (_inside(union, boxes["full"]), ())
    return [GarmentPart(part=part, box=boxes[part], segmentation=_segmentation(*masks[part], boxes[part])) for part in PARTS if part in boxes]


class _MaskInBox:
    """A mask predictor (``garment.MaskPredictor``) that answers a fixed probability map: the person inside the part's box."""

    threshold = 0.5

    def __init__(self, probability: np.ndarray):
        self._probability = probability

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        return self._probability


def _segment_in_box(
    rgb: np.ndarray, person_mask: np.ndarray, near_person: np.ndarray, box: Box, params: SegmentParams
) -> tuple[np.ndarray, tuple[str, ...]]:
    """GrabCut's garment in one box (uint8 0/255 at the picture's size) and its flags."""
    height, width = rgb.shape[:2]
    x0, y0, x1, y1 = box
    dx, dy = round(_CROP_MARGIN * (x1 - x0)), round(_CROP_MARGIN * (y1 - y0))
    cx0, cy0, cx1, cy1 = max(0, x0 - dx), max(0, y0 - dy), min(width, x1 + dx), min(height, y1 + dy)
    person_in_box = _inside(person_mask, box)
    crop = np.ascontiguousarray(rgb[cy0:cy1, cx0:cx1])
    seed = person_in_box[cy0:cy1, cx0:cx1].astype(np.float32) / 255.0
    seg = segment_garment(crop, params=params, mask_model=_MaskInBox(seed))
    mask = np.zeros((height, width), np.uint8)
    if seg.method == "model":
        mask[cy0:cy1, cx0:cx1] = seg.mask
        mask = _inside(mask, box)
        mask[~near_person] = 0
    person_area = np.count_nonzero(person_in_box)
    if np.count_nonzero(mask & person_in_box) < 0.5 * person_area:
        return person_in_box, (*seg.flags, "person_mask")
    return mask, seg.flags


def _inside(mask: np.ndarray, box: Box) -> np.ndarray:
    x0, y0, x1, y1 = box
    kept = np.zeros_like(mask)
    kept[y0:y1, x0:x1] = mask[y0:y1, x0:x1]
    return kept


def _segmentation(mask: np.ndarray, flags: tuple[str, ...], box: Box) -> Segmentation:
    """A part's mask as a ``Segmentation``; an empty mask becomes the whole box."""
    height, width = mask.shape
    if not mask.any():
        mask = _inside(np.full_like(mask, 255), box)
        flags = (*flags, "empty_part")
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return Segmentation(
        mask=mask,
        box=(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1),
        method="model",
        flags=tuple(flags),
        area_fraction=float(np.count_nonzero(mask)) / (width * height),
        seed_box=box,
    )
