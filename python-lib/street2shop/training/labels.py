"""One label column made ready to learn: regrouping, class list, rare and excluded classes, targets."""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from street2shop.errors import InvalidParameter, ManifestError
from street2shop.manifest import read_table, split_labels

logger = logging.getLogger(__name__)

#: AVA photographic-style tags that describe camera technique rather than the picture's style;
#: the report left them out of its aesthetic model.
CAMERA_TECHNIQUE_LABELS = ("hdr", "long exposure", "macro", "motion blur", "shallow dof", "soft focus")


def label_key(value: str) -> str:
    """How labels are compared: case folded, '_' and '-' as spaces, spaces collapsed."""
    return " ".join(str(value).replace("_", " ").replace("-", " ").casefold().split())


def read_mapping(source: Mapping[str, Any] | pd.DataFrame | str | Path | None) -> dict[str, str]:
    """A regrouping table ``{fine value: general value}`` from a dict, a table or a file.

    A table (or a ``.csv``/``.parquet`` file) uses its columns ``from`` and ``to`` when it has
    them, else its first two columns; a ``.json`` file holds one object. A general value may be
    empty (the fine value is dropped on purpose) or hold several values joined with '|'.

    Raises:
        InvalidParameter: the mapping cannot be read or is not a table of two columns.
    """
    if source is None:
        return {}
    if isinstance(source, Mapping):
        pairs = source.items()
    else:
        if isinstance(source, (str, Path)) and str(source).lower().endswith(".json"):
            try:
                loaded = json.loads(Path(source).read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise InvalidParameter(f"cannot read the label mapping {source}: {err}") from err
            if not isinstance(loaded, dict):
                raise InvalidParameter(f"label mapping {source}: expected a JSON object {{fine: general}}")
            return read_mapping(loaded)
        try:
            frame = read_table(source)
        except ManifestError as err:
            raise InvalidParameter(f"cannot read the label mapping: {err}") from err
        columns = ["from", "to"] if {"from", "to"} <= set(frame.columns) else list(frame.columns[:2])
        if len(columns) < 2:
            raise InvalidParameter(f"a label mapping needs two columns (from, to); found {list(frame.columns)}")
        pairs = zip(frame[columns[0]], frame[columns[1]])
    mapping: dict[str, str] = {}
    for fine, general in pairs:
        if fine is None or (isinstance(fine, float) and np.isnan(fine)) or not str(fine).strip():
            continue
        mapping[str(fine).strip()] = "|".join(split_labels(general))
    return mapping


@dataclass
class PreparedLabels:
    """A label column ready to learn.

    Attributes:
        column: the manifest column.
        multilabel: several classes per picture (sigmoid) or one (softmax).
        classes: the class names, in output order.
        rows: the manifest rows kept (in input order), with their label as the class names joined by '|'.
        targets: ``(len(rows), len(classes))`` float32, one-hot or multi-hot.
        report: what was skipped, regrouped and dropped, and the class counts.
    """

    column: str
    multilabel: bool
    classes: list[str]
    rows: pd.DataFrame
    targets: np.ndarray
    report: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Pictures per class."""
        return {name: int(n) for name, n in zip(self.classes, self.targets.sum(axis=0))}


class _Regrouper:
    """Maps fine values to general ones; values neither mapped nor general are counted as unmapped."""

    def __init__(self, mapping: Mapping[str, str]):
        self.table = {label_key(fine): split_labels(general) for fine, general in mapping.items()}
        self.general = {label_key(v): v for values in self.table.values() for v in values}
        self.unmapped: Counter = Counter()

    def __call__(self, values: Iterable[str]) -> list[str]:
        if not self.table:
            return list(values)
        out: list[str] = []
        for value in values:
            key = label_key(value)
            if key in self.table:
                out.extend(self.table[key])
            elif key in self.general:
                out.append(self.general[key])
            else:
                self.unmapped[value] += 1
        return out


def prepare_labels(
    rows: pd.DataFrame,
    column: str,
    *,
    multilabel: bool = False,
    classes: Sequence[str] | None = None,
    mapping: Mapping[str, str] | None = None,
    min_count: int = 1,
    exclude: Sequence[str] = (),
) -> PreparedLabels:
    """Turn a label column into a class list and targets, reporting every row or class left out.

    Rows whose label is empty are skipped (counted); with a ``mapping``, values are regrouped
    and values neither in the mapping nor already general are dropped and counted as unmapped;
    with ``classes``, other values are dropped (counted as unknown); classes in ``exclude`` are
    dropped; classes with fewer than ``min_count`` pictures are dropped with a message. A
    single-label row holding several values is skipped. Labels compare case-insensitively.

    Raises:
        ManifestError: the column is missing.
        InvalidParameter: fewer than two classes are left (nothing to learn), or a bad parameter.
    """
    if column not in rows.columns:
        raise ManifestError(f"the manifest has no label column {column!r}; columns found: {', '.join(map(str, rows.columns))}")
    if min_count < 1:
        raise InvalidParameter(f"min_count must be at least 1, got {min_count}")
    regroup = _Regrouper(mapping or {})
    given = {label_key(c): str(c).strip() for c in classes or () if str(c).strip()}
    if classes is not None and len(given) < len(list(classes)):
        raise InvalidParameter(f"the class list of {column!r} has empty or repeated names: {list(classes)}")
    excluded_keys = {label_key(c) for c in exclude}
    spelling: dict[str, str] = dict(given)
    report: dict[str, Any] = {"rows_in": int(len(rows))}
    skipped_empty = skipped_unusable = skipped_several = 0
    unknown: Counter = Counter()
    excluded: Counter = Counter()
    labels: list[list[str] | None] = []
    for value in rows[column]:
        raw = split_labels(value)
        values = regroup(raw)
        keys: list[str] = []
        for item in values:
            key = label_key(item)
            if key in excluded_keys:
                excluded[item] += 1
                continue
            if given and key not in given:
                unknown[item] += 1
                continue
            spelling.setdefault(key, item.strip())
            if key not in keys:
                keys.append(key)
        if not keys:
            if raw:
                skipped_unusable += 1
            else:
                skipped_empty += 1
            labels.append(None)
        elif not multilabel and len(keys) > 1:
            skipped_several += 1
            labels.append(None)
        else:
            labels.append(keys)
    counts = Counter(key for keys in labels if keys for key in keys)
    rare = {spelling[key]: n for key, n in counts.items() if n < min_count}
    if rare:
        logger.warning(
            "%s: dropping %d class(es) with fewer than %d pictures: %s",
            column, len(rare), min_count, ", ".join(f"{name} ({n})" for name, n in sorted(rare.items())),
        )
    kept_keys = [key for key in (given or sorted(counts, key=lambda k: spelling[k])) if counts.get(key, 0) >= min_count]
    if given:
        absent = [given[key] for key in given if counts.get(key, 0) == 0]
        if absent:
            report["classes_without_pictures"] = absent
    index = {key: i for i, key in enumerate(kept_keys)}
    keep_mask, target_rows = [], []
    skipped_rare = 0
    for keys in labels:
        hot = [index[key] for key in keys or () if key in index]
        if keys and not hot:
            skipped_rare += 1
        keep_mask.append(bool(hot))
        if hot:
            target = np.zeros(len(kept_keys), np.float32)
            target[hot] = 1.0
            target_rows.append(target)
    class_names = [spelling[key] for key in kept_keys]
    kept = rows.loc[np.asarray(keep_mask, dtype=bool)].copy().reset_index(drop=True)
    targets = np.stack(target_rows) if target_rows else np.zeros((0, len(kept_keys)), np.float32)
    kept[column] = ["|".join(class_names[i] for i in np.flatnonzero(t)) for t in targets]
    report.update(
        {
            "rows_used": int(len(kept)),
            "skipped_empty_label": skipped_empty,
            "skipped_no_usable_value": skipped_unusable,
            "skipped_several_values": skipped_several,
            "skipped_rare_only": skipped_rare,
            "unmapped_values": dict(regroup.unmapped.most_common()),
            "unknown_values": dict(unknown.most_common()),
            "excluded_classes": dict(excluded.most_common()),
            "dropped_rare_classes": rare,
        }
    )
    if regroup.unmapped:
        logger.warning(
            "%s: %d value(s) not in the mapping were dropped: %s",
            column, len(regroup.unmapped), ", ".join(f"{v} ({n})" for v, n in regroup.unmapped.most_common(10)),
        )
    if skipped_empty:
        logger.info("%s: %d row(s) skipped: empty label", column, skipped_empty)
    if skipped_several:
        logger.warning("%s: %d row(s) skipped: several values in a single-label column", column, skipped_several)
    if len(class_names) < 2:
        found = f"only the class {class_names[0]!r}" if class_names else "no class"
        raise InvalidParameter(
            f"label column {column!r} has {found} left to learn (from {len(rows)} rows: {skipped_empty} empty"
            + (f", rare classes dropped: {', '.join(rare)}" if rare else "")
            + "); a model needs at least two classes"
        )
    prepared = PreparedLabels(column=column, multilabel=multilabel, classes=class_names, rows=kept, targets=targets, report=report)
    report["class_counts"] = prepared.counts()
    return prepared
