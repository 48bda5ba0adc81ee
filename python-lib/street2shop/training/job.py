"""Train one attribute model from a manifest and its pictures, and publish its model folder (CLI and recipe)."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from street2shop import __version__
from street2shop.errors import InvalidParameter, ManifestError
from street2shop.images.decode import DEFAULT_MAX_PIXELS
from street2shop.manifest import merge_errors, read_table, validate_manifest
from street2shop.segmentation.step import segment_record
from street2shop.models.layers import ENCODING_LAYER
from street2shop.training.architectures import BDN, Architecture, architecture_name, default_image_size
from street2shop.training.augment import AugmentParams
from street2shop.training.balance import MAX_UPSAMPLE, balance
from street2shop.training.data import DEFAULT_CACHE_BYTES, load_pictures, make_dataset
from street2shop.training.labels import CAMERA_TECHNIQUE_LABELS, prepare_labels, read_mapping
from street2shop.training.metrics import classification_metrics
from street2shop.training.splits import check_disjoint, duplicate_groups, split_by_group
from street2shop.training.trainer import FitParams, device_plan, fit, predict

logger = logging.getLogger(__name__)

#: The report's four attribute models: label column and whether it is multi-label.
REPORT_MODELS = (("type", False), ("colours", True), ("material", True), ("gender", True))

ERROR_COLUMNS = ["row", "image", "reason"]


@dataclass(frozen=True)
class TrainSettings:
    """Everything that decides what is trained (recorded in ``model.json``).

    Attributes:
        label: the manifest column to learn (one per model, as the report did).
        multilabel: several classes per picture (sigmoid + weighted BCE) or one (softmax + CE).
        classes: the class list (default: the values found); other values are dropped.
        min_count: classes with fewer pictures are dropped (with a message).
        exclude_classes: classes to leave out; ``exclude_camera_technique`` adds the AVA tags that
            describe camera technique (default: on for the ``bdn`` style model).
        views: keep only pictures with these view numbers (pictures without one are kept).
        validation_share: share of rows held out by product when the manifest's ``split``
            column names no validation rows (or ``use_split_column`` is off).
        balance: up-sample minority classes (at most ``max_upsample`` times) and down-sample
            majority ones, in the training side only.
        name: the model's name in an index (default: the label column).
    """

    label: str
    multilabel: bool = False
    classes: tuple[str, ...] | None = None
    min_count: int = 5
    exclude_classes: tuple[str, ...] = ()
    exclude_camera_technique: bool | None = None
    views: tuple[int, ...] | None = None
    validation_share: float = 0.2
    use_split_column: bool = True
    balance: bool = False
    max_upsample: float = MAX_UPSAMPLE
    architecture: Architecture = field(default_factory=Architecture)
    weights: str = "none"
    fit: FitParams = field(default_factory=FitParams)
    augment: AugmentParams = field(default_factory=AugmentParams)
    batch_size: int | None = None
    mixed_precision: bool | None = None
    seed: int = 0
    cache: str = "auto"
    cache_bytes: int = DEFAULT_CACHE_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS
    encoding_layer: str = ENCODING_LAYER
    examples: int = 16
    name: str | None = None

    def describe(self) -> dict[str, Any]:
        data = asdict(self)
        data["architecture"] = self.architecture.describe()
        return data


@dataclass
class TrainReport:
    """What a training run did: the summary printed by the CLI, the rejected rows, the model's description."""

    summary: dict[str, Any]
    errors: pd.DataFrame
    info: dict[str, Any]
    model: Any = None  # the saved Keras model (outputs: encoding, probabilities)


