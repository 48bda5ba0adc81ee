"""A DSS dataset read as a DataFrame typed by its schema, empty integer cells included, on every DSS the plugin supports.

``get_dataframe(infer_with_pandas=False)`` gives integer columns numpy dtypes, so a single empty cell
fails the whole read; DSS 13 added ``use_nullable_integers=True`` for that (developer guide,
concepts-and-examples/datasets "Nullable integers"). Older ``dataiku`` packages lack the argument,
so their integer columns are read apart, with pandas' inference (NaN for empty cells), and made
nullable here; the other columns keep their schema types. Dataiku's own plugins test for the
argument the same way (``inspect.signature(dataset.get_dataframe)``).
"""

from __future__ import annotations

import inspect
from typing import Any

import pandas as pd

from street2shop.errors import InvalidParameter

INTEGER_TYPES = ("tinyint", "smallint", "int", "bigint")


def has_nullable_integers(dataset: Any) -> bool:
    """Whether this ``dataiku`` package's ``get_dataframe`` takes ``use_nullable_integers`` (DSS 13+)."""
    try:
        return "use_nullable_integers" in inspect.signature(dataset.get_dataframe).parameters
    except (TypeError, ValueError):
        return False


def read_frame(dataset: Any) -> pd.DataFrame:
    """The whole dataset (the partitions DSS chose), typed by its schema; integer columns as ``Int64``."""
    if has_nullable_integers(dataset):
        return dataset.get_dataframe(infer_with_pandas=False, parse_dates=False, use_nullable_integers=True)
    schema = dataset.read_schema()
    integers = [column["name"] for column in schema if column.get("type") in INTEGER_TYPES]
    if not integers:
        return dataset.get_dataframe(infer_with_pandas=False, parse_dates=False)
    others = [column["name"] for column in schema if column["name"] not in integers]
    numbers = dataset.get_dataframe(columns=integers, infer_with_pandas=True, parse_dates=False)
    frame = dataset.get_dataframe(columns=others, infer_with_pandas=False, parse_dates=False) if others else pd.DataFrame(index=numbers.index)
    if len(frame) != len(numbers):
        raise InvalidParameter(f"dataset {getattr(dataset, 'name', '?')} changed while it was read ({len(frame)} then {len(numbers)} rows)")
    for name in integers:
        frame[name] = _nullable(numbers[name], name)
    return frame[[column["name"] for column in schema]]


def _nullable(values: pd.Series, name: str) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values[numbers.isna() & values.notna()]
    if len(bad):
        raise InvalidParameter(f"column {name!r} is an integer column but row {bad.index[0] + 1} holds {bad.iloc[0]!r}")
    try:
        return numbers.astype("Int64").set_axis(values.index)
    except (TypeError, ValueError) as err:
        raise InvalidParameter(f"column {name!r} is an integer column but holds non-integral numbers ({err})") from err
