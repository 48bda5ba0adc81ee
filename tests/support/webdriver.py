"""A minimal W3C WebDriver client (over ``requests``) driving Debian's headless Chromium through chromedriver.

Debian packages: ``chromium`` and ``chromium-driver`` (``apt-get install -y chromium chromium-driver``).
"""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1200,1000",
]


def find_browser() -> tuple[str, str] | None:
    """``(chromium, chromedriver)`` paths, or None when they are not installed."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Browser:
    """One headless Chromium session; use as a context manager."""

    def __init__(self, browser: str, driver: str, *, timeout: float = 60.0):
        self.port = _free_port()
        self.profile = tempfile.mkdtemp(prefix="street2shop-chromium-")
        self.driver = subprocess.Popen([driver, f"--port={self.port}", "--allowed-ips=127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + timeout
        while True:
            try:
                if requests.get(self.base + "/status", timeout=5).json()["value"]["ready"]:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.close()
                raise RuntimeError("chromedriver did not start")
            time.sleep(0.1)
        options = {"binary": browser, "args": [*CHROMIUM_FLAGS, f"--user-data-dir={self.profile}"]}
        session = self._call("POST", "/session", {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}})
        self.session = session["sessionId"]

    def _call(self, method: str, path: str, payload: dict | None = None) -> Any:
        reply = requests.request(method, self.base + path, json=payload, timeout=120)
        body = reply.json()
        if reply.status_code >= 400:
            raise RuntimeError(f"WebDriver {method} {path}: {body.get('value', body)}")
        return body.get("value", body) if path != "/session" else body["value"]

    def _session(self, method: str, path: str, payload: dict | None = None) -> Any:
        return self._call(method, f"/session/{self.session}{path}", payload)

    def get(self, url: str) -> None:
        self._session("POST", "/url", {"url": url})

    def find_all(self, css: str) -> list[str]:
        return [item[ELEMENT] for item in self._session("POST", "/elements", {"using": "css selector", "value": css})]

    def find(self, css: str) -> str:
        return self._session("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def send_keys(self, element: str, text: str) -> None:
        self._session("POST", f"/element/{element}/value", {"text": text})

    def text(self, element: str) -> str:
        return self._session("GET", f"/element/{element}/text")

    def script(self, source: str, *args: Any) -> Any:
        return self._session("POST", "/execute/sync", {"script": source, "args": list(args)})

    def wait_for(self, source: str, *, timeout: float = 60.0) -> Any:
        """Poll a script until it returns something truthy."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.script(source)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"page condition not met in {timeout} s: {source}")
            time.sleep(0.1)

    def screenshot(self, path: Path) -> Path:
        path.write_bytes(base64.b64decode(self._session("GET", "/screenshot")))
        return path

    def close(self) -> None:
        try:
            if getattr(self, "session", None):
                requests.delete(f"{self.base}/session/{self.session}", timeout=30)
        except requests.RequestException:
            pass
        finally:
            self.driver.terminate()
            try:
                self.driver.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.driver.kill()
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
