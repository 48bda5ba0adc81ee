"""Local-file storage behind the DSS double: datasets as text Parquet + schema JSON, folders as files.

This module imports nothing from ``dataiku`` so the test harness can load it in-process.
DSS moves dataset rows as text (CSV in, TSV out), so rows are stored as the text DSS would
hold, and reading goes through ``pandas.read_table`` the way ``dataiku.Dataset`` does.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
import urllib.parse
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Iterator

NOT_PARTITIONED = "NP"

# Pandas dtypes DSS uses when infer_with_pandas=False (dataiku.core.schema_handling).
_DKU_PANDAS_TYPES = {
    "tinyint": "int8",
    "smallint": "int16",
    "int": "int32",
    "bigint": "int64",
    "float": "float32",
    "double": "float64",
    "boolean": "bool",
}
# With use_nullable_integers=True (DSS 13+): pandas nullable integers of the exact size.
_DKU_NULLABLE_TYPES = {"tinyint": "Int8", "smallint": "Int16", "int": "Int32", "bigint": "Int64"}
_PANDAS_DKU_TYPES = {
    "int8": "tinyint",
    "int16": "smallint",
    "int32": "int",
    "int64": "bigint",
    "uint8": "smallint",
    "uint16": "int",
    "uint32": "bigint",
    "uint64": "bigint",
    "Int8": "tinyint",
    "Int16": "smallint",
    "Int32": "int",
    "Int64": "bigint",
    "float32": "float",
    "Float32": "float",
    "float64": "double",
    "Float64": "double",
    "bool": "boolean",
    "boolean": "boolean",
}
DSS_TYPES = frozenset(
    ["string", "tinyint", "smallint", "int", "bigint", "float", "double", "boolean", "date",
     "dateonly", "datetimenotz", "geopoint", "geometry", "array", "map", "object"]
)


class StorageFailure(Exception):
    """A request the DSS backend would refuse (missing object, bad path, bad schema...)."""


# ----------------------------------------------------------------------------- JSON files

def read_json(path: Path, default: Any = None) -> Any:
    """Reads a JSON file, or returns ``default`` when it does not exist."""
    if not path.exists():
        return default
    return json.loads(path.read_text(encoding="utf-8"))


def write_json(path: Path, obj: Any) -> None:
    """Writes JSON atomically (temporary name, then rename)."""
    write_bytes_atomic(path, json.dumps(obj, indent=2, sort_keys=True).encode("utf-8"))


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Writes bytes under a temporary name in the same directory, then renames."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ----------------------------------------------------------------------------- layout

def project_dir(root: Path, project_key: str) -> Path:
    """Directory of one project under the double's root."""
    return Path(root) / "projects" / project_key


def dip_home(root: Path) -> Path:
    """The fake DSS data directory (``dip.home``)."""
    return Path(root) / "dip_home"


def project_variables(root: Path, project_key: str) -> dict:
    """The project's variables as ``{"standard": {...}, "local": {...}}``."""
    data = read_json(project_dir(root, project_key) / "variables.json", None)
    return data if data is not None else {"standard": {}, "local": {}}


def set_project_variables(root: Path, project_key: str, variables: dict) -> None:
    """Replaces the project's variables (``{"standard": ..., "local": ...}``)."""
    if not isinstance(variables, dict) or not {"standard", "local"} <= set(variables):
        raise StorageFailure("project variables must be a dict with 'standard' and 'local' keys")
    write_json(project_dir(root, project_key) / "variables.json", variables)


# ----------------------------------------------------------------------------- datasets

def dataset_dir(root: Path, project_key: str, name: str) -> Path:
    """Directory holding one dataset."""
    if not name or "/" in name or name.startswith("."):
        raise StorageFailure(f"invalid dataset name: {name!r}")
    return project_dir(root, project_key) / "datasets" / name


