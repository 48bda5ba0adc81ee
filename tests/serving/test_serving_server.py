"""The local server over real HTTP on 127.0.0.1: the API node's URL and envelope, errors, limits, concurrency."""

from __future__ import annotations

import http.client
import json
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from serving_support import b64, build_tiny_index
from street2shop.serving.recommend import Limits
from street2shop.serving.server import BackgroundServer, api_path, build_app, curl_example

API = api_path()


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build_tiny_index(tmp_path_factory.mktemp("catalogue"))


@pytest.fixture(scope="module")
def server(built):
    index_dir, images, _catalog = built
    limits = Limits(max_image_bytes=100_000, max_k=20)
    with BackgroundServer(build_app(index_dir, images=images, limits=limits), threads=8, max_body_bytes=limits.max_body_bytes) as running:
        yield running


def picture(built, row: int = 3) -> bytes:
    _index, images, catalog = built
    return (images / catalog.iloc[row]["image"]).read_bytes()


def test_recommend_answers_in_the_api_node_envelope(server, built):
    reply = requests.post(server.url + API, json={"image": b64(picture(built)), "k": 3, "filters": {"type": ["skirts", "dresses"]}}, timeout=30)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("application/json")
    body = reply.json()
    assert set(body) == {"response", "timing", "apiContext"}
    assert body["apiContext"]["serviceId"] == "street2shop" and body["apiContext"]["endpointId"] == "recommend"
    response = body["response"]
    assert response["results"][0]["product_id"] == built[2].iloc[3]["product_id"] and len(response["results"]) == 3
    assert set(response["timing_ms"]) >= {"decode", "segment", "embed", "search"}


def test_a_dataikuapi_client_works_against_the_local_server(server, built):
    """A client written for the API node (dataikuapi.APINodeClient) queries the local server unchanged."""
    from dataikuapi import APINodeClient

    client = APINodeClient(server.url, "street2shop")
    answer = client.run_function("recommend", image=b64(picture(built, 1)), k=2)
    assert answer["response"]["results"][0]["product_id"] == built[2].iloc[1]["product_id"]
    with pytest.raises(Exception, match="field 'k' must be between 1 and 20"):
        client.run_function("recommend", image=b64(picture(built, 1)), k=50)


@pytest.mark.parametrize(
    ("data", "status", "fragment"),
    [
        (b"", 400, "empty request body"),
        (b"{not json", 400, "not valid JSON"),
        (b"[" * 50_000 + b"]" * 50_000, 400, "not valid JSON"),
        (json.dumps({"k": 3}).encode(), 400, "missing field 'image'"),
        (json.dumps({"image": "***"}).encode(), 400, "not valid base64"),
        (json.dumps({"image": b64(b"just some text, no picture")}).encode(), 400, "not an image"),
        (json.dumps({"image": b64(b"x" * 120_000)}).encode(), 413, "limit is 100000 bytes"),
        (json.dumps({"image": "QUJD", "k": 0}).encode(), 400, "'k' must be between 1 and 20"),
        (json.dumps({"image": "QUJD", "k": "five"}).encode(), 400, "'k' must be an integer"),
        (json.dumps({"image": "QUJD", "filters": {"colour": ["red"]}}).encode(), 400, "unknown filter column 'colour'"),
        (json.dumps({"image": "QUJD", "file": "../../etc/passwd"}).encode(), 400, "unknown field(s) 'file'"),
    ],
)
def test_bad_requests_get_a_4xx_json_error(server, data, status, fragment):
    reply = requests.post(server.url + API, data=data, headers={"Content-Type": "application/json"}, timeout=30)
    assert reply.status_code == status
    body = reply.json()
    assert fragment in body["message"] and body["errorType"] == "DkuCustomApiException"


def test_oversized_bodies_are_refused_before_they_are_read(server):
    # Over the app's limit: its JSON 413. Far over: waitress's backstop refuses it.
    limit = Limits(max_image_bytes=100_000).max_body_bytes
    reply = requests.post(server.url + API, data=b"x" * (limit + 10), timeout=30)
    assert reply.status_code == 413 and "limit" in reply.json()["message"]
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.putrequest("POST", API)
    connection.putheader("Content-Length", str(50 * 1024 * 1024))
    connection.endheaders()
    assert connection.getresponse().status == 413
    connection.close()


def test_fifty_concurrent_requests_all_get_their_own_answer(server, built):
    catalog = built[2]
    rows = [i % len(catalog) for i in range(50)]

    def ask(row: int):
        reply = requests.post(server.url + API, json={"image": b64(picture(built, row)), "k": 1}, timeout=120)
        return reply.status_code, reply.json()["response"]["results"][0]["product_id"]

    with ThreadPoolExecutor(max_workers=50) as pool:
        answers = list(pool.map(ask, rows))
    assert [status for status, _ in answers] == [200] * 50
    assert [product for _, product in answers] == [catalog.iloc[row]["product_id"] for row in rows]
    assert requests.get(server.url + "/health", timeout=10).json()["status"] == "ok"


