"""The Keras callbacks both training loops share: stop on a non-finite loss, and keep the best weights (early stopping).

Imports Keras: import this module only inside the functions that train.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

import keras
import numpy as np

from street2shop.progress import Progress

logger = logging.getLogger(__name__)

#: ``score(epoch, logs, epoch_started)``: the epoch's score, higher is better (a tuple breaks
#: ties), or None when it is not finite. ``epoch`` is 1-based and counts earlier phases.
Score = Callable[[int, dict[str, Any], float], tuple[float, ...] | None]


class StopOnNaN(keras.callbacks.Callback):
    """Stops training at the first batch whose loss is not finite; ``stopped`` then says ``nan``."""

    def __init__(self) -> None:
        super().__init__()
        self.stopped = "completed"  # completed | early_stopping | nan | time_budget

    def stop(self, reason: str) -> None:
        self.stopped = reason
        self.model.stop_training = True

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            logger.warning("loss became %s at batch %d: stopping, keeping the best weights", loss, batch + 1)
            self.stop("nan")


class KeepBest(StopOnNaN):
    """Keeps the weights of the best epoch score; stops after ``patience`` epochs without a better one.

    Also stops on a non-finite loss (:class:`StopOnNaN`) or score, and after the epoch that
    passes ``budget_s`` seconds of training. Weights are kept per variable object, so freezing
    or unfreezing layers between phases (several ``fit`` calls, ``epoch_offset`` counting the
    epochs done) does not change what :meth:`restore` puts back.

    Args:
        score: the epoch's score (:data:`Score`).
        weights_of: the model whose weights are kept (default: the one being trained; e.g. the
            embedding inside a training model).
        report: called first at each epoch's end, ``report(epoch, logs, epoch_started)`` (logging).
        progress: an epoch counter (a bar on a terminal), advanced at each epoch's end with the
            ``shown`` figures of the epoch's logs (``score`` may add some) as its postfix.
    """

    def __init__(
        self,
        patience: int,
        score: Score,
        *,
        weights_of: Any = None,
        budget_s: float | None = None,
        report: Callable[[int, dict[str, Any] | None, float], None] | None = None,
        progress: Progress | None = None,
        shown: Sequence[str] = (),
    ):
        super().__init__()
        self.patience, self.score, self.weights_of, self.budget_s, self.report = patience, score, weights_of, budget_s, report
        self.progress, self.shown = progress, tuple(shown)
        self.best: tuple[float, ...] | None = None
        self.best_epoch = 0
        self.best_values: list[tuple[Any, np.ndarray]] | None = None
        self.wait = 0
        self.epoch_offset = 0
        self.started = self.epoch_started = time.monotonic()

    def _snapshot(self) -> list[tuple[Any, np.ndarray]]:
        model = self.weights_of if self.weights_of is not None else self.model
        return [(v, np.array(v.numpy(), copy=True)) for v in model.weights]

    def on_train_begin(self, logs=None):
        self.started = time.monotonic()
        if self.best_values is None:
            self.best_values = self._snapshot()  # the starting point, if no epoch ever gets better

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_started = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        number = self.epoch_offset + epoch + 1
        logs = logs if logs is not None else {}
        if self.report is not None:
            self.report(number, logs, self.epoch_started)
        try:
            self._judge(number, logs)
        finally:
            self._show(number, logs)

    def _judge(self, number: int, logs: dict[str, Any]) -> None:
        if self.stopped == "nan":
            return
        current = self.score(number, logs, self.epoch_started)
        if current is None:
            self.stop("nan")
            return
        if self.best is None or current > self.best:
            self.best, self.best_epoch, self.wait = current, number, 0
            self.best_values = self._snapshot()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stop("early_stopping")
        if self.budget_s is not None and time.monotonic() - self.started >= self.budget_s and not self.model.stop_training:
            self.stop("time_budget")

    def _show(self, number: int, logs: dict[str, Any]) -> None:
        if self.progress is None:
            return
        self.progress.update(1)
        figures = [f"{key} {float(logs[key]):.3g}" for key in self.shown if isinstance(logs.get(key), (int, float, np.floating))]
        self.progress.set_postfix(", ".join(figures + [f"best epoch {self.best_epoch}"]))

    def restore(self) -> None:
        """Put the best epoch's weights back (the starting ones when no epoch was scored)."""
        for variable, value in self.best_values or []:
            variable.assign(value)