def dataset_exists(root: Path, project_key: str, name: str) -> bool:
    """Whether the dataset has been created."""
    return (dataset_dir(root, project_key, name) / "config.json").exists()


def list_datasets(root: Path, project_key: str) -> list[str]:
    """Names of the project's datasets."""
    base = project_dir(root, project_key) / "datasets"
    if not base.exists():
        return []
    return sorted(p.name for p in base.iterdir() if (p / "config.json").exists())


def create_dataset(root: Path, project_key: str, name: str, dimension: str | None = None) -> None:
    """Creates an empty managed dataset (no schema), partitioned by ``dimension`` if given."""
    if dataset_exists(root, project_key, name):
        raise StorageFailure(f"dataset {project_key}.{name} already exists")
    if folder_exists(root, project_key, name):
        raise StorageFailure(f"a managed folder already uses the id {name!r}")
    partitioning: dict = {"dimensions": []}
    if dimension:
        partitioning = {"dimensions": [{"name": dimension, "type": "value"}]}
    config = {
        "name": name,
        "projectKey": project_key,
        "type": "Filesystem",
        "managed": True,
        "formatType": "parquet",
        "partitioning": partitioning,
    }
    write_json(dataset_dir(root, project_key, name) / "config.json", config)
    write_json(dataset_dir(root, project_key, name) / "schema.json", {"userModified": False, "columns": []})


def dataset_config(root: Path, project_key: str, name: str) -> dict:
    """The dataset's definition, schema included, like ``Dataset.get_config()``."""
    config = read_json(dataset_dir(root, project_key, name) / "config.json")
    if config is None:
        raise StorageFailure(f"Dataset {project_key}.{name} does not exist")
    config["schema"] = read_json(dataset_dir(root, project_key, name) / "schema.json")
    return config


def dataset_dimension(root: Path, project_key: str, name: str) -> str | None:
    """The partitioning dimension, or None for a non-partitioned dataset."""
    dims = dataset_config(root, project_key, name)["partitioning"]["dimensions"]
    return dims[0]["name"] if dims else None


def read_schema(root: Path, project_key: str, name: str) -> list[dict]:
    """The dataset's schema columns (possibly empty)."""
    return dataset_config(root, project_key, name)["schema"]["columns"]


def write_schema(root: Path, project_key: str, name: str, columns: list[dict], drop: bool = False) -> None:
    """Replaces the schema; with ``drop`` also deletes the data, like dropAndCreate."""
    dataset_config(root, project_key, name)
    for col in columns:
        if col.get("type") not in DSS_TYPES:
            raise StorageFailure(f"Column {col.get('name')!r} has an unknown DSS type {col.get('type')!r}")
    names = [c["name"] for c in columns]
    if len(set(names)) != len(names):
        raise StorageFailure("DSS doesn't support schemas containing multiple columns with the same name.")
    write_json(dataset_dir(root, project_key, name) / "schema.json",
               {"userModified": False, "columns": [dict(c) for c in columns]})
    if drop:
        data = dataset_dir(root, project_key, name) / "data"
        for f in data.glob("*.parquet") if data.exists() else []:
            f.unlink()


def _partition_file(root: Path, project_key: str, name: str, partition: str) -> Path:
    fname = "data" if partition == NOT_PARTITIONED else "p-" + urllib.parse.quote(partition, safe="")
    return dataset_dir(root, project_key, name) / "data" / f"{fname}.parquet"


def list_dataset_partitions(root: Path, project_key: str, name: str) -> list[str]:
    """Partition ids holding data; ``["NP"]`` for a non-partitioned dataset."""
    if dataset_dimension(root, project_key, name) is None:
        return [NOT_PARTITIONED]
    data = dataset_dir(root, project_key, name) / "data"
    if not data.exists():
        return []
    return sorted(urllib.parse.unquote(p.stem[2:]) for p in data.glob("p-*.parquet"))


