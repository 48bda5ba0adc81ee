"""Training defaults that depend on the start: fine-tuning ImageNet weights, or learning from scratch.

The report fine-tuned ImageNet backbones: the head learns alone for a few warm-up epochs with the
backbone frozen, then everything is fine-tuned at 1e-4 decaying to 1e-7 (a rate that keeps the
pretrained features). From scratch (``weights none``, the small CNN, BDN) that rate barely moves
random weights, and freezing a random backbone teaches nothing: there the trainer's own defaults
apply (:func:`street2shop.training.trainer.default_rates`: 3e-3 decaying to 3e-5) and there is no warm-up.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: The backbone attribute models start from unless told: ImageNet weights packaged with the code env.
DEFAULT_TRAIN_BACKBONE = "efficientnet-lite0"
FINE_TUNE_WARMUP_EPOCHS = 2


@dataclass(frozen=True)
class StartDefaults:
    """What a training run uses when the learning rates and warm-up are not given."""

    pretrained: bool
    learning_rate: float
    final_learning_rate: float
    warmup_epochs: int


def resolved_train_weights(backbone: str, weights: str | Path | None) -> str | Path | None:
    """``"default"`` weights: ImageNet where they come with the code env (efficientnet-lite0), else none."""
    from street2shop.models.backbones import BACKBONES, default_weights
    from street2shop.training.architectures import architecture_name

    if str(weights).lower() != "default":
        return weights
    name = architecture_name(backbone)
    return default_weights(name) if name in BACKBONES else "none"


def start_defaults(weights: str | Path | None) -> StartDefaults:
    """The fine-tuning defaults when the backbone starts from pretrained weights, else the trainer's own."""
    from street2shop.training.trainer import default_rates

    pretrained = weights is not None and str(weights).lower() not in ("none", "random", "")
    initial, final = default_rates(weights if pretrained else "none")
    return StartDefaults(pretrained, initial, final, FINE_TUNE_WARMUP_EPOCHS if pretrained else 0)
