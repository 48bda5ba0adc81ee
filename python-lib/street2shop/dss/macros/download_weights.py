"""Macro street2shop-download-weights: a backbone's Keras ImageNet weights -> a managed folder, checked.

``run`` streams the file with :func:`street2shop.serving.weights_download.download_weights` and
records it in the folder's manifest.
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable
from typing import Any

import dataiku

from street2shop.dss.serving_params import weights_params
from street2shop.serving.weights_download import MANIFEST_FILE, download_weights

Progress = Callable[[Any], None]

#: What the macro's ``get_progress_target`` returns: progress is reported in percent.
PROGRESS_TARGET = (100, "NONE")


def run(project_key: str, config: dict[str, Any], progress: Progress) -> str:
    """Download the backbone's weights into the folder; an HTML report."""
    # 1. Read the config.
    params = weights_params(config)
    folder = dataiku.Folder(params.folder)
    last = [0.0]

    def report(done: int, total: int | None) -> None:
        now = time.monotonic()
        if total and (now - last[0] >= 1.0 or done >= total):
            last[0] = now
            progress(int(done * 95 / total))

    # 2. One library call.
    result = download_weights(
        params.backbone,
        lambda name, stream: folder.upload_stream(name, stream),
        base_url=params.base_url,
        checksum=params.checksum,
        timeout=(min(10.0, params.timeout_s), params.timeout_s),
        progress=report,
    )
    # 3. Record the file in the folder's manifest; an HTML report.
    manifest = _read_json(folder, MANIFEST_FILE) or {}
    manifest[result.backbone] = {**result.to_dict(), "downloaded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    folder.write_json(MANIFEST_FILE, manifest)
    progress(100)
    return (
        f"<p>Stored <b>{html.escape(result.file_name)}</b> ({result.size / 1e6:.1f} MB, sha256 "
        f"<code>{result.sha256[:16]}…</code>) in folder {html.escape(params.folder)}.</p>"
        "<p>Choose 'From the weights folder' in the embed recipe and connect this folder: nothing is downloaded at run time.</p>"
    )


def _read_json(folder: Any, path: str) -> Any:
    if ("/" + path) not in folder.list_paths_in_partition():
        return None
    with folder.get_download_stream(path) as stream:
        return json.loads(stream.read().decode("utf-8"))
