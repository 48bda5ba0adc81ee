"""The end-to-end jobs behind the CLI and the DSS recipes: each takes plain inputs and makes one output."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from street2shop.models.embedder import Embedder, EncoderWeighting
from street2shop.errors import InvalidParameter, ManifestError
from street2shop.evaluation.retrieval import DEFAULT_KS, EvaluationResult, evaluate_retrieval
from street2shop.images.decode import DEFAULT_MAX_PIXELS
from street2shop.index.folder import BuildReport, build_index
from street2shop.manifest import read_table
from street2shop.index.search import SearchIndex
from street2shop.segmentation.step import RECORD_KEYS, SegmentStep, record_difference, segment_step, takes_garment
from street2shop.segmentation.params import SegmentParams
from street2shop.storage.stores import ImageSource, open_image_store, open_published
from street2shop.synthesis.queries import DEFAULT_PRODUCTS, SYNTHESISED, SyntheticQueries

logger = logging.getLogger(__name__)


def image_source(images: Any) -> ImageSource:
    """An ``ImageSource`` from a directory, an ``s3://`` prefix, an image store or a source."""
    if isinstance(images, ImageSource):
        return images
    if isinstance(images, (str, Path)):
        return ImageSource(open_image_store(images))
    return ImageSource(images)


def make_embedder(
    *,
    models: Sequence[str | Path] | None = None,
    model_weights: Sequence[float] | Mapping[str, float] | None = None,
    encoding_layer: str | None = None,
    backbone: str = "resnet50",
    weights: str | Path | None = "none",
    image_size: int | None = None,
    descriptors: int | None = None,
) -> Embedder:
    """The encoders to embed with: saved model folders when given, else a backbone feature extractor.

    Args:
        models: encoder folders or trained model folders (``street2shop train``); each model's
            encoding is L2-normalised, weighted and concatenated. Names must differ; a repeated
            name gets a ``-2``, ``-3``... suffix.
        model_weights: one weight per model, in order, or ``{model name: weight}`` (default 1).
        encoding_layer: trained models only: the layer whose output is the encoding.
        descriptors: add the garment descriptors (``street2shop.models.descriptors``, no weights) as a
            last part, at this input size.
    """
    from street2shop.models.backbones import backbone_encoder
    from street2shop.models.encoder import load_encoder

    if not models and model_weights and not descriptors:
        raise InvalidParameter("model weights are given but no models")
    encoders = [] if models else [backbone_encoder(backbone, weights, image_size)]
    for path in models or []:
        directory = open_published(path).materialize(None) if _published_copy(path) else Path(path)
        encoders.append(load_encoder(directory, layer=encoding_layer))
    if descriptors:
        from street2shop.models.descriptors import descriptor_encoder

        encoders.append(descriptor_encoder(descriptors))
    seen: dict[str, int] = {}
    for encoder in encoders:
        seen[encoder.name] = seen.get(encoder.name, 0) + 1
        if seen[encoder.name] > 1:
            encoder.name = f"{encoder.name}-{seen[encoder.name]}"
    return Embedder(list(zip(encoders, _weights_for(encoders, model_weights))))


def _published_copy(path: str | Path) -> bool:
    """Whether ``path`` is a published folder with versions (a pointer file) rather than the files themselves."""
    from street2shop.storage.stores import POINTER_FILE

    return (Path(path) / POINTER_FILE).is_file()


def _weights_for(encoders: Sequence[Any], model_weights: Sequence[float] | Mapping[str, float] | None) -> list[float]:
    if model_weights is None:
        return [1.0] * len(encoders)
    if isinstance(model_weights, Mapping):
        names = {encoder.name for encoder in encoders}
        unknown = sorted(set(model_weights) - names)
        if unknown:
            raise InvalidParameter(f"weights given for unknown model(s) {', '.join(unknown)}; the models are: {', '.join(sorted(names))}")
        values = [model_weights.get(encoder.name, 1.0) for encoder in encoders]
    else:
        values = list(model_weights)
        if len(values) != len(encoders):
            raise InvalidParameter(f"{len(values)} model weight(s) for {len(encoders)} model(s): give one per model")
    try:
        return [float(value) for value in values]
    except (TypeError, ValueError) as err:
        raise InvalidParameter(f"model weights must be numbers, got {values}") from err


