"""From image pairs to duplicate products: product pairs, connected groups, a chaining guard and who to keep."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from street2shop.errors import InvalidParameter

logger = logging.getLogger(__name__)

KEEP_POLICIES = ("most_views", "first_seen", "priority:COLUMN")

IMAGE_PAIR_COLUMNS = ["row_a", "row_b", "cosine", "hamming", "verified", "method", "margin"]
PAIR_COLUMNS = [
    "product_a", "product_b", "image_a", "image_b", "similarity", "method", "cosine", "hamming", "margin", "image_pairs",
    "group_id", "verified",
]
GROUP_COLUMNS = [
    "group_id", "product_id", "keep", "images", "first_row", "centre", "cosine_to_centre", "hamming_to_centre",
    "close_to_centre", "flagged", "group_size",
]

#: Scores of arbitrary image pairs, for the chaining guard: (rows_a, rows_b) -> (cosine, hamming), NaN/-1 when unknown.
PairScorer = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Thresholds:
    """The strict thresholds that make a pair, and the looser ones a group's members must meet to its centre.

    Attributes:
        min_cosine: vectors: a pair when cosine >= this.
        max_hamming: hashes: a pair when Hamming distance <= this.
        loose_min_cosine: a group member is close to its centre when cosine >= this ...
        loose_max_hamming: ... or Hamming distance <= this.
        min_verified: geometric verification: the aligned detail correlation a verified pair has at least.
    """

    min_cosine: float = 0.9
    max_hamming: int = 8
    loose_min_cosine: float | None = None
    loose_max_hamming: int | None = None
    min_verified: float = 0.9

    @property
    def loose_cosine(self) -> float:
        if self.loose_min_cosine is not None:
            return float(self.loose_min_cosine)
        # Half-way again as far from 1 as the strict threshold: 0.9 -> 0.85.
        return max(-1.0, 1.0 - 1.5 * (1.0 - self.min_cosine))

    @property
    def loose_hamming(self) -> int:
        if self.loose_max_hamming is not None:
            return int(self.loose_max_hamming)
        return int(math.ceil(1.5 * self.max_hamming))


@dataclass(frozen=True)
class KeepPolicy:
    """Which product of a group stays in the catalogue.

    ``most_views`` (most images), ``first_seen`` (earliest manifest row) or ``priority:COLUMN``
    (largest value of COLUMN; ``priority:COLUMN:min`` for the smallest). Ties fall back to most
    views, then first seen.
    """

    kind: str = "most_views"
    column: str | None = None
    largest: bool = True

    @classmethod
    def parse(cls, text: str) -> KeepPolicy:
        text = (text or "").strip()
        if text in ("most_views", "first_seen"):
            return cls(text)
        if text.startswith("priority:"):
            rest = text[len("priority:") :]
            column, _, order = rest.rpartition(":") if rest.endswith((":min", ":max")) else (rest, "", "max")
            if column:
                return cls("priority", column, order != "min")
        raise InvalidParameter(
            f"keep policy must be most_views, first_seen or priority:COLUMN (optionally :min), got {text!r}"
        )


def margin_of(cosine: np.ndarray, hamming: np.ndarray, thresholds: Thresholds, verified: np.ndarray | None = None) -> np.ndarray:
    """How far each pair is past its threshold, in [0, 1]: 0 at the threshold, 1 for identical.

    The best of the methods that scored the pair; the report shows the smallest margins first.
    """
    cosine = np.asarray(cosine, dtype=np.float64)
    hamming = np.asarray(hamming, dtype=np.float64)
    span = max(1.0 - thresholds.min_cosine, 1e-6)
    by_cosine = np.where(np.isnan(cosine), -np.inf, (cosine - thresholds.min_cosine) / span)
    by_hash = np.where(hamming < 0, -np.inf, (thresholds.max_hamming + 1 - hamming) / (thresholds.max_hamming + 1))
    best = np.maximum(by_cosine, by_hash)
    if verified is not None:
        verified = np.asarray(verified, dtype=np.float64)
        by_geometry = np.where(np.isnan(verified), -np.inf, (verified - thresholds.min_verified) / max(1.0 - thresholds.min_verified, 1e-6))
        best = np.maximum(best, by_geometry)
    return np.clip(best, 0.0, 1.0)


def merge_image_pairs(
    cosine_pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    hash_pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    thresholds: Thresholds,
    verified_pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> pd.DataFrame:
    """One table of image pairs found by any method: row_a < row_b, cosine, hamming (-1 if none),
    verified (the geometric check's score, NaN if none), method, margin."""
    frames = []
    if cosine_pairs is not None:
        a, b, score = cosine_pairs
        frames.append(pd.DataFrame({"row_a": a, "row_b": b, "cosine": np.asarray(score, np.float64)}))
    if hash_pairs is not None:
        a, b, score = hash_pairs
        frames.append(pd.DataFrame({"row_a": a, "row_b": b, "hamming": np.asarray(score, np.int64)}))
    if verified_pairs is not None:
        a, b, score = verified_pairs
        frames.append(pd.DataFrame({"row_a": np.minimum(a, b), "row_b": np.maximum(a, b), "verified": np.asarray(score, np.float64)}))
    frames = [frame for frame in frames if not frame.empty]
    if not frames:
        return pd.DataFrame(
            {
                "row_a": pd.Series(dtype="int64"), "row_b": pd.Series(dtype="int64"), "cosine": pd.Series(dtype="float64"),
                "hamming": pd.Series(dtype="int64"), "verified": pd.Series(dtype="float64"), "method": pd.Series(dtype="str"),
                "margin": pd.Series(dtype="float64"),
            }
        )
    table = frames[0]
    for frame in frames[1:]:
        table = table.merge(frame, on=["row_a", "row_b"], how="outer")
    for column, empty in (("cosine", np.nan), ("hamming", -1), ("verified", np.nan)):
        if column not in table:
            table[column] = empty
    table["hamming"] = table["hamming"].fillna(-1).astype("int64")
    table["cosine"] = table["cosine"].astype("float64")
    table["verified"] = table["verified"].astype("float64")
    has_cos, has_hash = table["cosine"].notna().to_numpy(), (table["hamming"] >= 0).to_numpy()
    has_geometry = table["verified"].notna().to_numpy()
    found_by = [np.where(has, name, "") for has, name in ((has_hash, "hash"), (has_cos, "cnn"), (has_geometry, "geometric"))]
    table["method"] = ["+".join(part for part in parts if part) for parts in zip(*found_by)]
    table["margin"] = margin_of(table["cosine"].to_numpy(), table["hamming"].to_numpy(), thresholds, table["verified"].to_numpy())
    return table.astype({"row_a": "int64", "row_b": "int64", "method": "str"})[IMAGE_PAIR_COLUMNS].reset_index(drop=True)


def product_pairs(image_pairs: pd.DataFrame, products: np.ndarray, images: np.ndarray) -> pd.DataFrame:
    """Product pairs from image pairs: two products are duplicates when any of their views match.

    Pairs of views of the same product are dropped. Each product pair keeps its most confident
    image pair (largest margin); ``method`` joins the methods that matched any of its image pairs.
    """
    products = np.asarray(products, dtype=object)
    images = np.asarray(images, dtype=object)
    if image_pairs.empty:
        return _empty_pairs()
    table = image_pairs.copy()
    pa, pb = products[table["row_a"].to_numpy()], products[table["row_b"].to_numpy()]
    table = table[pa != pb].copy()
    if table.empty:
        return _empty_pairs()
    pa, pb = products[table["row_a"].to_numpy()], products[table["row_b"].to_numpy()]
    swap = np.array([str(x) > str(y) for x, y in zip(pa, pb)], dtype=bool)
    rows_a = np.where(swap, table["row_b"], table["row_a"])
    rows_b = np.where(swap, table["row_a"], table["row_b"])
    table["row_a"], table["row_b"] = rows_a, rows_b
    table["product_a"], table["product_b"] = products[rows_a], products[rows_b]
    table["image_a"], table["image_b"] = images[rows_a], images[rows_b]
    key = ["product_a", "product_b"]
    methods = table.groupby(key, sort=False)["method"].agg(lambda m: _join_methods(set(m)))
    counts = table.groupby(key, sort=False).size().rename("image_pairs")
    best = table.sort_values(["margin", "row_a", "row_b"], ascending=[False, True, True], kind="stable").drop_duplicates(key)
    best = best.drop(columns=["method"]).join(methods, on=key).join(counts, on=key)
    best["similarity"] = np.where(
        best["cosine"].notna(), best["cosine"],
        np.where(best["hamming"] >= 0, 1.0 - best["hamming"].clip(lower=0) / 64.0, best["verified"]),
    )
    best["group_id"] = 0
    return best[PAIR_COLUMNS].astype({"image_pairs": "int64", "hamming": "int64"}).reset_index(drop=True)


def _join_methods(methods: set[str]) -> str:
    parts = {part for method in methods for part in method.split("+")}
    return "+".join(method for method in ("hash", "cnn", "geometric") if method in parts)


def _empty_pairs() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "product_a": pd.Series(dtype="str"), "product_b": pd.Series(dtype="str"), "image_a": pd.Series(dtype="str"),
            "image_b": pd.Series(dtype="str"), "similarity": pd.Series(dtype="float64"), "method": pd.Series(dtype="str"),
            "cosine": pd.Series(dtype="float64"), "hamming": pd.Series(dtype="int64"), "margin": pd.Series(dtype="float64"),
            "image_pairs": pd.Series(dtype="int64"), "group_id": pd.Series(dtype="int64"), "verified": pd.Series(dtype="float64"),
        }
    )[PAIR_COLUMNS]


