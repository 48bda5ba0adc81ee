"""Read and check manifests: one row per image, with its product id, optional fields and labels."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from street2shop.errors import InvalidParameter, ManifestError

logger = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("image", "product_id")
OPTIONAL_COLUMNS = ("view", "split", "source", "pair_id")
#: Columns other parts of street2shop write beside a manifest's rows; never labels.
RESERVED_COLUMNS = ("mask",)
#: Internal columns start with this (e.g. '_row', the row's position in the table as read).
INTERNAL_PREFIX = "_"
ROW_COLUMN = "_row"
SOURCES = ("shop", "user")
LABEL_SEPARATOR = "|"

_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.zip", ".csv.xz")
_PARQUET_SUFFIXES = (".parquet", ".pq")


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _to_text(value: Any) -> str | None:
    """One cell as text; integral floats lose their '.0' (a Parquet int column with gaps is float)."""
    if _is_missing(value):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "item") and not isinstance(value, (list, tuple)):  # numpy scalars
        return _to_text(value.item())
    return str(value)


def _text_column(series: pd.Series) -> pd.Series:
    if isinstance(series.dtype, pd.StringDtype):
        return series.astype("str")
    return pd.Series([_to_text(value) for value in series], index=series.index, dtype="str", name=series.name)


def read_table(path_or_df: str | Path | pd.DataFrame) -> pd.DataFrame:
    """Read a manifest as text columns: CSV or Parquet by extension, or a DataFrame (copied).

    Every column except internal ones ('_row') becomes a string column: the label 'NA' stays
    the string 'NA', empty cells are missing, and numeric ids keep no '.0'.

    Raises:
        ManifestError: the file is missing, unreadable or of an unknown type.
    """
    if isinstance(path_or_df, pd.DataFrame):
        frame = path_or_df.copy()
        where = "manifest"
    else:
        path = Path(path_or_df)
        where = str(path)
        if not path.is_file():
            raise ManifestError(f"manifest not found: {path}")
        name = path.name.lower()
        try:
            if name.endswith(_CSV_SUFFIXES):
                frame = pd.read_csv(
                    path, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8-sig"
                )
            elif name.endswith(_PARQUET_SUFFIXES):
                frame = pd.read_parquet(path)
            else:
                raise ManifestError(f"manifest {path}: unknown file type (expected .csv, .parquet or .pq)")
        except ManifestError:
            raise
        except (OSError, ValueError, UnicodeDecodeError, pd.errors.ParserError) as err:
            raise ManifestError(f"cannot read manifest {path}: {err}") from err
    frame.columns = [str(column).strip() for column in frame.columns]
    duplicated = sorted({column for column in frame.columns if list(frame.columns).count(column) > 1})
    if duplicated:
        raise ManifestError(f"{where}: duplicate column name(s): {', '.join(duplicated)}")
    for column in frame.columns:
        if column != ROW_COLUMN:
            frame[column] = _text_column(frame[column])
    return frame


@dataclass
class ManifestCheck:
    """The outcome of ``validate_manifest``.

    Attributes:
        rows: the valid rows, stripped, with their position in the table as read in '_row'.
        errors: one row per rejected row: ``row`` (its '_row'), ``image`` and ``reason``.
    """

    rows: pd.DataFrame
    errors: pd.DataFrame


def split_labels(value: Any) -> list[str]:
    """Split a multi-valued label cell: 'red| blue' -> ['red', 'blue']; empty or missing -> [].

    Empty parts are dropped and repeats kept once, in order. A list or tuple is accepted too.
    """
    if isinstance(value, (list, tuple)):
        parts = [part for item in value for part in split_labels(item)]
    else:
        text = _to_text(value)
        if text is None:
            return []
        parts = [part.strip() for part in text.split(LABEL_SEPARATOR)]
    return list(dict.fromkeys(part for part in parts if part))


def join_labels(values: Iterable[str] | str | None) -> str:
    """Join labels into one cell: ['red', 'blue'] -> 'red|blue' (empty parts dropped)."""
    if isinstance(values, str) or _is_missing(values):
        return LABEL_SEPARATOR.join(split_labels(values))
    labels = [str(value).strip() for value in values if not _is_missing(value)]
    for label in labels:
        if LABEL_SEPARATOR in label:
            raise InvalidParameter(f"a label may not contain {LABEL_SEPARATOR!r}: {label!r}")
    return LABEL_SEPARATOR.join(dict.fromkeys(label for label in labels if label))


def label_columns(df: pd.DataFrame, *, exclude: Iterable[str] = ()) -> list[str]:
    """The columns that hold labels, in table order.

    Rule: every column that is not required (image, product_id), not optional (view, split,
    source, pair_id), not reserved (mask), not internal (name starting with '_') and not in
    ``exclude``.
    """
    skipped = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS) | set(RESERVED_COLUMNS) | set(exclude)
    return [
        column for column in map(str, df.columns) if column not in skipped and not column.startswith(INTERNAL_PREFIX)
    ]


def _as_int(text: str) -> int | None:
    """'3' or '3.0' -> 3; anything else -> None."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        return None
    return int(number) if math.isfinite(number) and number.is_integer() else None


