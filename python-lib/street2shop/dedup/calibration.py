"""Choose a duplicate threshold from labelled or planted pairs (``calibrate_thresholds``), and score found
duplicates against the truth."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from street2shop.dedup.find import find_duplicates
from street2shop.dedup.hashing import ImageHashes
from street2shop.dedup.params import DedupParams, DedupResult
from street2shop.dedup.stages import read_manifest
from street2shop.errors import InvalidParameter, ManifestError

SWEEP_COLUMNS = ["threshold", "predicted", "true_positives", "false_positives", "false_negatives", "precision", "recall", "f1"]

Pair = tuple[str, str]


def _pair(a: object, b: object) -> Pair:
    a, b = str(a), str(b)
    return (a, b) if a <= b else (b, a)


def pair_set(pairs: Iterable[tuple[object, object]] | pd.DataFrame, columns: Sequence[str] = ("product_a", "product_b")) -> set[Pair]:
    """Unordered pairs as a set of sorted string tuples; self-pairs dropped."""
    if isinstance(pairs, pd.DataFrame):
        pairs = zip(pairs[columns[0]], pairs[columns[1]])
    return {_pair(a, b) for a, b in pairs if str(a) != str(b)}


def _prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    # With nothing predicted and nothing to find, the answer is perfect.
    precision = tp / (tp + fp) if tp + fp else (1.0 if fn == 0 else 0.0)
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    # 12 decimals: pandas 2's default CSV parser reads them back exactly (not so for 17 digits), so the
    # calibration table and the summary that quotes it agree once the table is read again.
    return round(precision, 12), round(recall, 12), round(f1, 12)


def sweep_thresholds(
    scores: np.ndarray,
    labels: np.ndarray,
    thresholds: Sequence[float] | None = None,
    *,
    higher_is_similar: bool = True,
    missed_positives: int = 0,
) -> pd.DataFrame:
    """Precision, recall and F1 of "duplicate when score passes the threshold", for each threshold.

    Args:
        scores: one score per candidate pair (cosine: higher is similar; Hamming: lower is).
        labels: 1 for a true duplicate pair, 0 for a distinct pair.
        thresholds: the thresholds to try (default: every distinct score).
        higher_is_similar: ``score >= t`` predicts a duplicate; else ``score <= t``.
        missed_positives: true pairs that have no score at all (never found as candidates); they
            count as false negatives at every threshold.

    Returns:
        One row per threshold: threshold, predicted, true/false positives, false negatives,
        precision, recall, f1.
    """
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    labels = np.asarray(labels).astype(bool).reshape(-1)
    if len(scores) != len(labels):
        raise InvalidParameter(f"{len(scores)} scores but {len(labels)} labels")
    if thresholds is None:
        thresholds = np.unique(scores)
    thresholds = np.asarray(sorted(float(t) for t in thresholds), dtype=np.float64)
    sign = 1.0 if higher_is_similar else -1.0
    order = np.argsort(-sign * scores, kind="stable")
    ranked, ranked_labels = sign * scores[order], labels[order]
    cum_tp = np.concatenate([[0], np.cumsum(ranked_labels)])
    positives = int(labels.sum()) + int(missed_positives)
    rows = []
    for t in thresholds:
        # Number of pairs whose (signed) score is >= the (signed) threshold.
        predicted = int(np.searchsorted(-ranked, -sign * t, side="right"))
        tp = int(cum_tp[predicted])
        fp, fn = predicted - tp, positives - tp
        precision, recall, f1 = _prf(tp, fp, fn)
        rows.append((t, predicted, tp, fp, fn, precision, recall, f1))
    return pd.DataFrame(rows, columns=SWEEP_COLUMNS)


def recommend_threshold(sweep: pd.DataFrame, *, min_precision: float | None = None, higher_is_similar: bool = True) -> dict:
    """The threshold to use: the best F1 or, with ``min_precision``, the best recall at that precision.

    Ties go to the strictest threshold (fewest pairs for a person to review).
    """
    if sweep.empty:
        raise InvalidParameter("no thresholds to choose from: the sweep is empty")
    table = sweep
    if min_precision is not None:
        table = sweep[sweep["precision"] >= min_precision]
        if table.empty:
            table = sweep.sort_values("precision", ascending=False).head(1)
    key = "recall" if min_precision is not None else "f1"
    best = table[table[key] == table[key].max()]
    row = best.sort_values("threshold", ascending=higher_is_similar).iloc[-1]
    return {column: (row[column].item() if hasattr(row[column], "item") else row[column]) for column in SWEEP_COLUMNS}


def sweep_planted(
    found: pd.DataFrame,
    planted: Iterable[tuple[object, object]] | pd.DataFrame,
    thresholds: Sequence[float],
    *,
    score_column: str,
    higher_is_similar: bool = True,
    columns: Sequence[str] = ("product_a", "product_b"),
) -> pd.DataFrame:
    """:func:`sweep_thresholds` for a catalogue with planted duplicates and no other labels.

    ``found`` holds candidate pairs searched at the loosest threshold with their score; planted
    pairs never found count as misses, and found pairs that were not planted as false positives
    (this assumes the rest of the catalogue is free of duplicates).
    """
    truth = pair_set(planted, columns)
    if found.empty:
        return sweep_thresholds(np.zeros(0), np.zeros(0), thresholds, higher_is_similar=higher_is_similar, missed_positives=len(truth))
    best = found.assign(_key=[_pair(a, b) for a, b in zip(found[columns[0]], found[columns[1]])])
    best = best.sort_values(score_column, ascending=not higher_is_similar).drop_duplicates("_key")
    labels = np.array([key in truth for key in best["_key"]])
    missed = len(truth - set(best["_key"]))
    return sweep_thresholds(
        best[score_column].to_numpy(dtype=np.float64), labels, thresholds, higher_is_similar=higher_is_similar, missed_positives=missed
    )


# --------------------------------------------------------------------------- imagededup-style metrics


def pairs_to_mapping(pairs: Iterable[tuple[object, object]] | pd.DataFrame, items: Iterable[object] = (), columns: Sequence[str] = ("product_a", "product_b")) -> dict[str, list[str]]:
    """``{item: [its duplicates]}`` from unordered pairs, with every item of ``items`` present."""
    mapping: dict[str, list[str]] = {str(item): [] for item in items}
    for a, b in sorted(pair_set(pairs, columns)):
        mapping.setdefault(a, []).append(b)
        mapping.setdefault(b, []).append(a)
    return mapping


def _check_mappings(ground_truth: Mapping[str, Sequence[str]], retrieved: Mapping[str, Sequence[str]]) -> None:
    missing = [key for key in ground_truth if key not in retrieved]
    if missing:
        raise InvalidParameter(
            f"retrieved lacks {len(missing)} item(s) of the ground truth (first: {missing[0]!r}); "
            "give every item, with an empty list when it has no duplicate"
        )


def average_precision(correct: Sequence[str], retrieved: Sequence[str]) -> float:
    """AP of one ranked list: precision at each correct hit, summed, over the number of correct items."""
    if not correct and not retrieved:
        return 1.0
    if not correct or not retrieved:
        return 0.0
    truth = set(correct)
    hits, total = 0, 0.0
    for rank, item in enumerate(retrieved, start=1):
        if item in truth:
            hits += 1
            total += hits / rank
    return total / len(truth)


def ndcg(correct: Sequence[str], retrieved: Sequence[str]) -> float:
    """Normalised discounted cumulative gain of one ranked list (binary relevance)."""
    if not correct and not retrieved:
        return 1.0
    if not correct or not retrieved:
        return 0.0
    truth = set(correct)
    relevance = [1.0 if item in truth else 0.0 for item in retrieved]
    gains = sum(r / math.log2(k + 2) for k, r in enumerate(relevance))
    ideal = sum(r / math.log2(k + 2) for k, r in enumerate(sorted(relevance, reverse=True)))
    return gains / ideal if ideal else 0.0


def jaccard(correct: Sequence[str], retrieved: Sequence[str]) -> float:
    """|correct ∩ retrieved| / |correct ∪ retrieved|; 1 when both are empty."""
    a, b = set(correct), set(retrieved)
    if not a and not b:
        return 1.0
    return len(a & b) / len(a | b)


def pairwise_scores(ground_truth: Mapping[str, Sequence[str]], retrieved: Mapping[str, Sequence[str]]) -> dict:
    """Precision, recall and F1 over unordered duplicate pairs."""
    truth = pair_set((k, v) for k, values in ground_truth.items() for v in values)
    found = pair_set((k, v) for k, values in retrieved.items() for v in values)
    tp = len(truth & found)
    precision, recall, f1 = _prf(tp, len(found) - tp, len(truth) - tp)
    return {"precision": precision, "recall": recall, "f1": f1, "true_pairs": len(truth), "found_pairs": len(found)}


def evaluate(ground_truth: Mapping[str, Sequence[str]], retrieved: Mapping[str, Sequence[str]]) -> dict:
    """imagededup-style scores: mean AP, NDCG and Jaccard over the ground truth's items, and pairwise P/R/F1.

    Both mappings are ``{item: [duplicates]}``; every ground-truth item must be a key of
    ``retrieved`` (an empty list when nothing was found), as imagededup requires. Retrieved lists
    are ranked, most similar first.
    """
    _check_mappings(ground_truth, retrieved)
    keys = list(ground_truth)
    n = max(len(keys), 1)
    scores = {
        "map": sum(average_precision(ground_truth[k], retrieved[k]) for k in keys) / n if keys else 1.0,
        "ndcg": sum(ndcg(ground_truth[k], retrieved[k]) for k in keys) / n if keys else 1.0,
        "jaccard": sum(jaccard(ground_truth[k], retrieved[k]) for k in keys) / n if keys else 1.0,
    }
    scores.update(pairwise_scores(ground_truth, retrieved))
    return scores



# --------------------------------------------------------------------------- calibrating a run's thresholds


DEFAULT_COSINE_SWEEP = tuple(round(0.8 + 0.01 * k, 2) for k in range(20))

DEFAULT_HAMMING_SWEEP = tuple(range(0, 17))


def hashes_by_manifest_row(result: DedupResult, n_manifest: int) -> ImageHashes | None:
    """A result's hashes laid out one per input manifest row (rows never hashed are not ok)."""
    hashes = result.hashes
    if hashes is None:
        return None
    positions = result.items["_row"].to_numpy(dtype=np.int64)
    width = len(hashes.kinds)
    codes = np.zeros((n_manifest, width), np.uint64)
    codes[positions] = hashes.codes
    mirrored = None
    if hashes.mirrored is not None:
        mirrored = np.zeros((n_manifest, width), np.uint64)
        mirrored[positions] = hashes.mirrored
    thumbs = None
    if hashes.thumbs is not None:
        thumbs = np.zeros((n_manifest, *hashes.thumbs.shape[1:]), np.uint8)
        thumbs[positions] = hashes.thumbs
    ok = np.zeros(n_manifest, bool)
    ok[positions] = hashes.ok
    return ImageHashes(hashes.kinds, codes, mirrored, ok, thumbs)