def train_attribute_model(
    *,
    manifest: str | Path | pd.DataFrame,
    images: Any,
    output: Any,
    settings: TrainSettings,
    mapping: Mapping[str, str] | pd.DataFrame | str | Path | None = None,
    duplicates: pd.DataFrame | str | Path | None = None,
    transform: Callable[[np.ndarray], np.ndarray] | None = None,
) -> TrainReport:
    """Train one attribute model and publish its model folder to ``output`` in one atomic step.

    Args:
        manifest: one row per picture with ``image``, ``product_id`` and the label column.
        images: where the pictures are (a directory, an ``s3://`` prefix, an image store or source).
        output: an ``OutputDir`` (local directory or managed folder); untouched if anything fails.
        settings: what to train and how.
        mapping: regrouping of fine label values into general ones.
        duplicates: a dedup output (groups or pairs): duplicate products stay on one side of the split.
        transform: applied to decoded pictures before resizing. A ``SegmentStep`` (the ``segment``
            option, ``street2shop.segmentation.step.segment_step``) is recorded in ``model.json``
            (``segment``, ``segment_pad``, ``segment_mask_model``) so ``embed`` can check that the
            catalogue is processed the same way.

    Raises:
        ManifestError: the manifest or its label column is unusable.
        InvalidParameter: a bad setting, or fewer than two classes to learn.
    """
    import keras

    from street2shop.storage.stores import image_source

    settings = _checked(settings)
    architecture = settings.architecture
    source = image_source(images)
    check = validate_manifest(read_table(manifest), label_columns=[settings.label])
    rows = check.rows
    report: dict[str, Any] = {"manifest_rows": int(len(rows) + len(check.errors)), "manifest_errors": int(len(check.errors))}
    if settings.views:
        if "view" in rows.columns:
            wanted = rows["view"].isna() | rows["view"].isin(list(settings.views))
            report["dropped_by_view"] = int((~wanted).sum())
            rows = rows[wanted.to_numpy(dtype=bool)].reset_index(drop=True)
        else:
            logger.warning("views %s asked, but the manifest has no view column: all pictures kept", settings.views)
    exclude = list(settings.exclude_classes)
    technique = settings.exclude_camera_technique
    if technique is None:
        technique = architecture.name == BDN
    if technique:
        exclude += list(CAMERA_TECHNIQUE_LABELS)
    labels = prepare_labels(
        rows,
        settings.label,
        multilabel=settings.multilabel,
        classes=settings.classes,
        mapping=read_mapping(mapping),
        min_count=settings.min_count,
        exclude=exclude,
    )
    report["labels"] = labels.report
    split = split_by_group(
        labels.rows,
        validation_share=settings.validation_share,
        seed=settings.seed,
        duplicates=duplicate_groups(duplicates),
        use_split_column=settings.use_split_column,
    )
    check_disjoint(split.groups, split.train, split.validation)
    used = np.concatenate([split.train, split.validation])
    pictures, ok = load_pictures(
        source,
        labels.rows["image"].to_numpy()[used].tolist(),
        labels.rows["_row"].to_numpy()[used].tolist(),
        size=architecture.image_size,
        transform=transform,
        max_pixels=settings.max_pixels,
        cache=settings.cache,
        cache_bytes=settings.cache_bytes,
    )
    # Rows (in labels.rows) and positions (in pictures) of the usable training and validation pictures.
    picture_of = np.cumsum(ok) - 1
    n_train = len(split.train)
    train_ok, val_ok = ok[:n_train], ok[n_train:]
    train_rows, val_rows = split.train[train_ok], split.validation[val_ok]
    train_pos, val_pos = picture_of[:n_train][train_ok], picture_of[n_train:][val_ok]
    if len(train_pos) == 0 or len(val_pos) == 0:
        raise ManifestError(
            f"no usable {'training' if len(train_pos) == 0 else 'validation'} picture left "
            f"({len(pictures.errors)} picture(s) could not be read)" + _first_reasons(pictures.errors)
        )
    train_targets, val_targets = labels.targets[train_rows], labels.targets[val_rows]
    report["split"] = {**split.summary(), "train_pictures": int(len(train_pos)), "validation_pictures": int(len(val_pos))}
    missing = [c for c, n in zip(labels.classes, train_targets.sum(axis=0)) if n == 0]
    if missing:
        logger.warning("class(es) without training pictures: %s", ", ".join(missing))
        report["classes_without_training_pictures"] = missing
    order = np.arange(len(train_pos))
    if settings.balance:
        balanced = balance(train_targets, seed=settings.seed, max_upsample=settings.max_upsample)
        order = balanced.indices
        report["balance"] = balanced.summary(labels.classes)
    plan = device_plan(settings.batch_size, mixed_precision=settings.mixed_precision)
    report["device"] = asdict(plan)
    keras.utils.set_random_seed(settings.seed)
    sampled_targets = train_targets[order]
    train_ds = make_dataset(
        pictures, train_pos[order], sampled_targets, batch_size=plan.batch_size, shuffle=True, augment=settings.augment, seed=settings.seed
    )
    val_ds = make_dataset(pictures, val_pos, val_targets, batch_size=plan.batch_size)
    steps = math.ceil(len(order) / plan.batch_size)
    model, result = _build_and_fit(settings, labels.classes, plan, train_ds, val_ds, steps, sampled_targets)
    probabilities = predict(model, val_ds)
    metrics = classification_metrics(val_targets, probabilities, labels.classes, multilabel=settings.multilabel)
    errors = merge_errors(check.errors, pictures.errors)
    report["rejected_rows"] = int(len(errors))
    with output.staging() as staging:
        saved, info = _write_folder(
            Path(staging),
            model=model,
            settings=settings,
            labels=labels,
            metrics=metrics,
            result=result,
            report=report,
            pictures=pictures,
            val_pos=val_pos,
            val_rows=val_rows,
            probabilities=probabilities,
            split=split,
            errors=errors,
            segment=segment_record(transform),
        )
    summary = {
        "name": info["name"],
        "label": settings.label,
        "kind": info["kind"],
        "classes": labels.classes,
        "train_pictures": int(len(train_pos)),
        "train_samples": int(len(order)),
        "validation_pictures": int(len(val_pos)),
        "accuracy": round(metrics["accuracy"], 4),
        "micro_f1": round(metrics["micro_f1"], 4),
        "macro_f1": round(metrics["macro_f1"], 4),
        **({"map": None if metrics["map"] is None else round(metrics["map"], 4)} if settings.multilabel else {}),
        **result.summary(),
        "rejected_rows": int(len(errors)),
        "skipped_empty_label": labels.report["skipped_empty_label"],
        "fingerprint": info["fingerprint"],
    }
    return TrainReport(summary=summary, errors=errors, info=info, model=saved)


