"""Downloading Keras weights: streamed, checked (status, type, size, HDF5, checksum), stored only when whole."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from street2shop.errors import StorageError
from street2shop.serving.weights_download import HDF5_SIGNATURE, KERAS_WEIGHTS, download_weights, weights_url

PAYLOAD = HDF5_SIGNATURE + bytes(range(256)) * 400
NAME = "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5"


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):  # noqa: N802 - http.server's name
        kind = self.path.split("/")[1]
        if kind == "missing":
            self.send_error(404)
            return
        body, content_type, declared = PAYLOAD, "application/octet-stream", None
        if kind == "html":
            body, content_type = b"<html>sign in first</html>", "text/html; charset=utf-8"
        elif kind == "text":
            body = b"not hdf5 at all" * 10
        elif kind == "cut":
            declared = len(PAYLOAD) + 5000
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(declared or len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def mirror():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_keras_urls_and_checksums_are_the_ones_keras_uses():
    name, url, md5 = weights_url("mobilenetv3small")
    assert name == NAME and url == KERAS_WEIGHTS["mobilenetv3small"][0] + NAME and len(md5) == 32
    assert weights_url("resnet50")[1].endswith("/resnet/resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5")


def test_download_streams_checks_and_stores_the_file(mirror):
    stored, progress = {}, []
    report = download_weights(
        "mobilenetv3small",
        lambda name, stream: stored.update({name: stream.read()}),
        base_url=f"{mirror}/ok/",
        checksum=hashlib.sha256(PAYLOAD).hexdigest(),
        progress=lambda done, total: progress.append((done, total)),
        chunk_size=10_000,
    )
    assert stored == {NAME: PAYLOAD}
    assert report.size == len(PAYLOAD) and report.md5 == hashlib.md5(PAYLOAD).hexdigest()
    assert progress[-1] == (len(PAYLOAD), len(PAYLOAD)) and len(progress) > 5
    md5_checked = download_weights("mobilenetv3small", lambda n, s: None, base_url=f"{mirror}/ok", checksum=hashlib.md5(PAYLOAD).hexdigest())
    assert md5_checked.sha256 == hashlib.sha256(PAYLOAD).hexdigest()


@pytest.mark.parametrize(
    ("path", "checksum", "fragment"),
    [
        ("missing", None, "HTTP 404"),
        ("html", None, "sent a web page"),
        ("text", None, "not an HDF5 weights file"),
        ("cut", None, "IncompleteRead"),
        ("ok", "0" * 64, "checksum mismatch"),
    ],
)
def test_a_bad_download_stores_nothing(mirror, path, checksum, fragment):
    stored = []
    with pytest.raises(StorageError, match=fragment):
        download_weights("mobilenetv3small", lambda name, stream: stored.append(name), base_url=f"{mirror}/{path}", checksum=checksum, timeout=(5, 5))
    assert stored == []
