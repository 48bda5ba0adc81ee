"""The ``segment`` option: one garment-segmentation step, recorded where it was used and rebuilt where it is needed."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from street2shop.errors import FingerprintMismatch, IndexFormatError, InvalidParameter
from street2shop.segmentation.garment import garment_transform
from street2shop.segmentation.params import SegmentParams

logger = logging.getLogger(__name__)

#: Where an index folder bundles the mask model it was built with.
MASK_MODEL_DIR = "mask_model"
#: Default enlargement of the garment's box when it is cropped (``crop_to_garment``'s ``pad``).
DEFAULT_PAD = 0.05
#: The keys a segment record holds (in ``index.json``'s settings and in a model folder's ``model.json``).
RECORD_KEYS = ("segment", "segment_pad", "segment_mask_model")


class SegmentStep:
    """Segmentation turned on: a ``pixels -> pixels`` transform that knows its own settings.

    Calling it segments the garment, cuts it out on white and crops it to its box
    (:func:`street2shop.segmentation.garment.segment_and_crop`). Used as an ``Embedder``'s transform or a
    training transform, it is recorded (:meth:`record`) so that queries are later processed
    exactly like the pictures it was applied to.

    Args:
        params: the segmentation parameters.
        mask_model: a loaded mask model (``street2shop.segmentation.mask_model.load_mask_model``), or None.
        mask_model_dir: the folder ``mask_model`` was loaded from (needed to bundle it in an index).
        pad: the box is enlarged by this fraction of its size before cropping.
    """

    def __init__(
        self,
        params: SegmentParams | None = None,
        *,
        mask_model: Any = None,
        mask_model_dir: str | os.PathLike[str] | None = None,
        pad: float = DEFAULT_PAD,
    ):
        self.params = params if params is not None else SegmentParams()
        if not isinstance(self.params, SegmentParams):
            raise InvalidParameter(f"segment parameters must be SegmentParams, got {type(self.params).__name__}")
        self.mask_model = mask_model
        self.mask_model_dir = Path(mask_model_dir) if mask_model_dir is not None else None
        self.pad = float(pad)
        self._transform = garment_transform(params=self.params, mask_model=mask_model, pad=self.pad)

    @classmethod
    def load(
        cls, params: SegmentParams | None = None, mask_model: str | os.PathLike[str] | None = None, *, pad: float = DEFAULT_PAD
    ) -> SegmentStep:
        """A step with its mask model (if any) loaded from a folder, safely (Keras ``safe_mode``)."""
        model = None
        if mask_model is not None:
            from street2shop.segmentation.mask_model import load_mask_model

            model = load_mask_model(mask_model)
        return cls(params, mask_model=model, mask_model_dir=mask_model, pad=pad)

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        return self._transform(rgb)

    @property
    def mask_model_fingerprint(self) -> str | None:
        """SHA-256 of the mask model file, or None without a mask model."""
        if self.mask_model is None:
            return None
        return str(getattr(self.mask_model, "fingerprint", "")) or None

    def record(self, *, bundled: bool = False) -> dict[str, Any]:
        """The settings to record beside what the step was applied to (keys ``RECORD_KEYS``).

        Args:
            bundled: the mask model is copied into the index folder's ``MASK_MODEL_DIR``.
        """
        mask = None
        if self.mask_model is not None:
            mask = {"fingerprint": self.mask_model_fingerprint}
            if bundled:
                mask["folder"] = MASK_MODEL_DIR
        return {"segment": self.params.as_dict(), "segment_pad": self.pad, "segment_mask_model": mask}

    def bundle(self, directory: str | os.PathLike[str]) -> None:
        """Copy the mask model's folder into ``directory / MASK_MODEL_DIR`` (nothing to do without one).

        Raises:
            InvalidParameter: the mask model was not loaded from a folder.
            FingerprintMismatch: the model file changed since it was loaded.
        """
        if self.mask_model is None:
            return
        from street2shop.segmentation.mask_model import CONFIG_FILE, MODEL_FILE

        if self.mask_model_dir is None:
            raise InvalidParameter("the mask model must be loaded from a folder to be bundled in an index")
        target = Path(directory) / MASK_MODEL_DIR
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(self.mask_model_dir / MODEL_FILE, target / MODEL_FILE)
        if (self.mask_model_dir / CONFIG_FILE).is_file():
            shutil.copyfile(self.mask_model_dir / CONFIG_FILE, target / CONFIG_FILE)
        copied = _sha256(target / MODEL_FILE)
        if self.mask_model_fingerprint and copied != self.mask_model_fingerprint:
            raise FingerprintMismatch(
                f"mask model {self.mask_model_dir / MODEL_FILE} changed since it was loaded "
                f"(fingerprint {copied[:12]}, loaded {self.mask_model_fingerprint[:12]}); run again"
            )


def segment_step(
    segment: SegmentParams | bool | None, mask_model: str | os.PathLike[str] | None = None, *, pad: float = DEFAULT_PAD
) -> SegmentStep | None:
    """The step the ``segment`` option asks for: None when it is off.

    Args:
        segment: True (default parameters) or parameters turn it on; None or False leave it off.
        mask_model: a mask model folder; only with ``segment`` on.

    Raises:
        InvalidParameter: a mask model without ``segment``.
    """
    if segment is None or segment is False:
        if mask_model is not None:
            raise InvalidParameter("a mask model is given but segmentation is off: turn on 'segment' or leave the mask model out")
        return None
    params = SegmentParams() if segment is True else segment
    return SegmentStep.load(params, mask_model, pad=pad)


def segment_record(transform: Any, *, bundled: bool = False) -> dict[str, Any]:
    """The record of a transform: a :class:`SegmentStep`'s settings, or segmentation off for None.

    A transform of another kind cannot be recorded; it is logged and recorded as off.
    """
    if isinstance(transform, SegmentStep):
        return transform.record(bundled=bundled)
    if transform is not None:
        logger.warning("a custom picture transform is used; it is not recorded and queries will not apply it by themselves")
    return {"segment": None, "segment_pad": None, "segment_mask_model": None}


def takes_garment(encoder: Any) -> bool:
    """Whether an encoder is given the cut-out garment when an embedding segments.

    A model trained on our pictures takes what it was trained on: the garment when its
    ``model.json`` records segmentation, else the whole picture (attribute models trained
    without ``--segment``; metric embeddings, trained on synthesised street views of whole
    scenes). Feature extractors and garment descriptors take the garment.
    """
    info = getattr(encoder, "info", {}) or {}
    if "segment" in info:
        return info["segment"] is not None
    return not (encoder.classes or info.get("kind") == "metric")


def step_from_record(record: Mapping[str, Any], directory: str | os.PathLike[str]) -> SegmentStep | None:
    """Rebuild the step an index was built with from its settings and its bundled mask model.

    Args:
        record: ``index.json``'s settings; without a ``segment`` entry segmentation is off.
        directory: the local index directory (holding ``MASK_MODEL_DIR`` when a model was bundled).

    Raises:
        IndexFormatError: unreadable settings, or a recorded mask model that is not in the folder.
        FingerprintMismatch: the bundled mask model is not the one recorded.
    """
    values = record.get("segment")
    if values is None:
        return None
    if not isinstance(values, Mapping):
        raise IndexFormatError(f"{directory}: the index's segment settings are not an object: {values!r}")
    try:
        params = SegmentParams.from_dict(dict(values))
    except (InvalidParameter, TypeError) as err:
        raise IndexFormatError(f"{directory}: the index's segment settings cannot be used: {err}") from err
    pad = record.get("segment_pad")
    pad = DEFAULT_PAD if pad is None else float(pad)
    mask = record.get("segment_mask_model")
    if not mask:
        return SegmentStep(params, pad=pad)
    from street2shop.segmentation.mask_model import is_mask_model_folder, load_mask_model

    from street2shop.storage.paths import plain_name, resolve_inside

    if not isinstance(mask, Mapping):
        raise IndexFormatError(f"{directory}: the index's segment_mask_model is not an object: {str(mask)[:60]!r}")
    name = plain_name(mask.get("folder") or MASK_MODEL_DIR, f"{directory}: segment_mask_model.folder")
    resolve_inside(directory, name)
    folder = Path(directory) / name
    if not is_mask_model_folder(folder):
        raise IndexFormatError(f"{directory}: the index was built with a mask model but {folder.name}/ is missing; rebuild the index")
    model = load_mask_model(folder)
    if mask.get("fingerprint") and model.fingerprint != mask["fingerprint"]:
        raise FingerprintMismatch(
            f"{folder}: the mask model has fingerprint {model.fingerprint[:12]}, but the index was built with "
            f"{str(mask['fingerprint'])[:12]}; rebuild the index"
        )
    return SegmentStep(params, mask_model=model, mask_model_dir=folder, pad=pad)


def record_difference(expected: Mapping[str, Any], actual: Mapping[str, Any]) -> str | None:
    """How two segment records differ, in words, or None when they describe the same processing."""

    def summary(record: Mapping[str, Any]) -> tuple[Any, ...]:
        mask = record.get("segment_mask_model") or {}
        if record.get("segment") is None:
            return (None, None, None)
        pad = record.get("segment_pad")
        return (dict(record["segment"]), DEFAULT_PAD if pad is None else float(pad), mask.get("fingerprint"))

    left, right = summary(expected), summary(actual)
    if left == right:
        return None
    if left[0] is None or right[0] is None:
        return f"segmentation {'off' if left[0] is None else 'on'} vs {'off' if right[0] is None else 'on'}"
    parts = []
    if left[0] != right[0]:
        changed = sorted(k for k in set(left[0]) | set(right[0]) if left[0].get(k) != right[0].get(k))
        parts.append("parameters " + ", ".join(f"{k} {left[0].get(k)!r} vs {right[0].get(k)!r}" for k in changed))
    if left[1] != right[1]:
        parts.append(f"pad {left[1]} vs {right[1]}")
    if left[2] != right[2]:
        parts.append(f"mask model {str(left[2])[:12] if left[2] else 'none'} vs {str(right[2])[:12] if right[2] else 'none'}")
    return "; ".join(parts)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
