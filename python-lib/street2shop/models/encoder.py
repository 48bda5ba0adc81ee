"""Encoders: saved Keras models that turn an image into a vector, with their fingerprints."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from street2shop.errors import FingerprintMismatch, IndexFormatError, InvalidParameter

logger = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
ENCODER_FILE = "encoder.json"


@dataclass
class Encoder:
    """A Keras model mapping uint8 RGB images ``(S, S, 3)`` to vectors, and what describes it.

    A trained attribute model has two outputs, ``[encoding, probabilities]``: the first makes
    the vector, the second predicts the picture's classes (``info['classes']``) in the same pass.
    """

    name: str
    model: Any  # keras.Model
    image_size: int
    fingerprint: str
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.model.outputs[0].shape[-1])

    @property
    def classes(self) -> list[str] | None:
        """The class names of an attribute model's second output, else None."""
        classes = self.info.get("classes")
        return list(classes) if classes and len(self.model.outputs) > 1 else None

    @property
    def multilabel(self) -> bool:
        return bool(self.info.get("multilabel", False))


def model_fingerprint(model: Any) -> str:
    """A SHA-256 of what the model computes: input shape, each weight's shape and values, in order.

    Layer names are left out on purpose: Keras numbers them per process, so the same network
    rebuilt elsewhere gets other names but the same fingerprint.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps(list(model.input_shape), default=str).encode())
    for weight in model.weights:
        array = weight.numpy()
        digest.update(str(array.dtype).encode())
        digest.update(json.dumps(list(array.shape)).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def make_encoder(name: str, model: Any, info: dict[str, Any] | None = None) -> Encoder:
    """Wrap a Keras model whose input is ``(S, S, 3)`` images as an encoder."""
    shape = model.input_shape
    if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3:
        raise InvalidParameter(f"encoder {name!r}: the model's input must be (S, S, 3) images, got {shape}")
    return Encoder(name=name, model=model, image_size=int(shape[1]), fingerprint=model_fingerprint(model), info=dict(info or {}))


def save_encoder(encoder: Encoder, directory: str | Path) -> Path:
    """Write ``model.keras`` and ``encoder.json`` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    encoder.model.save(directory / MODEL_FILE)
    description = {
        "name": encoder.name,
        "image_size": encoder.image_size,
        "dim": encoder.dim,
        "fingerprint": encoder.fingerprint,
        **encoder.info,
    }
    (directory / ENCODER_FILE).write_text(json.dumps(description, indent=2, sort_keys=True))
    return directory


def load_encoder(
    directory: str | Path, *, expected_fingerprint: str | None = None, layer: str | None = None, name: str | None = None
) -> Encoder:
    """Load an encoder with Keras ``safe_mode`` and check its fingerprint.

    ``directory`` is an encoder folder (:func:`save_encoder`, as bundled in an index) or a
    trained model folder (``street2shop train``: ``model.json`` + ``model.keras``).

    Args:
        layer: a trained model only: the layer whose output is the encoding (default: the one
            recorded, the 1000-unit ``encoding`` layer).
        name: the encoder's name (default: the recorded one; a trained model's label column).

    Raises:
        IndexFormatError: files missing or unreadable.
        FingerprintMismatch: the weights are not those recorded (by the folder or by the caller).
    """
    import keras

    from street2shop.models.backbones import register_layers

    directory = Path(directory)
    description_path = directory / ENCODER_FILE
    model_path = directory / MODEL_FILE
    if not description_path.is_file() and model_path.is_file() and (directory / "model.json").is_file():
        return _load_trained_model(directory, expected_fingerprint=expected_fingerprint, layer=layer, name=name)
    if not description_path.is_file() or not model_path.is_file():
        raise IndexFormatError(f"{directory} is not an encoder folder: expected {MODEL_FILE} and {ENCODER_FILE}")
    try:
        description = json.loads(description_path.read_text())
    except json.JSONDecodeError as err:
        raise IndexFormatError(f"{description_path}: invalid JSON ({err})") from err
    register_layers()
    if description.get("kind") == "descriptors":
        from street2shop.models.descriptors import register_descriptor_layers

        register_descriptor_layers()
    if description.get("classes"):
        from street2shop.training.architectures import register_training_layers

        register_training_layers()
    model = keras.saving.load_model(model_path, safe_mode=True, compile=False)
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


def _load_trained_model(directory: Path, *, expected_fingerprint: str | None, layer: str | None, name: str | None) -> Encoder:
    """An encoder from a trained model folder: outputs ``[encoding, probabilities]``."""
    from street2shop.models.model_folder import encoder_info, load_model

    model, info = load_model(directory, layer=layer)
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
        info=encoder_info(info),
    )
