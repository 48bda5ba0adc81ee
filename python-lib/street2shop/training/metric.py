"""Instance-level metric learning: the embedding network and its losses (margin-softmax, multi-similarity, batch-hard triplet)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from street2shop.errors import InvalidParameter

logger = logging.getLogger(__name__)

MARGIN_SOFTMAX = "margin-softmax"
MULTI_SIMILARITY = "multi-similarity"
TRIPLET = "triplet"
#: The losses, the default first (chosen by measurement: docs/metric_learning.md).
LOSSES = (MULTI_SIMILARITY, MARGIN_SOFTMAX, TRIPLET)
EMBEDDING_LAYER = "embedding"
COSINE_LAYER = "product_cosines"


@dataclass(frozen=True)
class LossParams:
    """A loss and its constants.

    Attributes:
        name: ``margin-softmax`` (CosFace: a softmax over product ids on cosines, the target's
            cosine lowered by ``margin``, scaled by ``scale``), ``multi-similarity`` (Wang et al.
            2019: pairs mined by ``mining_margin``, weighted by ``alpha``/``beta`` around ``base``)
            or ``triplet`` (batch-hard: each anchor's farthest positive and nearest negative,
            hinge at ``margin``).
    """

    name: str = MULTI_SIMILARITY
    scale: float = 16.0
    margin: float = 0.2
    alpha: float = 2.0
    beta: float = 40.0
    base: float = 0.5
    mining_margin: float = 0.1

    def __post_init__(self) -> None:
        if self.name not in LOSSES:
            raise InvalidParameter(f"unknown metric loss {self.name!r}; choose one of {', '.join(LOSSES)}")
        if self.scale <= 0 or self.alpha <= 0 or self.beta <= 0:
            raise InvalidParameter("loss scale, alpha and beta must be positive")
        if not 0.0 <= self.margin < 1.0 or not 0.0 <= self.mining_margin < 1.0 or not -1.0 < self.base < 1.0:
            raise InvalidParameter("loss margins must be in [0, 1) and the base similarity in (-1, 1)")

    @property
    def uses_classifier(self) -> bool:
        """Whether training needs a per-product weight matrix (the margin-softmax head)."""
        return self.name == MARGIN_SOFTMAX

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def _flat_labels(y_true: Any) -> Any:
    import keras

    return keras.ops.reshape(keras.ops.cast(y_true, "int32"), (-1,))


def margin_softmax_loss(y_true: Any, cosines: Any, *, scale: float, margin: float) -> Any:
    """CosFace: cross-entropy of ``scale * (cos - margin * onehot)``; one value per picture."""
    import keras

    ops = keras.ops
    labels = _flat_labels(y_true)
    onehot = ops.one_hot(labels, ops.shape(cosines)[-1], dtype="float32")
    logits = scale * (ops.cast(cosines, "float32") - margin * onehot)
    return keras.losses.categorical_crossentropy(onehot, logits, from_logits=True)


def _pair_masks(labels: Any) -> tuple[Any, Any]:
    import keras

    ops = keras.ops
    same = ops.equal(labels[:, None], labels[None, :])
    eye = ops.eye(ops.shape(labels)[0], dtype="bool")
    return ops.logical_and(same, ops.logical_not(eye)), ops.logical_not(same)


def multi_similarity_loss(y_true: Any, embeddings: Any, *, alpha: float, beta: float, base: float, mining_margin: float) -> Any:
    """Multi-similarity loss on L2-normalised embeddings; one value per anchor.

    Pairs are mined per anchor: a negative counts when its similarity exceeds the anchor's
    hardest positive minus ``mining_margin``, a positive when it is below the hardest negative
    plus ``mining_margin``; then ``1/alpha log(1 + sum exp(-alpha (s - base)))`` over positives
    plus ``1/beta log(1 + sum exp(beta (s - base)))`` over negatives.
    """
    import keras

    ops = keras.ops
    labels = _flat_labels(y_true)
    x = ops.cast(embeddings, "float32")
    sim = ops.matmul(x, ops.transpose(x))
    positive, negative = _pair_masks(labels)
    big = 1e4
    hardest_positive = ops.min(ops.where(positive, sim, big), axis=1, keepdims=True)
    hardest_negative = ops.max(ops.where(negative, sim, -big), axis=1, keepdims=True)
    keep_negative = ops.logical_and(negative, sim + mining_margin > hardest_positive)
    keep_positive = ops.logical_and(positive, sim - mining_margin < hardest_negative)
    pos_term = ops.sum(ops.where(keep_positive, ops.exp(-alpha * (sim - base)), 0.0), axis=1)
    neg_term = ops.sum(ops.where(keep_negative, ops.exp(beta * (sim - base)), 0.0), axis=1)
    return ops.log1p(pos_term) / alpha + ops.log1p(neg_term) / beta


def triplet_loss(y_true: Any, embeddings: Any, *, margin: float) -> Any:
    """Batch-hard triplet loss on L2-normalised embeddings (distances ``2 - 2 cos``); one value per anchor."""
    import keras

    ops = keras.ops
    labels = _flat_labels(y_true)
    x = ops.cast(embeddings, "float32")
    distance = ops.maximum(2.0 - 2.0 * ops.matmul(x, ops.transpose(x)), 0.0)
    positive, negative = _pair_masks(labels)
    farthest_positive = ops.max(ops.where(positive, distance, 0.0), axis=1)
    nearest_negative = ops.min(ops.where(negative, distance, 4.0), axis=1)
    has_both = ops.logical_and(ops.any(positive, axis=1), ops.any(negative, axis=1))
    return ops.where(has_both, ops.relu(farthest_positive - nearest_negative + margin), 0.0)


def loss_function(params: LossParams):
    """The Keras loss ``(labels, output) -> per-picture values`` for ``params`` (output: cosines or embeddings)."""
    if params.name == MARGIN_SOFTMAX:
        return lambda y, p: margin_softmax_loss(y, p, scale=params.scale, margin=params.margin)
    if params.name == MULTI_SIMILARITY:
        return lambda y, p: multi_similarity_loss(
            y, p, alpha=params.alpha, beta=params.beta, base=params.base, mining_margin=params.mining_margin
        )
    return lambda y, p: triplet_loss(y, p, margin=params.margin)


def cosine_classifier(n_classes: int, name: str = COSINE_LAYER):
    """A layer of ``n_classes`` unit-norm weight vectors: L2-normalised embeddings -> cosines (training only)."""
    import keras

    class CosineClassifier(keras.layers.Layer):
        def __init__(self, units: int, **kwargs: Any):
            super().__init__(**kwargs)
            self.units = int(units)

        def build(self, input_shape):
            self.kernel = self.add_weight(
                shape=(int(input_shape[-1]), self.units), initializer="glorot_uniform", trainable=True, name="kernel"
            )

        def call(self, inputs):
            ops = keras.ops
            kernel = self.kernel / ops.maximum(ops.sqrt(ops.sum(ops.square(self.kernel), axis=0, keepdims=True)), 1e-12)
            return ops.matmul(ops.cast(inputs, "float32"), kernel)

    return CosineClassifier(n_classes, name=name)


def build_embedding_model(
    backbone: str = "small-cnn", *, image_size: int | None = None, dim: int = 128, width: int = 32, weights: str | Path | None = "none"
):
    """The embedding network: uint8 RGB ``(S, S, 3)`` -> L2-normalised ``dim`` vector, preprocessing inside.

    Any classifier backbone of ``architectures`` (not the per-class ``bdn`` pathways): its pooled
    features -> Dense ``dim`` -> L2 normalisation (layer ``embedding``).

    Raises:
        InvalidParameter: unknown backbone, ``bdn``, bad sizes or unusable weights.
    """
    import keras

    from street2shop.models.layers import POOLED_LAYER, register_layers
    from street2shop.training.architectures import BDN, Architecture, architecture_name, build_classifier

    name = architecture_name(backbone)
    if name == BDN:
        raise InvalidParameter("the bdn style pathways are per class: choose another backbone for a metric embedding")
    if dim < 2:
        raise InvalidParameter(f"the embedding needs at least 2 dimensions, got {dim}")
    classifier = build_classifier(
        Architecture(name=name, image_size=image_size, encoding_units=dim, width=width), 2, multilabel=False, weights=weights
    )
    pooled = classifier.get_layer(POOLED_LAYER).output
    projected = keras.layers.Dense(dim, name="projection")(pooled)
    normalised = register_layers()["L2Normalize"](name=EMBEDDING_LAYER)(projected)
    return keras.Model(classifier.inputs, normalised, name=f"{name.replace('-', '_')}_metric_embedding")


def training_model(embedding_model: Any, params: LossParams, n_products: int):
    """What is fitted: the embedding itself, or the embedding plus the margin-softmax's product weights."""
    import keras

    if not params.uses_classifier:
        # A separate wrapper carries the compiled loss, so the embedding model saves without it.
        return keras.Model(embedding_model.inputs, embedding_model.outputs, name="metric_training")
    if n_products < 2:
        raise InvalidParameter(f"the margin-softmax needs at least two products, got {n_products}")
    cosines = cosine_classifier(n_products)(embedding_model.outputs[0])
    return keras.Model(embedding_model.inputs, cosines, name="metric_training")