def embed_catalogue(
    *,
    manifest: str | Path | pd.DataFrame,
    images: Any,
    output: Any,
    models: Sequence[str | Path] | None = None,
    model_weights: Sequence[float] | Mapping[str, float] | None = None,
    encoding_layer: str | None = None,
    backbone: str = "resnet50",
    weights: str | Path | None = "none",
    image_size: int | None = None,
    batch_size: int = 32,
    index_type: str = "flat",
    max_pixels: int = DEFAULT_MAX_PIXELS,
    segment: SegmentParams | bool | None = None,
    mask_model: str | Path | None = None,
    descriptors: int | None = None,
    fit_queries: str | Path | pd.DataFrame | None = None,
    fit_split: str | None = "val",
    fit_objective: str = "mrr",
    fit_synthesised: int | None = None,
) -> BuildReport:
    """Embed a catalogue's pictures and publish its index folder (``street2shop embed``, recipe ``street2shop-embed``).

    Args:
        segment: cut the garment out of each picture before encoding it (True: default
            parameters). The settings are recorded in ``index.json`` and the mask model bundled
            in the index, so search, evaluation and serving segment queries the same way.
        mask_model: a mask model folder (``street2shop.segmentation.mask_model``) guiding the segmentation.
        descriptors: add the garment descriptors as a part, at this input size.
        fit_queries: user photos with ``pair_id`` (read from ``images`` too): fit the parts'
            weights on them (:func:`street2shop.index.fusion.fit_part_weights`) and index with those;
            the fit is recorded in ``index.json``'s ``fusion``.
        fit_split: only the queries of this ``split`` (e.g. ``val``: never fit on test photos);
            None: all of them.
        fit_synthesised: fit on synthesised user photos of up to this many catalogue products
            (:mod:`street2shop.synthesis.queries`) when ``fit_queries`` is None or holds no usable
            photo; None: never. ``fusion.pairs`` records which: ``real`` or ``synthesised``.

    With segmentation on, each part is given what it expects (``segment_option.takes_garment``):
    the cut-out garment for feature extractors, descriptors and models trained with
    ``--segment``, the whole picture for models trained on whole pictures. A model trained with
    other segment settings than these is used all the same, with a warning.
    """
    frame = read_table(manifest)
    step = segment_step(segment, mask_model)
    embedder = make_embedder(
        models=models,
        model_weights=model_weights,
        encoding_layer=encoding_layer,
        backbone=backbone,
        weights=weights,
        image_size=image_size,
        descriptors=descriptors,
    )
    embedder.transform = step
    if step is not None:
        embedder.parts = [EncoderWeighting(p.encoder, p.weight, takes_garment(p.encoder)) for p in embedder.parts]
    if models:
        warn_segment_mismatch(embedder, step)
    source = image_source(images)
    queries = read_table(fit_queries) if fit_queries is not None else None

    if fit_synthesised is not None and fit_synthesised < 2:
        raise InvalidParameter(f"synthesised pairs need at least 2 products, got {fit_synthesised}")
    fitting = queries is not None or fit_synthesised is not None

    def fit_on_queries(vectors: np.ndarray, items: pd.DataFrame) -> tuple[list[float], dict[str, Any]]:
        fallback = None
        if queries is not None:
            try:
                fit = fit_weights_on_queries(
                    embedder, vectors, items, queries, source, split=fit_split, objective=fit_objective, batch_size=batch_size
                )
                return fit.model_weights, {**fit.as_dict(), "pairs": "real"}
            except ManifestError as err:
                if fit_synthesised is None:
                    raise
                fallback = str(err)
                logger.warning("cannot fit the part weights on the user photos (%s): fitting on synthesised pairs instead", err)
        else:
            logger.info("no user photos to fit the part weights on: fitting on synthesised user->shop pairs")
        fit, synthetic = fit_weights_on_synthesised(
            embedder, vectors, items, source, products=int(fit_synthesised), objective=fit_objective,
            batch_size=batch_size, max_pixels=max_pixels,
        )
        record = {**fit.as_dict(), "pairs": SYNTHESISED, "synthesis": synthetic.record()}
        if fallback is not None:
            record["fallback_reason"] = fallback
        return fit.model_weights, record

    settings = {
        "backbone": backbone if not models else None,
        "weights": str(weights) if not models else None,
        "models": [part.encoder.name for part in embedder.parts] if models else None,
        "descriptors": descriptors,
    }
    return build_index(
        frame,
        source,
        embedder,
        output,
        index_type=index_type,
        batch_size=batch_size,
        max_pixels=max_pixels,
        settings=settings,
        fit_weights=fit_on_queries if fitting else None,
    )