def check_partition(root: Path, project_key: str, name: str, partition: str | None, writing: bool) -> str:
    """Validates a partition id against the dataset's partitioning; returns the storage id."""
    dim = dataset_dimension(root, project_key, name)
    if dim is None:
        if partition not in (None, "", NOT_PARTITIONED):
            raise StorageFailure(f"Dataset {project_key}.{name} is not partitioned, cannot use partition {partition!r}")
        return NOT_PARTITIONED
    if not partition or partition == NOT_PARTITIONED:
        verb = "write" if writing else "read"
        raise StorageFailure(f"Dataset {project_key}.{name} is partitioned by {dim!r}: a partition is needed to {verb} it")
    if "," in partition or "|" in partition:
        raise StorageFailure(f"invalid partition id {partition!r} for the single dimension {dim!r}")
    return partition


def read_text_columns(root: Path, project_key: str, name: str,
                      partitions: Iterable[str] | None) -> tuple[list[dict], list[list[str | None]]]:
    """Reads the stored text of the given partitions (all when None), concatenated in order.

    Returns the schema and one list of cells per schema column.
    """
    import pyarrow.parquet as pq

    schema = read_schema(root, project_key, name)
    if partitions is None:
        partitions = list_dataset_partitions(root, project_key, name)
    else:
        partitions = [check_partition(root, project_key, name, p, writing=False) for p in partitions]
    columns: list[list[str | None]] = [[] for _ in schema]
    for partition in partitions:
        path = _partition_file(root, project_key, name, partition)
        if not path.exists():
            if partition == NOT_PARTITIONED:
                continue  # never written: an empty dataset
            raise StorageFailure(f"Partition {partition!r} of dataset {project_key}.{name} does not exist")
        table = pq.read_table(path)
        for i, col in enumerate(schema):
            if col["name"] in table.column_names:
                columns[i].extend(table.column(col["name"]).to_pylist())
            else:  # column added to the schema after this partition was written
                columns[i].extend([None] * table.num_rows)
    return schema, columns


def write_text_columns(root: Path, project_key: str, name: str, partition: str,
                       schema: list[dict], columns: list[list[str | None]], append: bool) -> None:
    """Stores text cells for one partition atomically, replacing it unless ``append``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = _partition_file(root, project_key, name, partition)
    names = [c["name"] for c in schema]
    if append and path.exists():
        old = pq.read_table(path)
        n_old = old.num_rows
        columns = [
            (old.column(n).to_pylist() if n in old.column_names else [None] * n_old) + list(col)
            for n, col in zip(names, columns)
        ]
    table = pa.table({n: pa.array(col, type=pa.string()) for n, col in zip(names, columns)})
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".parquet")
    os.close(fd)
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ----------------------------------------------------------------------------- dataframe <-> text

def dss_type_of_dtype(dtype: Any) -> str:
    """The DSS column type for a pandas dtype, as ``dataiku`` infers it."""
    text = str(dtype)
    if text.startswith("datetime64"):
        return "date"
    return _PANDAS_DKU_TYPES.get(text, "string")


def get_schema_from_df(df: Any) -> list[dict]:
    """DSS schema for a dataframe (``dataiku.core.schema_handling.get_schema_from_df``)."""
    if len(set(df.columns)) != len(list(df.columns)):
        raise StorageFailure("DSS doesn't support dataframes containing multiple columns with the same name.")
    return [{"name": str(c), "type": dss_type_of_dtype(df[c].dtype)} for c in df.columns]


def dataframe_to_text(df: Any) -> list[list[str]]:
    """Serialises a dataframe the way ``DatasetWriter.write_dataframe`` does: pandas CSV, quote all.

    Objects are ``str()``-ed (a list becomes ``"[1, 2]"``), NaN/None become empty cells.
    Returns one list of cells per dataframe column.
    """
    text = df.to_csv(index=False, header=False, sep=",", quoting=csv.QUOTE_ALL, na_rep="",
                     lineterminator="\n")
    rows = list(csv.reader(io.StringIO(text), delimiter=",", quotechar='"', doublequote=True))
    n_cols = len(df.columns)
    if not rows:
        return [[] for _ in range(n_cols)]
    return [[row[i] for row in rows] for i in range(n_cols)]


def _normalise_date(cell: str) -> str:
    import pandas as pd

    try:
        ts = pd.Timestamp(cell)
    except (ValueError, TypeError):
        return cell
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def normalise_cells(cells: list[str], dss_type: str) -> list[str | None]:
    """What the backend keeps for text cells written into a column of ``dss_type``."""
    out: list[str | None] = []
    for cell in cells:
        if cell is None or cell == "":
            out.append(None)
        elif dss_type == "boolean" and cell.lower() in ("true", "false"):
            out.append(cell.lower())
        elif dss_type == "date":
            out.append(_normalise_date(cell))
        else:
            out.append(cell)
    return out


def columns_to_tsv(columns: list[list[str | None]]) -> str:
    """Formats stored cells as DSS's ``tsv-excel-noheader`` read stream."""
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="\t", quotechar='"', doublequote=True, lineterminator="\n",
                        quoting=csv.QUOTE_MINIMAL)
    n_rows = len(columns[0]) if columns else 0
    for i in range(n_rows):
        writer.writerow(["" if col[i] is None else col[i] for col in columns])
    return buf.getvalue()


