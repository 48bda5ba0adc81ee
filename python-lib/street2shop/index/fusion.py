"""Fusion of embedding parts: fit each part's weight on validation user->shop pairs, and re-rank by predicted attributes.

An index vector is the concatenation of its parts (one per encoder), each L2-normalised and
multiplied by its model weight ``w_p``, then normalised as a whole. Since each part has unit
length, the whole has length ``sqrt(sum w_p^2)`` for every picture, so the inner product of two
index vectors is ``sum_p a_p <q_p, g_p>`` with ``a_p = w_p^2 / sum w^2``: fitting the fusion is
choosing ``a`` on the simplex, and the model weights to embed with are ``sqrt(a_p)``.
"""

from __future__ import annotations

import itertools
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from street2shop.errors import InvalidParameter
from street2shop.ranking import product_ranks, retrieval_scores

logger = logging.getLogger(__name__)

OBJECTIVES = ("mrr", "top10")
#: Below this many validation queries the fitted weights are flagged as unreliable.
SMALL_VALIDATION = 50
#: The smallest model weight written (the embedder refuses 0); a part this light could be dropped.
MIN_WEIGHT = 1e-3
#: Default re-ranking bonus per attribute agreement; type first.
DEFAULT_BONUS = {"type": 0.1}
DEFAULT_OTHER_BONUS = 0.02


@dataclass
class FusionFit:
    """Fitted part weights and how they scored on the validation pairs."""

    names: list[str]
    shares: list[float]  # a_p on the simplex: each part's share of the similarity
    model_weights: list[float]  # sqrt(a_p), for make_embedder(model_weights=...) / embed --model-weights
    objective: str
    validation: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def weights(self) -> dict[str, float]:
        """``{part name: model weight}``."""
        return dict(zip(self.names, self.model_weights))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (what ``street2shop fit-weights`` prints)."""
        return {**asdict(self), "weights": self.weights}


def split_parts(vectors: np.ndarray, layout: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Per-part unit vectors from concatenated vectors and the layout recorded in ``index.json``.

    Raises:
        InvalidParameter: the layout does not cover the vectors' dimensions.
    """
    vectors = np.asarray(vectors, dtype=np.float32)
    end = max((int(p["start"]) + int(p["dim"]) for p in layout), default=0)
    if vectors.ndim != 2 or vectors.shape[1] != end:
        raise InvalidParameter(f"vectors of shape {vectors.shape} do not match a layout of {end} dimensions")
    return {str(p["name"]): _normalise(vectors[:, int(p["start"]) : int(p["start"]) + int(p["dim"])]) for p in layout}


def reweighted(vectors: np.ndarray, layout: Sequence[Mapping[str, Any]], weights: Sequence[float]) -> np.ndarray:
    """Concatenated vectors with new part weights, as an embedder with those weights makes them.

    Each part is L2-normalised (its old weight drops out), multiplied by its weight, and the
    whole is normalised again: no picture needs encoding a second time.
    """
    parts = split_parts(vectors, layout)
    if len(weights) != len(parts):
        raise InvalidParameter(f"{len(weights)} weight(s) for {len(parts)} part(s)")
    joined = np.concatenate([parts[str(p["name"])] * float(w) for p, w in zip(layout, weights)], axis=1)
    return _normalise(joined)


def stored_vectors(vector_index: Any) -> np.ndarray:
    """All vectors of a :class:`~street2shop.index.vectors.VectorIndex` (flat, IVF or HNSW), in item order."""
    import faiss

    index = vector_index.index_
    try:
        return np.asarray(index.reconstruct_n(0, index.ntotal), dtype=np.float32)
    except RuntimeError:  # an IVF index reconstructs only with its direct map
        faiss.extract_index_ivf(index).make_direct_map()
        return np.asarray(index.reconstruct_n(0, index.ntotal), dtype=np.float32)


