"""The model folder (design §3): one trained attribute model and what is needed to use it without its data."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from street2shop.errors import FingerprintMismatch, IndexFormatError
from street2shop.models.encoder import model_fingerprint
from street2shop.models.layers import OUTPUT_LAYER, register_layers
from street2shop.storage.paths import resolve_inside

logger = logging.getLogger(__name__)

FORMAT_NAME = "street2shop-model"
FORMAT_VERSION = 1
MODEL_FILE = "model.keras"
INFO_FILE = "model.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.csv"
SPLIT_FILE = "split.csv"
PREDICTIONS_FILE = "predictions.csv"  # the validation pictures' probabilities, computed before saving
CONFUSION_FILE = "confusion.png"
CURVES_FILE = "learning_curves.png"
EXAMPLES_FILE = "examples.png"
#: Outputs of the saved model, in order: the search encoding, then the class probabilities.
OUTPUTS = ("encoding", "probabilities")


def is_model_folder(directory: str | Path) -> bool:
    """Whether ``directory`` holds a trained model (``model.json`` and ``model.keras``)."""
    directory = Path(directory)
    return (directory / INFO_FILE).is_file() and (directory / MODEL_FILE).is_file()


def read_model_info(directory: str | Path) -> dict[str, Any]:
    """``model.json`` of a model folder, checked.

    Raises:
        IndexFormatError: not a model folder, or one written by a newer street2shop.
    """
    directory = Path(directory)
    path = directory / INFO_FILE
    if not is_model_folder(directory):
        raise IndexFormatError(f"{directory} is not a model folder: expected {MODEL_FILE} and {INFO_FILE}")
    try:
        info = json.loads(resolve_inside(directory, INFO_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise IndexFormatError(f"{path}: cannot read ({' '.join(str(err).split())[:160]})") from None
    if not isinstance(info, dict) or info.get("format") != FORMAT_NAME:
        raise IndexFormatError(f"{path}: not a street2shop model (format {info.get('format') if isinstance(info, dict) else None!r})")
    if int(info.get("format_version", -1)) > FORMAT_VERSION:
        raise IndexFormatError(f"{path}: model format {info.get('format_version')} is newer than this street2shop reads ({FORMAT_VERSION})")
    for key in ("classes", "multilabel", "image_size", "fingerprint"):
        if key not in info:
            raise IndexFormatError(f"{path}: {key!r} is missing")
    return info


def save_model_files(directory: Path, model: Any, info: dict[str, Any]) -> None:
    """Write ``model.keras`` (outputs: encoding, probabilities) and ``model.json`` (written last)."""
    directory.mkdir(parents=True, exist_ok=True)
    model.save(directory / MODEL_FILE)
    (directory / INFO_FILE).write_text(json.dumps(info, indent=2, sort_keys=True), encoding="utf-8")


def load_model(directory: str | Path, *, layer: str | None = None, check_fingerprint: bool = True) -> tuple[Any, dict[str, Any]]:
    """Load a model folder's Keras model with ``safe_mode`` and its description.

    Args:
        layer: take the encoding from this layer instead of the recorded one (e.g. ``pooled``).

    Returns:
        The model (outputs: encoding, probabilities) and ``model.json``'s content.

    Raises:
        IndexFormatError: not a model folder, or no such layer.
        FingerprintMismatch: the weights are not those recorded.
    """
    import keras

    directory = Path(directory)
    info = read_model_info(directory)
    model = load_keras_model(directory / MODEL_FILE, directory)  # uncompiled: the training loss is not needed
    fingerprint = model_fingerprint(model)
    if check_fingerprint and fingerprint != info["fingerprint"]:
        raise FingerprintMismatch(
            f"model {info.get('name', directory.name)!r} in {directory} has fingerprint {fingerprint[:12]}, but its "
            f"{INFO_FILE} records {str(info['fingerprint'])[:12]}: the model file was changed"
        )
    if layer and layer != info.get("encoding_layer"):
        try:
            encoding = model.get_layer(layer).output
        except ValueError as err:
            names = ", ".join(l.name for l in model.layers)
            raise IndexFormatError(f"{directory}: the model has no layer {layer!r}; its layers: {names}") from err
        model = keras.Model(model.inputs, [encoding, model.get_layer(OUTPUT_LAYER).output], name=model.name)
        info = {**info, "encoding_layer": layer, "encoding_dim": int(encoding.shape[-1])}
    return model, info


def load_keras_model(path: Path, root: Path) -> Any:
    """A Keras model file inside ``root``, loaded with ``safe_mode``; any failure is one line naming the file.

    Raises:
        IndexFormatError: the file leads outside ``root``, is damaged, or holds a model ``safe_mode`` refuses.
    """
    import keras

    resolved = resolve_inside(root, path.name)
    register_layers()
    try:
        return keras.saving.load_model(resolved, safe_mode=True, compile=False)
    except Exception as err:  # noqa: BLE001 - Keras raises ValueError, OSError, zipfile errors, TypeError...
        return _refuse(path, err)


def _refuse(path: Path, err: BaseException) -> Any:
    text = " ".join(str(err).split())
    if "safe_mode" in text or "Lambda" in text:
        reason = "it holds Python code (e.g. a Lambda layer), which safe_mode refuses to run"
    else:
        reason = f"{type(err).__name__}: {text[:160]}" if text else type(err).__name__
    raise IndexFormatError(f"{path}: cannot load the model ({reason})") from None


def encoder_info(info: dict[str, Any]) -> dict[str, Any]:
    """What an encoder built from a model folder records about it (in the index's ``encoder.json``)."""
    keys = (
        "family", "label_column", "classes", "multilabel", "encoding_layer", "backbone", "image_size", "trained_at",
        "segment", "segment_pad", "segment_mask_model",
    )
    return {"kind": info.get("family", "attribute"), **{key: info[key] for key in keys if key in info}}
