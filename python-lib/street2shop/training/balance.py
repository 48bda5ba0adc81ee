"""Class balance for training: random up-sampling of minority classes (at most x2.5), down-sampling of majority ones."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from street2shop.errors import InvalidParameter

logger = logging.getLogger(__name__)

#: The report's cap on up-sampling: a class never gets more than 2.5 times its pictures.
MAX_UPSAMPLE = 2.5


@dataclass
class Balanced:
    """Row positions to train on (repeats allowed), and the pictures per class before and after."""

    indices: np.ndarray
    before: np.ndarray
    after: np.ndarray

    def summary(self, classes: list[str]) -> dict[str, dict[str, int]]:
        return {
            "before": {c: int(n) for c, n in zip(classes, self.before)},
            "after": {c: int(n) for c, n in zip(classes, self.after)},
        }


def balance(targets: np.ndarray, *, seed: int = 0, max_upsample: float = MAX_UPSAMPLE, target: int | None = None) -> Balanced:
    """Draw a class-balanced list of rows from one-hot or multi-hot ``targets``.

    Each row belongs to its rarest class. Classes with more rows than ``target`` (default: the
    median class size) are down-sampled without replacement; classes with fewer are up-sampled
    by repeating random rows, to at most ``max_upsample`` times their size. For multi-hot
    targets, repeats are then trimmed so that no class, counted over all its rows, exceeds
    ``max_upsample`` times its pictures either.

    Raises:
        InvalidParameter: ``max_upsample`` below 1 or ``target`` below 1.
    """
    if max_upsample < 1.0:
        raise InvalidParameter(f"the up-sampling cap must be at least 1, got {max_upsample}")
    targets = np.asarray(targets, dtype=np.float32)
    n, n_classes = targets.shape
    rng = np.random.default_rng(seed)
    before = targets.sum(axis=0)
    if n == 0:
        return Balanced(np.zeros(0, np.int64), before, before.copy())
    # A row's primary class: its rarest positive class (its only one when single-label).
    rarity = np.where(targets > 0, before[None, :], np.inf)
    primary = np.argmin(rarity, axis=1)
    sizes = np.bincount(primary, minlength=n_classes)
    present = sizes[sizes > 0]
    goal = int(target) if target is not None else int(np.median(present))
    if goal < 1:
        raise InvalidParameter(f"the balance target must be at least 1 picture per class, got {goal}")
    copies = np.zeros(n, np.int64)
    for cls in np.flatnonzero(sizes):
        members = np.flatnonzero(primary == cls)
        size = len(members)
        if size >= goal:
            copies[rng.choice(members, size=goal, replace=False)] = 1
            continue
        wanted = min(goal, int(np.floor(max_upsample * size)))
        full, extra = divmod(wanted, size)
        copies[members] = full
        if extra:
            copies[rng.choice(members, size=extra, replace=False)] += 1
    # Trim repeats (never a row's first copy) of any class over the cap, counted over all its rows.
    for cls in range(n_classes):
        members = np.flatnonzero(targets[:, cls] > 0)
        limit = int(np.floor(max_upsample * len(members)))
        excess = int(copies[members].sum()) - limit
        while excess > 0:
            repeated = members[copies[members] > 1]
            take = rng.choice(repeated, size=min(excess, len(repeated)), replace=False)
            copies[take] -= 1
            excess -= len(take)
    indices = np.repeat(np.arange(n), copies)
    after = targets[indices].sum(axis=0) if len(indices) else np.zeros(n_classes, np.float32)
    logger.info("class balance: %d rows -> %d (target %d per class, up-sampling at most x%.1f)", n, len(indices), goal, max_upsample)
    return Balanced(indices=indices, before=before, after=after)
