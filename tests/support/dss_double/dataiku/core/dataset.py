"""``dataiku.Dataset`` over local files: the documented read/write API with DSS's flow rules and text round trip."""

from __future__ import annotations

import atexit
import io
import random
import sys
from datetime import datetime
from typing import Any, Iterator

from dataiku._double import context, storage
from dataiku.core import default_project_key, flow

_INT_TYPES = ("tinyint", "smallint", "int", "bigint")


class Schema(list):
    """A dataset schema: a list of ``{"name", "type"}`` dicts."""


def _sampling_spec(sampling: Any, sampling_column: str | None, limit: int | None, ratio: float | None) -> dict:
    """Validates the sampling keywords like DSS and returns the backend's sampling dict."""
    if isinstance(sampling, dict):
        return sampling
    if sampling_column is not None and sampling != "random-column":
        raise ValueError(f"sampling_column argument does not make sense with {sampling} sampling method.")
    if sampling == "head":
        if ratio is not None:
            raise ValueError("target_ratio parameter is not supported by the head sampling method.")
        return {"samplingMethod": "FULL"} if limit is None else {"samplingMethod": "HEAD_SEQUENTIAL", "maxRecords": limit}
    if sampling == "random":
        if ratio is not None and limit is not None:
            raise ValueError("Cannot set both ratio and limit.")
        if ratio is not None:
            return {"samplingMethod": "RANDOM_FIXED_RATIO", "targetRatio": ratio}
        if limit is not None:
            return {"samplingMethod": "RANDOM_FIXED_NB", "maxRecords": limit}
        raise ValueError("Sampling method random requires either a parameter limit or ratio")
    if sampling == "random-column":
        if sampling_column is None:
            raise ValueError("random-column sampling method requires a sampling_column argument.")
        if ratio is not None:
            raise ValueError("ratio parameter is not handled by sampling column method.")
        if limit is None:
            raise ValueError("random-column requires a limit parameter")
        return {"samplingMethod": "COLUMN_BASED", "maxRecords": limit, "column": sampling_column}
    raise ValueError(f"Sampling {sampling} is unsupported")


def _apply_sampling(spec: dict, schema: list[dict], cols: list[list[str | None]]) -> list[list[str | None]]:
    n = len(cols[0]) if cols else 0
    method = spec.get("samplingMethod", "FULL")
    if method == "FULL":
        keep = range(n)
    elif method == "HEAD_SEQUENTIAL":
        keep = range(min(n, int(spec["maxRecords"])))
    elif method == "RANDOM_FIXED_NB":
        keep = sorted(random.sample(range(n), min(n, int(spec["maxRecords"]))))
    elif method == "RANDOM_FIXED_RATIO":
        keep = [i for i in range(n) if random.random() < float(spec["targetRatio"])]
    elif method == "COLUMN_BASED":
        idx = [c["name"] for c in schema].index(spec["column"])
        values = list(dict.fromkeys(cols[idx]))
        random.shuffle(values)
        chosen: set = set()
        count = 0
        for v in values:
            if count >= int(spec["maxRecords"]):
                break
            chosen.add(v)
            count += cols[idx].count(v)
        keep = [i for i in range(n) if cols[idx][i] in chosen]
    else:
        raise ValueError(f"Sampling method {method} is not supported by the DSS double")
    return [[col[i] for i in keep] for col in cols]


def _cast(dss_type: str, cell: str) -> Any:
    if dss_type in _INT_TYPES:
        return int(cell)
    if dss_type in ("float", "double"):
        return float(cell)
    if dss_type == "date":
        return None if cell == "" else datetime.fromisoformat(cell)
    if dss_type == "boolean":
        return cell.lower() == "true"
    return cell


class DatasetCursor:
    """One row of ``iter_rows``: a read-only, dict-like view over a tuple."""

    __slots__ = ("_col_idx", "_col_names", "_val")

    def __init__(self, val: list, col_names: list[str], col_idx: dict[str, int]):
        self._col_idx = col_idx
        self._col_names = col_names
        self._val = val

    def __getitem__(self, col_name: str) -> Any:
        if col_name not in self._col_idx:
            raise KeyError(f"Column '{col_name}' is not declared in the schema")
        return self._val[self._col_idx[col_name]]

    def __len__(self) -> int:
        return len(self._col_idx)

    def __iter__(self) -> Iterator[str]:
        return iter(self._col_names)

    def __contains__(self, k: str) -> bool:
        return k in self._col_idx

    def keys(self) -> list[str]:
        return self._col_names

    def values(self) -> list:
        return self._val

    def items(self):
        return zip(self._col_names, self._val)

    def get(self, col_name: str, default_value: Any = None) -> Any:
        return self._val[self._col_idx[col_name]] if col_name in self._col_idx else default_value

    def __repr__(self) -> str:
        return repr(dict(self.items()))


