"""The encoder value type: a Keras model that turns an image into a vector, its fingerprint, and its saver.

It imports nothing else of street2shop's but its errors, so that every other models module can
import it; loading a saved encoder of any kind is :func:`street2shop.models.loading.load_encoder`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from street2shop.errors import InvalidParameter

logger = logging.getLogger(__name__)

MODEL_FILE = "model.keras"
ENCODER_FILE = "encoder.json"


@dataclass(frozen=True)
class Encoder:
    """A Keras model mapping uint8 RGB images ``(S, S, 3)`` to vectors, and what describes it.

    A trained attribute model has two outputs, ``[encoding, probabilities]``: the first makes
    the vector, the second predicts the picture's classes (``info['classes']``) in the same pass.
    Frozen: a renamed encoder is a new one (``dataclasses.replace(encoder, name=...)``).
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
