"""The batch job of segmentation: cut out every picture of a manifest and publish cut-outs, masks,
``boxes.csv`` and ``errors.csv`` as one folder (the ``segment`` command and recipe)."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from street2shop.errors import InvalidParameter
from street2shop.images.decode import DEFAULT_MAX_PIXELS, encode_jpeg, encode_png
from street2shop.images.load import load_images
from street2shop.manifest import ROW_COLUMN, validate_manifest
from street2shop.progress import Progress
from street2shop.segmentation.garment import (
    LockedModel,
    MaskPredictor,
    Segmentation,
    SegmentParams,
    apply_mask,
    check_background,
    segment_garment,
)
from street2shop.storage.publish import LocalOutputDir
from street2shop.storage.stores import ImageSource, ImageStore, ordered_map

log = logging.getLogger(__name__)


#: Columns of the boxes table, in order.
BOX_COLUMNS = (
    "row", "image", "segmented", "mask", "x0", "y0", "x1", "y1", "width", "height",
    "area_fraction", "method", "flags",
)
#: Where the batch job writes its outputs, relative to its output folder.
SEGMENTED_DIR, MASKS_DIR, BOXES_FILE, ERRORS_FILE = "segmented", "masks", "boxes.csv", "errors.csv"


@dataclass
class SegmentReport:
    """What :func:`segment_images` did.

    Attributes:
        boxes: one row per segmented picture, columns ``BOX_COLUMNS`` (``flags`` joined with '|').
        errors: one row per manifest row that could not be segmented: ``row``, ``image``, ``reason``.
        seconds: wall time of the job.
    """

    boxes: pd.DataFrame
    errors: pd.DataFrame
    seconds: float
    methods: dict[str, int] = field(default_factory=dict)
    flags: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """Counts for a log line or the CLI's JSON output."""
        return {
            "segmented": len(self.boxes),
            "errors": len(self.errors),
            "methods": dict(self.methods),
            "flags": dict(self.flags),
            "seconds": round(self.seconds, 2),
            "per_second": round(len(self.boxes) / self.seconds, 2) if self.seconds > 0 else None,
        }


