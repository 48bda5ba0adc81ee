"""Batched image embedding: read and decode in parallel through ``tf.data``, encode with one or more encoders."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from street2shop.models.encoder import Encoder
from street2shop.errors import BadImage, InvalidParameter, StorageError
from street2shop.images.decode import DEFAULT_MAX_PIXELS, decode_image, fit_to_square
from street2shop.progress import Progress

logger = logging.getLogger(__name__)

#: A picture transform applied after decoding (e.g. cut the garment out), before resizing.
PixelTransform = Callable[[np.ndarray], np.ndarray]


class ByteSource(Protocol):
    def read_bytes(self, image: str) -> bytes: ...


@dataclass
class EmbeddingResult:
    """Vectors for the rows that could be read, and the reasons for those that could not."""

    vectors: np.ndarray  # (n_ok, dim) float32, L2-normalised
    rows: np.ndarray  # (n_ok,) indices into the input sequence
    errors: pd.DataFrame  # columns row, image, reason
    attributes: dict[str, np.ndarray] = field(default_factory=dict)  # per attribute model: (n_ok, classes) probabilities


@dataclass(frozen=True)
class EncoderWeighting:
    """How one encoder's part enters the concatenated vector.

    ``transformed``: the part sees the transformed picture (the cut-out garment when the
    embedder segments), else the picture as decoded — a model trained on whole pictures
    must see whole pictures.
    """

    encoder: Encoder
    weight: float = 1.0
    transformed: bool = True


class Embedder:
    """Encode pictures with one or several encoders; each part L2-normalised and weighted, then concatenated.

    Built once with its parts and transform; :meth:`with_weights` makes a re-weighted copy.

    Args:
        encoders: the encoders, ``(encoder, weight)`` or ``(encoder, weight, transformed)``
            tuples, or ``EncoderWeighting`` values.
        transform: optional picture transform applied before resizing (segmentation), to the
            parts marked ``transformed`` (all by default).
    """

    def __init__(
        self,
        encoders: Sequence[Encoder | EncoderWeighting | tuple[Any, ...]],
        *,
        transform: PixelTransform | None = None,
    ):
        if not encoders:
            raise InvalidParameter("at least one encoder is needed to embed images")
        self.parts: tuple[EncoderWeighting, ...] = tuple(
            item if isinstance(item, EncoderWeighting) else EncoderWeighting(*item) if isinstance(item, tuple) else EncoderWeighting(item)
            for item in encoders
        )
        for part in self.parts:
            if part.weight <= 0:
                raise InvalidParameter(f"encoder {part.encoder.name!r}: weight must be positive, got {part.weight}")
        self._transform = transform
        self.sizes = sorted({part.encoder.image_size for part in self.parts})
        self._infer: Any = None

    @property
    def transform(self) -> PixelTransform | None:
        """The picture transform given to the ``transformed`` parts (e.g. a ``SegmentStep``), or None."""
        return self._transform

    @property
    def inputs(self) -> list[tuple[int, bool]]:
        """The distinct model inputs: (size, transformed picture or not), in the order of ``prepare``."""
        return sorted({(part.encoder.image_size, part.transformed and self.transform is not None) for part in self.parts})

    def with_weights(self, weights: Sequence[float]) -> Embedder:
        """The same encoders and transform with a new weight for each part (in order), e.g. fitted on validation pairs."""
        if len(weights) != len(self.parts):
            raise InvalidParameter(f"{len(weights)} weight(s) for {len(self.parts)} part(s)")
        copy = Embedder(
            [EncoderWeighting(p.encoder, float(w), p.transformed) for p, w in zip(self.parts, weights)], transform=self.transform
        )
        copy._infer = self._infer  # same models, same inputs: the compiled forward pass is shared (weights apply after)
        return copy

    def _input_of(self, part: EncoderWeighting) -> int:
        return self.inputs.index((part.encoder.image_size, part.transformed and self.transform is not None))

    @property
    def dim(self) -> int:
        return sum(part.encoder.dim for part in self.parts)

    def layout(self) -> list[dict[str, Any]]:
        """Where each encoder's part sits in the vector (recorded in the index)."""
        start, parts = 0, []
        for part in self.parts:
            parts.append(
                {
                    "name": part.encoder.name,
                    "start": start,
                    "dim": part.encoder.dim,
                    "weight": part.weight,
                    "transformed": part.transformed,
                    "fingerprint": part.encoder.fingerprint,
                    "image_size": part.encoder.image_size,
                    **(
                        {
                            "classes": part.encoder.classes,
                            "multilabel": part.encoder.multilabel,
                            "label_column": part.encoder.info.get("label_column"),
                            "encoding_layer": part.encoder.info.get("encoding_layer"),
                        }
                        if part.encoder.classes
                        else {}
                    ),
                }
            )
            start += part.encoder.dim
        return parts

    def cut(self, pixels: np.ndarray) -> np.ndarray | None:
        """The transformed picture some part needs (None when no part does)."""
        if any(transformed for _, transformed in self.inputs):
            return self.transform(pixels)
        return None

    def prepare(self, pixels: np.ndarray, *, cut: np.ndarray | None = None) -> list[np.ndarray]:
        """Decoded RGB -> one square uint8 input per distinct input (:attr:`inputs`).

        Args:
            cut: the transformed picture when already computed (:meth:`cut`).
        """
        if cut is None:
            cut = self.cut(pixels)
        return [fit_to_square(cut if transformed else pixels, size) for size, transformed in self.inputs]

    @property
    def attribute_models(self) -> list[Encoder]:
        """The encoders that also predict classes (trained attribute models)."""
        return [part.encoder for part in self.parts if part.encoder.classes]

    def encode_batch(self, inputs: Sequence[Any]) -> np.ndarray:
        """Encode a batch given as one array (or tensor) per input size; returns normalised float32 vectors."""
        return self._encode(inputs)[0]

    def encode_batch_with_attributes(self, inputs: Sequence[Any]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Vectors, and each attribute model's class probabilities from the same forward pass."""
        if not self.attribute_models:
            return self.encode_batch(inputs), {}
        return self._encode(inputs)

    def _encode(self, inputs: Sequence[Any]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        if self._infer is None:
            self._infer = _compile_forward(self.parts, [self._input_of(part) for part in self.parts], self.inputs)
        outputs = self._infer(*inputs)
        chunks, attributes = [], {}
        for part, output in zip(self.parts, outputs):
            if isinstance(output, (list, tuple)):
                if part.encoder.classes:
                    attributes[part.encoder.name] = np.asarray(output[1], dtype=np.float32)
                output = output[0]
            chunks.append(_normalise(np.asarray(output, dtype=np.float32)) * part.weight)
        return _normalise(np.concatenate(chunks, axis=1)), attributes

    def embed_arrays(
        self, images: Sequence[np.ndarray], *, batch_size: int = 32, cuts: Sequence[np.ndarray | None] | None = None
    ) -> np.ndarray:
        """Encode decoded RGB pictures already in memory (``cuts``: their transformed pictures, if computed)."""
        return self.embed_arrays_with_attributes(images, batch_size=batch_size, cuts=cuts)[0]

    def embed_arrays_with_attributes(
        self, images: Sequence[np.ndarray], *, batch_size: int = 32, cuts: Sequence[np.ndarray | None] | None = None
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Vectors of pictures in memory, and the attribute models' class probabilities."""
        vectors, attributes = [], []
        cuts = list(cuts) if cuts is not None else [None] * len(images)
        if len(cuts) != len(images):
            raise InvalidParameter(f"{len(cuts)} transformed picture(s) for {len(images)} picture(s)")
        for start in range(0, len(images), batch_size):
            prepared = [self.prepare(image, cut=cut) for image, cut in zip(images[start : start + batch_size], cuts[start : start + batch_size])]
            inputs = [np.stack([p[i] for p in prepared]) for i in range(len(self.inputs))]
            batch_vectors, batch_attributes = self.encode_batch_with_attributes(inputs)
            vectors.append(batch_vectors)
            attributes.append(batch_attributes)
        return (
            np.concatenate(vectors) if vectors else np.zeros((0, self.dim), np.float32),
            self._stack_attributes(attributes),
        )

    def _stack_attributes(self, batches: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
        stacked = {}
        for encoder in self.attribute_models:
            parts = [batch[encoder.name] for batch in batches if encoder.name in batch]
            stacked[encoder.name] = np.concatenate(parts) if parts else np.zeros((0, len(encoder.classes)), np.float32)
        return stacked

    def embed_source(
        self,
        source: ByteSource,
        images: Sequence[str],
        *,
        batch_size: int = 32,
        max_pixels: int = DEFAULT_MAX_PIXELS,
        progress_label: str = "embedding",
    ) -> EmbeddingResult:
        """Read, decode and encode ``images`` from ``source``; bad rows are reported, never fatal.

        Reading and decoding run in parallel inside ``tf.data`` (Pillow and OpenCV release the
        GIL) and are prefetched while the previous batch goes through the network.
        """
        import tensorflow as tf

        if batch_size < 1:
            raise InvalidParameter(f"batch size must be at least 1, got {batch_size}")
        images = [str(image) for image in images]
        errors: dict[int, str] = {}
        lock = threading.Lock()
        blank = [np.zeros((size, size, 3), np.uint8) for size, _ in self.inputs]

        def load(index: np.int64):
            row = int(index)
            try:
                pixels = decode_image(
                    source.read_bytes(images[row]), max_pixels=max_pixels, name=images[row], min_side=self.sizes[-1]
                )
                return (np.int64(row), np.bool_(True), *self.prepare(pixels))
            except (BadImage, StorageError) as err:
                reason = err.reason if isinstance(err, BadImage) else str(err)
            except Exception as err:  # a transform failing on one picture must not stop the others
                reason = f"{type(err).__name__}: {err}"
            with lock:
                errors[row] = reason
            return (np.int64(row), np.bool_(False), *blank)

        output_types = [tf.int64, tf.bool] + [tf.uint8] * len(self.inputs)

        def load_tf(index):
            values = tf.numpy_function(load, [index], output_types, stateful=False)
            for value, (size, _) in zip(values[2:], self.inputs):
                value.set_shape((size, size, 3))
            values[0].set_shape(())
            values[1].set_shape(())
            return tuple(values)

        dataset = (
            tf.data.Dataset.range(len(images))
            .map(load_tf, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
            .filter(_was_read)
            .batch(batch_size)
            .prefetch(2)
        )
        vectors, rows, attributes = [], [], []
        with Progress(len(images), progress_label, logger=logger) as progress:
            seen = 0
            for batch in dataset:
                batch_rows = batch[0].numpy()
                batch_vectors, batch_attributes = self.encode_batch_with_attributes(batch[2:])
                vectors.append(batch_vectors)
                attributes.append(batch_attributes)
                rows.append(batch_rows)
                done = int(batch_rows[-1]) + 1
                progress.update(done - seen)
                seen = done
            progress.update(len(images) - seen)  # rows filtered out after the last read one
        error_rows = sorted(errors)
        return EmbeddingResult(
            vectors=np.concatenate(vectors) if vectors else np.zeros((0, self.dim), np.float32),
            rows=np.concatenate(rows).astype(np.int64) if rows else np.zeros(0, np.int64),
            errors=pd.DataFrame(
                {"row": error_rows, "image": [images[r] for r in error_rows], "reason": [errors[r] for r in error_rows]},
                columns=["row", "image", "reason"],
            ),
            attributes=self._stack_attributes(attributes),
        )


def _compile_forward(parts: Sequence[EncoderWeighting], slots: Sequence[int], inputs: Sequence[tuple[int, bool]]) -> Any:
    """One ``tf.function`` running every part's model on its input, traced once for any batch size.

    A function per model, or shapes left open, retraced for each new batch size and each
    encoder (and TensorFlow warned about it); the input signature fixes the batch as ``None``.
    """
    import tensorflow as tf

    models = [part.encoder.model for part in parts]
    dtypes: dict[int, Any] = {}
    for model, slot in zip(models, slots):
        try:
            dtype = tf.as_dtype(model.inputs[0].dtype)
        except (AttributeError, IndexError, TypeError, ValueError):  # a model without a symbolic input
            dtype = tf.uint8
        dtypes.setdefault(slot, dtype)
    signature = [tf.TensorSpec((None, size, size, 3), dtypes.get(slot, tf.uint8)) for slot, (size, _) in enumerate(inputs)]

    def forward(*batches: Any) -> tuple[Any, ...]:
        outputs = []
        for model, slot in zip(models, slots):
            outputs.append(model(batches[slot], training=False))
        return tuple(outputs)

    return tf.function(forward, input_signature=signature, autograph=False)


def _was_read(row: Any, ok: Any, *pixels: Any) -> Any:
    """``tf.data`` filter: keep the pictures that could be read."""
    return ok


def _normalise(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
