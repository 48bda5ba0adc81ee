"""Benchmark: the recommend server under load, slow clients and huge pictures, against one client alone; and the
cost of checking an index folder's digests at 1M vectors against reading the file.

Cases (the server runs in its own process, `street2shop serve`, default limits):
  baseline     1 client, sequential, for --baseline-s seconds
  load         --clients concurrent clients for --seconds seconds
  slow         --slow connections trickling one header byte every 5 s (reopened when the server cuts them),
               while 1 valid client asks sequentially: its p95 (target < 1 s)
  big          16 concurrent requests with an ~8 KB PNG of 7000 x 7000 pixels: statuses, answer times, server memory
  digest       SHA-256 (the digest index.json records) and BLAKE2b of a 1M-vector flat index file vs reading it
Run: .venv/bin/python bench/serve_load.py [--clients 50] [--seconds 30] [--slow 500] [--products 150]
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
API = "/public/api/v1/street2shop/recommend/run"


def pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(np.asarray(values), q)), 1) if values else None


class Server:
    """`street2shop serve` in its own process, with its memory sampled every 50 ms."""

    def __init__(self, index: Path):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "street2shop.cli", "serve", "--index", str(index), "--port", "0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        self.port = int(re.search(r"on http://127\.0\.0\.1:(\d+)/", self.process.stdout.readline()).group(1))
        self.peak_mb = 0.0
        self._stop = threading.Event()
        threading.Thread(target=self._sample, daemon=True).start()

    def rss_mb(self) -> float:
        with open(f"/proc/{self.process.pid}/status") as status:
            return int(re.search(r"VmRSS:\s+(\d+)", status.read()).group(1)) / 1024

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.peak_mb = max(self.peak_mb, self.rss_mb())
            except (OSError, AttributeError):
                return

    def reset_peak(self) -> float:
        self.peak_mb = self.rss_mb()
        return self.peak_mb

    def close(self) -> None:
        self._stop.set()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def post(connection: http.client.HTTPConnection, body: str) -> tuple[int, bytes]:
    connection.request("POST", API, body=body, headers={"Content-Type": "application/json"})
    reply = connection.getresponse()
    return reply.status, reply.read()


def clients_for(port: int, bodies: list[str], clients: int, seconds: float) -> dict:
    """``clients`` keep-alive clients asking in a loop for ``seconds``; every answer's latency and status."""
    latencies: list[float] = []
    errors: list[int] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = number
        while time.monotonic() < deadline:
            started = time.perf_counter()
            try:
                status, _ = post(connection, bodies[i % len(bodies)])
            except (OSError, http.client.HTTPException):
                status = -1
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                (latencies.append(elapsed) if status == 200 else errors.append(status))
            i += clients
        connection.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return {"clients": clients, "seconds": round(wall, 1), "answers": len(latencies), "errors": len(errors),
            "requests_per_s": round(len(latencies) / wall, 1), "p50_ms": pct(latencies, 50), "p95_ms": pct(latencies, 95)}


def slow_case(server: Server, bodies: list[str], slow: int, seconds: float) -> dict:
    """``slow`` trickling connections, reopened when cut, while one valid client asks sequentially."""
    stop = threading.Event()
    sockets: list[socket.socket | None] = [None] * slow
    reopened = [0]

    def connect() -> socket.socket | None:
        try:
            connection = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            connection.sendall(b"P")
            return connection
        except OSError:
            return None

    for i in range(slow):
        sockets[i] = connect()
    opened = sum(s is not None for s in sockets)

    def trickle() -> None:
        tick = 0
        while not stop.wait(1.0):  # each connection sends one byte every 5 s
            for i in range(tick % 5, slow, 5):
                connection = sockets[i]
                try:
                    if connection is None:
                        raise OSError
                    connection.sendall(b"O")
                except OSError:
                    if connection is not None:
                        connection.close()
                    sockets[i] = connect()
                    reopened[0] += 1
            tick += 1

    trickler = threading.Thread(target=trickle, daemon=True)
    trickler.start()
    time.sleep(2)
    try:
        valid = clients_for(server.port, bodies, 1, seconds)
    finally:
        stop.set()
        trickler.join(timeout=10)
        for connection in sockets:
            if connection is not None:
                connection.close()
    return {"slow_connections": slow, "opened": opened, "reopened_after_cut": reopened[0], "valid_client": valid}


