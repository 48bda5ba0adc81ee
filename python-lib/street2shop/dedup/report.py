"""An HTML gallery of found duplicate pairs, side by side, most doubtful first, for a person to confirm."""

from __future__ import annotations

import hashlib
import html
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from street2shop.images.decode import DEFAULT_MAX_PIXELS, encode_jpeg

logger = logging.getLogger(__name__)

REPORT_FILE = "index.html"
THUMBS_DIR = "thumbs"

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 1.6em; }
table.summary td { padding: 0.1em 0.8em 0.1em 0; }
.pair { display: flex; gap: 1em; align-items: flex-start; border-top: 1px solid #ddd; padding: 0.8em 0; }
.pair.flagged { background: #fff4e5; }
figure { margin: 0; width: 180px; } figure img { max-width: 170px; max-height: 170px; border: 1px solid #ccc; }
figcaption { font-size: 0.8em; word-break: break-all; }
.facts { font-size: 0.9em; min-width: 16em; } .facts b { font-size: 1.05em; }
.missing { width: 170px; height: 120px; display: flex; align-items: center; justify-content: center;
           background: #eee; color: #777; font-size: 0.8em; text-align: center; }
.bar { height: 6px; background: #eee; width: 12em; } .bar span { display: block; height: 6px; background: #c0392b; }
ul.group { font-size: 0.9em; }
"""


def _thumb_name(image: str) -> str:
    return hashlib.sha1(image.encode("utf-8")).hexdigest()[:20] + ".jpg"


def _write_thumbnails(source: Any, images: list[str], folder: Path, size: int, max_pixels: int) -> dict[str, str]:
    """Small JPEG copies of the pictures; returns image -> relative path for those that could be read."""
    if source is None or not images:
        return {}
    import cv2

    from street2shop.images.load import load_images

    def shrink(pixels: np.ndarray) -> np.ndarray:
        height, width = pixels.shape[:2]
        scale = min(1.0, size / max(height, width))
        if scale < 1.0:
            new = (max(1, round(width * scale)), max(1, round(height * scale)))
            pixels = cv2.resize(pixels, new, interpolation=cv2.INTER_AREA)
        return pixels

    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for item in load_images(source, images, max_pixels=max_pixels, transform=shrink):
        if item.error is None:
            name = _thumb_name(item.image)
            (folder / name).write_bytes(encode_jpeg(item.pixels, 85))
            written[item.image] = f"{THUMBS_DIR}/{name}"
    return written


def _figure(image: str, product: str, thumbs: dict[str, str]) -> str:
    caption = f"<figcaption><b>{html.escape(str(product))}</b><br>{html.escape(str(image))}</figcaption>"
    if image in thumbs:
        return f'<figure><img src="{html.escape(thumbs[image])}" alt="{html.escape(str(image))}" loading="lazy">{caption}</figure>'
    return f'<figure><div class="missing">picture not available</div>{caption}</figure>'


def _number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "–"
    return f"{float(value):.{digits}f}"


def order_for_review(pairs: pd.DataFrame, groups: pd.DataFrame) -> pd.DataFrame:
    """Pairs most doubtful first: those of flagged groups, then by margin past the threshold, smallest first."""
    if pairs.empty:
        return pairs
    flagged_groups = set(groups.loc[groups["flagged"].astype(bool), "group_id"]) if not groups.empty else set()
    table = pairs.assign(_flagged=pairs["group_id"].isin(flagged_groups))
    table = table.sort_values(["_flagged", "margin", "product_a", "product_b"], ascending=[False, True, True, True], kind="stable")
    return table.drop(columns="_flagged").reset_index(drop=True)


def write_report(
    folder: str | Path,
    pairs: pd.DataFrame,
    groups: pd.DataFrame,
    *,
    source: Any = None,
    summary: dict | None = None,
    max_pairs: int = 500,
    thumb_size: int = 170,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> Path:
    """Write ``index.html`` and its thumbnails into ``folder``.

    Args:
        folder: the report folder (created).
        pairs: product pairs (``street2shop.dedup.grouping.PAIR_COLUMNS``).
        groups: duplicate groups (``GROUP_COLUMNS``).
        source: reads the pictures for the thumbnails (none: captions only).
        summary: facts shown at the top (counts, thresholds, method).
        max_pairs: pairs shown at most (the most doubtful ones).
        thumb_size: longest side of a thumbnail, in pixels.

    Returns:
        The path of ``index.html``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    ordered = order_for_review(pairs, groups)
    shown = ordered.head(max_pairs)
    images = list(dict.fromkeys([*shown["image_a"].astype(str), *shown["image_b"].astype(str)])) if len(shown) else []
    thumbs = _write_thumbnails(source, images, folder / THUMBS_DIR, thumb_size, max_pixels)
    flagged_ids = set(groups.loc[groups["flagged"].astype(bool), "group_id"]) if not groups.empty else set()

    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8"><title>street2shop: duplicate products</title>',
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Duplicate products to confirm</h1>",
    ]
    facts = dict(summary or {})
    if facts:
        rows = "".join(
            f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>" for k, v in facts.items() if not isinstance(v, (list, dict))
        )
        parts.append(f'<table class="summary">{rows}</table>')
    if pairs.empty:
        parts.append("<p>No duplicate pairs were found.</p>")
    else:
        parts.append(
            f"<p>{len(pairs)} product pair(s) in {groups['group_id'].nunique() if not groups.empty else 0} group(s); "
            f"showing {len(shown)}, most doubtful first (flagged groups, then the pairs closest to the threshold).</p>"
        )
    if flagged_ids:
        parts.append("<h2>Flagged groups (members far from the group's centre: possible chaining)</h2>")
        for group_id in sorted(flagged_ids):
            members = groups[groups["group_id"] == group_id]
            items = "".join(
                f"<li>{html.escape(str(m.product_id))}"
                f"{' (centre)' if m.centre else ''}{' — kept' if m.keep else ' — dropped'}"
                f"; cosine to centre {_number(m.cosine_to_centre)}, Hamming {m.hamming_to_centre if m.hamming_to_centre >= 0 else '–'}"
                f"{'' if m.close_to_centre else ' <b>far</b>'}</li>"
                for m in members.itertuples()
            )
            parts.append(f'<p>Group {int(group_id)}</p><ul class="group">{items}</ul>')
    if len(shown):
        parts.append("<h2>Pairs</h2>")
    for rank, pair in enumerate(shown.itertuples(), start=1):
        flagged = pair.group_id in flagged_ids
        width = int(round(100 * (1.0 - float(pair.margin))))
        hamming = "–" if int(pair.hamming) < 0 else str(int(pair.hamming))
        parts.append(
            f'<div class="pair{" flagged" if flagged else ""}" id="pair-{rank}">'
            + _figure(str(pair.image_a), str(pair.product_a), thumbs)
            + _figure(str(pair.image_b), str(pair.product_b), thumbs)
            + '<div class="facts">'
            f"<b>#{rank}</b> group {int(pair.group_id)}{' (flagged)' if flagged else ''}<br>"
            f"method: {html.escape(str(pair.method))}<br>"
            f"similarity: {_number(pair.similarity)}<br>cosine: {_number(pair.cosine)}; Hamming: {hamming}<br>"
            f"matching view pairs: {int(pair.image_pairs)}<br>"
            f'doubt: <div class="bar"><span style="width:{width}%"></span></div>'
            "</div></div>"
        )
    parts.append("</body></html>")
    path = folder / REPORT_FILE
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