def pandas_read_args(schema: list[dict], columns: list[str] | None, parse_dates: bool,
                     infer_with_pandas: bool, bool_as_str: bool,
                     nullable_integers: bool = False) -> tuple[list[str], dict | None, list[str] | bool]:
    """Names, dtypes and date columns for ``pandas.read_table``, as ``Dataset.get_dataframe`` computes them
    (DSS 9.0.5 ``Dataset.get_dataframe_schema_st``; ``nullable_integers``: DSS 13's ``use_nullable_integers``)."""
    import numpy as np

    names = [c["name"] for c in schema]
    dtypes: dict[str, Any] = {}
    for col in schema:
        t = col["type"]
        if bool_as_str and t == "boolean":
            dtypes[col["name"]] = "str"
        elif nullable_integers and t in _DKU_NULLABLE_TYPES:
            dtypes[col["name"]] = _DKU_NULLABLE_TYPES[t]
        elif t in _DKU_PANDAS_TYPES:
            dtypes[col["name"]] = np.dtype(_DKU_PANDAS_TYPES[t])
        else:
            dtypes[col["name"]] = np.object_
    if columns is not None:
        names = list(dict.fromkeys(columns))
        dtypes = {n: dtypes[n] for n in names}
    by_name = {c["name"]: c for c in schema}
    date_cols: list[str] | bool = False
    if parse_dates is True:
        date_cols = [n for n in names if by_name[n]["type"] == "date"] or False
    if infer_with_pandas:
        dtypes = {c["name"]: "str" for c in schema if c["type"] == "boolean" and c["name"] in names} if bool_as_str else None
    elif date_cols:
        # An object dtype would stop pandas from parsing the dates DSS asks it to parse.
        dtypes = {n: t for n, t in dtypes.items() if n not in date_cols}
    return names, dtypes, date_cols


def select_columns(schema: list[dict], columns: list[list[str | None]],
                   wanted: list[str] | None) -> tuple[list[dict], list[list[str | None]]]:
    """Keeps the requested columns, in the requested order."""
    if wanted is None:
        return schema, columns
    index = {c["name"]: i for i, c in enumerate(schema)}
    missing = [w for w in wanted if w not in index]
    if missing:
        raise StorageFailure(f"Column '{missing[0]}' not in dataset.")
    order = [index[w] for w in dict.fromkeys(wanted)]
    return [schema[i] for i in order], [columns[i] for i in order]