class UnionFind:
    """Disjoint sets over 0..n-1 with path halving and union by size."""

    def __init__(self, n: int):
        self.parent = list(range(n))
        self.size = [1] * n

    def find(self, x: int) -> int:
        parent = self.parent
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    def union(self, x: int, y: int) -> None:
        rx, ry = self.find(x), self.find(y)
        if rx == ry:
            return
        if self.size[rx] < self.size[ry]:
            rx, ry = ry, rx
        self.parent[ry] = rx
        self.size[rx] += self.size[ry]


@dataclass
class ProductTable:
    """Per-product facts the grouping needs, derived from the manifest rows.

    Attributes:
        products: product ids in order of first appearance.
        first_row: each product's first manifest position.
        views: each product's number of manifest rows.
        rows: each product's manifest positions (usable for scoring).
        priority: each product's priority value (or None).
    """

    products: list[str]
    first_row: dict[str, int]
    views: dict[str, int]
    rows: dict[str, np.ndarray]
    priority: dict[str, object] | None = None

    @classmethod
    def from_manifest(cls, manifest: pd.DataFrame, usable: np.ndarray | None = None, policy: KeepPolicy | None = None) -> ProductTable:
        ids = manifest["product_id"].astype(str).to_numpy()
        usable = np.ones(len(ids), bool) if usable is None else np.asarray(usable, bool)
        first_row: dict[str, int] = {}
        views: dict[str, int] = {}
        rows: dict[str, list[int]] = {}
        for position, product in enumerate(ids):
            first_row.setdefault(product, position)
            views[product] = views.get(product, 0) + 1
            if usable[position]:
                rows.setdefault(product, []).append(position)
        priority = None
        if policy is not None and policy.kind == "priority":
            if policy.column not in manifest.columns:
                raise InvalidParameter(
                    f"keep policy priority:{policy.column}: the manifest has no column {policy.column!r}"
                )
            values = _priority_values(manifest[policy.column])
            priority = {}
            for product, value in zip(ids, values):
                current = priority.get(product)
                if value is None:
                    priority.setdefault(product, None)
                elif current is None or (value > current if policy.largest else value < current):
                    priority[product] = value
        return cls(
            products=list(first_row),
            first_row=first_row,
            views=views,
            rows={p: np.asarray(r, dtype=np.int64) for p, r in rows.items()},
            priority=priority,
        )


