"""Tests for street2shop.dedup.grouping: product pairs (any view), groups, keep policies and the chaining guard."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from street2shop.dedup.grouping import (
    GROUP_COLUMNS,
    PAIR_COLUMNS,
    KeepPolicy,
    ProductTable,
    Thresholds,
    deduplicated_manifest,
    group_products,
    merge_image_pairs,
    product_pairs,
)
from street2shop.errors import InvalidParameter

THRESHOLDS = Thresholds(min_cosine=0.9, max_hamming=6)


def image_pairs(rows: list[tuple[int, int, float]], hashes: list[tuple[int, int, int]] = ()) -> pd.DataFrame:
    cosine = tuple(np.array(v) for v in zip(*rows)) if rows else None
    hamming = tuple(np.array(v) for v in zip(*hashes)) if hashes else None
    return merge_image_pairs(cosine, hamming, THRESHOLDS)


def test_any_view_makes_products_duplicates_and_views_of_one_product_do_not():
    products = np.array(["A", "A", "B", "C", "C"])
    images = np.array(["a1", "a2", "b1", "c1", "c2"])
    pairs = product_pairs(image_pairs([(0, 1, 0.99), (1, 2, 0.93), (0, 2, 0.95), (3, 4, 0.97)], [(1, 2, 1)]), products, images)
    assert list(pairs.columns) == PAIR_COLUMNS
    assert len(pairs) == 1  # A-A and C-C are views of one product
    pair = pairs.iloc[0]
    assert (pair.product_a, pair.product_b) == ("A", "B")
    # The most confident image pair is kept: a2-b1 matched both ways (hash distance 1).
    assert (pair.image_a, pair.image_b, pair.method, pair.image_pairs) == ("a2", "b1", "hash+cnn", 2)
    assert pair.hamming == 1 and math.isclose(pair.cosine, 0.93)


def test_merge_marks_methods_and_margins():
    table = image_pairs([(0, 1, 0.9), (2, 3, 1.0)], [(2, 3, 0), (4, 5, 6)])
    by_rows = {(r.row_a, r.row_b): r for r in table.itertuples()}
    assert by_rows[(0, 1)].method == "cnn" and by_rows[(0, 1)].margin == pytest.approx(0.0)
    assert by_rows[(2, 3)].method == "hash+cnn" and by_rows[(2, 3)].margin == pytest.approx(1.0)
    assert by_rows[(4, 5)].method == "hash" and by_rows[(4, 5)].hamming == 6
    assert 0 < by_rows[(4, 5)].margin < 0.2
    assert merge_image_pairs(None, None, THRESHOLDS).empty


def manifest(products: list[str], **columns: list) -> pd.DataFrame:
    return pd.DataFrame({"image": [f"{p}_{k}.jpg" for k, p in enumerate(products)], "product_id": products, **columns})


def test_groups_are_connected_components_with_the_chosen_keeper():
    rows = manifest(["P1", "P2", "P2", "P3", "P4", "P5", "P5", "P5"], stock=["3", "9", "9", "1", "7", "", "", ""])
    products, images = rows["product_id"].to_numpy(), rows["image"].to_numpy()
    found = product_pairs(image_pairs([(0, 1, 0.97), (2, 3, 0.95), (4, 5, 0.99)]), products, images)
    expectations = {
        "most_views": {1: "P2", 2: "P5"},
        "first_seen": {1: "P1", 2: "P4"},
        "priority:stock": {1: "P2", 2: "P4"},
        "priority:stock:min": {1: "P3", 2: "P4"},
    }
    for text, keepers in expectations.items():
        policy = KeepPolicy.parse(text)
        groups, with_ids = group_products(found, ProductTable.from_manifest(rows, policy=policy), policy, THRESHOLDS)
        assert list(groups.columns) == GROUP_COLUMNS
        assert groups.groupby("group_id")["product_id"].apply(set).to_dict() == {1: {"P1", "P2", "P3"}, 2: {"P4", "P5"}}
        kept = groups[groups["keep"]].set_index("group_id")["product_id"].to_dict()
        assert kept == keepers, text
        assert not groups["flagged"].any()
        assert set(with_ids["group_id"]) == {1, 2}
    deduplicated = deduplicated_manifest(rows, groups)
    assert set(deduplicated["product_id"]) == {"P3", "P4"}


def test_keep_policy_parsing():
    assert KeepPolicy.parse("priority:sale:date:min") == KeepPolicy("priority", "sale:date", False)
    assert KeepPolicy.parse("priority:score") == KeepPolicy("priority", "score", True)
    for bad in ("", "largest", "priority:", "priority::min"):
        with pytest.raises(InvalidParameter):
            KeepPolicy.parse(bad)
    with pytest.raises(InvalidParameter, match="no column"):
        ProductTable.from_manifest(manifest(["A"]), policy=KeepPolicy.parse("priority:score"))


def chain(n: int) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """n products on a line: each a near-duplicate of the next, the ends far apart."""
    rows = manifest([f"P{k}" for k in range(n)])
    angles = np.linspace(0.0, 0.45 * (n - 1), n)  # consecutive cosine ~0.90, ends far apart
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    pairs = [(k, k + 1, float(vectors[k] @ vectors[k + 1])) for k in range(n - 1)]
    found = product_pairs(image_pairs(pairs), rows["product_id"].to_numpy(), rows["image"].to_numpy())
    return rows, found, vectors


def scorer_for(vectors: np.ndarray):
    def score(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.einsum("ij,ij->i", vectors[a], vectors[b]), np.full(len(a), -1)

    return score


def test_chains_are_flagged_not_silently_merged():
    rows, found, vectors = chain(6)
    policy = KeepPolicy.parse("first_seen")
    groups, _ = group_products(found, ProductTable.from_manifest(rows), policy, THRESHOLDS, scorer_for(vectors))
    assert groups["flagged"].all() and groups["group_size"].eq(6).all()
    assert groups["centre"].sum() == 1 and groups.loc[groups["centre"], "product_id"].item() in {"P2", "P3"}
    centre = int(groups.loc[groups["centre"], "product_id"].item()[1:])
    far = set(groups.loc[~groups["close_to_centre"], "product_id"])
    assert far == {f"P{k}" for k in range(6) if abs(k - centre) >= 2}  # two links away: cosine ~0.62
    # Only the keeper's direct duplicate is dropped; the rest wait for a person.
    assert set(groups.loc[~groups["keep"], "product_id"]) == {"P1"}


def test_a_tight_group_is_not_flagged():
    rows = manifest(["A", "B", "C"])
    vectors = np.array([[1.0, 0.0], [0.99, 0.14], [0.99, -0.14]])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    found = product_pairs(image_pairs([(0, 1, 0.99), (0, 2, 0.99)]), rows["product_id"].to_numpy(), rows["image"].to_numpy())
    groups, _ = group_products(found, ProductTable.from_manifest(rows), KeepPolicy(), THRESHOLDS, scorer_for(vectors))
    assert not groups["flagged"].any()
    assert groups.loc[groups["centre"], "product_id"].item() == "A"
    assert groups.set_index("product_id").loc["C", "cosine_to_centre"] == pytest.approx(0.99, abs=1e-6)
    assert groups["keep"].sum() == 1


def test_loose_thresholds_default_and_override():
    assert Thresholds(0.9, 8).loose_cosine == pytest.approx(0.85)
    assert Thresholds(0.9, 8).loose_hamming == 12
    assert Thresholds(0.9, 8, 0.5, 20).loose_cosine == 0.5
    assert group_products(product_pairs(image_pairs([]), np.array([]), np.array([])), ProductTable.from_manifest(manifest([])),
                          KeepPolicy(), THRESHOLDS)[0].empty