def fit_weights_on_queries(
    embedder: Embedder,
    vectors: np.ndarray,
    items: pd.DataFrame,
    queries: pd.DataFrame,
    source: Any,
    *,
    split: str | None = "val",
    objective: str = "mrr",
    step: float = 0.1,
    batch_size: int = 32,
) -> Any:
    """Fit the part weights of a catalogue's vectors on user photos whose ``pair_id`` it holds.

    Returns:
        A :class:`street2shop.index.fusion.FusionFit` (weights in the embedder's part order).

    Raises:
        InvalidParameter: fewer than two parts.
        ManifestError: no usable query (no pair_id, none in the catalogue, none in ``split``).
    """
    from street2shop.evaluation.retrieval import queries_in_gallery

    if len(embedder.parts) < 2:
        raise InvalidParameter("fitting weights needs an embedding of at least two parts (models, descriptors)")
    if "pair_id" not in items.columns:
        raise ManifestError("the catalogue has no pair_id column: nothing links the user photos to its products")
    rows = queries_in_gallery(queries, items)
    if split is not None:
        if "split" not in rows.columns:
            raise ManifestError(f"the queries have no 'split' column to pick split {split!r} from")
        rows = rows[rows["split"].astype(str) == split].reset_index(drop=True)
    if rows.empty:
        raise ManifestError("no user photo whose pair_id is in the catalogue" + (f" (split {split})" if split else "") + ": nothing to fit weights on")
    embedded = embedder.embed_source(source, rows["image"].tolist(), batch_size=batch_size, progress_label="fit-weights queries")
    for row in embedded.errors.head(20).itertuples():
        logger.warning("fit-weights query %s: %s", row.image, row.reason)
    fit = _fit_parts(
        embedder, embedded.vectors, rows["pair_id"].astype(str).to_numpy()[embedded.rows], vectors, items, "pair_id",
        objective=objective, step=step,
    )
    fit.validation["unreadable_queries"] = int(len(embedded.errors))
    return fit


