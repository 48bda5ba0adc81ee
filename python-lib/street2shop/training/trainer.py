"""The fit loop: Adam with a decaying learning rate, early stopping on a validation score, best weights kept, NaN stops cleanly (``training.callbacks``)."""

from __future__ import annotations

import functools
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from street2shop.errors import InvalidParameter
from street2shop.models.layers import BACKBONE_LAYER
from street2shop.progress import Progress

logger = logging.getLogger(__name__)

CPU_BATCH_SIZE = 32
GPU_BATCH_SIZE = 128
#: Adam's rates (initial, final) when fine-tuning pretrained weights: the report's.
FINE_TUNING_RATES = (1e-4, 1e-7)
#: ... and when training from random weights: a fine-tuning rate learns far slower there
#: (Fashion-MNIST, small CNN: docs/benchmarks.md).
FROM_SCRATCH_RATES = (3e-3, 3e-5)
#: What early stopping can watch: ``auto`` is accuracy for single-label models, PR-AUC for multi-label ones.
MONITORS = ("auto", "accuracy", "pr_auc", "loss")


@dataclass(frozen=True)
class FitParams:
    """How to train.

    Attributes:
        epochs: the most epochs (early stopping may end sooner); warm-up epochs included.
        learning_rate, final_learning_rate: Adam's rate decays exponentially from the first to
            the second over all the fine-tuning steps (the report: 1e-4 down to ~1e-7, for
            pretrained weights; :func:`default_rates` gives 3e-3 down to 3e-5 from scratch).
        patience: epochs without a better validation score before stopping.
        monitor: the validation score early stopping watches and the best weights maximise
            (``loss`` is minimised); ties go to the lower validation loss. Loss alone stops too
            soon on small validation sets: it is often lowest after the first epoch, while
            accuracy still climbs (measured on the demo catalogue).
        warmup_epochs: first epochs with the backbone frozen (only the head learns), at
            ``warmup_learning_rate``; then everything is fine-tuned.
    """

    epochs: int = 30
    learning_rate: float = 1e-4
    final_learning_rate: float = 1e-7
    patience: int = 5
    monitor: str = "auto"
    warmup_epochs: int = 0
    warmup_learning_rate: float = 1e-3

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise InvalidParameter(f"epochs must be at least 1, got {self.epochs}")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise InvalidParameter(f"warm-up epochs must be in [0, epochs), got {self.warmup_epochs} of {self.epochs}")
        if not 0 < self.final_learning_rate <= self.learning_rate or self.warmup_learning_rate <= 0:
            raise InvalidParameter(
                f"learning rates must be positive with final <= initial, got {self.learning_rate} -> {self.final_learning_rate}"
            )
        if self.patience < 1:
            raise InvalidParameter(f"patience must be at least 1 epoch, got {self.patience}")
        if self.monitor not in MONITORS:
            raise InvalidParameter(f"unknown early-stopping monitor {self.monitor!r}; choose one of {', '.join(MONITORS)}")

    def monitored(self, *, multilabel: bool) -> str:
        """The concrete score watched: ``accuracy``, ``pr_auc`` or ``loss``."""
        if self.monitor == "auto":
            return "pr_auc" if multilabel else "accuracy"
        return self.monitor


def default_rates(weights: Any) -> tuple[float, float]:
    """The default (initial, final) learning rates for a model starting from ``weights``: from scratch for ``none``."""
    scratch = weights is None or str(weights).strip().lower() in ("", "none")
    return FROM_SCRATCH_RATES if scratch else FINE_TUNING_RATES


@dataclass
class DevicePlan:
    """What the machine allows: a GPU gets mixed precision and a larger batch."""

    gpu: bool
    mixed_precision: bool
    batch_size: int


def device_plan(batch_size: int | None = None, *, gpu: bool | None = None, mixed_precision: bool | None = None) -> DevicePlan:
    """Mixed precision and a larger default batch on a GPU; float32 and batch 32 on a CPU."""
    if gpu is None:
        import tensorflow as tf

        gpu = bool(tf.config.list_physical_devices("GPU"))
    mixed = gpu if mixed_precision is None else bool(mixed_precision)
    size = int(batch_size) if batch_size else (GPU_BATCH_SIZE if gpu else CPU_BATCH_SIZE)
    if size < 1:
        raise InvalidParameter(f"batch size must be at least 1, got {size}")
    return DevicePlan(gpu=gpu, mixed_precision=mixed, batch_size=size)


@dataclass
class FitResult:
    """The per-epoch history and how training ended."""

    history: pd.DataFrame
    best_epoch: int  # 1-based; 0 when no epoch was usable (NaN at once)
    monitor: str  # the validation score watched (accuracy, pr_auc or loss)
    best_value: float  # its best value (NaN when no epoch was usable)
    stopped: str  # completed | early_stopping | nan
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {
            "epochs_run": int(len(self.history)),
            "best_epoch": self.best_epoch,
            "monitor": f"val_{self.monitor}",
            "best_value": None if math.isnan(self.best_value) else round(self.best_value, 6),
            "stopped": self.stopped,
            "seconds": round(self.seconds, 1),
        }


