"""Tests for street2shop.dedup.report: review order and the HTML gallery."""

from __future__ import annotations

import numpy as np
import pandas as pd

from street2shop.dedup.report import order_for_review, write_report
from street2shop.images.decode import encode_jpeg
from street2shop.storage.local import LocalImageStore
from street2shop.storage.stores import ImageSource


def pairs_table(margins: list[float], groups: list[int]) -> pd.DataFrame:
    n = len(margins)
    return pd.DataFrame(
        {
            "product_a": [f"A{k}" for k in range(n)], "product_b": [f"B{k}" for k in range(n)],
            "image_a": [f"a{k}.jpg" for k in range(n)], "image_b": [f"b{k}.jpg" for k in range(n)],
            "similarity": [0.9 + m / 10 for m in margins], "method": "cnn", "cosine": [0.9 + m / 10 for m in margins],
            "hamming": -1, "margin": margins, "image_pairs": 1, "group_id": groups,
        }
    )


def groups_table(flagged_group: int, n_groups: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "group_id": range(1, n_groups + 1), "product_id": [f"A{k}" for k in range(n_groups)], "keep": True, "images": 1,
            "first_row": range(n_groups), "centre": True, "cosine_to_centre": 1.0, "hamming_to_centre": -1,
            "close_to_centre": True, "flagged": [g == flagged_group for g in range(1, n_groups + 1)], "group_size": 2,
        }
    )


def test_review_order_puts_flagged_groups_then_the_closest_calls_first():
    pairs = pairs_table([0.9, 0.1, 0.5, 0.8], [1, 2, 3, 4])
    ordered = order_for_review(pairs, groups_table(flagged_group=4, n_groups=4))
    assert list(ordered["product_a"]) == ["A3", "A1", "A2", "A0"]


def test_gallery_shows_pairs_side_by_side_escapes_text_and_survives_missing_pictures(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    picture = np.zeros((400, 300, 3), np.uint8)
    picture[:, :, 0] = 200
    (images / "a0.jpg").write_bytes(encode_jpeg(picture))
    (images / "b0.jpg").write_bytes(encode_jpeg(picture))
    pairs = pairs_table([0.2, 0.6, 0.9], [1, 2, 3])
    pairs.loc[0, "product_a"] = "<script>alert(1)</script>"
    path = write_report(tmp_path / "report", pairs, groups_table(0, 3), source=ImageSource(LocalImageStore(images)),
                        summary={"method": "cnn", "pairs": 3}, max_pairs=2)
    html = path.read_text()
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert html.count('class="pair') == 2  # max_pairs: the two most doubtful
    assert html.index("A1") > html.index("&lt;script")  # margin 0.2 before 0.6
    assert "B2" not in html
    thumbs = sorted((tmp_path / "report" / "thumbs").iterdir())
    assert len(thumbs) == 2 and all(p.stat().st_size > 0 for p in thumbs)
    assert html.count("picture not available") == 2  # a1.jpg and b1.jpg do not exist
    assert "<td>method</td><td>cnn</td>" in html
