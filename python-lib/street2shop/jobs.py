"""The end-to-end jobs behind the CLI and the DSS recipes: each takes plain inputs and makes one output."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from street2shop.embedding import Embedder
from street2shop.errors import InvalidParameter
from street2shop.evaluation import DEFAULT_KS, EvaluationResult, evaluate_retrieval
from street2shop.images import DEFAULT_MAX_PIXELS
from street2shop.index_folder import BuildReport, build_index
from street2shop.manifest import read_table
from street2shop.search import SearchIndex
from street2shop.segment_option import RECORD_KEYS, SegmentStep, record_difference, segment_step
from street2shop.segmentation import SegmentParams
from street2shop.storage import ImageSource, open_image_store, open_published

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
) -> Embedder:
    """The encoders to embed with: saved model folders when given, else a backbone feature extractor.

    Args:
        models: encoder folders or trained model folders (``street2shop train``); each model's
            encoding is L2-normalised, weighted and concatenated. Names must differ; a repeated
            name gets a ``-2``, ``-3``... suffix.
        model_weights: one weight per model, in order, or ``{model name: weight}`` (default 1).
        encoding_layer: trained models only: the layer whose output is the encoding.
    """
    from street2shop.backbones import backbone_encoder
    from street2shop.encoders import load_encoder

    if not models:
        if model_weights:
            raise InvalidParameter("model weights are given but no models")
        return Embedder([backbone_encoder(backbone, weights, image_size)])
    encoders = []
    seen: dict[str, int] = {}
    for path in models:
        directory = open_published(path).materialize(None) if _published_copy(path) else Path(path)
        encoder = load_encoder(directory, layer=encoding_layer)
        seen[encoder.name] = seen.get(encoder.name, 0) + 1
        if seen[encoder.name] > 1:
            encoder.name = f"{encoder.name}-{seen[encoder.name]}"
        encoders.append(encoder)
    return Embedder(list(zip(encoders, _weights_for(encoders, model_weights))))


def _published_copy(path: str | Path) -> bool:
    """Whether ``path`` is a published folder with versions (a pointer file) rather than the files themselves."""
    from street2shop.storage import POINTER_FILE

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
) -> BuildReport:
    """Embed a catalogue's pictures and publish its index folder (``street2shop embed``, recipe ``street2shop-embed``).

    Args:
        segment: cut the garment out of each picture before encoding it (True: default
            parameters). The settings are recorded in ``index.json`` and the mask model bundled
            in the index, so search, evaluation and serving segment queries the same way.
        mask_model: a mask model folder (``street2shop.mask_model``) guiding the segmentation.

    A trained model whose ``model.json`` records other segment settings than these is used all
    the same, with a warning: its pictures were not processed like the catalogue's.
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
    )
    embedder.transform = step
    if models:
        warn_segment_mismatch(embedder, step)
    settings = {
        "backbone": backbone if not models else None,
        "weights": str(weights) if not models else None,
        "models": [part.encoder.name for part in embedder.parts] if models else None,
    }
    return build_index(
        frame,
        image_source(images),
        embedder,
        output,
        index_type=index_type,
        batch_size=batch_size,
        max_pixels=max_pixels,
        settings=settings,
    )


def warn_segment_mismatch(embedder: Embedder, step: SegmentStep | None) -> list[str]:
    """Warn about each trained model whose recorded segment settings differ from the embedding's; returns the warnings."""
    wanted = step.record() if step is not None else {key: None for key in RECORD_KEYS}
    warnings = []
    for part in embedder.parts:
        encoder = part.encoder
        if not encoder.classes and "segment" not in encoder.info:
            continue  # a backbone encoder: it was not trained on any pictures of ours
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
    from street2shop.evaluation_report import write_evaluation_report

    loaded = index if isinstance(index, SearchIndex) else SearchIndex.load(index)
    source = image_source(images)
    result = evaluate_retrieval(loaded, read_table(queries), source, ks=ks, batch_size=batch_size)
    if report is not None:
        write_evaluation_report(result, loaded, source, report)
    return result
