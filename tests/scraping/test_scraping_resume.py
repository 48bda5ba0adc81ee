"""Kill a crawl (SIGKILL) mid-run, rerun it: the result equals an uninterrupted crawl's, without duplicates."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from marketplace_fixture import Marketplace

from street2shop.cli import main

REPO = Path(__file__).resolve().parents[2]
FAST = {"read_timeout_s": 0.25, "backoff_factor_s": 0.02, "max_retries": 2}


def _table(out: Path, name: str, drop: str) -> pd.DataFrame:
    frame = pd.read_csv(out / name, dtype=str, keep_default_na=False).drop(columns=[drop])
    return frame.sort_values(list(frame.columns[:3])).reset_index(drop=True)


def _stored(out: Path) -> int:
    try:
        return max(0, len((out / "visited.csv").read_text(encoding="utf-8").splitlines()) - 1)
    except FileNotFoundError:
        return 0


def test_killed_crawl_resumes_to_the_uninterrupted_result(tmp_path):
    with Marketplace() as market:
        spec = tmp_path / "reference.json"
        spec.write_text(json.dumps(market.site_spec(**FAST)), encoding="utf-8")
        assert main(["scrape", "--site", str(spec), "--out", str(tmp_path / "reference"), "--delay", "0.01"]) == 0
        port = int(market.base_url.rsplit(":", 1)[1])
    reference_products = _table(tmp_path / "reference", "products.csv", "scraped_at")
    reference_visited = _table(tmp_path / "reference", "visited.csv", "visited_at")

    with Marketplace(port=port) as market:  # a fresh site (faults re-armed) at the same URLs
        spec = tmp_path / "site.json"
        spec.write_text(json.dumps(market.site_spec(**FAST)), encoding="utf-8")
        out = tmp_path / "out"
        command = [sys.executable, "-m", "street2shop.cli", "scrape", "--site", str(spec), "--out", str(out),
                   "--delay", "0.04"]  # slow enough to be killed mid-run
        env = {**os.environ, "PYTHONPATH": str(REPO / "python-lib")}
        crawl = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while _stored(out) < 4 and crawl.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        crawl.send_signal(signal.SIGKILL)
        crawl.wait(timeout=10)
        assert crawl.returncode == -signal.SIGKILL, crawl.stderr.read().decode()
        stored_when_killed = _stored(out)
        assert 4 <= stored_when_killed < len(reference_visited)

        rerun = subprocess.run([*command[:-1], "0.01"], env=env, capture_output=True, text=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr
        products = _table(out, "products.csv", "scraped_at")
        visited = _table(out, "visited.csv", "visited_at")
    pd.testing.assert_frame_equal(products, reference_products)
    pd.testing.assert_frame_equal(visited, reference_visited)
    assert not products.duplicated(["product_id", "view"]).any()
    assert sorted(p.name for p in (out / "images").iterdir()) == sorted(products["image"])
    report = json.loads((out / "report.json").read_text())
    assert report["totals"]["skipped_visited"] >= stored_when_killed