def read_dataframe(root: Path, project_key: str, name: str, partitions: Iterable[str] | None = None,
                   infer_with_pandas: bool = True) -> Any:
    """Reads a dataset as a downstream DSS recipe's ``get_dataframe()`` would (for the harness)."""
    import pandas as pd

    schema, cols = read_text_columns(root, project_key, name, partitions)
    if not schema:
        raise StorageFailure(f"No column in schema of {project_key}.{name}. Have you set up the schema for this dataset?")
    names, dtypes, dates = pandas_read_args(schema, None, True, infer_with_pandas, False)
    return pd.read_table(io.StringIO(columns_to_tsv(cols)), names=names, dtype=dtypes, header=None,
                         sep="\t", doublequote=True, quotechar='"', parse_dates=dates)


def write_dataframe(root: Path, project_key: str, name: str, df: Any, partition: str | None = None,
                    set_schema: bool = True) -> None:
    """Writes a dataframe as ``write_with_schema`` would (for the harness's inputs)."""
    data_schema = get_schema_from_df(df)
    if set_schema:
        write_schema(root, project_key, name, data_schema)
    schema = read_schema(root, project_key, name)
    part = check_partition(root, project_key, name, partition, writing=True)
    cells = align_to_schema(f"{project_key}.{name}", schema, data_schema, dataframe_to_text(df))
    write_text_columns(root, project_key, name, part, schema, cells, append=False)


def align_to_schema(full_name: str, schema: list[dict], data_schema: list[dict],
                    data_columns: list[list[str]]) -> list[list[str | None]]:
    """Maps written columns onto the dataset schema by name and normalises them per type."""
    if not schema:
        raise StorageFailure(
            f"Dataset {full_name} has no schema: set it (write_schema / write_with_schema) before writing; "
            "DSS would not store the rows")
    names = [c["name"] for c in schema]
    extra = [c["name"] for c in data_schema if c["name"] not in names]
    if extra:
        raise StorageFailure(
            f"Columns {extra} of the written data are not in the schema of dataset {full_name} ({names})")
    n_rows = len(data_columns[0]) if data_columns else 0
    by_name = {c["name"]: col for c, col in zip(data_schema, data_columns)}
    return [normalise_cells(by_name.get(c["name"], [""] * n_rows), c["type"]) for c in schema]


# ----------------------------------------------------------------------------- managed folders

def folder_dir(root: Path, project_key: str, folder_id: str) -> Path:
    """Directory holding one managed folder."""
    if not folder_id or "/" in folder_id or folder_id.startswith("."):
        raise StorageFailure(f"invalid managed folder id: {folder_id!r}")
    return project_dir(root, project_key) / "folders" / folder_id


def folder_exists(root: Path, project_key: str, folder_id: str) -> bool:
    """Whether a folder with this id exists."""
    return (folder_dir(root, project_key, folder_id) / "config.json").exists()


def partition_dir(partitioning: dict, partition: str) -> str:
    """The directory of one partition of a folder, from its ``filePathPattern`` (one value dimension).

    As Dataiku's similarity-search plugin computes it (``python-lib/dku_folder_partition_handling.py``):
    the pattern without ``.*``, with ``%{dim}`` replaced by the partition value.
    """
    dims = partitioning.get("dimensions") or []
    pattern = partitioning.get("filePathPattern") or ("%{" + dims[0]["name"] + "}/.*")
    path = pattern.replace(".*", "").replace("%{" + dims[0]["name"] + "}", partition)
    return clean_path(path.strip("/"))


