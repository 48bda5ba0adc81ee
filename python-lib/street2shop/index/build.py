"""Building an index folder: the encoders to embed with, and the embed job as one straight pipeline.

:func:`embed_catalogue` (``street2shop embed`` and recipe ``street2shop-embed``): make the
embedder (:func:`make_embedder`) -> embed the catalogue (:func:`embed_manifest`) -> fit the
part weights if asked (:mod:`street2shop.index.fit_weights`) -> re-weight -> publish the folder
(:func:`publish_index`). :func:`build_index` is embed -> publish with a given embedder.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from street2shop import __version__
from street2shop.models.backbones import DEFAULT_BACKBONE
from street2shop.models.embedder import Embedder, EncoderWeighting
from street2shop.errors import InvalidParameter, ManifestError
from street2shop.images.decode import DEFAULT_MAX_PIXELS
from street2shop.index.fit_weights import fit_weights_with_fallback
from street2shop.index.folder import FORMAT_NAME, FORMAT_VERSION, write_index_files
from street2shop.index.fusion import reweighted
from street2shop.index.vectors import VectorIndex
from street2shop.manifest import label_columns, merge_errors, read_table, validate_manifest
from street2shop.segmentation.step import RECORD_KEYS, SegmentStep, record_difference, segment_record, segment_step, takes_garment
from street2shop.segmentation.garment import SegmentParams
from street2shop.storage.publish import staging_directory
from street2shop.storage.published import open_published
from street2shop.storage.stores import image_source

logger = logging.getLogger(__name__)

#: Name of the local staging folders (in the system temporary directory) an index is written into before publishing.
STAGING_PREFIX = "street2shop-index-"


def make_embedder(
    *,
    models: Sequence[str | Path] | None = None,
    model_weights: Sequence[float] | Mapping[str, float] | None = None,
    encoding_layer: str | None = None,
    backbone: str = DEFAULT_BACKBONE,
    weights: str | Path | None = "default",
    image_size: int | None = None,
    descriptors: int | None = None,
    transform: SegmentStep | None = None,
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
        transform: the segmentation step (the ``segment`` option); each part then sees what it
            expects (``segmentation.step.takes_garment``): the cut-out garment, or the whole
            picture for a model trained on whole pictures.
    """
    from street2shop.models.backbones import backbone_encoder
    from street2shop.models.loading import load_encoder

    if not models and model_weights and not descriptors:
        raise InvalidParameter("model weights are given but no models")
    encoders = [] if models else [backbone_encoder(backbone, weights, image_size)]
    for path in models or []:
        directory = open_published(path).materialize(None) if _published_copy(path) else Path(path)
        encoders.append(load_encoder(directory, layer=encoding_layer))
    if descriptors:
        from street2shop.models.descriptors import descriptor_encoder

        encoders.append(descriptor_encoder(descriptors))
    from dataclasses import replace

    seen: dict[str, int] = {}
    for i, encoder in enumerate(encoders):  # Encoder is a value: a renamed one is a copy
        seen[encoder.name] = seen.get(encoder.name, 0) + 1
        if seen[encoder.name] > 1:
            encoders[i] = replace(encoder, name=f"{encoder.name}-{seen[encoder.name]}")
    weights = _weights_for(encoders, model_weights)
    return Embedder(
        [EncoderWeighting(encoder, weight, transform is None or takes_garment(encoder)) for encoder, weight in zip(encoders, weights)],
        transform=transform,
    )


def _published_copy(path: str | Path) -> bool:
    """Whether ``path`` is a published folder with versions (a pointer file) rather than the files themselves."""
    from street2shop.storage.published import POINTER_FILE

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
    backbone: str = DEFAULT_BACKBONE,
    weights: str | Path | None = "default",
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

    With segmentation on, each part is given what it expects (``segmentation.step.takes_garment``):
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
        transform=step,
    )
    if models:
        warn_segment_mismatch(embedder, step)
    source = image_source(images)
    queries = read_table(fit_queries) if fit_queries is not None else None
    if fit_synthesised is not None and fit_synthesised < 2:
        raise InvalidParameter(f"synthesised pairs need at least 2 products, got {fit_synthesised}")
    settings = {
        "backbone": embedder.parts[0].encoder.name if not models else None,
        "weights": embedder.parts[0].encoder.info.get("weights") if not models else None,
        "models": [part.encoder.name for part in embedder.parts] if models else None,
        "descriptors": descriptors,
    }

    catalogue = embed_manifest(frame, source, embedder, batch_size=batch_size, max_pixels=max_pixels)
    fusion = None
    if queries is not None or fit_synthesised is not None:
        fit, pairs = fit_weights_with_fallback(
            embedder, catalogue.vectors, catalogue.items, source, queries=queries, split=fit_split,
            synthesised=fit_synthesised, objective=fit_objective, batch_size=batch_size, max_pixels=max_pixels,
        )
        fusion = {**fit.as_dict(), **pairs}
        # Re-weighted, not re-encoded: each part keeps its unit vectors.
        catalogue = replace(catalogue, vectors=reweighted(catalogue.vectors, embedder.layout(), fit.model_weights))
        embedder = embedder.with_weights(fit.model_weights)
    return publish_index(catalogue, embedder, output, index_type=index_type, settings=settings, fusion=fusion)


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


@dataclass
class BuildReport:
    """What :func:`build_index` did."""

    indexed: int
    errors: pd.DataFrame  # row, image, reason
    info: dict[str, Any]