def fit_part_weights(
    query_parts: Mapping[str, np.ndarray],
    gallery_parts: Mapping[str, np.ndarray],
    query_pairs: Sequence[str],
    gallery_pairs: Sequence[str],
    gallery_products: Sequence[str],
    *,
    objective: str = "mrr",
    step: float = 0.1,
    tolerance: float = 0.5,
    max_grid: int = 6000,
) -> FusionFit:
    """Fit each part's share of the similarity on validation user->shop pairs.

    A grid on the simplex (step ``step``) when it has at most ``max_grid`` points, else
    coordinate ascent on the same grid from equal weights. Against overfitting a small
    validation set, the weights returned are not the single best grid point but the mean of
    all points scoring within ``tolerance`` standard errors of the best (the centre of the
    plateau), which is then scored too.

    Args:
        query_parts / gallery_parts: ``{part name: (n, d) vectors}`` (normalised here), same names.
        query_pairs: each query's pair id; gallery_pairs / gallery_products: each gallery item's.
        objective: ``mrr`` (mean reciprocal rank, smoother) or ``top10`` (hit rate at 10).

    Raises:
        InvalidParameter: mismatched parts or sizes, an unknown objective, no query with a match.
    """
    if objective not in OBJECTIVES:
        raise InvalidParameter(f"unknown objective {objective!r}; choose one of {', '.join(OBJECTIVES)}")
    names = list(query_parts)
    if not names or set(names) != set(gallery_parts):
        raise InvalidParameter(f"query parts {sorted(query_parts)} and gallery parts {sorted(gallery_parts)} must be the same, non-empty")
    if not 0.0 < step <= 0.5 or abs(round(1.0 / step) - 1.0 / step) > 1e-6:
        raise InvalidParameter(f"step must divide 1 (0.5, 0.25, 0.2, 0.1, 0.05...), got {step}")
    similarities = np.stack([_normalise(query_parts[n]) @ _normalise(gallery_parts[n]).T for n in names])
    if similarities.shape[1] != len(query_pairs) or similarities.shape[2] != len(gallery_pairs) or len(gallery_pairs) != len(gallery_products):
        raise InvalidParameter("query/gallery vectors, pair ids and product ids have different lengths")
    matched = np.isin(np.asarray(query_pairs, dtype=str), np.asarray(gallery_pairs, dtype=str))
    if not matched.any():
        raise InvalidParameter("no validation query has a pair id present in the gallery: nothing to fit")
    similarities = similarities[:, matched]
    query_pairs = np.asarray(query_pairs, dtype=str)[matched]

    def evaluate(shares: np.ndarray) -> tuple[float, np.ndarray]:
        ranks = product_ranks(np.tensordot(shares, similarities, axes=1), query_pairs, gallery_pairs, gallery_products)
        per_query = 1.0 / ranks if objective == "mrr" else (ranks <= 10).astype(float)
        return float(per_query.mean()), per_query

    units = round(1.0 / step)
    count = math.comb(units + len(names) - 1, len(names) - 1)
    if count <= max_grid:
        grid = np.array([c for c in _compositions(units, len(names))], dtype=np.float64) / units
        scored = [(evaluate(point)[0], point) for point in grid]
    else:
        scored = _coordinate_ascent(evaluate, len(names), units)
    values = np.array([value for value, _ in scored])
    best_value = float(values.max())
    _, best_per_query = evaluate(scored[int(values.argmax())][1])
    standard_error = float(best_per_query.std(ddof=1) / math.sqrt(len(best_per_query))) if len(best_per_query) > 1 else 0.0
    plateau = np.array([point for value, point in scored if value >= best_value - tolerance * standard_error])
    shares = plateau.mean(axis=0)
    shares = shares / shares.sum()
    uniform = np.full(len(names), 1.0 / len(names))

    def summary(point: np.ndarray) -> dict[str, Any]:
        ranks = product_ranks(np.tensordot(point, similarities, axes=1), query_pairs, gallery_pairs, gallery_products)
        return retrieval_scores(ranks)

    warnings = []
    if len(query_pairs) < SMALL_VALIDATION:
        warnings.append(
            f"only {len(query_pairs)} validation queries (fewer than {SMALL_VALIDATION}): the weights are unreliable; "
            "equal weights may generalise as well"
        )
    weights = [max(MIN_WEIGHT, math.sqrt(share)) for share in shares]
    light = [name for name, share in zip(names, shares) if share < MIN_WEIGHT**2 * 10]
    if light:
        warnings.append(f"part(s) {', '.join(light)} got (almost) no weight: they could be left out of the index")
    validation = {
        "queries": int(len(query_pairs)),
        "queries_without_match": int((~matched).sum()),
        "gallery": int(similarities.shape[2]),
        "grid_points": len(scored),
        "plateau_points": int(len(plateau)),
        "best_point": dict(zip(names, (round(float(v), 4) for v in scored[int(values.argmax())][1]))),
        "best_point_objective": round(best_value, 4),
        "standard_error": round(standard_error, 4),
        "equal_weights": summary(uniform),
        "fitted": summary(shares),
    }
    logger.info(
        "fitted part shares on %d validation queries: %s (top-10 %.3f with equal weights, %.3f fitted)",
        len(query_pairs), dict(zip(names, np.round(shares, 3).tolist())),
        validation["equal_weights"]["top_k"]["10"], validation["fitted"]["top_k"]["10"],
    )
    return FusionFit(
        names=names,
        shares=[round(float(s), 6) for s in shares],
        model_weights=[round(w, 6) for w in weights],
        objective=objective,
        validation=validation,
        warnings=warnings,
    )