def _priority_values(column: pd.Series) -> list:
    """Numbers when every non-empty cell is a number, else text (ISO dates sort as text)."""
    cells = [None if (v is None or (isinstance(v, float) and math.isnan(v)) or str(v).strip() == "") else str(v).strip() for v in column]
    try:
        return [None if v is None else float(v) for v in cells]
    except ValueError:
        return cells


def group_products(
    pairs: pd.DataFrame,
    table: ProductTable,
    policy: KeepPolicy,
    thresholds: Thresholds,
    scorer: PairScorer | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Connected components of the product pairs, each with a centre, a chaining check and a keeper.

    The centre is the middle of the group's longest chain of pairs (ties: the larger sum of pair
    margins). A member not paired with the
    centre is scored against it with ``scorer`` (best over their views); a group with a member
    that is not close to its centre under the loose thresholds is ``flagged``: it may be a chain
    of look-alikes. In a flagged group only the members paired with the keeper directly are
    dropped; the others are kept for a person to review.

    Returns:
        (groups table, pairs with their ``group_id``).
    """
    if pairs.empty:
        return _empty_groups(), pairs
    members = sorted(set(pairs["product_a"]) | set(pairs["product_b"]), key=lambda p: table.first_row.get(p, 0))
    position = {product: k for k, product in enumerate(members)}
    forest = UnionFind(len(members))
    for a, b in zip(pairs["product_a"], pairs["product_b"]):
        forest.union(position[a], position[b])
    components: dict[int, list[str]] = {}
    for product in members:
        components.setdefault(forest.find(position[product]), []).append(product)
    edges: dict[tuple[str, str], tuple[float, float, int]] = {
        (a, b): (m, c, h) for a, b, m, c, h in zip(pairs["product_a"], pairs["product_b"], pairs["margin"], pairs["cosine"], pairs["hamming"])
    }

    has_cosine, has_hamming = bool(pairs["cosine"].notna().any()), bool((pairs["hamming"] >= 0).any())
    verified_edges = set()
    if "verified" in pairs:
        verified_edges = {(a, b) for a, b, v in zip(pairs["product_a"], pairs["product_b"], pairs["verified"]) if not pd.isna(v)}

    def edge(a: str, b: str) -> tuple[float, float, int] | None:
        return edges.get((a, b)) or edges.get((b, a))

    # Each product lies in one component: its strength is the sum over all its pairs.
    strength: dict[str, float] = {}
    for (a, b), (margin, _, _) in edges.items():
        strength[a] = strength.get(a, 0.0) + margin + 1.0
        strength[b] = strength.get(b, 0.0) + margin + 1.0
    neighbours: dict[str, list[str]] = {}
    for a, b in edges:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    records = []
    group_of: dict[str, int] = {}
    for group_id, component in enumerate(sorted(components.values(), key=lambda c: table.first_row.get(c[0], 0)), start=1):
        centre = _centre(component, neighbours, lambda p: (strength[p], -table.first_row.get(p, 0)))
        to_centre = {centre: (1.0 if has_cosine else math.nan, 0 if has_hamming else -1)}
        unscored = []
        for product in component:
            if product == centre:
                continue
            direct = edge(product, centre)
            if direct is not None:
                to_centre[product] = (direct[1], direct[2])
            else:
                unscored.append(product)
        for product in unscored:
            to_centre[product] = _best_score(table, product, centre, scorer)
        close = {
            p: bool((not math.isnan(c) and c >= thresholds.loose_cosine) or (0 <= h <= thresholds.loose_hamming)
                    or p == centre or (p, centre) in verified_edges or (centre, p) in verified_edges)
            for p, (c, h) in to_centre.items()
        }
        flagged = not all(close.values())
        keeper = _keeper(component, table, policy)
        for product in component:
            if product == keeper:
                keep = True
            elif flagged:
                keep = edge(product, keeper) is None
            else:
                keep = False
            cosine, hamming = to_centre[product]
            records.append(
                {
                    "group_id": group_id, "product_id": product, "keep": keep, "images": table.views.get(product, 0),
                    "first_row": table.first_row.get(product, -1), "centre": product == centre,
                    "cosine_to_centre": cosine, "hamming_to_centre": int(hamming), "close_to_centre": close[product],
                    "flagged": flagged, "group_size": len(component),
                }
            )
            group_of[product] = group_id
    groups = pd.DataFrame.from_records(records, columns=GROUP_COLUMNS)
    pairs = pairs.copy()
    pairs["group_id"] = [group_of[a] for a in pairs["product_a"]]
    n_flagged = groups.loc[groups["flagged"], "group_id"].nunique()
    if n_flagged:
        logger.warning("%d duplicate group(s) flagged: members far from the group's centre (possible chaining)", n_flagged)
    return groups.astype({"group_id": "int64", "images": "int64", "first_row": "int64", "group_size": "int64"}), pairs


def _farthest(start: str, neighbours: dict[str, list[str]]) -> tuple[str, dict[str, str | None]]:
    """Breadth-first search: the last node reached (a farthest one) and each node's parent."""
    parent: dict[str, str | None] = {start: None}
    frontier, last = [start], start
    while frontier:
        following = []
        for node in frontier:
            for other in neighbours.get(node, ()):
                if other not in parent:
                    parent[other] = node
                    following.append(other)
        if following:
            last = following[-1]
        frontier = following
    return last, parent