@dataclass(frozen=True)
class EmbeddedCatalogue:
    """A catalogue's vectors and item table (one row per vector), and the rows that could not be embedded."""

    vectors: np.ndarray
    items: pd.DataFrame
    errors: pd.DataFrame  # row, image, reason: manifest errors and unreadable pictures
    predicted: tuple[str, ...] = ()  # the item columns the attribute models filled in


def build_index(
    manifest: pd.DataFrame,
    source: Any,
    embedder: Embedder,
    output: Any,
    *,
    index_type: str = "flat",
    batch_size: int = 32,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    settings: dict[str, Any] | None = None,
) -> BuildReport:
    """Embed every manifest row and publish the index folder to ``output`` in one atomic step.

    Args:
        manifest: one row per image (design §3).
        source: reads the ``image`` values (an ``ImageSource``).
        embedder: the encoders that make the vectors; they are bundled into the folder. When its
            transform is a ``SegmentStep`` (the ``segment`` option), its settings are recorded in
            ``index.json`` and its mask model is bundled, so queries are segmented the same way.
        output: where to publish (an ``OutputDir``); untouched if anything fails.
        index_type: ``flat``, ``ivf`` or ``hnsw``.
        settings: extra facts recorded in ``index.json`` (backbone, weights source, segment...).

    Returns:
        The number of items indexed and the rows that could not be (manifest errors and bad images).
    """
    catalogue = embed_manifest(manifest, source, embedder, batch_size=batch_size, max_pixels=max_pixels)
    return publish_index(catalogue, embedder, output, index_type=index_type, settings=settings)


def embed_manifest(
    manifest: pd.DataFrame, source: Any, embedder: Embedder, *, batch_size: int = 32, max_pixels: int = DEFAULT_MAX_PIXELS
) -> EmbeddedCatalogue:
    """Embed every usable manifest row; the item table gets the attribute models' ``predicted_<model>`` columns.

    Raises:
        ManifestError: no usable row, or no readable picture.
    """
    check = validate_manifest(manifest)
    rows = check.rows.reset_index(drop=True)
    if rows.empty:
        raise ManifestError("no usable rows in the manifest: nothing to index" + _first_reasons(check.errors))
    result = embedder.embed_source(source, rows["image"].tolist(), batch_size=batch_size, max_pixels=max_pixels)
    image_errors = result.errors.assign(row=rows["_row"].to_numpy()[result.errors["row"].to_numpy(dtype=int)])
    errors = merge_errors(check.errors, image_errors)
    if len(result.rows) == 0:
        raise ManifestError("none of the manifest's images could be read" + _first_reasons(errors))
    items = rows.iloc[result.rows].reset_index(drop=True)
    items = items.rename(columns={"_row": "manifest_row"})
    predicted = predicted_columns(embedder, result.attributes, taken=set(items.columns))
    for column, values in predicted.items():
        items[column] = values
    return EmbeddedCatalogue(vectors=result.vectors, items=items, errors=errors, predicted=tuple(predicted))


def publish_index(
    catalogue: EmbeddedCatalogue,
    embedder: Embedder,
    output: Any,
    *,
    index_type: str = "flat",
    settings: dict[str, Any] | None = None,
    fusion: dict[str, Any] | None = None,
) -> BuildReport:
    """Index the catalogue's vectors and publish the folder (``index.json`` records ``embedder``'s layout and transform).

    Args:
        fusion: how the part weights were fitted (``index.json``'s ``fusion``), or None.
    """
    items, predicted = catalogue.items, catalogue.predicted
    vectors = VectorIndex(kind=index_type).fit(catalogue.vectors)
    info = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "street2shop_version": __version__,
        "count": int(len(items)),
        "dim": int(catalogue.vectors.shape[1]),
        "metric": "inner_product",
        "index_type": index_type,
        "layout": embedder.layout(),
        "label_columns": label_columns(items, exclude=("manifest_row", *predicted)),
        "predicted_columns": {column: name for column, name in zip(predicted, _attribute_names(embedder, predicted))},
        "settings": {**dict(settings or {}), **segment_record(embedder.transform, bundled=True)},
        "fusion": fusion,
    }
    with staging_directory(STAGING_PREFIX) as staging:
        write_index_files(staging, info, vectors, items, embedder)
        output.publish(staging)
    errors = catalogue.errors
    logger.info("indexed %d images (%d rows reported as errors)", len(items), len(errors))
    return BuildReport(indexed=len(items), errors=errors.reset_index(drop=True), info=info)


PREDICTED_PREFIX = "predicted_"


def predicted_columns(embedder: Embedder, attributes: dict[str, Any], *, taken: set[str]) -> dict[str, list[str]]:
    """Item-table columns ``predicted_<model>``: each attribute model's classes for each picture.

    Single-label: the most probable class; multi-label: the classes at or above 0.5, '|'-joined.
    """
    from street2shop.models.predictions import predicted_labels

    columns: dict[str, list[str]] = {}
    for encoder in embedder.attribute_models:
        column = PREDICTED_PREFIX + encoder.name
        probabilities = attributes.get(encoder.name)
        if probabilities is None or column in taken:
            continue
        hot = predicted_labels(probabilities, encoder.multilabel)
        classes = encoder.classes or []
        columns[column] = ["|".join(classes[i] for i in row.nonzero()[0]) for row in hot]
    return columns


def _attribute_names(embedder: Embedder, columns: dict[str, Any]) -> list[str]:
    return [column[len(PREDICTED_PREFIX) :] for column in columns]



def _first_reasons(errors: pd.DataFrame, limit: int = 3) -> str:
    if errors.empty:
        return ""
    shown = "; ".join(f"row {r.row} ({r.image}): {r.reason}" for r in errors.head(limit).itertuples())
    return f" ({len(errors)} rows reported; first: {shown})"