def validate_manifest(
    df: pd.DataFrame | str | Path,
    *,
    required: Sequence[str] = REQUIRED_COLUMNS,
    label_columns: Sequence[str] | None = None,
) -> ManifestCheck:
    """Split a manifest into valid rows and error rows, each error with its row and reason.

    Checks: required columns present (else ManifestError); ``image`` and ``product_id`` (the
    ``required`` columns) not empty; ``source`` is shop or user; ``view`` is an integer; an
    image listed twice is kept once (later rows: 'duplicate of row N'). Label columns, if given,
    must exist; their cells are normalised ('red | blue' -> 'red|blue', missing -> '').

    Raises:
        ManifestError: required or label columns are missing (the message names them and the
            columns found).
    """
    frame = read_table(df)
    wanted = list(required) + [column for column in (label_columns or ()) if column not in required]
    missing = [column for column in wanted if column not in frame.columns]
    if missing:
        found = ", ".join(column for column in frame.columns if column != ROW_COLUMN) or "(none)"
        raise ManifestError(f"manifest is missing column(s): {', '.join(missing)}; columns found: {found}")
    if ROW_COLUMN not in frame.columns:
        frame.insert(0, ROW_COLUMN, range(len(frame)))
    else:
        try:  # kept from an earlier validation; a CSV round trip makes it text
            frame[ROW_COLUMN] = pd.to_numeric(frame[ROW_COLUMN], errors="raise").astype("int64")
        except (ValueError, TypeError) as err:
            raise ManifestError(f"manifest column {ROW_COLUMN} must hold row numbers: {err}") from err
    frame = frame.reset_index(drop=True)

    checked = [column for column in (*required, *OPTIONAL_COLUMNS) if column in frame.columns]
    for column in checked:
        frame[column] = frame[column].str.strip()
    if "source" in frame.columns:
        frame["source"] = frame["source"].str.lower()
    for column in label_columns or ():
        frame[column] = pd.Series(
            [LABEL_SEPARATOR.join(split_labels(value)) for value in frame[column]], index=frame.index, dtype="str"
        )

    reasons: list[list[str]] = [[] for _ in range(len(frame))]
    for column in required:
        for position in frame.index[frame[column].isna() | (frame[column] == "")]:
            reasons[position].append(f"empty {column}")
    if "source" in frame.columns:
        for position, value in frame["source"].items():
            if not _is_missing(value) and value != "" and value not in SOURCES:
                reasons[position].append(f"source must be {' or '.join(SOURCES)}, not {value!r}")
    if "view" in frame.columns:
        for position, value in frame["view"].items():
            if not _is_missing(value) and value != "" and _as_int(value) is None:
                reasons[position].append(f"view must be an integer, not {value!r}")
    if "image" in frame.columns:
        first_row: dict[str, int] = {}
        for position, (image, row) in enumerate(zip(frame["image"], frame[ROW_COLUMN])):
            if reasons[position]:
                continue
            if image in first_row:
                reasons[position].append(f"duplicate of row {first_row[image]}")
            else:
                first_row[image] = int(row)

    bad = [bool(reason) for reason in reasons]
    images = frame["image"] if "image" in frame.columns else pd.Series([None] * len(frame))
    errors = pd.DataFrame(
        {
            "row": pd.array([int(row) for row, is_bad in zip(frame[ROW_COLUMN], bad) if is_bad], dtype="int64"),
            "image": ["" if _is_missing(image) else image for image, is_bad in zip(images, bad) if is_bad],
            "reason": ["; ".join(reason) for reason in reasons if reason],
        },
        columns=["row", "image", "reason"],
    )
    rows = frame.loc[[not is_bad for is_bad in bad]].reset_index(drop=True)
    if "view" in rows.columns:
        views = [None if _is_missing(value) or value == "" else _as_int(value) for value in rows["view"]]
        rows["view"] = pd.array(views, dtype="Int64")
    if len(errors):
        first = errors.iloc[0]
        logger.warning(
            "manifest: %d of %d rows rejected (first: row %d, %s)",
            len(errors), len(frame), first["row"], first["reason"],
        )
    return ManifestCheck(rows=rows, errors=errors)


def merge_errors(*frames: pd.DataFrame) -> pd.DataFrame:
    """Row-level error tables (columns row, image, reason) as one, in manifest row order."""
    return pd.concat(frames, ignore_index=True).sort_values("row", kind="stable").reset_index(drop=True)