class Dataset:
    """Handle on a DSS dataset, stored under ``DKU_DOUBLE_ROOT``."""

    @staticmethod
    def list(project_key: str | None = None) -> list[str]:
        """Names of the datasets of a project (the current one by default)."""
        return storage.list_datasets(context.root(), project_key or default_project_key())

    def __init__(self, name: str, project_key: str | None = None, ignore_flow: bool = False):
        self.name = name
        self.cols = None
        self.partitions = None
        self.read_partitions = None
        self.writePartition = None
        self.writable = False
        self.readable = False
        self.ignore_flow = ignore_flow
        self.spec_item: dict = {"appendMode": False}
        if flow.FLOW is not None and not ignore_flow:
            for item in flow.FLOW["in"]:
                if item.get("type", "DATASET") == "DATASET" and name in (item["smartName"], item["fullName"]):
                    self.readable = True
                    self.name = item["fullName"]
                    if "partitions" in item:
                        self.read_partitions = list(item["partitions"])
            for item in flow.FLOW["out"]:
                if item.get("type", "DATASET") == "DATASET" and name in (item["smartName"], item["fullName"]):
                    self.writable = True
                    self.name = item["fullName"]
                    self.spec_item = item
                    if "partition" in item:
                        self.writePartition = item["partition"]
            if not self.readable and not self.writable:
                raise Exception(f"Dataset {self.name} cannot be used : declare it as input or output of your recipe")
            self.project_key, self.short_name = self.name.split(".", 1)
        else:
            if "." not in name:
                self.project_key = project_key or default_project_key()
                self.short_name = name
                self.name = f"{self.project_key}.{name}"
            else:
                self.project_key, self.short_name = name.split(".", 1)
                if project_key is not None and self.project_key != project_key:
                    raise ValueError(f"Project key {project_key} incompatible with fullname dataset {name}.")
            self.readable = True
            self.writable = True

    @property
    def full_name(self) -> str:
        return f"{self.project_key}.{self.short_name}"

    def __repr__(self) -> str:
        return f"Dataset({self.full_name!r})"

    # ------------------------------------------------------------------ definition

    def get_config(self) -> dict:
        """The dataset's definition (type, partitioning, schema)."""
        return storage.dataset_config(context.root(), self.project_key, self.short_name)

    def get_location_info(self, sensitive_info: bool = False) -> dict:
        """Where the data lives; the path is only given when direct access is allowed."""
        info: dict = {"locationInfoType": "FS", "info": {"isManaged": True}}
        if context.spec().get("allowDirectAccess"):
            info["info"]["path"] = str(storage.dataset_dir(context.root(), self.project_key, self.short_name) / "data")
        return info

    def read_schema(self, raise_if_empty: bool = True) -> Schema:
        """The schema as a list of ``{"name", "type"}`` dicts."""
        if self.cols is None:
            self.cols = storage.read_schema(context.root(), self.project_key, self.short_name)
        if raise_if_empty and len(self.cols) == 0:
            raise Exception(f"No column in schema of {self.name}. Have you set up the schema for this dataset?")
        return Schema(self.cols)

    def list_partitions(self, raise_if_empty: bool = True) -> list[str]:
        """Partition ids of the dataset (``["NP"]`` when not partitioned)."""
        if self.partitions is None:
            self.partitions = storage.list_dataset_partitions(context.root(), self.project_key, self.short_name)
        if raise_if_empty and len(self.partitions) == 0:
            raise Exception(f"No partition in {self.name}.")
        return self.partitions

    def set_write_partition(self, spec: str) -> None:
        """Sets the partition to write; refused inside the Flow."""
        if flow.FLOW is not None and not self.ignore_flow:
            raise Exception("You cannot explicitly set partitions when running within Dataiku Flow")
        self.writePartition = spec

    def add_read_partitions(self, spec: str) -> None:
        """Adds a partition to read; refused inside the Flow."""
        if flow.FLOW is not None and not self.ignore_flow:
            raise Exception("You cannot explicitly set partitions when running within Dataiku Flow")
        if self.read_partitions is None:
            self.read_partitions = []
        self.read_partitions.append(spec)

    # ------------------------------------------------------------------ reading

    def _read_cells(self, columns, sampling, sampling_column, limit, ratio) -> tuple[list[dict], list[list]]:
        if not self.readable:
            raise Exception(f"You cannot read dataset {self.name}, it is not declared as an input")
        spec = _sampling_spec(sampling, sampling_column, limit, ratio)
        schema, cols = storage.read_text_columns(context.root(), self.project_key, self.short_name,
                                                 self.read_partitions)
        cols = _apply_sampling(spec, schema, cols)
        return storage.select_columns(schema, cols, columns)

    def _frame_args(self, columns, parse_dates, infer_with_pandas, bool_as_str, nullable_integers=False):
        schema = self.read_schema()
        return storage.pandas_read_args(schema, columns, parse_dates, infer_with_pandas, bool_as_str,
                                        nullable_integers)

    def _get_dataframe(self, columns, sampling, sampling_column, limit, ratio, infer_with_pandas, parse_dates,
                       bool_as_str, float_precision, na_values, keep_default_na, use_nullable_integers):
        import pandas as pd

        names, dtypes, dates = self._frame_args(columns, parse_dates, infer_with_pandas, bool_as_str,
                                                use_nullable_integers)
        _, cols = self._read_cells(columns, sampling, sampling_column, limit, ratio)
        return pd.read_table(io.StringIO(storage.columns_to_tsv(cols)), names=names, dtype=dtypes, header=None,
                             sep="\t", doublequote=True, quotechar='"', parse_dates=dates,
                             float_precision=float_precision, na_values=na_values, keep_default_na=keep_default_na)

    if context.dss_version() >= (13, 0):
        def get_dataframe(self, columns=None, sampling="head", sampling_column=None, limit=None, ratio=None,
                          infer_with_pandas=True, parse_dates=True, bool_as_str=False, float_precision=None,
                          na_values=None, keep_default_na=True, use_nullable_integers=False):
            """Reads the dataset (its read partitions, concatenated) as a pandas DataFrame.

            With ``infer_with_pandas=False`` integer columns are numpy integers, so one empty cell fails the
            read, unless ``use_nullable_integers=True`` (DSS 13+: pandas ``Int8``...``Int64``, exact sizes).
            """
            return self._get_dataframe(columns, sampling, sampling_column, limit, ratio, infer_with_pandas,
                                       parse_dates, bool_as_str, float_precision, na_values, keep_default_na,
                                       use_nullable_integers)
    else:
        def get_dataframe(self, columns=None, sampling="head", sampling_column=None, limit=None, ratio=None,
                          infer_with_pandas=True, parse_dates=True, bool_as_str=False, float_precision=None,
                          na_values=None, keep_default_na=True):
            """Reads the dataset as a pandas DataFrame (before DSS 13: no ``use_nullable_integers``)."""
            return self._get_dataframe(columns, sampling, sampling_column, limit, ratio, infer_with_pandas,
                                       parse_dates, bool_as_str, float_precision, na_values, keep_default_na, False)

    def iter_dataframes(self, chunksize=10000, infer_with_pandas=True, sampling="head", sampling_column=None,
                        parse_dates=True, limit=None, ratio=None, columns=None, bool_as_str=False,
                        float_precision=None, na_values=None, keep_default_na=True):
        """Yields DataFrames of at most ``chunksize`` rows."""
        import pandas as pd

        if not self.readable:
            raise Exception(f"You cannot read dataset {self.name}, it is not declared as an input")
        names, dtypes, dates = self._frame_args(columns, parse_dates, infer_with_pandas, bool_as_str)
        _, cols = self._read_cells(columns, sampling, sampling_column, limit, ratio)
        if not cols or not cols[0]:
            return
        reader = pd.read_table(io.StringIO(storage.columns_to_tsv(cols)), names=names, dtype=dtypes, header=None,
                               sep="\t", doublequote=True, quotechar='"', parse_dates=dates, chunksize=chunksize,
                               float_precision=float_precision, na_values=na_values,
                               keep_default_na=keep_default_na)
        with reader:
            yield from reader

    def iter_tuples(self, sampling="head", sampling_column=None, limit=None, ratio=None, log_every=-1,
                    timeout=30, columns=None):
        """Yields rows as lists of values cast per the schema (empty numbers become None)."""
        self.read_schema()
        schema, cols = self._read_cells(columns, sampling, sampling_column, limit, ratio)
        n = len(cols[0]) if cols else 0
        for i in range(n):
            row = []
            for col, c in zip(schema, cols):
                cell = "" if c[i] is None else c[i]
                try:
                    row.append(_cast(col["type"], cell))
                except ValueError:
                    row.append(None)
            yield row
            if log_every > 0 and (i + 1) % log_every == 0:
                sys.stderr.write(f"Dataset<{self.name}> - read {i + 1} lines\n")

    def iter_rows(self, sampling="head", sampling_column=None, limit=None, ratio=None, log_every=-1,
                  timeout=30, columns=None):
        """Yields rows as dict-like ``DatasetCursor`` objects."""
        schema = self.read_schema()
        if columns is not None:
            schema, _ = storage.select_columns(schema, [[] for _ in schema], columns)
        names = [c["name"] for c in schema]
        idx = {n: i for i, n in enumerate(names)}
        for row in self.iter_tuples(sampling, sampling_column, limit, ratio, log_every, timeout, columns):
            yield DatasetCursor(row, names, idx)

    # ------------------------------------------------------------------ writing

    def write_schema(self, columns: list[dict], dropAndCreate: bool = False) -> None:
        """Replaces the dataset's schema."""
        if not self.writable:
            raise Exception(f"You cannot write the schema for the dataset {self.name}, as it is not declared as an output")
        for column in columns:
            if "type" not in column:
                raise Exception(f"Columns {column} has no attribute type")
            if "name" not in column:
                raise Exception(f"Columns {column} has no attribute name")
            if not isinstance(column["name"], str):
                raise Exception(f"Columns {column} name attribute is not a string")
            if not isinstance(column["type"], str):
                raise Exception(f"Columns {column} type attribute is not a string")
        storage.write_schema(context.root(), self.project_key, self.short_name, list(columns), drop=dropAndCreate)
        self.cols = None

    def write_schema_from_dataframe(self, df, dropAndCreate: bool = False) -> None:
        """Sets the schema inferred from a DataFrame's dtypes."""
        self.write_schema(storage.get_schema_from_df(df), dropAndCreate)

    def write_with_schema(self, df, dropAndCreate: bool = False) -> None:
        """Replaces the schema with the DataFrame's, then writes it to the write partition."""
        if not hasattr(df, "to_csv"):
            raise ValueError(f"Method write_with_schema expects a dataframe as argument. You gave a "
                             f"{'None' if df is None else df.__class__}")
        self.write_dataframe(df, True, dropAndCreate)

    def write_dataframe(self, df, infer_schema: bool = False, dropAndCreate: bool = False) -> None:
        """Writes a DataFrame; the schema must already match unless ``infer_schema``."""
        if not hasattr(df, "to_csv"):
            raise ValueError(f"Method write_from_dataframe expects a dataframe as argument. You gave a "
                             f"{'None' if df is None else df.__class__}")
        if not self.writable:
            raise Exception(f"You cannot write dataset {self.name}, it is not declared as an output")
        if infer_schema:
            self.write_schema_from_dataframe(df, dropAndCreate)
        with self.get_writer() as writer:
            writer.write_dataframe(df)

    def write_from_dataframe(self, df, infer_schema: bool = False, write_direct: bool = False,
                             dropAndCreate: bool = False) -> None:
        """Deprecated alias of ``write_dataframe``."""
        self.write_dataframe(df, infer_schema, dropAndCreate)

    def get_writer(self) -> "DatasetWriter":
        """A writer for the write partition; must be closed (use ``with``)."""
        if not self.writable:
            raise Exception(f"You cannot write dataset {self.name}, it is not declared as an output")
        return DatasetWriter(self)

    # ------------------------------------------------------------------ metadata and metrics

    def _meta_path(self, name: str):
        return storage.dataset_dir(context.root(), self.project_key, self.short_name) / name

    def read_metadata(self) -> dict:
        """The dataset's metadata (checklists, custom, tags)."""
        self.get_config()
        return storage.read_json(self._meta_path("metadata.json"),
                                 {"checklists": {"checklists": []}, "custom": {"kv": {}}, "tags": []})

    def write_metadata(self, meta: dict) -> None:
        """Replaces the dataset's metadata."""
        for key in ("checklists", "custom", "tags"):
            if key not in meta:
                raise Exception(f"'{key}' is missing")
        self.get_config()
        storage.write_json(self._meta_path("metadata.json"), meta)

    def save_external_metric_values(self, values_dict: dict, partition: str = "") -> dict:
        """Records metric values (kept in ``metrics.json`` next to the data)."""
        metrics = storage.read_json(self._meta_path("metrics.json"), {})
        metrics.setdefault(partition or "NP", {}).update(values_dict)
        storage.write_json(self._meta_path("metrics.json"), metrics)
        return {"ok": True}