def big_case(server: Server, requests_count: int = 16, side: int = 7000) -> dict:
    """``requests_count`` concurrent requests with a solid PNG of ``side`` x ``side`` pixels; one alone first."""
    import cv2

    ok, png = cv2.imencode(".png", np.full((side, side, 3), 200, np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 9])
    body = json.dumps({"image": base64.b64encode(png.tobytes()).decode(), "k": 5})

    def one(_: int) -> tuple[int, float]:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        started = time.perf_counter()
        status, _ = post(connection, body)
        connection.close()
        return status, (time.perf_counter() - started) * 1000

    before = server.reset_peak()
    alone_status, alone_ms = one(0)
    alone_peak = server.peak_mb
    server.reset_peak()
    with ThreadPoolExecutor(requests_count) as pool:
        results = list(pool.map(one, range(requests_count)))
    statuses = [status for status, _ in results]
    answered = [ms for status, ms in results if status == 200]
    return {
        "png_bytes": len(png), "pixels": side * side, "concurrent": requests_count,
        "alone": {"status": alone_status, "ms": round(alone_ms, 1), "peak_rss_mb": round(alone_peak, 1)},
        "rss_before_mb": round(before, 1), "peak_rss_mb": round(server.peak_mb, 1),
        "statuses": {str(code): statuses.count(code) for code in sorted(set(statuses))},
        "answered_max_ms": round(max(answered), 1) if answered else None,
        "answered_p50_ms": pct(answered, 50),
    }


def digest_case(work: Path, vectors: int = 1_000_000, dim: int = 576) -> dict:
    """Digest of a flat index file of ``vectors`` x ``dim`` float32 (its size; content random), vs reading it."""
    path = work / "vectors.faiss"
    rng = np.random.default_rng(0)
    with path.open("wb") as out:
        for _ in range(vectors // 100_000):
            out.write(rng.random((100_000, dim), dtype=np.float32).tobytes())
    size = path.stat().st_size
    timings = {}
    for label, work_on in (
        ("read the file (baseline)", lambda: path.read_bytes()),
        ("sha256 (recorded)", lambda: hashlib.file_digest(path.open("rb"), "sha256").hexdigest()),
        ("blake2b", lambda: hashlib.file_digest(path.open("rb"), "blake2b").hexdigest()),
    ):
        work_on()  # once to have the file in the page cache for every row alike
        started = time.perf_counter()
        work_on()
        timings[label] = round(time.perf_counter() - started, 2)
    path.unlink()
    base = timings["read the file (baseline)"]
    return {"vectors": vectors, "dim": dim, "bytes": size, "seconds": timings,
            "vs_read": {label: round(seconds / base, 2) for label, seconds in timings.items()},
            "sha256_gb_per_s": round(size / 1e9 / timings["sha256 (recorded)"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--baseline-s", type=float, default=10)
    parser.add_argument("--slow", type=int, default=500)
    parser.add_argument("--products", type=int, default=150)
    parser.add_argument("--digest-vectors", type=int, default=1_000_000)
    args = parser.parse_args()

    from street2shop.demo.catalogue import make_demo_catalog
    from street2shop.index.build import embed_catalogue
    from street2shop.storage.publish import LocalOutputDir

    with tempfile.TemporaryDirectory(prefix="street2shop-bench-") as tmp:
        work = Path(tmp)
        catalog = make_demo_catalog(work / "catalog", n_products=args.products, user_photos_per_product=1, image_size=256)
        report = embed_catalogue(manifest=catalog.catalog, images=catalog.images_dir, output=LocalOutputDir(work / "index"),
                                 backbone="mobilenetv3small", weights="none", image_size=224)
        queries = pd.read_csv(catalog.queries, dtype=str, keep_default_na=False)["image"].tolist()
        bodies = [json.dumps({"image": base64.b64encode((catalog.images_dir / q).read_bytes()).decode(), "k": 10}) for q in queries]
        server = Server(work / "index")
        try:
            clients_for(server.port, bodies, 1, 3)  # warm-up
            idle_mb = server.reset_peak()
            baseline = clients_for(server.port, bodies, 1, args.baseline_s)
            load = clients_for(server.port, bodies, args.clients, args.seconds)
            load["peak_rss_mb"] = round(server.peak_mb, 1)
            slow = slow_case(server, bodies, args.slow, args.seconds)
            big = big_case(server)
            after = clients_for(server.port, bodies, 1, 5)  # still answering afterwards
        finally:
            server.close()
        digest = digest_case(work, args.digest_vectors)
    result = {
        "machine": {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version(),
                    "load_average": [round(x, 2) for x in os.getloadavg()]},
        "gallery_items": report.indexed, "backbone": "mobilenetv3small (random weights), 224 px", "idle_rss_mb": round(idle_mb, 1),
        "baseline": baseline, "load": load, "slow": slow, "big": big, "after": after, "digest": digest,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serve_load.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    ratio = load["requests_per_s"] / baseline["requests_per_s"] if baseline["requests_per_s"] else float("nan")
    print(f"\nload: {load['answers']} answers, {load['errors']} errors, {load['requests_per_s']} req/s ({ratio:.2f}x one client), "
          f"p50 {load['p50_ms']} ms, p95 {load['p95_ms']} ms; slow clients: valid p95 {slow['valid_client']['p95_ms']} ms "
          f"(alone {baseline['p95_ms']} ms); big: {big['statuses']}, peak {big['peak_rss_mb']} MB from {big['rss_before_mb']} MB")


if __name__ == "__main__":
    main()