def train_label_models(
    *,
    manifest: str | Path | pd.DataFrame,
    images: Any,
    out_dir: str | Path,
    architecture: Architecture,
    fit: FitParams,
    labels: Sequence[tuple[str, bool]] = REPORT_MODELS,
    min_count: int = 3,
) -> Iterator[tuple[str, Path, TrainReport, float]]:
    """Train one attribute model per ``(label column, multi-label)`` into ``out_dir/<label>``.

    Yields ``(label, model folder, report, seconds)`` as each model is done, so callers can show progress.
    """
    from street2shop.storage.publish import LocalOutputDir

    for label, multilabel in labels:
        started = time.monotonic()
        settings = TrainSettings(label=label, multilabel=multilabel, min_count=min_count, architecture=architecture, fit=fit)
        folder = Path(out_dir) / label
        report = train_attribute_model(manifest=manifest, images=images, output=LocalOutputDir(folder), settings=settings)
        yield label, folder, report, time.monotonic() - started


def _checked(settings: TrainSettings) -> TrainSettings:
    if not settings.label or not str(settings.label).strip():
        raise InvalidParameter("a label column to learn is needed")
    name = architecture_name(settings.architecture.name)
    size = settings.architecture.image_size or default_image_size(name)
    if settings.examples < 0 or settings.min_count < 1:
        raise InvalidParameter("examples must be >= 0 and min_count >= 1")
    if settings.name is not None and not _safe_name(settings.name):
        raise InvalidParameter(f"model name {settings.name!r}: use letters, digits, '-', '_' and '.' only")
    return replace(settings, architecture=replace(settings.architecture, name=name, image_size=int(size)))


def _safe_name(name: str) -> bool:
    return bool(name) and all(c.isalnum() or c in "-_." for c in name) and name not in (".", "..")