def segment_images(
    source: ImageSource | ImageStore,
    manifest_rows: pd.DataFrame | str | Path,
    out: Any,
    *,
    params: SegmentParams = SegmentParams(),
    mask_model: MaskPredictor | None = None,
    background: str = "white",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_workers: int = 2,
    jpeg_quality: int = 92,
) -> SegmentReport:
    """Segment every picture of a manifest and publish the results as one folder.

    The folder holds ``segmented/<image>.jpg`` (garment on white) or ``.png`` (transparent),
    ``masks/<image>.png``, ``boxes.csv`` and ``errors.csv``; ``<image>`` is the manifest's
    ``image`` without its extension (an ``s3://bucket/key`` keeps ``bucket/key``). It is built
    aside and published whole. Bad rows (empty or duplicate image, unreadable or corrupt
    picture) are reported in ``errors`` with their row and reason; the others complete.

    Args:
        source: where the pictures are.
        manifest_rows: the manifest (a DataFrame or a CSV/Parquet path); only ``image`` is required.
        out: an output folder: a path, a ``LocalOutputDir`` or a ``FolderOutputDir`` (DSS).
        params: segmentation parameters.
        mask_model: optional garment-mask model (``street2shop.segmentation.mask_model.load_mask_model``).
        background: ``white`` (JPEG) or ``transparent`` (PNG with alpha).
        max_pixels: larger pictures are refused (reported as errors).
        max_workers: segmenting threads (OpenCV releases the GIL).
        jpeg_quality: JPEG quality of white-background pictures.

    Raises:
        ManifestError: the manifest has no ``image`` column.
        InvalidParameter: a bad ``background`` or ``max_workers``.
    """
    check_background(background)
    if not isinstance(max_workers, int) or max_workers < 1:
        raise InvalidParameter(f"max_workers must be a positive integer, got {max_workers!r}")
    started = time.monotonic()
    check = validate_manifest(manifest_rows, required=("image",))
    rows = check.rows
    output = LocalOutputDir(out) if isinstance(out, (str, Path)) else out
    model = LockedModel(mask_model, threading.Lock()) if mask_model is not None else None
    names = _output_names(list(rows["image"]))
    suffix = ".png" if background == "transparent" else ".jpg"

    def process(item: Any) -> tuple[Any, Segmentation | None, bytes | None, bytes | None, str | None]:
        if item.error is not None:
            return item, None, None, None, item.error
        try:
            seg = segment_garment(item.pixels, params=params, mask_model=model)
            cut = apply_mask(item.pixels, seg.mask, background=background)
            picture = _encode_rgba(cut) if background == "transparent" else encode_jpeg(cut, jpeg_quality)
            return item, seg, picture, encode_png(seg.mask), None
        except Exception as err:  # one picture must never stop the others; the row is reported
            log.warning("row %d (%s): segmentation failed: %s", item.row, item.image, err)
            return item, None, None, None, f"segmentation failed: {type(err).__name__}: {err}"

    records, failures = [], []
    methods: Counter[str] = Counter()
    flag_counts: Counter[str] = Counter()
    loaded = load_images(source, list(rows["image"]), rows=list(rows[ROW_COLUMN]), max_pixels=max_pixels)
    with output.staging() as staging:
        staging = Path(staging)
        (staging / SEGMENTED_DIR).mkdir()
        (staging / MASKS_DIR).mkdir()
        with Progress(len(rows), "segment", logger=log) as progress:
            for _, (item, seg, picture, mask_png, error) in ordered_map(process, loaded, max_workers=max_workers):
                progress.update()
                if error is not None or seg is None:
                    failures.append({"row": item.row, "image": item.image, "reason": error})
                    continue
                name = names[item.image]
                segmented, mask = f"{SEGMENTED_DIR}/{name}{suffix}", f"{MASKS_DIR}/{name}.png"
                _write_file(staging / segmented, picture)
                _write_file(staging / mask, mask_png)
                height, width = seg.mask.shape
                records.append(
                    {
                        "row": item.row, "image": item.image, "segmented": segmented, "mask": mask,
                        "x0": seg.box[0], "y0": seg.box[1], "x1": seg.box[2], "y1": seg.box[3],
                        "width": width, "height": height, "area_fraction": round(seg.area_fraction, 6),
                        "method": seg.method, "flags": "|".join(seg.flags),
                    }
                )
                methods[seg.method] += 1
                flag_counts.update(seg.flags)
        boxes = pd.DataFrame.from_records(records, columns=list(BOX_COLUMNS))
        errors = pd.concat(
            [check.errors, pd.DataFrame.from_records(failures, columns=["row", "image", "reason"])], ignore_index=True
        )
        errors["row"] = errors["row"].astype("int64")
        errors = errors.sort_values("row", kind="stable").reset_index(drop=True)
        boxes.to_csv(staging / BOXES_FILE, index=False)
        errors.to_csv(staging / ERRORS_FILE, index=False)
    report = SegmentReport(
        boxes=boxes, errors=errors, seconds=time.monotonic() - started,
        methods=dict(methods), flags=dict(flag_counts),
    )
    log.info("segment: %d pictures segmented, %d errors, methods %s", len(boxes), len(errors), report.methods)
    return report


def _output_names(images: list[str]) -> dict[str, str]:
    """A unique output name per picture: its path without extension (``a/b.jpg`` -> ``a/b``)."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for image in images:
        path = image.split("://", 1)[1] if "://" in image else image
        path = "/".join(part for part in path.replace("\\", "/").split("/") if part not in ("", ".", ".."))
        stem, dot, extension = path.rpartition(".")
        name = stem if dot and stem and "/" not in extension else path
        if name in used:  # a.jpg and a.png both listed: keep the extension in the second name
            name = path.replace(".", "_")
            count = 1
            while name in used:
                count += 1
                name = f"{path.replace('.', '_')}_{count}"
        used.add(name)
        names[image] = name or "image"
    return names


def _encode_rgba(rgba: np.ndarray) -> bytes:
    ok, buffer = cv2.imencode(".png", cv2.cvtColor(rgba, cv2.COLOR_RGBA2BGRA))
    if not ok:
        raise InvalidParameter("could not encode PNG")
    return buffer.tobytes()


def _write_file(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