def _centre(component: list[str], neighbours: dict[str, list[str]], rank: Callable[[str], tuple]) -> str:
    """The middle of a longest shortest path (two breadth-first sweeps), the better ranked of the two middles.

    Exact for chains and stars, close otherwise, and linear in the group's pairs.
    """
    if len(component) <= 2:
        return max(component, key=rank)
    end, _ = _farthest(max(component, key=rank), neighbours)
    other_end, parent = _farthest(end, neighbours)
    path = [other_end]
    while parent[path[-1]] is not None:
        path.append(parent[path[-1]])
    middle = {path[len(path) // 2], path[(len(path) - 1) // 2]}
    return max(middle, key=rank)


def _best_score(table: ProductTable, product: str, centre: str, scorer: PairScorer | None) -> tuple[float, int]:
    rows_p, rows_c = table.rows.get(product), table.rows.get(centre)
    if scorer is None or rows_p is None or rows_c is None or not len(rows_p) or not len(rows_c):
        return (math.nan, -1)
    a = np.repeat(rows_p, len(rows_c))
    b = np.tile(rows_c, len(rows_p))
    cosine, hamming = scorer(a, b)
    cosine = np.asarray(cosine, np.float64)
    hamming = np.asarray(hamming, np.int64)
    best_cos = float(np.nanmax(cosine)) if np.isfinite(cosine).any() else math.nan
    valid = hamming[hamming >= 0]
    best_ham = int(valid.min()) if len(valid) else -1
    return (best_cos, best_ham)


def _keeper(component: list[str], table: ProductTable, policy: KeepPolicy) -> str:
    def fallback(p: str) -> tuple:
        return (table.views.get(p, 0), -table.first_row.get(p, 0))

    if policy.kind == "first_seen":
        return min(component, key=lambda p: table.first_row.get(p, 0))
    if policy.kind == "priority" and table.priority is not None:
        valued = [p for p in component if table.priority.get(p) is not None]
        if valued:
            best = (max if policy.largest else min)(table.priority[p] for p in valued)
            tied = [p for p in valued if table.priority[p] == best]
            return max(tied, key=fallback)
    return max(component, key=fallback)


def _empty_groups() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "group_id": pd.Series(dtype="int64"), "product_id": pd.Series(dtype="str"), "keep": pd.Series(dtype="bool"),
            "images": pd.Series(dtype="int64"), "first_row": pd.Series(dtype="int64"), "centre": pd.Series(dtype="bool"),
            "cosine_to_centre": pd.Series(dtype="float64"), "hamming_to_centre": pd.Series(dtype="int64"),
            "close_to_centre": pd.Series(dtype="bool"), "flagged": pd.Series(dtype="bool"),
            "group_size": pd.Series(dtype="int64"),
        }
    )[GROUP_COLUMNS]


def deduplicated_manifest(manifest: pd.DataFrame, groups: pd.DataFrame) -> pd.DataFrame:
    """The manifest without the rows of products that a group does not keep."""
    dropped = set(groups.loc[~groups["keep"].astype(bool), "product_id"].astype(str))
    if not dropped:
        return manifest.copy()
    return manifest[~manifest["product_id"].astype(str).isin(dropped)].reset_index(drop=True)