def model_name(label: str) -> str:
    """A model's default name: its label column, reduced to a safe folder name."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in label.strip()).strip("._") or "model"
    return cleaned


def _build_and_fit(settings: TrainSettings, classes: list[str], plan: Any, train_ds: Any, val_ds: Any, steps: int, targets: np.ndarray):
    """Build the classifier (mixed precision on a GPU) and fit it; returns a float32 model with the best weights."""
    import keras

    from street2shop.training.architectures import build_classifier
    from street2shop.training.losses import weighted_bce

    loss = weighted_bce(targets) if settings.multilabel else keras.losses.CategoricalCrossentropy()
    accuracy = keras.metrics.BinaryAccuracy(name="accuracy") if settings.multilabel else keras.metrics.CategoricalAccuracy(name="accuracy")
    # Area under the precision-recall curve per class, averaged: Keras's running estimate of mAP.
    pr_auc = keras.metrics.AUC(curve="PR", multi_label=True, num_labels=len(classes), name="pr_auc")
    previous = keras.mixed_precision.global_policy()
    try:
        if plan.mixed_precision:
            keras.mixed_precision.set_global_policy("mixed_float16")
        model = build_classifier(settings.architecture, len(classes), multilabel=settings.multilabel, weights=settings.weights)
        result = fit(
            model, train_ds, val_ds, steps_per_epoch=steps, params=settings.fit, loss=loss, metrics=[accuracy, pr_auc],
            jit_compile=plan.gpu, multilabel=settings.multilabel, label=f"training {settings.label}",
        )
    finally:
        keras.mixed_precision.set_global_policy(previous)
    if plan.mixed_precision:
        # Saved and served in float32: a CPU runs float16 slowly, and the variables already are float32.
        trained = model
        model = build_classifier(settings.architecture, len(classes), multilabel=settings.multilabel, weights="none")
        model.set_weights(trained.get_weights())
    return model, result


def _write_folder(
    directory: Path, *, model, settings, labels, metrics, result, report, pictures, val_pos, val_rows, probabilities, split, errors, segment
) -> tuple[Any, dict[str, Any]]:
    from street2shop.models.encoder import model_fingerprint
    from street2shop.models import model_folder as mf
    from street2shop.training.architectures import encoder_model
    from street2shop.training.pictures import confusion_png, examples_png, learning_curves_png

    saved = encoder_model(model, settings.encoding_layer)
    name = settings.name or model_name(settings.label)
    title = f"{name} ({'multi-label' if settings.multilabel else 'single-label'}, {settings.architecture.name})"
    summary_metrics = {k: metrics.get(k) for k in ("accuracy", "micro_f1", "macro_f1", "map", "label_accuracy") if k in metrics}
    info = {
        "format": mf.FORMAT_NAME,
        "format_version": mf.FORMAT_VERSION,
        "name": name,
        "label_column": settings.label,
        "kind": "multi-label" if settings.multilabel else "single-label",
        "multilabel": settings.multilabel,
        "family": "style" if settings.architecture.name == BDN else "attribute",
        "classes": labels.classes,
        "image_size": settings.architecture.image_size,
        "input": {
            "dtype": "uint8",
            "shape": [settings.architecture.image_size, settings.architecture.image_size, 3],
            "colour": "RGB",
            "resize": "longer side to the input size, padded to a square with white",
            "preprocessing": "inside the model",
        },
        "backbone": settings.architecture.name,
        "weights": str(settings.weights),
        "encoding_layer": settings.encoding_layer,
        "encoding_dim": int(saved.outputs[0].shape[-1]),
        "outputs": list(mf.OUTPUTS),
        "fingerprint": model_fingerprint(saved),
        "seed": settings.seed,
        "trained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "street2shop_version": __version__,
        "metrics": summary_metrics,
        "training": {**report, "fit": result.summary(), "settings": settings.describe()},
        **segment,
    }
    mf.save_model_files(directory, saved, info)
    (directory / mf.METRICS_FILE).write_text(json.dumps(metrics, indent=2), encoding="utf-8")
    result.history.to_csv(directory / mf.HISTORY_FILE, index=False)
    sides = pd.DataFrame(
        {
            "image": labels.rows["image"],
            "product_id": labels.rows["product_id"],
            "group": split.groups,
            "split": "unused",
        }
    )
    sides.loc[split.train, "split"] = "train"
    sides.loc[split.validation, "split"] = "validation"
    sides.loc[split.held_out, "split"] = "held_out"
    sides.to_csv(directory / mf.SPLIT_FILE, index=False)
    confusion_png(metrics, labels.classes, directory / mf.CONFUSION_FILE, title)
    learning_curves_png(result.history, directory / mf.CURVES_FILE, title)
    count = min(settings.examples, len(val_pos))
    if count:
        chosen = np.linspace(0, len(val_pos) - 1, count).round().astype(int)
        examples_png(
            [pictures.read(int(val_pos[i])) for i in chosen],
            [labels.rows[settings.label].iloc[int(val_rows[i])] for i in chosen],
            probabilities[chosen],
            labels.classes,
            multilabel=settings.multilabel,
            path=directory / mf.EXAMPLES_FILE,
            title=title,
        )
    predictions = pd.DataFrame(
        {
            "image": [pictures.images[int(p)] for p in val_pos],
            "product_id": labels.rows["product_id"].to_numpy()[val_rows],
            "label": labels.rows[settings.label].to_numpy()[val_rows],
        }
    )
    for i, name in enumerate(labels.classes):
        predictions[f"p_{name}"] = probabilities[:, i]
    predictions.to_csv(directory / mf.PREDICTIONS_FILE, index=False, float_format="%.8g")
    if len(errors):
        errors.to_csv(directory / "rejected_rows.csv", index=False)
    return saved, info


def _first_reasons(errors: pd.DataFrame, limit: int = 3) -> str:
    if errors.empty:
        return ""
    return "; first: " + "; ".join(f"row {r.row} ({r.image}): {r.reason}" for r in errors.head(limit).itertuples())
