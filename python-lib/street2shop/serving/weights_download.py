"""Download a backbone's Keras ImageNet weights (no top) once, check them, and store them for offline use.

The file is streamed to a local temporary file while it is hashed, checked (HTTP status, size,
HDF5 signature, checksum), and only then handed to the writer, so the destination never holds
a partial file. The stored name is the one Keras itself downloads, which
:func:`street2shop.models.backbones.resolve_weights` looks for in a weights folder.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from street2shop.models.backbones import backbone_spec
from street2shop.errors import InvalidParameter, StorageError

logger = logging.getLogger(__name__)

#: Keras's own download locations and MD5s of the no-top ImageNet weights (keras.applications).
KERAS_WEIGHTS = {
    "resnet50": ("https://storage.googleapis.com/tensorflow/keras-applications/resnet/", "4d473c1dd8becc155b73f8504c6f6626"),
    "mobilenetv3small": ("https://storage.googleapis.com/tensorflow/keras-applications/mobilenet_v3/", "d3e8ec802a04aa4fc771ee12a9a9b836"),
    "efficientnetb0": ("https://storage.googleapis.com/keras-applications/", "50bc09e76180e00e4465e1a485ddc09d"),
}
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
MANIFEST_FILE = "street2shop-weights.json"
DEFAULT_TIMEOUT = (10.0, 60.0)  # connect, read (between two chunks)
MAX_BYTES = 1 << 30

ProgressCallback = Callable[[int, int | None], None]
Writer = Callable[[str, BinaryIO], None]


@dataclass(frozen=True)
class DownloadReport:
    """What was stored."""

    backbone: str
    file_name: str
    url: str
    size: int
    md5: str
    sha256: str
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def weights_url(backbone: str, base_url: str | None = None) -> tuple[str, str, str | None]:
    """``(file name, URL, Keras's MD5 or None)`` of a backbone's no-top weights; ``base_url`` is a mirror."""
    spec = backbone_spec(backbone)
    if spec.name not in KERAS_WEIGHTS:
        raise InvalidParameter(f"{spec.name}'s ImageNet weights come with the code env (weights 'imagenet'); there is nothing to download")
    default_base, md5 = KERAS_WEIGHTS[spec.name]
    if base_url:
        if not base_url.lower().startswith(("http://", "https://")):
            raise InvalidParameter(f"the weights URL must start with http:// or https://, got {base_url!r}")
        return spec.notop_weights_file, base_url.rstrip("/") + "/" + spec.notop_weights_file, None
    return spec.notop_weights_file, default_base + spec.notop_weights_file, md5


def _session() -> Any:
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    session = requests.Session()
    retry = Retry(total=3, connect=3, read=2, backoff_factor=1.0, status_forcelist=(500, 502, 503, 504), allowed_methods=("GET",), raise_on_status=False)
    session.mount("https://", HTTPAdapter(max_retries=retry))
    session.mount("http://", HTTPAdapter(max_retries=retry))
    return session


def download_weights(
    backbone: str,
    writer: Writer,
    *,
    base_url: str | None = None,
    checksum: str | None = None,
    session: Any = None,
    timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    progress: ProgressCallback | None = None,
    chunk_size: int = 1 << 20,
    max_bytes: int = MAX_BYTES,
) -> DownloadReport:
    """Download, check and store the no-top ImageNet weights of ``backbone``.

    Args:
        writer: ``writer(file_name, stream)`` stores the checked file (e.g. a managed folder's
            ``upload_stream``).
        base_url: a mirror holding the same file names (default: Keras's own URLs).
        checksum: expected MD5 (32 hex digits) or SHA-256 (64); default: Keras's MD5 for its URLs.
        progress: called with ``(bytes so far, total bytes or None)``.

    Raises:
        StorageError: HTTP error, timeout, truncated or oversized file, not HDF5, checksum mismatch.
    """
    import requests

    file_name, url, expected = weights_url(backbone, base_url)
    expected = (checksum or expected or "").strip().lower() or None
    if expected is not None and len(expected) not in (32, 64):
        raise InvalidParameter(f"checksum must be an MD5 (32 hex digits) or a SHA-256 (64), got {checksum!r}")
    session = session or _session()
    started = time.monotonic()
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with tempfile.TemporaryFile(prefix="street2shop-weights-") as local:
        size = 0
        try:
            with session.get(url, stream=True, timeout=timeout) as response:
                if response.status_code != 200:
                    raise StorageError(f"downloading {url}: HTTP {response.status_code} {response.reason or ''}".rstrip())
                content_type = response.headers.get("Content-Type", "")
                if content_type.startswith("text/html"):
                    raise StorageError(f"downloading {url}: the server sent a web page ({content_type}), not a weights file")
                total = int(response.headers["Content-Length"]) if response.headers.get("Content-Length", "").isdigit() else None
                if total is not None and total > max_bytes:
                    raise StorageError(f"downloading {url}: {total} bytes is over the limit of {max_bytes}")
                logger.info("downloading %s (%s bytes)", url, total if total is not None else "unknown")
                for chunk in response.iter_content(chunk_size=chunk_size):
                    if not chunk:
                        continue
                    size += len(chunk)
                    if size > max_bytes:
                        raise StorageError(f"downloading {url}: over the limit of {max_bytes} bytes")
                    md5.update(chunk)
                    sha256.update(chunk)
                    local.write(chunk)
                    if progress is not None:
                        progress(size, total)
        except requests.RequestException as err:
            raise StorageError(f"downloading {url}: {type(err).__name__}: {err}") from err
        if total is not None and size != total:
            raise StorageError(f"downloading {url}: got {size} of {total} bytes (connection cut)")
        local.seek(0)
        if local.read(len(HDF5_SIGNATURE)) != HDF5_SIGNATURE:
            raise StorageError(f"downloading {url}: the file is not an HDF5 weights file")
        digest = {32: md5.hexdigest(), 64: sha256.hexdigest()}
        if expected is not None and digest[len(expected)] != expected:
            raise StorageError(f"downloading {url}: checksum mismatch (expected {expected}, got {digest[len(expected)]})")
        local.seek(0)
        writer(file_name, local)
    report = DownloadReport(backbone_spec(backbone).name, file_name, url, size, md5.hexdigest(), sha256.hexdigest(), round(time.monotonic() - started, 3))
    logger.info("stored %s (%d bytes, sha256 %s) in %.1f s", file_name, size, report.sha256[:12], report.seconds)
    return report
