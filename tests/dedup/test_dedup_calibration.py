"""Tests for street2shop.dedup.calibration: threshold sweeps, the recommendation, imagededup-style metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from street2shop.dedup.calibration import (
    average_precision,
    evaluate,
    jaccard,
    ndcg,
    pairs_to_mapping,
    recommend_threshold,
    sweep_planted,
    sweep_thresholds,
)
from street2shop.errors import InvalidParameter


def test_sweep_counts_by_hand():
    scores = np.array([0.99, 0.97, 0.95, 0.93, 0.91])
    labels = np.array([1, 1, 0, 1, 0])
    sweep = sweep_thresholds(scores, labels, [0.9, 0.94, 0.96, 1.0], missed_positives=1).set_index("threshold")
    # At 0.94: predicted 0.99, 0.97, 0.95 -> tp 2, fp 1; positives 3 + 1 missed -> fn 2.
    row = sweep.loc[0.94]
    assert (row.predicted, row.true_positives, row.false_positives, row.false_negatives) == (3, 2, 1, 2)
    assert row.precision == pytest.approx(2 / 3) and row.recall == pytest.approx(0.5)
    assert row.f1 == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert sweep.loc[1.0, "predicted"] == 0 and sweep.loc[1.0, "precision"] == 0.0
    assert sweep.loc[0.9, "recall"] == pytest.approx(0.75)


def test_hamming_sweep_and_recommendation():
    distances = np.array([0, 1, 2, 5, 6, 9])
    labels = np.array([1, 1, 1, 1, 0, 0])
    sweep = sweep_thresholds(distances, labels, range(0, 11), higher_is_similar=False)
    best = recommend_threshold(sweep, higher_is_similar=False)
    assert best["threshold"] == 5 and best["f1"] == 1.0
    strict = recommend_threshold(sweep, min_precision=1.0, higher_is_similar=False)
    assert strict["threshold"] == 5 and strict["recall"] == 1.0
    cosines = sweep_thresholds(np.array([0.99, 0.9, 0.8]), np.array([1, 1, 0]), [0.85, 0.88, 0.95])
    # F1 ties at 0.85 and 0.88: the stricter (higher) cosine is recommended.
    assert recommend_threshold(cosines)["threshold"] == 0.88
    with pytest.raises(InvalidParameter):
        recommend_threshold(cosines.iloc[0:0])
    with pytest.raises(InvalidParameter):
        sweep_thresholds(np.zeros(3), np.zeros(2))


def test_planted_sweep_counts_unfound_plants_as_misses():
    found = pd.DataFrame(
        {"product_a": ["A", "D", "B", "X"], "product_b": ["B", "C", "A", "Y"], "cosine": [0.97, 0.93, 0.95, 0.91]}
    )
    planted = [("B", "A"), ("C", "D"), ("E", "F")]
    sweep = sweep_planted(found, planted, [0.9, 0.92, 0.96], score_column="cosine").set_index("threshold")
    assert sweep.loc[0.9, "true_positives"] == 2 and sweep.loc[0.9, "false_positives"] == 1
    assert sweep.loc[0.9, "false_negatives"] == 1  # E-F was never found
    assert sweep.loc[0.96, "predicted"] == 1 and sweep.loc[0.96, "recall"] == pytest.approx(1 / 3)
    empty = sweep_planted(found.iloc[0:0], planted, [0.9], score_column="cosine")
    assert empty.loc[0, "recall"] == 0.0


def test_imagededup_style_metrics_by_hand():
    assert average_precision(["b", "c"], ["b", "x", "c"]) == pytest.approx((1 / 1 + 2 / 3) / 2)
    assert average_precision([], []) == 1.0 and average_precision(["b"], []) == 0.0
    assert jaccard(["b", "c"], ["c", "d"]) == pytest.approx(1 / 3)
    assert ndcg(["b"], ["x", "b"]) == pytest.approx((1 / np.log2(3)) / 1.0)
    truth = pairs_to_mapping([("a", "b"), ("a", "c")], items=["a", "b", "c", "d"])
    assert truth == {"a": ["b", "c"], "b": ["a"], "c": ["a"], "d": []}
    retrieved = {"a": ["b"], "b": ["a"], "c": ["d"], "d": ["c"]}
    scores = evaluate(truth, retrieved)
    assert scores["precision"] == 0.5 and scores["recall"] == 0.5 and scores["f1"] == 0.5
    assert scores["true_pairs"] == 2 and scores["found_pairs"] == 2
    # AP: a 1/2, b 1, c 0, d 0 (retrieved something, nothing correct).
    assert scores["map"] == pytest.approx((0.5 + 1 + 0 + 0) / 4)
    assert scores["jaccard"] == pytest.approx((0.5 + 1 + 0 + 0) / 4)
    with pytest.raises(InvalidParameter, match="lacks"):
        evaluate(truth, {"a": []})
