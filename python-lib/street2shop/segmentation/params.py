"""How to segment a garment (``SegmentParams``) and the segmentation's vocabulary; pure, no OpenCV or NumPy.

Parameter parsers (the CLI's, the DSS recipes') import this module alone, so checking a config
does not load OpenCV.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from street2shop.errors import InvalidParameter

#: Where a segmentation's box came from, best first; ``whole`` is the fallback.
METHODS = ("model", "border", "centre", "whole")

#: What replaces the background in a cut-out picture.
BACKGROUNDS = ("white", "transparent")

#: Quality flags a segmentation may carry, and what each means.
FLAGS = {
    "empty_image": "the picture has no pixels; the whole (empty) picture is kept",
    "tiny_image": "the picture is smaller than min_side; the whole picture is kept",
    "blank_image": "the picture is one flat colour; the whole picture is kept",
    "no_foreground": "the border is plain and nothing differs from it; the whole picture is kept",
    "model_failed": "the mask model raised an error; another box source was used",
    "model_empty": "the mask model found no garment; another box source was used",
    "box_covers_image": "the garment's box covers the whole picture; the whole picture is kept",
    "grabcut_failed": "GrabCut raised an error; the whole picture is kept",
    "grabcut_empty": "GrabCut found no garment in the box; the whole picture is kept",
    "low_contrast": "the segment looks like its surroundings (a garment filling the frame, or noise); "
    "the whole picture is kept",
    "touches_border": "the garment touches the picture's edge and may be cut off",
    "fragmented": "the garment was found in several pieces; only the largest was kept",
    "small_garment": "the garment covers under 5% of the picture",
}


@dataclass(frozen=True)
class SegmentParams:
    """How to segment a garment.

    Attributes:
        margin: the box is enlarged by this fraction of its width/height on each side before GrabCut.
        work_size: GrabCut runs on the box's crop downscaled so its longer side is at most this.
        iterations: GrabCut iterations.
        min_side: pictures with a shorter side are kept whole (flag ``tiny_image``).
        model_threshold: probability above which a mask model's pixel is garment; None uses the
            model's own ``threshold`` (0.5 if it has none).
        border_width: width of the border band that estimates a plain background, as a fraction of
            the shorter side.
        border_tolerance: colour distance (CIE Lab, ΔE) under which a pixel matches the background.
        plain_border_fraction: a border is plain when at least this fraction of it matches its
            median colour...
        max_border_noise: ...and its median colour distance to that colour is at most this (ΔE):
            studio backdrops are flat, floors and walls are textured.
        centre_box: (width, height) of the centre prior's box as fractions of the picture.
        max_box_fraction: a box covering at least this fraction of the picture means the garment
            fills it: the whole picture is kept (flag ``box_covers_image``).
        min_area_fraction: a GrabCut result smaller than this fraction of the picture counts as empty.
        context: band around the enlarged box, as a fraction of its size, that GrabCut sees as
            certain background.
        min_contrast: for the centre prior, the Bhattacharyya distance between the colours of the
            segment and of its surroundings under which the segment is refused (flag ``low_contrast``).
        close_size: gaps narrower than this fraction of the shorter side (stripes, seams) are
            closed in the border's foreground and in GrabCut's result.
    """

    margin: float = 0.1
    work_size: int = 256
    iterations: int = 5
    min_side: int = 32
    model_threshold: float | None = None
    border_width: float = 0.03
    border_tolerance: float = 14.0
    plain_border_fraction: float = 0.8
    max_border_noise: float = 4.0
    centre_box: tuple[float, float] = (0.6, 0.8)
    max_box_fraction: float = 0.95
    min_area_fraction: float = 0.005
    context: float = 0.1
    min_contrast: float = 0.3
    close_size: float = 0.04

    def __post_init__(self) -> None:
        _check_range("margin", self.margin, 0.0, 1.0)
        _check_range("work_size", self.work_size, 32, 8192, integer=True)
        _check_range("iterations", self.iterations, 1, 50, integer=True)
        _check_range("min_side", self.min_side, 1, 4096, integer=True)
        if self.model_threshold is not None:
            _check_range("model_threshold", self.model_threshold, 0.0, 1.0)
        _check_range("border_width", self.border_width, 0.001, 0.25)
        _check_range("border_tolerance", self.border_tolerance, 0.1, 100.0)
        _check_range("plain_border_fraction", self.plain_border_fraction, 0.0, 1.0)
        _check_range("max_border_noise", self.max_border_noise, 0.0, 100.0)
        if not isinstance(self.centre_box, (tuple, list)) or len(self.centre_box) != 2:
            raise InvalidParameter(f"centre_box must be (width, height) fractions, got {self.centre_box!r}")
        object.__setattr__(self, "centre_box", tuple(self.centre_box))  # from JSON it is a list
        for value in self.centre_box:
            _check_range("centre_box", value, 0.05, 0.95)
        _check_range("max_box_fraction", self.max_box_fraction, 0.1, 1.0)
        _check_range("min_area_fraction", self.min_area_fraction, 0.0, 0.5)
        _check_range("context", self.context, 0.0, 1.0)
        _check_range("min_contrast", self.min_contrast, 0.0, 1.0)
        _check_range("close_size", self.close_size, 0.0, 0.25)

    def as_dict(self) -> dict[str, Any]:
        """The parameters as a JSON-ready dict (to record beside an index, so queries match it)."""
        return {name: list(value) if isinstance(value, tuple) else value for name, value in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SegmentParams:
        """Parameters from a dict such as ``as_dict()``'s or a recipe's config; unknown names are refused."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidParameter(f"unknown segmentation parameter(s): {', '.join(unknown)}")
        return cls(**values)


def _check_range(name: str, value: object, low: float, high: float, *, integer: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        kind = "an integer" if integer else "a number"
        raise InvalidParameter(f"{name} must be {kind} in [{low}, {high}], got {value!r}")
    if not (low <= value <= high) or math.isnan(value):
        raise InvalidParameter(f"{name} must be in [{low}, {high}], got {value!r}")
