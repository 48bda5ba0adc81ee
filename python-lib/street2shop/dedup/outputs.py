"""A dedup run's outputs: its files written at once, its summary read back, and the scenario step's verdict on it."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from street2shop.dedup.grouping import GROUP_COLUMNS, PAIR_COLUMNS
from street2shop.dedup.params import (
    CALIBRATION_FILE,
    ERROR_COLUMNS,
    ERRORS_FILE,
    GROUPS_FILE,
    HASHES_FILE,
    MANIFEST_FILE,
    PAIRS_FILE,
    REPORT_DIR,
    SUMMARY_FILE,
    THUMBS_FILE,
    DedupParams,
    DedupResult,
)
from street2shop.dedup.report import write_report
from street2shop.errors import InvalidParameter


def write_outputs(result: DedupResult, out_dir: str | Path | Any, *, images: Any = None, report: bool = True, params: DedupParams | None = None) -> None:
    """Write pairs.csv, groups.csv, manifest_dedup.csv, errors.csv, hashes.csv, summary.json and
    report/index.html, all at once: into a staging folder that replaces ``out_dir`` whole.

    Args:
        result: what :func:`find_duplicates` or :func:`check_new_products` returned.
        out_dir: a local directory, or an ``OutputDir`` (e.g. a DSS managed folder's).
        images: where the pictures are, for the report's thumbnails.
    """
    from street2shop.storage.publish import LocalOutputDir

    output = LocalOutputDir(out_dir) if isinstance(out_dir, (str, os.PathLike)) else out_dir
    params = params or DedupParams()
    from street2shop.storage.stores import image_source

    source = image_source(images) if images is not None else None
    with tempfile.TemporaryDirectory(prefix="street2shop-dedup-") as staging:
        folder = Path(staging)
        write_tables(result, folder)
        if report:
            write_report(
                folder / REPORT_DIR, result.pairs, result.groups, source=source,
                summary={k: v for k, v in result.summary.items() if k != "top_pairs"},
                max_pairs=params.report_pairs, max_pixels=params.max_pixels,
            )
        output.publish(folder)


def write_tables(result: DedupResult, folder: Path) -> None:
    """The CSV and JSON files of a result, into an existing local folder."""
    result.pairs[PAIR_COLUMNS].to_csv(folder / PAIRS_FILE, index=False)
    result.groups[GROUP_COLUMNS].to_csv(folder / GROUPS_FILE, index=False)
    result.manifest.drop(columns=["_row"], errors="ignore").to_csv(folder / MANIFEST_FILE, index=False)
    result.errors[ERROR_COLUMNS].to_csv(folder / ERRORS_FILE, index=False)
    if result.hashes is not None:
        table = result.hashes.to_frame()
        table.insert(0, "product_id", result.items["product_id"].astype(str).to_numpy())
        table.insert(0, "image", result.items["image"].astype(str).to_numpy())
        table.to_csv(folder / HASHES_FILE, index=False)
        if result.hashes.thumbs is not None:
            np.save(folder / THUMBS_FILE, result.hashes.thumbs, allow_pickle=False)
    if result.calibration is not None:
        result.calibration.to_csv(folder / CALIBRATION_FILE, index=False)
    (folder / SUMMARY_FILE).write_text(json.dumps(result.summary, indent=2, default=_json_default), encoding="utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_summary(location: Any) -> dict:
    """The ``summary.json`` of a dedup output (a local folder or a DSS managed folder), e.g. for a scenario step."""
    from street2shop.errors import StorageError
    from street2shop.storage.published import open_published

    try:
        data = open_published(location).read_bytes(SUMMARY_FILE)
    except StorageError as err:
        raise InvalidParameter(f"{location} is not a dedup output: {SUMMARY_FILE} cannot be read ({err})") from err
    return json.loads(data.decode("utf-8"))


@dataclass(frozen=True)
class DuplicateCheck:
    """The verdict a scenario step reports on a dedup output.

    Attributes:
        ok: False when the new duplicates exceed the allowed count.
        count: duplicate product pairs found.
        message: one line for the step log.
        variables: scenario variables (count, groups, top pairs as text) for a mail reporter.
    """

    ok: bool
    count: int
    message: str
    variables: dict


def check_duplicate_count(summary: dict, *, max_new_duplicates: int = 0, top: int = 5, prefix: str = "street2shop_") -> DuplicateCheck:
    """Judge a dedup summary (``read_summary``): ok when its product pairs do not exceed ``max_new_duplicates``.

    The variables are named ``{prefix}duplicates_count``, ``_groups``, ``_top`` and ``_passed``.
    """
    if isinstance(max_new_duplicates, bool) or not isinstance(max_new_duplicates, int) or max_new_duplicates < 0:
        raise InvalidParameter(f"max_new_duplicates must be a non-negative integer, got {max_new_duplicates!r}")
    count = int(summary.get("pairs", 0))
    top_pairs = list(summary.get("top_pairs", []))[:top]
    lines = [f"{p['product_a']} ~ {p['product_b']} ({p['method']}, {p['similarity']:.3f})" for p in top_pairs]
    ok = count <= max_new_duplicates
    message = (
        f"{count} duplicate product pair(s) found, {'within' if ok else 'above'} the allowed {max_new_duplicates}"
        + (f"; top: {lines[0]}" if lines else "")
    )
    variables = {
        f"{prefix}duplicates_count": str(count),
        f"{prefix}duplicates_groups": str(summary.get("groups", 0)),
        f"{prefix}duplicates_top": "\n".join(lines),
        f"{prefix}duplicates_passed": str(ok).lower(),
    }
    return DuplicateCheck(ok, count, message, variables)
