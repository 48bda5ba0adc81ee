"""Benchmark: train the metric embedding on the demo catalogue on CPU; validation user -> shop top-k vs baselines and losses.

Run: .venv/bin/python bench/metric_embedding.py [--budget 90] [--losses margin-softmax,multi-similarity]
Baselines in the same run: the untrained network of the same architecture, and an HSV colour
histogram of the segmented garment. Writes bench/results/metric_embedding.json and the trained
model folder bench/results/metric_embedding_model/ (the default loss).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "python-lib"))

from street2shop.demo.catalogue import make_demo_catalog  # noqa: E402
from street2shop.images.decode import decode_image  # noqa: E402
from street2shop.segmentation.garment import segment_and_crop  # noqa: E402
from street2shop.storage.stores import LocalOutputDir  # noqa: E402
from street2shop.ranking import retrieval_ranks, top_k_rates  # noqa: E402
from street2shop.training.embedding_job import EmbeddingSettings, train_embedding_model  # noqa: E402
from street2shop.training.metric import LOSSES, LossParams  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def hsv_histogram(rgb: np.ndarray) -> np.ndarray:
    """8x4x4 HSV histogram of the segmented garment (white background left out), square-rooted and L2-normalised."""
    garment = segment_and_crop(rgb)
    hsv = cv2.cvtColor(garment, cv2.COLOR_RGB2HSV)
    keep = (garment.min(axis=2) < 250).astype(np.uint8)
    hist = cv2.calcHist([hsv], [0, 1, 2], keep if keep.any() else None, [8, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
    hist = np.sqrt(hist / max(hist.sum(), 1.0))
    return (hist / max(np.linalg.norm(hist), 1e-12)).astype(np.float32)


def hsv_baseline(root: Path, manifest: pd.DataFrame) -> dict[str, float]:
    """The same queries and gallery as the trained model's validation (split val users vs train+val shop pictures)."""
    ids = manifest["pair_id"].where(manifest["pair_id"].fillna("") != "", manifest["product_id"])
    gallery = manifest[(manifest.source == "shop") & manifest.split.isin(["train", "val"])]
    queries = manifest[(manifest.source == "user") & (manifest.split == "val")]

    def vectors(frame):
        return np.stack([hsv_histogram(decode_image((root / "images" / image).read_bytes())) for image in frame.image])

    ranks = retrieval_ranks(vectors(queries), ids[queries.index].to_numpy(), vectors(gallery), ids[gallery.index].to_numpy())
    return top_k_rates(ranks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=90.0, help="training seconds per loss (default 90)")
    parser.add_argument("--losses", default=",".join(LOSSES[:2]), help="losses to compare; the first is saved as the model")
    parser.add_argument("--products", type=int, default=120)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for noisy in ("street2shop.storage.stores", "street2shop.progress"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    losses = [name.strip() for name in args.losses.split(",") if name.strip()]
    RESULTS.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="metric-bench-") as work:
        work = Path(work)
        catalogue = make_demo_catalog(work / "demo", n_products=args.products, seed=0)
        root = catalogue.root
        manifest = pd.read_csv(root / "manifest.csv", dtype=str)
        runs = {}
        for position, loss in enumerate(losses):
            out = RESULTS / "metric_embedding_model" if position == 0 else work / f"model-{loss}"
            settings = EmbeddingSettings(loss=LossParams(name=loss), epochs=200, patience=8, time_budget_s=args.budget)
            started = time.monotonic()
            report = train_embedding_model(
                manifest=root / "manifest.csv", images=root / "images", output=LocalOutputDir(out), settings=settings, mask_cache=work / "masks"
            )
            runs[loss] = {**report.summary, "wall_seconds": round(time.monotonic() - started, 1)}
            print(json.dumps(runs[loss]), flush=True)
        started = time.monotonic()
        hsv = hsv_baseline(root, manifest)
        hsv_seconds = time.monotonic() - started
    first = runs[losses[0]]
    result = {
        "command": "python bench/metric_embedding.py " + " ".join(sys.argv[1:]),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "catalogue": {"products": args.products, "image_size": 256, "seed": 0},
        "budget_seconds": args.budget,
        "settings": EmbeddingSettings().describe(),
        "runs": runs,
        "baselines": {"untrained": first["untrained_top_k"], "hsv_histogram": hsv, "hsv_seconds": round(hsv_seconds, 1)},
    }
    (RESULTS / "metric_embedding.json").write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(f"\nqueries: {first['validation_queries']} validation consumer photos; gallery: train+val shop pictures\n")
    print("| method | train s | epochs (best) | top-1 | top-10 | top-20 | top-10 vs untrained | top-10 vs HSV |")
    print("|---|---|---|---|---|---|---|---|")
    base10, hsv10 = max(first["untrained_top_k"]["10"], 1e-9), max(hsv["10"], 1e-9)
    for loss, run in runs.items():
        top = run["top_k"]
        print(f"| metric, {loss} | {run['seconds']} | {run['epochs_run']} ({run['best_epoch']}) | {top['1']:.3f} | {top['10']:.3f} | {top['20']:.3f} | x{top['10'] / base10:.2f} | x{top['10'] / hsv10:.2f} |")
    untrained = first["untrained_top_k"]
    print(f"| untrained network | - | - | {untrained['1']:.3f} | {untrained['10']:.3f} | {untrained['20']:.3f} | x1.00 | x{untrained['10'] / hsv10:.2f} |")
    print(f"| HSV histogram, segmented garment | - | - | {hsv['1']:.3f} | {hsv['10']:.3f} | {hsv['20']:.3f} | x{hsv['10'] / base10:.2f} | x1.00 |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
