"""Train/validation split by product, or by duplicate group, so no product is seen on both sides."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from street2shop.errors import InvalidParameter
from street2shop.manifest import read_table

logger = logging.getLogger(__name__)

VALIDATION_NAMES = ("val", "valid", "validation", "dev")
TRAIN_NAMES = ("train", "training")
HELD_OUT_NAMES = ("test", "holdout", "held-out")


class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, item: str) -> str:
        self.parent.setdefault(item, item)
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def duplicate_groups(duplicates: pd.DataFrame | str | Any | None) -> dict[str, str]:
    """``{product_id: group key}`` from a dedup output.

    Accepts the dedup ``groups`` table (``group_id``, ``product_id``) or a pairs table
    (``product_a``, ``product_b``, as in ``pairs.csv`` or the demo's ``duplicates.csv``).

    Raises:
        InvalidParameter: the table has neither shape.
    """
    if duplicates is None:
        return {}
    frame = read_table(duplicates)
    links = _UnionFind()
    if {"group_id", "product_id"} <= set(frame.columns):
        first: dict[str, str] = {}
        for group, product in zip(frame["group_id"], frame["product_id"]):
            if group is None or product is None or str(group) == "" or str(product) == "":
                continue
            anchor = first.setdefault(str(group), str(product))
            links.union(anchor, str(product))
    elif {"product_a", "product_b"} <= set(frame.columns):
        for a, b in zip(frame["product_a"], frame["product_b"]):
            if a and b and str(a) != "nan" and str(b) != "nan":
                links.union(str(a), str(b))
    else:
        raise InvalidParameter(
            "the duplicates table needs columns group_id and product_id (dedup groups) or product_a and product_b "
            f"(pairs); columns found: {', '.join(frame.columns)}"
        )
    return {product: links.find(product) for product in list(links.parent)}


@dataclass
class Split:
    """Row positions of the training and validation sides, and the rows left out (held-out test rows)."""

    train: np.ndarray
    validation: np.ndarray
    held_out: np.ndarray
    groups: np.ndarray  # the group key of every row
    method: str

    def summary(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "train_rows": int(len(self.train)),
            "validation_rows": int(len(self.validation)),
            "held_out_rows": int(len(self.held_out)),
            "train_groups": int(len(set(self.groups[self.train]))),
            "validation_groups": int(len(set(self.groups[self.validation]))),
        }


def split_by_group(
    rows: pd.DataFrame,
    *,
    validation_share: float = 0.2,
    seed: int = 0,
    duplicates: dict[str, str] | None = None,
    use_split_column: bool = True,
) -> Split:
    """Split rows so that every product (or duplicate group) lands on one side only.

    With ``use_split_column`` and a ``split`` column, rows marked test (and the rest of their
    group) are held out, and rows marked val/validation make the validation side (a group the
    column puts on both sides goes to validation whole). Without validation rows, groups are
    drawn at random (seeded) until about ``validation_share`` of the rows are for validation.

    Raises:
        InvalidParameter: a bad share, or fewer than two groups to split.
    """
    if not 0.0 < validation_share < 1.0:
        raise InvalidParameter(f"validation share must be between 0 and 1 (exclusive), got {validation_share}")
    duplicates = duplicates or {}
    products = rows["product_id"].astype(str).to_numpy()
    groups = np.asarray([duplicates.get(p, p) for p in products], dtype=object)
    positions = np.arange(len(rows))
    in_held = np.zeros(len(rows), dtype=bool)
    if use_split_column and "split" in rows.columns:
        names = rows["split"].fillna("").astype(str).str.strip().str.lower().to_numpy()
        is_val = np.isin(names, VALIDATION_NAMES)
        held_groups = set(groups[np.isin(names, HELD_OUT_NAMES)]) - set(groups[is_val])
        in_held = np.isin(groups, list(held_groups))
        if is_val.any() and (~is_val & ~in_held).any():
            val_groups = set(groups[is_val])
            straddling = val_groups & set(groups[~is_val & ~in_held])
            if straddling:
                logger.warning("%d product group(s) on both sides of the split column moved to validation", len(straddling))
            in_val = np.isin(groups, list(val_groups))
            return Split(
                train=positions[~in_val & ~in_held],
                validation=positions[in_val],
                held_out=positions[in_held],
                groups=groups,
                method="split column",
            )
    free = ~in_held
    unique = sorted(set(groups[free]))
    if len(unique) < 2:
        raise InvalidParameter(
            f"training needs pictures of at least two products to hold some out for validation; found {len(unique)}"
        )
    sizes = pd.Series(groups[free]).value_counts()
    order = np.random.default_rng(seed).permutation(len(unique))
    wanted = validation_share * int(free.sum())
    chosen: set[str] = set()
    total = 0
    for i in order:
        group = unique[i]
        if total >= wanted or len(chosen) == len(unique) - 1:
            break
        chosen.add(group)
        total += int(sizes[group])
    in_val = np.isin(groups, list(chosen)) & free
    return Split(
        train=positions[free & ~in_val],
        validation=positions[in_val],
        held_out=positions[in_held],
        groups=groups,
        method="random by product",
    )


def check_disjoint(groups: np.ndarray, train: Sequence[int], validation: Sequence[int]) -> None:
    """Raise if a group has rows on both sides (a guard; :func:`split_by_group` never does that)."""
    both = set(np.asarray(groups)[list(train)]) & set(np.asarray(groups)[list(validation)])
    if both:
        raise InvalidParameter(f"{len(both)} product group(s) on both sides of the split, e.g. {sorted(both)[:3]}")
