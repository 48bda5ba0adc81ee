"""The local server under hostile or heavy clients, over real HTTP on 127.0.0.1: slow clients, huge pictures, odd requests."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import requests

from serving_support import b64, build_tiny_index
from street2shop.images.decode import decoded_pixels, encode_jpeg, encode_png
from street2shop.index.search import SearchIndex
from street2shop.serving.recommend import ApiError, Limits, Recommender
from street2shop.serving.server import BackgroundServer, api_path, create_app

API = api_path()


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    return SearchIndex.load(build_tiny_index(tmp_path_factory.mktemp("catalogue"))[0])


def serve(index, limits: Limits | None = None, **options):
    recommender = Recommender(index, limits or Limits(max_image_bytes=2_000_000))
    return recommender, BackgroundServer(create_app(recommender), threads=4, max_body_bytes=recommender.limits.max_body_bytes, **options)


def slow_clients(port: int, count: int, stop: threading.Event) -> list[socket.socket]:
    """``count`` connections that each sent the first byte of a request and trickle one more every second (until ``stop``)."""
    sockets = []
    for _ in range(count):
        connection = socket.create_connection(("127.0.0.1", port), timeout=5)
        connection.sendall(b"P")
        sockets.append(connection)

    def trickle() -> None:
        for _ in range(60):  # bounded: a minute at most
            if stop.wait(1.0):
                return
            for connection in sockets:
                try:
                    connection.sendall(b"O")
                except OSError:
                    pass

    threading.Thread(target=trickle, daemon=True).start()
    return sockets


def test_slow_clients_holding_more_connections_than_waitress_allowed_do_not_lock_out_valid_ones(index):
    # 220 trickling connections filled waitress's former limit of 200: nothing else was answered.
    stop = threading.Event()
    _recommender, server = serve(index)
    sockets = []
    try:
        sockets = slow_clients(server.port, 220, stop)
        for _ in range(3):
            reply = requests.get(server.url + "/health", timeout=10)
            assert reply.status_code == 200 and reply.json()["status"] == "ok"
    finally:
        stop.set()
        for connection in sockets:
            connection.close()
        server.close()


def test_a_client_trickling_its_headers_is_cut_off_at_the_deadline(index):
    _recommender, server = serve(index, request_timeout_s=2)
    try:
        connection = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        closed = False
        for _ in range(20):  # 10 s at most; the deadline is 2 s (checked every second)
            try:
                connection.sendall(b"X")
                time.sleep(0.5)
                connection.setblocking(False)
                try:
                    closed = connection.recv(1024) == b""
                except BlockingIOError:
                    pass
                finally:
                    connection.setblocking(True)
            except OSError:
                closed = True
            if closed:
                break
        assert closed, "a connection that never completes its request must be closed at its deadline"
        assert requests.get(server.url + "/health", timeout=10).status_code == 200
        connection.close()
    finally:
        server.close()


def test_a_body_over_waitress_limit_gets_the_api_json_413(index):
    recommender, server = serve(index)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.putrequest("POST", API)
        connection.putheader("Content-Type", "application/json")
        connection.putheader("Content-Length", str(50 * 1024 * 1024))
        connection.endheaders()
        reply = connection.getresponse()
        assert reply.status == 413 and reply.getheader("Content-Type") == "application/json"
        body = json.loads(reply.read())
        assert body["errorType"] == "DkuCustomApiException" and str(recommender.limits.max_body_bytes) in body["message"]
        connection.close()
        # Just over the limit: the same JSON answer.
        reply = requests.post(server.url + API, data=b"x" * (recommender.limits.max_body_bytes + 1), timeout=30)
        assert reply.status_code == 413 and reply.json()["errorType"] == "DkuCustomApiException"
    finally:
        server.close()


@pytest.mark.parametrize("path", [API, "/health", "/backend/recommend"])
def test_options_is_refused_not_answered_empty(index, path):
    _recommender, server = serve(index)
    try:
        reply = requests.options(server.url + path, timeout=10)
        assert reply.status_code == 405 and reply.json()["errorType"] == "MethodNotAllowed"
        assert reply.headers["Allow"] in ("POST", "GET")
    finally:
        server.close()


@pytest.mark.parametrize("k", [10**308, 1e308, -(10**40)])
def test_a_huge_k_is_not_echoed_in_full(index, k):
    recommender = Recommender(index, warm_up=False)
    with pytest.raises(ApiError) as refused:
        recommender.handle({"image": b64(encode_png(np.full((40, 40, 3), 200, np.uint8))), "k": k})
    assert refused.value.status == 400 and "field 'k'" in refused.value.message
    assert len(refused.value.message) < 120 and "0000000000000" not in refused.value.message


def test_a_full_pixel_budget_answers_503_with_retry_after(index):
    recommender, server = serve(index, Limits(pixel_budget=10_000, queue_ms=300))
    picture = b64(encode_png(np.full((60, 60, 3), 120, np.uint8)))
    try:
        with recommender.budget.hold(10_000):  # another request holds every pixel
            reply = requests.post(server.url + API, json={"image": picture}, timeout=30)
            assert reply.status_code == 503 and reply.headers["Retry-After"] == "1"
            assert "retry" in reply.json()["message"]
        assert requests.post(server.url + API, json={"image": picture}, timeout=30).status_code == 200
    finally:
        server.close()


def test_concurrent_big_pictures_never_exceed_the_pixel_budget(index):
    side = 1500
    budget = 2 * side * side  # two such pictures at once
    recommender, server = serve(index, Limits(max_image_bytes=2_000_000, pixel_budget=budget, queue_ms=120_000))
    big = b64(encode_png(np.full((side, side, 3), 90, np.uint8)))
    try:
        with ThreadPoolExecutor(6) as pool:
            replies = list(pool.map(lambda _: requests.post(server.url + API, json={"image": big, "k": 2}, timeout=120), range(6)))
        assert [reply.status_code for reply in replies] == [200] * 6
        assert side * side <= recommender.budget.peak <= budget
        assert recommender.budget.held == 0
    finally:
        server.close()


def test_a_large_jpeg_counts_at_its_reduced_decoding_scale():
    data = encode_jpeg(np.full((2400, 3200, 3), 128, np.uint8))
    assert decoded_pixels(data) == 2400 * 3200
    assert decoded_pixels(data, min_side=224) == 300 * 400  # decoded at 1/8 scale, still above 224 px