def fused_scores(query_parts: Mapping[str, np.ndarray], gallery_parts: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """The similarity an index built with these model weights gives: ``sum_p w_p^2 <q_p, g_p> / sum w^2``."""
    total = sum(float(w) ** 2 for w in weights.values())
    if total <= 0:
        raise InvalidParameter("at least one weight must be positive")
    return sum(
        (float(w) ** 2 / total) * (_normalise(query_parts[name]) @ _normalise(gallery_parts[name]).T)
        for name, w in weights.items()
    )


def rerank_by_attributes(
    results: Sequence[Mapping[str, Any]],
    query_attributes: Mapping[str, Any],
    *,
    item_attributes: Mapping[str, Mapping[str, Any]] | None = None,
    bonus: Mapping[str, float] | None = None,
    depth: int | None = None,
) -> list[dict[str, Any]]:
    """Re-rank search results by how well each candidate's attributes agree with the query's.

    Each candidate's score gets ``sum_a bonus[a] * agreement_a``, type first (the largest bonus
    by default: :data:`DEFAULT_BONUS`, other attributes :data:`DEFAULT_OTHER_BONUS`). Scores are
    cosine similarities, so a bonus of 2 or more makes type agreement decide before similarity.

    Args:
        results: hits as ``SearchIndex.search_*`` returns them (``product_id``, ``score``, ...), best first.
        query_attributes: per attribute, the query's prediction: a ``'|'``-joined label string,
            a list of labels, ``{label: probability}``, or ``[{"class": .., "probability": ..}]``
            (``QueryAnswer.attributes``).
        item_attributes: per product id, ``{attribute: labels}``; otherwise each hit's own
            ``attributes`` then ``labels`` dict is used (the item's label or predicted columns).
        bonus: per attribute, the score added for full agreement.
        depth: re-rank only the first ``depth`` results (the rest keep their order after them).

    Returns:
        New hit dicts, best first, each with ``rerank_score`` and ``agreement`` added.

    Agreement: with probabilities, the probability mass of the query's classes that the item
    has; with plain labels, the Jaccard overlap of the two label sets.
    """
    depth = len(results) if depth is None else int(depth)
    if depth < 0:
        raise InvalidParameter(f"depth must be at least 0, got {depth}")
    bonus = {name: float(value) for name, value in (bonus if bonus is not None else _default_bonus(query_attributes)).items()}
    rescored = []
    for position, hit in enumerate(results[:depth]):
        labels = _item_labels(hit, item_attributes)
        agreement = {}
        for name, weight in bonus.items():
            if name in query_attributes and name in labels and weight:
                agreement[name] = round(_agreement(query_attributes[name], labels[name]), 4)
        score = float(hit.get("score", 0.0)) + sum(bonus[name] * value for name, value in agreement.items())
        rescored.append((-score, position, {**hit, "rerank_score": round(score, 6), "agreement": agreement}))
    rescored.sort(key=lambda item: (item[0], item[1]))
    return [hit for _, _, hit in rescored] + [dict(hit) for hit in results[depth:]]


def _default_bonus(query_attributes: Mapping[str, Any]) -> dict[str, float]:
    return {name: DEFAULT_BONUS.get(name, DEFAULT_OTHER_BONUS) for name in query_attributes}


def _item_labels(hit: Mapping[str, Any], item_attributes: Mapping[str, Mapping[str, Any]] | None) -> Mapping[str, Any]:
    if item_attributes is not None and str(hit.get("product_id")) in item_attributes:
        return item_attributes[str(hit.get("product_id"))]
    merged: dict[str, Any] = {}
    for key in ("labels", "attributes"):
        if isinstance(hit.get(key), Mapping):
            merged.update(hit[key])
    return merged


def _label_set(value: Any) -> set[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return set()
    if isinstance(value, str):
        return {part.strip().lower() for part in value.split("|") if part.strip()}
    if isinstance(value, Mapping):
        return {str(k).strip().lower() for k, v in value.items() if v}
    return {str(part).strip().lower() for part in value if str(part).strip()}


def _probabilities(value: Any) -> dict[str, float] | None:
    """``{label: probability}`` when the value carries probabilities, else None."""
    if isinstance(value, Mapping) and value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values()):
        return {str(k).strip().lower(): float(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Mapping) and "class" in v for v in value):
        return {str(v["class"]).strip().lower(): float(v.get("probability", 1.0)) for v in value}
    return None


def _agreement(query: Any, item: Any) -> float:
    item_labels = _label_set(item)
    probabilities = _probabilities(query)
    if probabilities is not None:
        total = sum(probabilities.values())
        return sum(p for label, p in probabilities.items() if label in item_labels) / total if total > 0 else 0.0
    query_labels = _label_set(query)
    union = query_labels | item_labels
    return len(query_labels & item_labels) / len(union) if union else 0.0


def _compositions(total: int, parts: int):
    """All ways to write ``total`` as an ordered sum of ``parts`` non-negative integers."""
    for cuts in itertools.combinations(range(total + parts - 1), parts - 1):
        bounds = (-1, *cuts, total + parts - 1)
        yield [bounds[i + 1] - bounds[i] - 1 for i in range(parts)]


def _coordinate_ascent(evaluate, parts: int, units: int, passes: int = 4) -> list[tuple[float, np.ndarray]]:
    """Move one grid unit of share between two parts while it helps; every point visited is returned."""
    point = np.full(parts, units // parts)
    point[: units - point.sum()] += 1
    visited = {tuple(point): evaluate(point / units)[0]}
    for _ in range(passes):
        improved = False
        for giver, taker in itertools.permutations(range(parts), 2):
            while point[giver] > 0:
                candidate = point.copy()
                candidate[giver] -= 1
                candidate[taker] += 1
                key = tuple(candidate)
                if key not in visited:
                    visited[key] = evaluate(candidate / units)[0]
                if visited[key] > visited[tuple(point)]:
                    point, improved = candidate, True
                else:
                    break
        if not improved:
            break
    return [(value, np.array(key, dtype=np.float64) / units) for key, value in visited.items()]


def _normalise(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