def keep_best_monitor(model: Any, patience: int, monitor: str, progress: Progress | None = None) -> Any:
    """The early-stopping callback of :func:`fit`: a ``KeepBest`` watching ``val_<monitor>``, ties to the lower validation loss.

    ``loss`` is minimised, the other scores maximised; a non-finite validation loss or score
    stops training. Each epoch's line is logged, with the learning rate added to its logs;
    ``progress`` (an epoch bar) shows the losses and the watched score as its postfix.
    """
    import keras

    from street2shop.training.callbacks import KeepBest

    higher = -1.0 if monitor == "loss" else 1.0

    def score(epoch: int, logs: dict[str, Any], started: float) -> tuple[float, float] | None:
        val_loss = float(logs.get("val_loss", math.nan))
        value = float(logs.get(f"val_{monitor}", math.nan))
        if not math.isfinite(val_loss) or not math.isfinite(value):
            logger.warning("validation loss became %s: stopping, keeping the best weights", val_loss)
            return None
        return (higher * value, -val_loss)

    def report(epoch: int, logs: dict[str, Any] | None, started: float) -> None:
        if logs is None:
            return
        try:
            logs["lr"] = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        except (AttributeError, TypeError, ValueError):
            pass
        shown = ", ".join(f"{k} {v:.4g}" for k, v in logs.items() if isinstance(v, (int, float)))
        logger.info("epoch %d: %s (%.1f s)", epoch, shown, time.monotonic() - started)

    return KeepBest(patience, score, report=report, progress=progress, shown=("loss", "val_loss", f"val_{monitor}"))


def fit(
    model: Any,
    train: Any,
    validation: Any,
    *,
    steps_per_epoch: int,
    params: FitParams,
    loss: Any,
    metrics: list[Any],
    jit_compile: bool = False,
    multilabel: bool = False,
    label: str = "training",
) -> FitResult:
    """Train ``model`` (warm-up with the backbone frozen, then fine-tuning), keep the best weights.

    The learning rate decays exponentially from ``learning_rate`` to ``final_learning_rate``
    over the fine-tuning steps, as the report did to avoid divergence. Training ends at
    ``epochs``, after ``patience`` epochs without a better validation score (``params.monitor``),
    or at once if the loss is not finite; the model is left with the weights of the best score.
    ``jit_compile`` (XLA) pays off on a GPU; on a CPU its compile time outweighs the gain.
    ``label`` names the epoch bar (or the progress lines).
    """
    import keras

    monitor = params.monitored(multilabel=multilabel)
    if monitor != "loss" and not any(getattr(m, "name", None) == monitor for m in metrics):
        raise InvalidParameter(f"early stopping watches {monitor!r}, which is not among the model's metrics")
    progress = Progress(params.epochs, label, logger=logger, unit="epoch", log_lines=False)  # epochs log their own lines
    keeper = keep_best_monitor(model, params.patience, monitor, progress)
    backbone = _find_backbone(model)
    frames = []
    started = time.monotonic()
    phases = []
    if params.warmup_epochs and backbone is not None:
        phases.append(("warm-up", params.warmup_epochs, keras.optimizers.Adam(params.warmup_learning_rate), False))
    elif params.warmup_epochs:
        logger.info("no backbone to freeze in this architecture: no warm-up")
    done = sum(p[1] for p in phases)
    tune_epochs = params.epochs - done
    total_steps = max(tune_epochs * steps_per_epoch, 1)
    schedule = keras.optimizers.schedules.ExponentialDecay(
        params.learning_rate, decay_steps=total_steps, decay_rate=params.final_learning_rate / params.learning_rate
    )
    phases.append(("fine-tune", tune_epochs, keras.optimizers.Adam(schedule), True))
    with progress:
        for phase, epochs, optimizer, backbone_trainable in phases:
            if backbone is not None:
                backbone.trainable = backbone_trainable
            model.compile(optimizer=optimizer, loss=loss, metrics=metrics, jit_compile=jit_compile)
            logger.info("%s: %d epoch(s) of %d steps", phase, epochs, steps_per_epoch)
            history = model.fit(
                train, validation_data=validation, epochs=epochs, callbacks=[keeper], verbose=0, shuffle=False
            )
            frame = pd.DataFrame(history.history)
            frame.insert(0, "epoch", range(keeper.epoch_offset + 1, keeper.epoch_offset + len(frame) + 1))
            frame.insert(1, "phase", phase)
            frames.append(frame)
            keeper.epoch_offset += len(frame)
            if keeper.stopped != "completed":
                break
    if backbone is not None:
        backbone.trainable = True
    keeper.restore()
    history = pd.concat(frames, ignore_index=True)
    result = FitResult(
        history=history,
        best_epoch=keeper.best_epoch,
        monitor=monitor,
        best_value=math.nan if keeper.best is None else -keeper.best[0] if monitor == "loss" else keeper.best[0],
        stopped=keeper.stopped,
        seconds=time.monotonic() - started,
    )
    logger.info(
        "training %s after %d epoch(s); best epoch %d (validation %s %.4f)",
        result.stopped, len(history), result.best_epoch, monitor, result.best_value,
    )
    return result


def predict(model: Any, dataset: Any) -> np.ndarray:
    """The model's outputs on a batched ``(images, targets)`` dataset, in inference mode.

    One function per call with the batch size left open, traced once: ``model.predict``
    traced again for the last, smaller batch, and TensorFlow, counting the traces of every
    model's predict function together, warned about retracing after a few models.
    """
    import tensorflow as tf

    images = dataset.element_spec[0]
    # A partial (no __code__) gives each model its own retracing counter.
    forward = tf.function(functools.partial(_infer, model), input_signature=[tf.TensorSpec(images.shape, images.dtype)],
                          autograph=False)
    outputs = [forward(batch[0]).numpy() for batch in dataset]
    if not outputs:
        return np.zeros((0, *model.output_shape[1:]), np.float32)
    return np.concatenate(outputs)


def _infer(model: Any, batch: Any) -> Any:
    return model(batch, training=False)


def _find_backbone(model: Any) -> Any:
    try:
        return model.get_layer(BACKBONE_LAYER)
    except ValueError:
        return None