def calibrate_thresholds(
    manifest: str | Path | pd.DataFrame,
    truth: pd.DataFrame,
    *,
    images: Any = None,
    vectors: np.ndarray | None = None,
    vectors_ok: np.ndarray | None = None,
    hashes: ImageHashes | None = None,
    params: DedupParams | None = None,
    cosines: tuple[float, ...] = DEFAULT_COSINE_SWEEP,
    hammings: tuple[int, ...] = DEFAULT_HAMMING_SWEEP,
    min_precision: float | None = None,
) -> tuple[pd.DataFrame, dict]:
    """Precision, recall and F1 of each method over thresholds, and the threshold to use.

    Each method searches once at its loosest threshold; the product pairs' best scores are then
    swept. ``truth`` holds product pairs (product_a, product_b). With a ``label`` column (1: the
    same product, 0: distinct) only those pairs are judged; without it they are planted
    duplicates and every other pair found counts as a false positive.

    Returns:
        (sweep table: method + threshold, predicted, true/false positives, false negatives,
        precision, recall, f1; {method: recommended row}).
    """
    params = (params or DedupParams()).check()
    missing = [c for c in ("product_a", "product_b") if c not in truth.columns]
    if missing:
        raise ManifestError(f"the calibration pairs need columns product_a and product_b; missing: {', '.join(missing)}")
    labelled = "label" in truth.columns
    full = read_manifest(manifest)
    methods = [m for m, usable in (("hash", images is not None or hashes is not None), ("cnn", vectors is not None)) if usable]
    if not methods:
        raise InvalidParameter("calibration needs the pictures (for hashes) or vectors")
    tables, recommended = [], {}
    for method in methods:
        if method == "hash":
            run = DedupParams(**{**params.__dict__, "method": "hash", "max_hamming": int(max(hammings)), "verify": "none"})
            thresholds, column, higher = list(hammings), "hamming", False
        else:
            run = DedupParams(**{**params.__dict__, "method": "cnn", "min_cosine": float(min(cosines)), "verify": "none"})
            thresholds, column, higher = list(cosines), "cosine", True
        result = find_duplicates(full, images=images, vectors=vectors, vectors_ok=vectors_ok, hashes=hashes, params=run)
        if method == "hash" and hashes is None:
            hashes = hashes_by_manifest_row(result, len(full))
        found = result.pairs[["product_a", "product_b", column]]
        if labelled:
            labels = {}
            for a, b, label in zip(truth["product_a"], truth["product_b"], truth["label"]):
                key = tuple(sorted((str(a), str(b))))
                labels[key] = str(label).strip().lower() in ("1", "true", "yes")
            best = {tuple(sorted((str(a), str(b)))): score for a, b, score in zip(found["product_a"], found["product_b"], found[column])}
            judged = [(best[key], label) for key, label in labels.items() if key in best]
            missed = sum(1 for key, label in labels.items() if label and key not in best)
            scores = np.array([score for score, _ in judged], dtype=np.float64)
            flags = np.array([label for _, label in judged], dtype=bool)
            sweep = sweep_thresholds(scores, flags, thresholds, higher_is_similar=higher, missed_positives=missed)
        else:
            sweep = sweep_planted(found, truth, thresholds, score_column=column, higher_is_similar=higher)
        sweep.insert(0, "method", method)
        tables.append(sweep)
        recommended[method] = recommend_threshold(sweep.drop(columns="method"), min_precision=min_precision, higher_is_similar=higher)
    return pd.concat(tables, ignore_index=True), recommended
