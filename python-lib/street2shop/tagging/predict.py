"""Tag a catalogue's pictures with trained attribute models (``street2shop predict``, recipe ``street2shop-predict``).

One straight pipeline: load the model folders (:func:`load_taggers`) -> validate the manifest ->
read, decode (and segment, if asked) the pictures and run the models through the same
``tf.data`` path as ``embed`` (``Embedder.embed_source``) -> one row per picture, or per product
by a vote over its views (:func:`vote_products`) -> the disagreements with the manifest's own
labels -> a summary (counts per predicted class and of disagreements).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from street2shop.errors import InvalidParameter, ManifestError
from street2shop.images.decode import DEFAULT_MAX_PIXELS
from street2shop.manifest import LABEL_SEPARATOR, merge_errors, read_table, split_labels, validate_manifest
from street2shop.models.embedder import Embedder, EncoderWeighting
from street2shop.models.encoder import Encoder
from street2shop.models.predictions import THRESHOLD
from street2shop.segmentation.garment import SegmentParams
from street2shop.segmentation.step import segment_step, takes_garment
from street2shop.storage.stores import image_source

logger = logging.getLogger(__name__)

SCORE_SUFFIX = "_score"
DISAGREES_SUFFIX = "_disagrees"
MANIFEST_SUFFIX = "_manifest"
#: With ``products``, the views that vote (the report: views 1 and 2 show the whole product).
VOTING_VIEWS = (1, 2)


@dataclass(frozen=True)
class Tagger:
    """One attribute model and how its predictions become a label cell."""

    encoder: Encoder
    column: str  # the label column it fills (the one it was trained on)
    threshold: float  # multi-label models: a class is kept at or above this probability

    @property
    def classes(self) -> list[str]:
        return list(self.encoder.classes or [])

    @property
    def multilabel(self) -> bool:
        return self.encoder.multilabel

    def cells(self, probabilities: np.ndarray) -> tuple[list[str], list[Any]]:
        """Label and score cells for each row of probabilities.

        Single-label: the top class and its probability. Multi-label: the classes at or above
        the threshold, '|'-joined, and their probabilities, '|'-joined in the same order.
        """
        probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1, len(self.classes))
        if not self.multilabel:
            top = probabilities.argmax(axis=1) if len(probabilities) else np.zeros(0, int)
            return [self.classes[i] for i in top], [round(float(p[i]), 4) for p, i in zip(probabilities, top)]
        labels, scores = [], []
        for row in probabilities:
            kept = [i for i in np.argsort(-row, kind="stable") if row[i] >= self.threshold]
            labels.append(LABEL_SEPARATOR.join(self.classes[i] for i in kept))
            scores.append(LABEL_SEPARATOR.join(f"{row[i]:.4f}" for i in kept))
        return labels, scores


def load_taggers(models: Sequence[str | Path], *, threshold: float | None = None) -> list[Tagger]:
    """Load trained attribute model folders (``street2shop train``) with Keras ``safe_mode``.

    Args:
        threshold: for multi-label models, instead of the one each records (default 0.5).

    Raises:
        InvalidParameter: no model, a folder that is not an attribute model, two models for one
            label column, or a threshold outside (0, 1].
    """
    from street2shop.models.encoder import ENCODER_FILE
    from street2shop.models.loading import load_encoder
    from street2shop.models.model_folder import INFO_FILE, MODEL_FILE, is_model_folder
    from street2shop.storage.published import POINTER_FILE, open_published

    if not models:
        raise InvalidParameter("give at least one trained model folder to predict with")
    if threshold is not None and not 0 < threshold <= 1:
        raise InvalidParameter(f"threshold must be in (0, 1], got {threshold}")
    taggers: list[Tagger] = []
    for path in models:
        directory = open_published(path).materialize(None) if (Path(path) / POINTER_FILE).is_file() else Path(path)
        if not is_model_folder(directory) and not (directory / ENCODER_FILE).is_file():
            raise InvalidParameter(f"{path} is not a trained model folder: expected {MODEL_FILE} and {INFO_FILE} (`street2shop train`)")
        encoder = load_encoder(directory)
        if not encoder.classes:
            raise InvalidParameter(f"{path} is not an attribute model (it predicts no classes): train one with `street2shop train`")
        column = str(encoder.info.get("label_column") or encoder.name)
        if column in {t.column for t in taggers}:
            raise InvalidParameter(f"two models predict the label column {column!r} ({path}): give one model per label")
        recorded = float(encoder.info.get("threshold", THRESHOLD))
        taggers.append(Tagger(encoder, column, threshold if threshold is not None else recorded))
    return taggers


@dataclass
class TagReport:
    """What :func:`tag_catalogue` produced."""

    tags: pd.DataFrame  # one row per picture (or product): image, product_id, per model <label>, <label>_score [...]
    errors: pd.DataFrame  # row, image, reason: manifest errors and unreadable pictures
    summary: dict[str, Any] = field(default_factory=dict)


def tag_catalogue(
    *,
    manifest: str | Path | pd.DataFrame,
    images: Any,
    models: Sequence[str | Path] | Sequence[Tagger],
    threshold: float | None = None,
    products: bool = False,
    disagreements: bool = False,
    segment: SegmentParams | bool | None = None,
    mask_model: str | Path | None = None,
    batch_size: int = 32,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> TagReport:
    """Predict each model's label for every manifest picture (``street2shop predict``, recipe ``street2shop-predict``).

    Args:
        models: trained model folders, or taggers already loaded (:func:`load_taggers`).
        threshold: multi-label models keep the classes at or above this (default: each model's own).
        products: one row per product: the mean of the class probabilities of its views 1 and 2
            (all its views when it has neither), then the top class or the threshold.
        disagreements: add ``<label>_manifest`` and ``<label>_disagrees`` for every label column
            the manifest has too: a review list of suspect catalogue labels (an empty manifest
            label is missing, not a disagreement).
        segment, mask_model: cut the garment out first (the ``segment`` option); each model is
            given what it was trained on (``segmentation.step.takes_garment``).

    Raises:
        ManifestError: no usable row, or no readable picture.
    """
    taggers = list(models) if models and all(isinstance(m, Tagger) for m in models) else load_taggers(models, threshold=threshold)  # type: ignore[arg-type]
    step = segment_step(segment, mask_model)
    embedder = Embedder(
        [EncoderWeighting(t.encoder, 1.0, step is None or takes_garment(t.encoder)) for t in taggers], transform=step
    )
    frame = read_table(manifest)
    compared = [t.column for t in taggers if disagreements and t.column in frame.columns]
    check = validate_manifest(frame, label_columns=compared)
    rows = check.rows.reset_index(drop=True)
    if rows.empty:
        raise ManifestError("no usable rows in the manifest: nothing to tag" + _first_reasons(check.errors))
    result = embedder.embed_source(
        image_source(images), rows["image"].tolist(), batch_size=batch_size, max_pixels=max_pixels, progress_label="tagging"
    )
    image_errors = result.errors.assign(row=rows["_row"].to_numpy()[result.errors["row"].to_numpy(dtype=int)])
    errors = merge_errors(check.errors, image_errors)
    if len(result.rows) == 0:
        raise ManifestError("none of the manifest's pictures could be read" + _first_reasons(errors))
    tagged = rows.iloc[result.rows].reset_index(drop=True)
    probabilities = {t.column: result.attributes[t.encoder.name] for t in taggers}
    if products:
        tagged, probabilities = vote_products(tagged, probabilities, compared)
        table = tagged[["product_id", "image", "views"]].copy()
    else:
        table = tagged[["image", "product_id"]].copy()
    for tagger in taggers:
        labels, scores = tagger.cells(probabilities[tagger.column])
        table[tagger.column] = labels
        table[tagger.column + SCORE_SUFFIX] = scores
        if tagger.column in compared:
            table[tagger.column + MANIFEST_SUFFIX] = tagged[tagger.column].to_numpy()
            table[tagger.column + DISAGREES_SUFFIX] = [
                disagrees(p, m, multilabel=tagger.multilabel) for p, m in zip(labels, tagged[tagger.column])
            ]
    summary = summarise(table, taggers, compared, manifest_rows=len(frame), errors=len(errors), products=products)
    summary["segment"] = step.params.as_dict() if step is not None else None
    log_summary(summary)
    return TagReport(tags=table.reset_index(drop=True), errors=errors.reset_index(drop=True), summary=summary)


def vote_products(
    tagged: pd.DataFrame, probabilities: dict[str, np.ndarray], label_columns: Sequence[str] = ()
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """One row per product (first-seen order): the mean probabilities of its voting views.

    Voting views are views 1 and 2 when the manifest has a ``view`` column and the product has
    one of them, else all its pictures. The row's ``image`` is its first voting picture,
    ``views`` the number of pictures that voted, and each label column the product's most
    frequent non-empty manifest value (for the disagreements).
    """
    order = pd.unique(tagged["product_id"])
    rows, voted = [], {column: [] for column in probabilities}
    for product in order:
        positions = np.flatnonzero(tagged["product_id"].to_numpy() == product)
        if "view" in tagged.columns:
            views = tagged["view"].iloc[positions]
            whole = positions[views.isin(VOTING_VIEWS).fillna(False).to_numpy(dtype=bool)]
            positions = whole if len(whole) else positions
        row = {"product_id": product, "image": tagged["image"].iloc[positions[0]], "views": len(positions)}
        for column in label_columns:
            values = [v for v in tagged[column].iloc[positions] if isinstance(v, str) and v]
            row[column] = Counter(values).most_common(1)[0][0] if values else ""
        rows.append(row)
        for column, values in probabilities.items():
            voted[column].append(values[positions].mean(axis=0))
    return pd.DataFrame(rows), {column: np.asarray(values) for column, values in voted.items()}


def disagrees(predicted: str, manifest_value: Any, *, multilabel: bool) -> bool:
    """Whether a prediction contradicts the manifest's label (case and spaces ignored; missing never disagrees)."""
    given = {v.casefold() for v in split_labels(manifest_value)}
    if not given:
        return False
    found = {v.casefold() for v in split_labels(predicted)}
    return found != given if multilabel else predicted.casefold() not in given


def summarise(
    table: pd.DataFrame, taggers: Sequence[Tagger], compared: Sequence[str], *, manifest_rows: int, errors: int, products: bool
) -> dict[str, Any]:
    """Counts per predicted class and of disagreements, per model (the run's JSON summary)."""
    models = {}
    for tagger in taggers:
        counts = Counter(label for cell in table[tagger.column] for label in split_labels(cell))
        entry: dict[str, Any] = {
            "model": tagger.encoder.name,
            "multilabel": tagger.multilabel,
            "classes": {name: int(counts.get(name, 0)) for name in tagger.classes},
        }
        if tagger.multilabel:
            entry["threshold"] = tagger.threshold
            entry["untagged"] = int((table[tagger.column] == "").sum())
        if tagger.column in compared:
            entry["disagreements"] = int(table[tagger.column + DISAGREES_SUFFIX].sum())
            entry["missing_in_manifest"] = int((table[tagger.column + MANIFEST_SUFFIX] == "").sum())
        models[tagger.column] = entry
    return {
        "manifest_rows": int(manifest_rows),
        "rows": int(len(table)),
        "per": "product" if products else "picture",
        "errors": int(errors),
        "models": models,
    }


def log_summary(summary: dict[str, Any]) -> None:
    """The summary in the run's log: one line per model."""
    logger.info("tagged %d %s(s); %d row(s) reported as errors", summary["rows"], summary["per"], summary["errors"])
    for column, entry in summary["models"].items():
        counts = ", ".join(f"{name} {count}" for name, count in sorted(entry["classes"].items(), key=lambda kv: -kv[1]))
        extra = f"; {entry['disagreements']} disagree with the manifest" if "disagreements" in entry else ""
        logger.info("%s: %s%s", column, counts, extra)


def _first_reasons(errors: pd.DataFrame, limit: int = 3) -> str:
    if errors.empty:
        return ""
    shown = "; ".join(f"row {r.row} ({r.image}): {r.reason}" for r in errors.head(limit).itertuples())
    return f" ({len(errors)} rows reported; first: {shown})"
