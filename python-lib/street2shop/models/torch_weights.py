"""Read a PyTorch legacy (non-zip) state-dict file into NumPy arrays, without PyTorch and without running its code.

The legacy format is five pickles followed by raw storages: a magic number, the protocol
version (1001), the system's sizes, the state dict (tensor rebuilds whose storages are
persistent ids), the storage keys in file order; then, per key, an int64 element count and
the little-endian bytes. The unpickler accepts only the four globals a state dict of float
and int64 tensors needs and refuses anything else, so a crafted file cannot execute code;
:func:`read_state_dict` also refuses a file whose SHA-256 is not the one expected.
"""

from __future__ import annotations

import collections
import hashlib
import io
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from street2shop.errors import InvalidParameter

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
_STORAGE_DTYPES = {"FloatStorage": np.dtype("<f4"), "LongStorage": np.dtype("<i8")}


class WeightsFileError(InvalidParameter):
    """A weights file that is not the expected one or not a state dict this reader accepts."""


@dataclass(frozen=True)
class _StorageType:
    name: str


@dataclass(frozen=True)
class _TensorRecord:
    """A tensor waiting for its storage: which storage, where in it, and its shape and strides."""

    key: str
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


class _StateDict(collections.OrderedDict):
    """The state dict container; BUILD may set its ``_metadata`` attribute (per-module versions)."""


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None, *extra) -> _TensorRecord:
    if not isinstance(storage, tuple) or len(storage) != 2 or not isinstance(storage[0], str):
        raise pickle.UnpicklingError("tensor rebuild without a storage")
    if not all(isinstance(v, int) for v in (offset, *size, *stride)):
        raise pickle.UnpicklingError("tensor rebuild with a non-integer offset, size or stride")
    return _TensorRecord(storage[0], int(offset), tuple(size), tuple(stride))


_ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"): _StateDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch", "FloatStorage"): _StorageType("FloatStorage"),
    ("torch", "LongStorage"): _StorageType("LongStorage"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Resolves only the globals of :data:`_ALLOWED_GLOBALS`; storages become ``(key, dtype)``."""

    def __init__(self, file, storages: dict[str, tuple[np.dtype, int]]):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name}: not part of a tensor state dict") from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            raise pickle.UnpicklingError(f"refused persistent id {pid!r}")
        key, numel = str(pid[2]), pid[4]
        if not isinstance(numel, int) or numel < 0:
            raise pickle.UnpicklingError(f"storage {key}: bad element count {numel!r}")
        self.storages[key] = (_STORAGE_DTYPES[pid[1].name], numel)
        return (key, pid[1].name)


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_state_dict(path: str | Path, expected_sha256: str | None) -> dict[str, np.ndarray]:
    """The tensors of a legacy ``torch.save`` state-dict file, by name, as NumPy arrays.

    Args:
        expected_sha256: refuse the file unless its SHA-256 is this (None: no check, for tests
            of the format itself).

    Raises:
        WeightsFileError: another file than the expected one, or not a legacy state dict.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsFileError(f"weights file {path} does not exist")
    data = path.read_bytes()
    if expected_sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256:
            raise WeightsFileError(f"weights file {path} has SHA-256 {actual[:16]}..., expected {expected_sha256[:16]}...: refused")
    handle = io.BytesIO(data)
    storages: dict[str, tuple[np.dtype, int]] = {}
    try:
        header = [_RestrictedUnpickler(handle, storages).load() for _ in range(3)]
        if header[0] != MAGIC_NUMBER or header[1] != PROTOCOL_VERSION:
            raise WeightsFileError(f"{path} is not a PyTorch legacy weights file (magic {header[0]!r}, protocol {header[1]!r})")
        if not isinstance(header[2], dict) or not header[2].get("little_endian", False):
            raise WeightsFileError(f"{path}: only little-endian files are read")
        state = _RestrictedUnpickler(handle, storages).load()
        keys = _RestrictedUnpickler(handle, storages).load()
    except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError, IndexError) as err:
        raise WeightsFileError(f"{path}: not a state dict this reader accepts ({err})") from err
    if not isinstance(state, dict) or not isinstance(keys, list):
        raise WeightsFileError(f"{path}: expected a state dict and a list of storage keys")
    raw = _read_storages(handle, keys, storages, path)
    tensors: dict[str, np.ndarray] = {}
    for name, record in state.items():
        if not isinstance(record, _TensorRecord):
            raise WeightsFileError(f"{path}: entry {name!r} is not a tensor")
        tensors[str(name)] = _materialise(record, raw, path, str(name))
    return tensors


def _read_storages(handle: io.BytesIO, keys: list, storages: dict[str, tuple[np.dtype, int]], path: Path) -> dict[str, np.ndarray]:
    raw: dict[str, np.ndarray] = {}
    for key in keys:
        key = str(key)
        if key not in storages:
            raise WeightsFileError(f"{path}: storage {key} is not used by any tensor")
        dtype, numel = storages[key]
        count_bytes = handle.read(8)
        if len(count_bytes) != 8:
            raise WeightsFileError(f"{path}: truncated before storage {key}")
        (count,) = struct.unpack("<q", count_bytes)
        if count != numel:
            raise WeightsFileError(f"{path}: storage {key} holds {count} elements, its tensors expect {numel}")
        payload = handle.read(count * dtype.itemsize)
        if len(payload) != count * dtype.itemsize:
            raise WeightsFileError(f"{path}: storage {key} is truncated")
        raw[key] = np.frombuffer(payload, dtype=dtype)
    return raw


def _materialise(record: _TensorRecord, raw: dict[str, np.ndarray], path: Path, name: str) -> np.ndarray:
    storage = raw.get(record.key)
    if storage is None:
        raise WeightsFileError(f"{path}: tensor {name!r} refers to missing storage {record.key}")
    if len(record.size) != len(record.stride):
        raise WeightsFileError(f"{path}: tensor {name!r} has {len(record.size)} sizes but {len(record.stride)} strides")
    last = record.offset + sum((s - 1) * st for s, st in zip(record.size, record.stride) if s > 0)
    if record.offset < 0 or min(record.stride, default=0) < 0 or (all(record.size) and last >= storage.size):
        raise WeightsFileError(f"{path}: tensor {name!r} reaches outside its storage")
    itemsize = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(
        storage[record.offset :], shape=record.size, strides=tuple(st * itemsize for st in record.stride), writeable=False
    )
    return np.array(view, dtype=storage.dtype.newbyteorder("="))
