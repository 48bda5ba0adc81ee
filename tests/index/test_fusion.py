"""Fusion: fitted part weights favour the informative part; re-ranking puts agreeing types first."""

from __future__ import annotations

import numpy as np
import pytest

from street2shop.errors import InvalidParameter
from street2shop.index.fusion import fit_part_weights, fused_scores, rerank_by_attributes, split_parts
from street2shop.ranking import product_ranks, retrieval_scores


def synthetic_parts(n_products: int = 60, seed: int = 0):
    """An informative part (query = product + small noise) and a noise part (unrelated to the product)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_products, 16))
    gallery = {"signal": centres + 0.1 * rng.normal(size=centres.shape), "noise": rng.normal(size=(n_products, 16))}
    queries = {"signal": centres + 0.9 * rng.normal(size=centres.shape), "noise": rng.normal(size=(n_products, 16))}
    pairs = np.array([f"pair{i}" for i in range(n_products)])
    products = np.array([f"p{i}" for i in range(n_products)])
    return queries, gallery, pairs, pairs.copy(), products


def test_fitted_weights_prefer_the_informative_part():
    queries, gallery, query_pairs, gallery_pairs, products = synthetic_parts()
    fit = fit_part_weights(queries, gallery, query_pairs, gallery_pairs, products, objective="mrr", step=0.1)
    shares = dict(zip(fit.names, fit.shares))
    assert shares["signal"] > 0.8 > shares["noise"]
    assert fit.weights["signal"] > fit.weights["noise"] >= 1e-3
    # The fitted weights do better than equal weights on the pairs they were fitted on.
    assert fit.validation["fitted"]["mrr"] > fit.validation["equal_weights"]["mrr"]
    assert fit.validation["queries"] == 60
    # Fitted on 60 queries: no small-set warning; with 20 there is one.
    assert not any("unreliable" in w for w in fit.warnings)
    small = fit_part_weights({k: v[:20] for k, v in queries.items()}, gallery, query_pairs[:20], gallery_pairs, products)
    assert any("unreliable" in w for w in small.warnings)


def test_model_weights_reproduce_the_fitted_similarity():
    queries, gallery, *_ = synthetic_parts(10)
    # The embedder concatenates w_p * unit part vectors and normalises: the inner product is
    # sum_p w_p^2 <q_p, g_p> / sum w^2, so sqrt(share) weights give the shares.
    weights = {"signal": 0.9, "noise": 0.3}
    concat = lambda parts: np.concatenate([w * parts[n] / np.linalg.norm(parts[n], axis=1, keepdims=True) for n, w in weights.items()], axis=1)
    q, g = concat(queries), concat(gallery)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    g /= np.linalg.norm(g, axis=1, keepdims=True)
    np.testing.assert_allclose(q @ g.T, fused_scores(queries, gallery, weights), atol=1e-5)
    layout = [{"name": "signal", "start": 0, "dim": 16}, {"name": "noise", "start": 16, "dim": 16}]
    recovered = split_parts(g, layout)
    np.testing.assert_allclose(recovered["noise"], gallery["noise"] / np.linalg.norm(gallery["noise"], axis=1, keepdims=True), atol=1e-5)


def test_product_ranks_use_the_best_view_and_pair_ids():
    scores = np.array([[0.9, 0.8, 0.7, 0.1], [0.2, 0.3, 0.1, 0.95]])
    gallery_products = ["a", "a", "b", "c"]
    gallery_pairs = ["x", "x", "y", "z"]
    ranks = product_ranks(scores, ["y", "z"], gallery_pairs, gallery_products)
    # Query 1: product a (best view 0.9) beats b (0.7): b ranks 2, not 3 (a's two views count once).
    assert ranks.tolist() == [2, 1]
    assert product_ranks(scores, ["nowhere", "z"], gallery_pairs, gallery_products).tolist() == [0, 1]
    assert retrieval_scores(np.array([2, 1, 0]), ks=(1, 10))["top_k"] == {"1": 0.3333, "10": 0.6667}


def test_fit_refuses_bad_input():
    queries, gallery, query_pairs, gallery_pairs, products = synthetic_parts(5)
    with pytest.raises(InvalidParameter, match="objective"):
        fit_part_weights(queries, gallery, query_pairs, gallery_pairs, products, objective="accuracy")
    with pytest.raises(InvalidParameter, match="same"):
        fit_part_weights({"signal": queries["signal"]}, gallery, query_pairs, gallery_pairs, products)
    with pytest.raises(InvalidParameter, match="no validation query"):
        fit_part_weights(queries, gallery, ["q"] * 5, gallery_pairs, products)


def test_rerank_puts_agreeing_types_first():
    results = [
        {"product_id": "p1", "score": 0.90, "labels": {"type": "skirts", "colours": "red"}},
        {"product_id": "p2", "score": 0.88, "labels": {"type": "dresses", "colours": "blue"}},
        {"product_id": "p3", "score": 0.80, "labels": {"type": "dresses", "colours": "red"}},
        {"product_id": "p4", "score": 0.50, "labels": {"type": "skirts", "colours": "red"}},
    ]
    reranked = rerank_by_attributes(results, {"type": "dresses"}, bonus={"type": 2.0})
    assert [hit["product_id"] for hit in reranked] == ["p2", "p3", "p1", "p4"]
    assert reranked[0]["agreement"] == {"type": 1.0} and reranked[0]["score"] == 0.88
    # Probabilities (QueryAnswer.attributes form) and a small default bonus: agreement moves close calls only.
    soft = rerank_by_attributes(results, {"type": [{"class": "dresses", "probability": 0.8}, {"class": "skirts", "probability": 0.2}]})
    assert [hit["product_id"] for hit in soft] == ["p2", "p1", "p3", "p4"]
    # Item attributes given apart; only the top 2 re-ranked.
    items = {"p1": {"type": "dresses"}, "p2": {"type": "skirts"}, "p3": {"type": "dresses"}, "p4": {"type": "dresses"}}
    partial = rerank_by_attributes(results, {"type": "dresses"}, item_attributes=items, bonus={"type": 2.0}, depth=2)
    assert [hit["product_id"] for hit in partial] == ["p1", "p2", "p3", "p4"]
    assert partial[1]["agreement"] == {"type": 0.0}