def test_health_page_and_unknown_routes(server):
    health = requests.get(server.url + "/health", timeout=10).json()
    assert health["items"] == 6 and health["endpoint"] == API
    page = requests.get(server.url + "/", timeout=10)
    assert page.status_code == 200 and "s2s-drop" in page.text and 'src="static/app.js"' in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    script = requests.get(server.url + "/static/app.js", timeout=10)
    assert script.status_code == 200 and "getWebAppBackendUrl" in script.text
    assert requests.get(server.url + "/static/backend.py", timeout=10).status_code == 404
    assert requests.get(server.url + "/public/api/v1/other/recommend/run", timeout=10).status_code == 404
    assert requests.get(server.url + API, timeout=10).status_code == 405


def test_thumbnails_serve_catalogue_pictures_only(server, built):
    image = built[2].iloc[0]["image"]
    reply = requests.get(server.url + "/backend/thumbnail", params={"image": image}, timeout=10)
    assert reply.status_code == 200 and reply.headers["Content-Type"] == "image/jpeg" and reply.content[:2] == b"\xff\xd8"
    (built[1] / "secret.jpg").write_bytes(picture(built))  # in the image folder, but not in the index
    for name in ("secret.jpg", "../index/index.json", "/etc/passwd", "shop/../../index/items.parquet", ""):
        refused = requests.get(server.url + "/backend/thumbnail", params={"image": name}, timeout=10)
        assert refused.status_code == 404 and refused.json() == {"error": "no such catalogue picture"}


def test_page_backend_routes_mirror_the_api(server, built):
    config = requests.get(server.url + "/backend/config", timeout=10).json()
    assert config["thumbnails"] is True and config["filters"] == {"type": ["dresses", "skirts"]}
    answer = requests.post(server.url + "/backend/recommend", json={"image": b64(picture(built, 5)), "k": 2}, timeout=30)
    assert answer.status_code == 200 and answer.json()["results"][0]["product_id"] == built[2].iloc[5]["product_id"]
    bad = requests.post(server.url + "/backend/recommend", json={"image": "***"}, timeout=30)
    assert bad.status_code == 400 and "base64" in bad.json()["error"]


def test_the_printed_curl_example_works(server, built, tmp_path):
    photo = tmp_path / "photo.jpg"
    photo.write_bytes(picture(built, 2))
    command = curl_example(server.url, photo, k=2)
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout)["response"]["results"][0]["product_id"] == built[2].iloc[2]["product_id"]


def test_serve_command_listens_on_loopback_until_stopped(built, monkeypatch, capsys):
    import threading

    from street2shop import cli
    from street2shop.serving import server as server_module

    index_dir, images, _ = built
    started = []
    real_make_server = server_module.make_server

    def recording_make_server(*args, **kwargs):
        started.append(real_make_server(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(server_module, "make_server", recording_make_server)
    outcome = []
    thread = threading.Thread(
        target=lambda: outcome.append(cli.main(["serve", "--index", str(index_dir), "--images", str(images), "--port", "0"])), daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 120
    while not started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started, "the server did not start"
    running = started[0]
    assert running.effective_host == "127.0.0.1"
    url = f"http://127.0.0.1:{running.effective_port}"
    while time.monotonic() < deadline:
        try:
            health = requests.get(url + "/health", timeout=10).json()
            break
        except requests.ConnectionError:
            time.sleep(0.05)
    assert health["items"] == 6
    server_module.stop_server(running)  # as Ctrl-C would: the loop ends, serve_forever returns
    thread.join(timeout=60)
    assert outcome == [0]
    assert f"on {url}/" in capsys.readouterr().out


def test_serve_process_stops_cleanly_on_sigterm(built):
    import signal
    import sys

    # Started in the background, as a process manager would (SIGINT may be ignored there).
    index_dir, images, _ = built
    process = subprocess.Popen(
        [sys.executable, "-m", "street2shop.cli", "serve", "--index", str(index_dir), "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        line = process.stdout.readline()
        url = line.split(" on ")[1].split("/ ")[0]
        assert requests.get(url + "/health", timeout=30).json()["items"] == 6
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_server_whose_trigger_was_closed_still_stops_and_frees_its_port(built):
    index_dir, images, _catalog = built
    running = BackgroundServer(build_app(index_dir, images=images), threads=2)
    assert requests.get(running.url + "/health", timeout=10).status_code == 200
    running.server.trigger.close()  # as the loop does when a channel error reaches the trigger
    running.close()
    assert not running._thread.is_alive()
    with pytest.raises(requests.ConnectionError):
        requests.get(running.url + "/health", timeout=5)
