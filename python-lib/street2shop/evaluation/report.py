"""The evaluation report: an HTML page and a PNG showing sample queries and their top results, hits marked."""

from __future__ import annotations

import base64
import html
import json
import logging
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from street2shop.evaluation.retrieval import EvaluationResult
from street2shop.images.decode import decode_image, encode_jpeg, fit_to_square
from street2shop.index.search import SearchIndex

logger = logging.getLogger(__name__)

THUMBNAIL_PX = 128


def write_evaluation_report(
    result: EvaluationResult,
    index: SearchIndex,
    source: Any,
    output: Any,
    *,
    examples: int = 12,
    shown_results: int = 5,
    seed: int = 0,
) -> None:
    """Publish ``report.html``, ``gallery.png`` and ``metrics.json`` to ``output`` (an ``OutputDir``).

    The sample mixes hits and misses (drawn with ``seed``) so a person sees both.
    """
    sample = _sample_queries(result, examples, seed)
    first_views = index.items.drop_duplicates("product_id")
    image_of = dict(zip(first_views["product_id"].astype(str), first_views["image"].astype(str)))
    rows_html, grid = [], []
    for query in sample.itertuples():
        query_thumb = _thumbnail(source, query.image)
        cells, grid_row = [], [(query_thumb, "query", None)]
        for position, product in enumerate(query.results[:shown_results], start=1):
            image = image_of.get(product, "")
            hit = position == query.rank
            thumb = _thumbnail(source, image)
            grid_row.append((thumb, f"#{position} {product}", hit))
            cells.append(_cell(thumb, f"#{position} {product}", "hit" if hit else "miss"))
        grid.append(grid_row)
        verdict = f"found at rank {query.rank}" if query.rank else f"not in the top {len(query.results)}"
        rows_html.append(
            f"<tr><td>{_cell(query_thumb, html.escape(str(query.image)), 'query')}"
            f"<div class='meta'>pair {html.escape(str(query.pair_id))}: {verdict}</div></td>{''.join(f'<td>{c}</td>' for c in cells)}</tr>"
        )
    with tempfile.TemporaryDirectory(prefix="street2shop-report-") as staging:
        directory = Path(staging)
        (directory / "report.html").write_text(_page(result, index, rows_html))
        (directory / "metrics.json").write_text(json.dumps(result.summary() | {"skipped_queries": result.skipped}, indent=2))
        _gallery_png(grid, result, directory / "gallery.png")
        output.publish(directory)


def _sample_queries(result: EvaluationResult, examples: int, seed: int):
    rng = np.random.default_rng(seed)
    hits = result.per_query[result.per_query["rank"] > 0]
    misses = result.per_query[result.per_query["rank"] == 0]
    n_hits = min(len(hits), max(examples // 2, examples - len(misses)))
    return pd.concat(
        [hits.iloc[rng.permutation(len(hits))[:n_hits]], misses.iloc[rng.permutation(len(misses))[: examples - n_hits]]]
    )


def _thumbnail(source: Any, image: str) -> np.ndarray:
    try:
        return fit_to_square(decode_image(source.read_bytes(image), name=image), THUMBNAIL_PX)
    except Exception as err:  # a missing thumbnail must not stop the report
        logger.warning("no thumbnail for %s: %s", image, err)
        return np.full((THUMBNAIL_PX, THUMBNAIL_PX, 3), 200, np.uint8)


def _cell(thumb: np.ndarray, caption: str, kind: str) -> str:
    data = base64.b64encode(encode_jpeg(thumb, 85)).decode()
    return f"<figure class='{kind}'><img src='data:image/jpeg;base64,{data}' alt=''><figcaption>{caption}</figcaption></figure>"


def _page(result: EvaluationResult, index: SearchIndex, rows_html: list[str]) -> str:
    metrics = "".join(f"<li>top-{k}: <b>{v:.1%}</b></li>" for k, v in result.top_k.items())
    encoders = ", ".join(html.escape(part["name"]) for part in index.info.get("layout", []))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>street2shop retrieval evaluation</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; }} td {{ padding: 4px; vertical-align: top; }}
figure {{ margin: 0; border: 4px solid #ddd; width: {THUMBNAIL_PX}px; }}
figure.hit {{ border-color: #2a9d3a; }} figure.query {{ border-color: #3366cc; }}
figcaption {{ font-size: 11px; overflow-wrap: anywhere; }} .meta {{ font-size: 12px; max-width: {THUMBNAIL_PX}px; }}
</style></head><body>
<h1>Retrieval evaluation</h1>
<p>{result.queries} user photos queried a gallery of {result.gallery} shop pictures (encoders: {encoders});
a hit is a product with the query's <code>pair_id</code>. {result.skipped} queries had no match in the gallery and
{len(result.errors)} could not be read.</p>
<ul>{metrics}</ul>
<p>Blue: the query. Green: the correct product.</p>
<table>{''.join(rows_html)}</table>
</body></html>
"""


def _gallery_png(grid: list[list[tuple[np.ndarray, str, bool | None]]], result: EvaluationResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = max(len(grid), 1)
    columns = max((len(r) for r in grid), default=1)
    figure, axes = plt.subplots(rows, columns, figsize=(1.6 * columns, 1.7 * rows + 0.4), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for r, row in enumerate(grid):
        for c, (thumb, caption, hit) in enumerate(row):
            axis = axes[r][c]
            axis.imshow(thumb)
            axis.set_title(caption, fontsize=6)
            colour = "#3366cc" if hit is None else ("#2a9d3a" if hit else None)
            if colour:
                axis.axis("on")
                axis.set_xticks([])
                axis.set_yticks([])
                for spine in axis.spines.values():
                    spine.set_color(colour)
                    spine.set_linewidth(3)
    accuracy = ", ".join(f"top-{k} {v:.0%}" for k, v in result.top_k.items())
    figure.suptitle(f"{result.queries} queries, gallery {result.gallery}: {accuracy}", fontsize=9)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