def fit_weights_on_synthesised(
    embedder: Embedder,
    vectors: np.ndarray,
    items: pd.DataFrame,
    source: Any,
    *,
    products: int = DEFAULT_PRODUCTS,
    seed: int = 0,
    objective: str = "mrr",
    step: float = 0.1,
    batch_size: int = 32,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> tuple[Any, SyntheticQueries]:
    """Fit the part weights of a catalogue's vectors on synthesised user photos of its own products.

    One street-like view of one shop picture per picked product
    (:func:`street2shop.synthesis.queries.synthesise_queries`), embedded like a real photo (the
    embedder's segmentation reaches the parts that expect the garment); its pair is its
    product's ``pair_id``, or its ``product_id`` when the catalogue has no pair ids.

    Returns:
        The :class:`street2shop.index.fusion.FusionFit` and the synthesised queries.

    Raises:
        InvalidParameter: fewer than two parts.
        ManifestError: fewer than two products whose picture could be cut out.
    """
    from street2shop.synthesis.queries import synthesise_queries

    if len(embedder.parts) < 2:
        raise InvalidParameter("fitting weights needs an embedding of at least two parts (models, descriptors)")
    transform = embedder.transform
    synthetic = synthesise_queries(
        items, source, products=products, seed=seed, max_pixels=max_pixels,
        segment=transform.params if isinstance(transform, SegmentStep) else None,
    )
    query_vectors = embedder.embed_arrays(list(synthetic.views), batch_size=batch_size)
    fit = _fit_parts(embedder, query_vectors, synthetic.pairs, vectors, items, synthetic.pair_column, objective=objective, step=step)
    fit.validation["unusable_pictures"] = int(len(synthetic.errors))
    return fit, synthetic


def _fit_parts(
    embedder: Embedder,
    query_vectors: np.ndarray,
    query_pairs: np.ndarray,
    vectors: np.ndarray,
    items: pd.DataFrame,
    pair_column: str,
    *,
    objective: str,
    step: float,
) -> Any:
    """:func:`street2shop.index.fusion.fit_part_weights` on embedded queries against the catalogue's vectors."""
    from street2shop.index.fusion import fit_part_weights, split_parts

    layout = embedder.layout()
    fit = fit_part_weights(
        split_parts(query_vectors, layout),
        split_parts(vectors, layout),
        query_pairs,
        items[pair_column].astype(str).to_numpy(),
        items["product_id"].astype(str).to_numpy(),
        objective=objective,
        step=step,
    )
    for warning in fit.warnings:
        logger.warning("fit-weights: %s", warning)
    return fit


def warn_segment_mismatch(embedder: Embedder, step: SegmentStep | None) -> list[str]:
    """Warn about each trained model whose recorded segment settings differ from the embedding's; returns the warnings."""
    wanted = step.record() if step is not None else {key: None for key in RECORD_KEYS}
    warnings = []
    for part in embedder.parts:
        encoder = part.encoder
        if encoder.info.get("segment") is None:
            continue  # not trained on cut-out garments: it is given whole pictures (takes_garment)
        difference = record_difference({key: encoder.info.get(key) for key in RECORD_KEYS}, wanted)
        if difference:
            warnings.append(
                f"model {encoder.name!r} was trained with other segment settings than this embedding uses "
                f"(model vs embedding: {difference}); its encodings of these pictures may be off. "
                "Embed with the model's settings or retrain it with these"
            )
            logger.warning(warnings[-1])
    return warnings


def evaluate_catalogue(
    *,
    index: Any,
    queries: str | Path | pd.DataFrame,
    images: Any,
    ks: Sequence[int] = DEFAULT_KS,
    batch_size: int = 32,
    report: Any = None,
) -> EvaluationResult:
    """Evaluate an index with user photos (``street2shop evaluate``, recipe ``street2shop-evaluate``).

    Args:
        index: an index folder (path or managed folder) or a loaded ``SearchIndex``.
        report: where to publish the HTML/PNG report (an ``OutputDir``), or None.
    """
    from street2shop.evaluation.report import write_evaluation_report

    loaded = index if isinstance(index, SearchIndex) else SearchIndex.load(index)
    source = image_source(images)
    result = evaluate_retrieval(loaded, read_table(queries), source, ks=ks, batch_size=batch_size)
    if report is not None:
        write_evaluation_report(result, loaded, source, report)
    return result


def compare_parts(index: SearchIndex, queries: pd.DataFrame, images: Any, *, ks: Sequence[int] = (1, 10, 20), batch_size: int = 32) -> pd.DataFrame:
    """User->shop retrieval of each part of a multi-part index alone, with equal weights and as indexed.

    Returns:
        One row per method: ``method``, ``top_<k>`` for each k, ``mrr``; unreadable queries count as misses.
    """
    from street2shop.evaluation.retrieval import queries_in_gallery
    from street2shop.index.fusion import fused_scores, product_ranks, retrieval_scores, split_parts, stored_vectors

    rows = queries_in_gallery(queries, index.items)
    if rows.empty:
        raise ManifestError("no query (source=user with a pair_id found in the index) to compare the parts on")
    embedded = index.embedder.embed_source(image_source(images), rows["image"].tolist(), batch_size=batch_size, progress_label="queries")
    layout = index.info["layout"]
    catalogue = stored_vectors(index.vectors)
    query_parts, gallery_parts = split_parts(embedded.vectors, layout), split_parts(catalogue, layout)
    pairs = rows["pair_id"].astype(str).to_numpy()[embedded.rows]
    gallery_pairs, products = index.items["pair_id"].astype(str).to_numpy(), index.items["product_id"].astype(str).to_numpy()
    methods = {name: query_parts[name] @ gallery_parts[name].T for name in query_parts}
    if len(layout) > 1:
        methods["all parts, equal weights"] = fused_scores(query_parts, gallery_parts, {name: 1.0 for name in query_parts})
        label = "all parts, fitted weights (the index)" if index.info.get("fusion") else "all parts, the index's weights"
        methods[label] = embedded.vectors @ catalogue.T
    table = []
    for method, scores in methods.items():
        ranks = np.zeros(len(rows), dtype=np.int64)  # unreadable queries stay at 0: a miss
        ranks[embedded.rows] = product_ranks(scores, pairs, gallery_pairs, products)
        scored = retrieval_scores(ranks, ks)
        table.append({"method": method, **{f"top_{k}": scored["top_k"][str(k)] for k in ks}, "mrr": scored["mrr"]})
    return pd.DataFrame(table)
