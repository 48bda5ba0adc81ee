"""The fit loop: Adam with a decaying learning rate, early stopping on validation, best weights kept, NaN stops cleanly."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import pandas as pd

from street2shop.errors import InvalidParameter
from street2shop.training.architectures import BACKBONE_LAYER

logger = logging.getLogger(__name__)

CPU_BATCH_SIZE = 32
GPU_BATCH_SIZE = 128


@dataclass(frozen=True)
class FitParams:
    """How to train.

    Attributes:
        epochs: the most epochs (early stopping may end sooner); warm-up epochs included.
        learning_rate, final_learning_rate: Adam's rate decays exponentially from the first to
            the second over all the fine-tuning steps (the report: 1e-4 down to ~1e-7).
        patience: epochs without a better validation loss before stopping.
        warmup_epochs: first epochs with the backbone frozen (only the head learns), at
            ``warmup_learning_rate``; then everything is fine-tuned.
    """

    epochs: int = 30
    learning_rate: float = 1e-4
    final_learning_rate: float = 1e-7
    patience: int = 5
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
    best_val_loss: float
    stopped: str  # completed | early_stopping | nan
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {
            "epochs_run": int(len(self.history)),
            "best_epoch": self.best_epoch,
            "best_val_loss": None if math.isnan(self.best_val_loss) else round(self.best_val_loss, 6),
            "stopped": self.stopped,
            "seconds": round(self.seconds, 1),
        }


def _keeper_class():
    import keras
    import numpy as np

    class KeepBest(keras.callbacks.Callback):
        """Keeps the weights of the best validation loss; stops on patience or on a non-finite loss.

        Weights are kept per variable object, so freezing or unfreezing layers between phases
        does not change what is restored.
        """

        def __init__(self, patience: int):
            super().__init__()
            self.patience = patience
            self.best = math.inf
            self.best_epoch = 0
            self.best_values: list[tuple[Any, Any]] | None = None
            self.wait = 0
            self.epoch_offset = 0
            self.stopped = "completed"
            self.epoch_started = time.monotonic()

        def snapshot(self) -> list[tuple[Any, Any]]:
            return [(v, np.array(v.numpy(), copy=True)) for v in self.model.weights]

        def on_train_begin(self, logs=None):
            if self.best_values is None:
                self.best_values = self.snapshot()  # the starting point, if no epoch ever gets better

        def on_train_batch_end(self, batch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(float(loss)):
                logger.warning("loss became %s at batch %d: stopping, keeping the best weights", loss, batch + 1)
                self.stopped = "nan"
                self.model.stop_training = True

        def on_epoch_begin(self, epoch, logs=None):
            self.epoch_started = time.monotonic()

        def on_epoch_end(self, epoch, logs=None):
            if logs is not None:
                try:
                    logs["lr"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
                except (AttributeError, TypeError, ValueError):
                    pass
                shown = ", ".join(f"{k} {v:.4g}" for k, v in logs.items() if isinstance(v, (int, float)))
                logger.info("epoch %d: %s (%.1f s)", self.epoch_offset + epoch + 1, shown, time.monotonic() - self.epoch_started)
            if self.stopped == "nan":
                return
            current = float((logs or {}).get("val_loss", math.nan))
            if not math.isfinite(current):
                logger.warning("validation loss became %s: stopping, keeping the best weights", current)
                self.stopped = "nan"
                self.model.stop_training = True
                return
            if current < self.best:
                self.best, self.best_epoch, self.wait = current, self.epoch_offset + epoch + 1, 0
                self.best_values = self.snapshot()
                return
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped = "early_stopping"
                self.model.stop_training = True

        def restore(self) -> None:
            for variable, value in self.best_values or []:
                variable.assign(value)

    return KeepBest


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
) -> FitResult:
    """Train ``model`` (warm-up with the backbone frozen, then fine-tuning), keep the best weights.

    The learning rate decays exponentially from ``learning_rate`` to ``final_learning_rate``
    over the fine-tuning steps, as the report did to avoid divergence. Training ends at
    ``epochs``, after ``patience`` epochs without a better validation loss, or at once if the
    loss is not finite; the model is left with the weights of the best validation loss.
    ``jit_compile`` (XLA) pays off on a GPU; on a CPU its compile time outweighs the gain.
    """
    import keras

    keeper = _keeper_class()(params.patience)
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
        best_val_loss=keeper.best if math.isfinite(keeper.best) else math.nan,
        stopped=keeper.stopped,
        seconds=time.monotonic() - started,
    )
    logger.info("training %s after %d epoch(s); best epoch %d (validation loss %.4f)", result.stopped, len(history), result.best_epoch, keeper.best)
    return result


def _find_backbone(model: Any) -> Any:
    try:
        return model.get_layer(BACKBONE_LAYER)
    except ValueError:
        return None