def create_folder(root: Path, project_key: str, folder_id: str, name: str | None = None,
                  dimension: str | None = None, file_path_pattern: str | None = None) -> None:
    """Creates an empty managed folder; partitioned folders use ``file_path_pattern`` (default ``%{dim}/.*``)."""
    if folder_exists(root, project_key, folder_id):
        raise StorageFailure(f"managed folder {project_key}.{folder_id} already exists")
    if (project_dir(root, project_key) / "datasets" / folder_id / "config.json").exists():
        raise StorageFailure(f"a dataset already uses the name {folder_id!r}")
    partitioning: dict = {"dimensions": []}
    if dimension:
        pattern = file_path_pattern or "%{" + dimension + "}/.*"
        if "%{" + dimension + "}" not in pattern:
            raise StorageFailure(f"filePathPattern {pattern!r} does not use the dimension %{{{dimension}}}")
        partitioning = {"filePathPattern": pattern, "dimensions": [{"name": dimension, "type": "value"}]}
    config = {"id": folder_id, "name": name or folder_id, "projectKey": project_key, "type": "Filesystem",
              "partitioning": partitioning}
    write_json(folder_dir(root, project_key, folder_id) / "config.json", config)
    (folder_dir(root, project_key, folder_id) / "files").mkdir(parents=True, exist_ok=True)


def resolve_folder(root: Path, project_key: str, lookup: str) -> str:
    """Finds a folder's id from its id or its name."""
    if "/" not in lookup and not lookup.startswith(".") and folder_exists(root, project_key, lookup):
        return lookup
    base = project_dir(root, project_key) / "folders"
    for cfg in sorted(base.glob("*/config.json")) if base.exists() else []:
        if read_json(cfg)["name"] == lookup:
            return cfg.parent.name
    raise StorageFailure(f"Managed folder {lookup} does not exist in project {project_key}")


def folder_config(root: Path, project_key: str, folder_id: str) -> dict:
    """The folder's definition."""
    config = read_json(folder_dir(root, project_key, folder_id) / "config.json")
    if config is None:
        raise StorageFailure(f"Managed folder {project_key}.{folder_id} does not exist")
    return config


def folder_files_dir(root: Path, project_key: str, folder_id: str) -> Path:
    """The directory whose tree is the folder's content."""
    return folder_dir(root, project_key, folder_id) / "files"


def folder_staging_dir(root: Path, project_key: str, folder_id: str) -> Path:
    """Where unfinished uploads live until they are closed (never listed)."""
    return folder_dir(root, project_key, folder_id) / ".staging"


_BAD_PATH = re.compile(r"[\x00\\]")


def clean_path(path: str, allow_root: bool = False) -> str:
    """Normalises a folder path to ``a/b/c`` (no leading slash); rejects escapes."""
    if not isinstance(path, str):
        raise StorageFailure(f"folder path must be a string, got {type(path).__name__}")
    if _BAD_PATH.search(path):
        raise StorageFailure(f"invalid folder path {path!r}")
    parts = [p for p in PurePosixPath("/" + path).parts[1:] if p not in ("", ".")]
    if ".." in parts:
        raise StorageFailure(f"folder path {path!r} escapes the folder root")
    if not parts and not allow_root:
        raise StorageFailure(f"folder path {path!r} does not name a file")
    return "/".join(parts)


def list_folder_files(root: Path, project_key: str, folder_id: str, prefix: str = "") -> list[str]:
    """Relative paths (``a/b``) of the files under ``prefix``, sorted."""
    base = folder_files_dir(root, project_key, folder_id)
    start = base / prefix if prefix else base
    if not start.exists():
        return []
    if start.is_file():
        return [prefix]
    return sorted(p.relative_to(base).as_posix() for p in start.rglob("*") if p.is_file())


def write_folder_file(root: Path, project_key: str, folder_id: str, rel: str, chunks: Iterator[bytes]) -> None:
    """Writes a file from byte chunks atomically: staged first, renamed into place on completion."""
    target = folder_files_dir(root, project_key, folder_id) / rel
    if target.is_dir():
        raise StorageFailure(f"cannot write {rel!r}: it is a directory")
    staging = folder_staging_dir(root, project_key, folder_id)
    staging.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=staging, prefix="upload-")
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