class DatasetWriter:
    """Writes rows to one dataset partition; the data lands when the writer is closed."""

    active_writers: dict[str, "DatasetWriter"] = {}

    @staticmethod
    def atexit_handler() -> None:
        pending = list(DatasetWriter.active_writers.items())
        DatasetWriter.active_writers = {}
        for name, writer in pending:
            print(f"WARNING : A dataset writer MUST be closed ({name})")
            writer.close()

    def __init__(self, dataset: Dataset):
        if DatasetWriter.active_writers.get(dataset.full_name):
            raise Exception("Unable to instanciate a new dataset writer. There is already another active writer "
                            f"for this dataset ({dataset.full_name}).")
        self.dataset = dataset
        self.writePartition = dataset.writePartition if dataset.writePartition else ""
        self._schema: list[dict] | None = None
        self._cells: list[list[str | None]] = []
        self._closed = False
        DatasetWriter.active_writers[dataset.full_name] = self

    def _start_once(self) -> None:
        if self._closed:
            raise Exception(f"The writer of dataset {self.dataset.full_name} is closed")
        if self._schema is None:
            schema = list(self.dataset.read_schema())
            self._partition = storage.check_partition(context.root(), self.dataset.project_key,
                                                      self.dataset.short_name, self.writePartition, writing=True)
            self._schema = schema
            self._cells = [[] for _ in schema]

    def _append(self, cells: list[list[str | None]]) -> None:
        for dst, src in zip(self._cells, cells):
            dst.extend(src)

    def write_tuple(self, row) -> None:
        """Writes one row given in schema order."""
        self._start_once()
        text = [["" if v is None else str(v)] for v in row]
        text += [[""]] * (len(self._schema) - len(text))
        if len(text) > len(self._schema):
            raise Exception(f"Row has {len(text)} values but dataset {self.dataset.full_name} has "
                            f"{len(self._schema)} columns")
        self._append([storage.normalise_cells(t, c["type"]) for t, c in zip(text, self._schema)])

    def write_row_array(self, row) -> None:
        self.write_tuple(row)

    def write_row_dict(self, row_dict: dict) -> None:
        """Writes one row given as column -> value (missing columns are empty)."""
        self._start_once()
        self.write_tuple([row_dict.get(c["name"], "") for c in self._schema])

    def write_dataframe(self, df) -> None:
        """Appends a DataFrame's rows (columns are matched to the schema by name)."""
        data_schema = storage.get_schema_from_df(df)
        self._start_once()
        self._append(storage.align_to_schema(self.dataset.full_name, self._schema, data_schema,
                                             storage.dataframe_to_text(df)))

    def close(self) -> None:
        """Stores what was written (replacing the partition unless the output is in append mode)."""
        if self._closed:
            return
        if DatasetWriter.active_writers.get(self.dataset.full_name) is self:
            del DatasetWriter.active_writers[self.dataset.full_name]
        self._start_once()
        storage.write_text_columns(context.root(), self.dataset.project_key, self.dataset.short_name,
                                   self._partition, self._schema, self._cells,
                                   append=bool(self.dataset.spec_item.get("appendMode")))
        self._closed = True
        print(f"{len(self._cells[0]) if self._cells else 0} rows successfully written ({self.dataset.full_name})")

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()


atexit.register(DatasetWriter.atexit_handler)
