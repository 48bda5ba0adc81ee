"""Loading any saved street2shop model as an :class:`~street2shop.models.encoder.Encoder`: the one place that knows every kind.

A folder records its kind: a trained model folder by its ``model.json`` (format
``street2shop-model``: an attribute or style classifier, ``street2shop train``), an encoder
folder by the ``kind`` in its ``encoder.json`` (``backbone``, ``descriptors``, ``metric``, or a
trained model as an index bundles it: ``attribute``, ``style``). :data:`LOADERS` maps each kind
to its loader. Every custom layer is registered first (:mod:`street2shop.models.layers`), so
each kind loads with Keras ``safe_mode`` and without compiling (no training loss is needed).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from street2shop.errors import FingerprintMismatch, IndexFormatError
from street2shop.models import model_folder
from street2shop.models.encoder import ENCODER_FILE, MODEL_FILE, Encoder, model_fingerprint
from street2shop.storage.paths import resolve_inside

#: The kind of a trained model folder: the format its ``model.json`` records.
TRAINED_MODEL = model_folder.FORMAT_NAME

#: A loader: ``(directory, encoder.json's content or None, expected_fingerprint=, layer=, name=) -> Encoder``.
Loader = Callable[..., Encoder]


def load_encoder(
    directory: str | Path, *, expected_fingerprint: str | None = None, layer: str | None = None, name: str | None = None
) -> Encoder:
    """Load a saved model of any kind with Keras ``safe_mode`` and check its fingerprint.

    ``directory`` is an encoder folder (:func:`~street2shop.models.encoder.save_encoder`, as
    bundled in an index) or a trained model folder (``street2shop train``: ``model.json`` +
    ``model.keras``).

    Args:
        layer: a trained model only: the layer whose output is the encoding (default: the one
            recorded, the 1000-unit ``encoding`` layer).
        name: the encoder's name (default: the recorded one; a trained model's label column).

    Raises:
        IndexFormatError: files missing or unreadable.
        FingerprintMismatch: the weights are not those recorded (by the folder or by the caller).
    """
    directory = Path(directory)
    kind, description = recorded_kind(directory)
    loader = LOADERS.get(kind, _load_encoder_folder)  # an encoder folder of another kind is a plain encoder
    return loader(directory, description, expected_fingerprint=expected_fingerprint, layer=layer, name=name)


def recorded_kind(directory: str | Path) -> tuple[str, dict[str, Any] | None]:
    """The kind of saved model in ``directory``, and its ``encoder.json`` (None for a trained model folder).

    Raises:
        IndexFormatError: neither an encoder folder nor a trained model folder, or unreadable.
    """
    directory = Path(directory)
    description_path = resolve_inside(directory, ENCODER_FILE)
    if not description_path.is_file() and model_folder.is_model_folder(directory):
        return TRAINED_MODEL, None
    if not description_path.is_file() or not resolve_inside(directory, MODEL_FILE).is_file():
        raise IndexFormatError(f"{directory} is not an encoder folder: expected {MODEL_FILE} and {ENCODER_FILE}")
    try:
        description = json.loads(description_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise IndexFormatError(f"{directory / ENCODER_FILE}: invalid JSON ({err})") from err
    if not isinstance(description, dict):
        raise IndexFormatError(f"{directory / ENCODER_FILE}: a JSON object is expected")
    return str(description.get("kind") or "encoder"), description


def _load_encoder_folder(
    directory: Path, description: dict[str, Any], *, expected_fingerprint: str | None, layer: str | None, name: str | None
) -> Encoder:
    """An encoder folder: ``model.keras`` and ``encoder.json`` (``layer`` does not apply)."""
    model = model_folder.load_keras_model(directory / MODEL_FILE, directory)
    fingerprint = model_fingerprint(model)
    recorded = description.get("fingerprint")
    for label, wanted in (("recorded in its folder", recorded), ("expected by the index", expected_fingerprint)):
        if wanted and wanted != fingerprint:
            raise FingerprintMismatch(
                f"model {description.get('name', directory.name)!r} in {directory} has fingerprint "
                f"{fingerprint[:12]}, but {label} is {wanted[:12]}: the model was changed or does not belong "
                "to this index; rebuild the index with `street2shop embed`"
            )
    info = {k: v for k, v in description.items() if k not in ("name", "image_size", "dim", "fingerprint")}
    return Encoder(
        name=name or str(description.get("name", directory.name)),
        model=model,
        image_size=int(model.input_shape[1]),
        fingerprint=fingerprint,
        info=info,
    )


def _load_trained_model(
    directory: Path, description: None, *, expected_fingerprint: str | None, layer: str | None, name: str | None
) -> Encoder:
    """A trained model folder: an encoder whose outputs are ``[encoding, probabilities]``."""
    model, info = model_folder.load_model(directory, layer=layer)
    fingerprint = model_fingerprint(model)
    if expected_fingerprint and expected_fingerprint != fingerprint:
        raise FingerprintMismatch(
            f"model {info.get('name', directory.name)!r} in {directory} has fingerprint {fingerprint[:12]}, but the "
            f"index expects {expected_fingerprint[:12]}: rebuild the index with `street2shop embed`"
        )
    return Encoder(
        name=name or str(info.get("name") or directory.name),
        model=model,
        image_size=int(model.input_shape[1]),
        fingerprint=fingerprint,
        info=model_folder.encoder_info(info),
    )


#: Every kind of saved model, and how it loads. The encoder kinds all load alike because
#: :func:`~street2shop.models.layers.register_layers` defines every layer; a kind that needs
#: more gets its own loader here.
LOADERS: dict[str, Loader] = {
    TRAINED_MODEL: _load_trained_model,
    "backbone": _load_encoder_folder,
    "descriptors": _load_encoder_folder,
    "metric": _load_encoder_folder,
    "attribute": _load_encoder_folder,
    "style": _load_encoder_folder,
}
