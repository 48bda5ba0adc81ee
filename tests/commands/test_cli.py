"""The command line as a user runs it: JSON on stdout, one-line errors and a non-zero status on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from cli_runner import street2shop
from street2shop.models.encoder import save_encoder
from tiny_models import tiny_encoder, write_catalogue

REPO = Path(__file__).resolve().parents[2]


def test_the_console_entry_point_runs_as_a_program():
    env = {**os.environ, "PYTHONPATH": str(REPO / "python-lib")}
    done = subprocess.run([sys.executable, "-m", "street2shop.cli", "--help"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0
    for command in ("demo", "make-demo-catalog", "embed", "search", "evaluate"):
        assert command in done.stdout


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    images, catalog, queries = write_catalogue(root, n_products=5)
    save_encoder(tiny_encoder(), root / "encoder")
    frame = pd.read_csv(catalog, dtype=str)
    bad = pd.DataFrame(
        [
            {"image": "corrupt.jpg", "product_id": "c1"},
            {"image": "empty.jpg", "product_id": "c2"},
            {"image": "notes.txt", "product_id": "c3"},
            {"image": "huge.png", "product_id": "c4"},
        ]
    )
    (images / "corrupt.jpg").write_bytes((images / "shop/p0.jpg").read_bytes()[:200])
    (images / "empty.jpg").write_bytes(b"")
    (images / "notes.txt").write_text("not a picture")
    import cv2
    import numpy as np

    (images / "huge.png").write_bytes(cv2.imencode(".png", np.zeros((3000, 3000), np.uint8))[1].tobytes())
    pd.concat([frame, bad], ignore_index=True).to_csv(root / "with_bad.csv", index=False)
    done = street2shop(
        "embed", "--images", images, "--manifest", root / "with_bad.csv", "--out", root / "index",
        "--models", root / "encoder", "--max-pixels", 4_000_000,
    )
    return root, images, queries, json.loads(done.stdout)


def test_embed_indexes_good_rows_and_lists_bad_ones(built):
    root, _, _, summary = built
    assert summary["indexed"] == 5 and summary["errors"] == 4
    errors = pd.read_csv(summary["errors_file"])
    reasons = dict(zip(errors["image"], errors["reason"]))
    assert set(reasons) == {"corrupt.jpg", "empty.jpg", "notes.txt", "huge.png"}
    assert "truncated" in reasons["corrupt.jpg"] and "empty" in reasons["empty.jpg"]
    assert "not an image" in reasons["notes.txt"] and "too large" in reasons["huge.png"]


def test_search_prints_results_json(built):
    root, images, _, _ = built
    done = street2shop("search", "--index", root / "index", "--image", images / "user/p3.jpg", "-k", "2")
    results = json.loads(done.stdout)["results"]
    assert len(results) == 2 and {"product_id", "score", "image"} <= set(results[0])
    filtered = json.loads(street2shop("search", "--index", root / "index", "--image", images / "user/p3.jpg", "--filter", "type=skirts").stdout)
    assert filtered["results"] and {r["labels"]["type"] for r in filtered["results"]} == {"skirts"}


def test_evaluate_prints_the_design_shape_and_writes_a_report(built):
    root, images, queries, _ = built
    done = street2shop("evaluate", "--index", root / "index", "--images", images, "--queries", queries, "-k", "3", "--report", root / "report")
    summary = json.loads(done.stdout)
    assert summary["queries"] == 5 and summary["gallery"] == 5
    assert set(summary["top_k"]) == {"1", "3", "5", "10", "20"}
    assert summary["top_k"]["20"] == 1.0
    html = (root / "report" / "report.html").read_text()
    assert html.count("<tr>") == 5 and "data:image/jpeg;base64" in html
    assert (root / "report" / "gallery.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "args, message",
    [
        (["search", "--index", "{root}/nowhere", "--image", "{images}/user/p0.jpg"], "nowhere"),
        (["search", "--index", "{root}/index", "--image", "{images}/notes.txt"], "not an image"),
        (["search", "--index", "{root}/index", "--image", "{images}/user/p0.jpg", "--filter", "brand=x"], "unknown filter column 'brand'"),
        (["search", "--index", "{root}/index", "--image", "{images}/user/p0.jpg", "-k", "0"], "k must be at least 1"),
        (["embed", "--images", "{images}", "--manifest", "{root}/catalog.csv", "--out", "{root}/i2", "--backbone", "vgg"], "unknown backbone"),
        (["evaluate", "--index", "{root}/index", "--images", "{images}", "--queries", "{root}/nope.csv"], "nope.csv"),
    ],
)
def test_bad_input_gives_one_line_and_status_2(built, args, message):
    root, images, _, _ = built
    done = street2shop(*[a.format(root=root, images=images) for a in args], check=False)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("street2shop ") and "error:" in last and message in last


def test_search_with_a_model_that_does_not_match_fails(built, tmp_path):
    root, images, _, _ = built
    save_encoder(tiny_encoder(seed=11), tmp_path / "other")
    done = street2shop("search", "--index", root / "index", "--image", images / "user/p0.jpg", "--models", tmp_path / "other", check=False)
    assert done.returncode == 2 and "fingerprint" in done.stderr
