"""Dedup quality on the demo catalogue's planted near-duplicates: hashes alone vs hashes + vectors computable offline.

The demo catalogue plants one near-duplicate per chosen product, under another product id, by one
of: crop, resize, recompress, retouch, flip, exact copy. Distinct products that share every label
(type, colours, material, gender) are the hard negatives. Precision and recall are over product
pairs; every found pair that was not planted is a false positive.

Compared, in one run on one catalogue:
- hashes at the defaults (pHash, Hamming <= 4, colour thumbnail check 0.98): the baseline;
- hashes + untrained MobileNetV3Small vectors (the only CNN vectors available without downloaded
  weights), at the default cosine 0.9 and at the best cosine of a sweep;
- hashes + a hand-made descriptor (gradient-orientation histograms of the garment's bounding box,
  computed here, not in the library), at the default cosine and at the best of a sweep.

Run: .venv/bin/python bench/dedup_demo_quality.py [--products 120] [--duplicate-fraction 0.25]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python-lib"))

RESULTS = ROOT / "bench" / "results" / "dedup_demo_quality.json"
LABELS = ["type", "colours", "material", "gender"]
COSINES = (0.9, 0.95, 0.97, 0.98, 0.985, 0.99, 0.995, 0.998, 0.999)


def label_twins(manifest: pd.DataFrame, planted: set) -> set:
    """Pairs of distinct, not planted products whose labels are all equal."""
    from street2shop.dedup.calibration import pair_set

    products = manifest.drop_duplicates("product_id")
    twins = set()
    for _, group in products.groupby(LABELS):
        twins |= pair_set(combinations(group["product_id"], 2))
    return twins - planted


def score(found: set, planted: pd.DataFrame, twins: set) -> dict:
    from street2shop.dedup.calibration import pair_set

    truth = pair_set(planted)
    tp = len(found & truth)
    row = {
        "found": len(found),
        "precision": round(tp / len(found), 4) if found else 1.0,
        "recall": round(tp / len(truth), 4),
        "twins_flagged": len(found & twins),
    }
    for transform, group in planted.groupby("transform"):
        row[f"recall_{transform}"] = round(len(pair_set(group) & found) / len(group), 2)
    return row


def box_hog(picture: np.ndarray, size: int = 64, cell: int = 16, bins: int = 9) -> np.ndarray:
    """Gradient-orientation histograms over the bounding box of the non-white pixels."""
    import cv2

    ys, xs = np.nonzero(picture.min(axis=2) < 235)
    if len(ys):
        picture = picture[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
    grey = cv2.cvtColor(cv2.resize(picture, (size, size), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY).astype(np.float32)
    gx, gy = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
    magnitude = np.hypot(gx, gy)
    angle = (np.arctan2(gy, gx) % np.pi) / np.pi * bins
    low = np.floor(angle).astype(int) % bins
    weight = angle - np.floor(angle)
    cells = np.arange(size) // cell
    ys_, xs_ = np.meshgrid(cells, cells, indexing="ij")
    hist = np.zeros((size // cell, size // cell, bins), np.float32)
    np.add.at(hist, (ys_, xs_, low), magnitude * (1 - weight))
    np.add.at(hist, (ys_, xs_, (low + 1) % bins), magnitude * weight)
    return np.sqrt(hist).ravel()


def untrained_cnn(pictures: list[np.ndarray], size: int = 128) -> np.ndarray:
    import cv2
    import keras

    from street2shop.models.backbones import build_feature_extractor

    keras.utils.set_random_seed(0)
    model = build_feature_extractor("mobilenetv3small", "none", size)
    batch = np.stack([cv2.resize(p, (size, size), interpolation=cv2.INTER_AREA) for p in pictures])
    return np.asarray(model.predict(batch, batch_size=32, verbose=0), np.float32)


def main() -> None:
    from street2shop.dedup.calibration import hashes_by_manifest_row, pair_set
    from street2shop.dedup.find import find_duplicates
    from street2shop.dedup.params import DedupParams
    from street2shop.demo.catalogue import make_demo_catalog
    from street2shop.images.decode import decode_image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=120)
    parser.add_argument("--duplicate-fraction", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dedup-quality-") as scratch:
        demo = make_demo_catalog(Path(scratch) / "demo", n_products=args.products, user_photos_per_product=0,
                                 duplicate_fraction=args.duplicate_fraction, seed=args.seed)
        manifest = pd.read_csv(demo.catalog, dtype=str)
        planted = pd.read_csv(demo.duplicates, dtype=str)
        twins = label_twins(manifest, pair_set(planted))
        images = str(demo.images_dir)
        pictures = [decode_image((demo.images_dir / name).read_bytes(), name=name) for name in manifest["image"]]

        rows = []
        started = time.perf_counter()
        base = find_duplicates(manifest, images=images, params=DedupParams(method="hash", verify="none"))
        rows.append({"method": "hashes alone", "min_cosine": None, **score(pair_set(base.pairs), planted, twins),
                     "seconds": round(time.perf_counter() - started, 2)})
        started = time.perf_counter()
        verified = find_duplicates(manifest, images=images, params=DedupParams())
        rows.append({"method": "hashes + geometric verification (defaults)", "min_cosine": None,
                     **score(pair_set(verified.pairs), planted, twins), "seconds": round(time.perf_counter() - started, 2)})
        summary = verified.summary
        pairs_per_s = summary["verify_candidates"] / max(summary["verify_seconds"], 1e-9)
        verification = {key: summary[key] for key in ("verify_candidates", "verified_pairs", "verify_seconds", "candidate_seconds")}
        # Candidates and features scale linearly: n pictures x k neighbours (both ends, minus repeats).
        verification["candidate_pairs_per_s"] = round(pairs_per_s, 1)
        verification["extrapolated_120k_hours"] = round(120_000 * summary["verify_candidates"] / len(manifest) / pairs_per_s / 3600, 2)
        exact = find_duplicates(manifest, images=images, params=DedupParams(method="hash", max_hamming=0, verify="none"))
        exact_found = pair_set(planted[planted["transform"] == "exact_copy"]) <= pair_set(exact.pairs)
        hashes = hashes_by_manifest_row(base, len(manifest))

        for name, make in (("untrained MobileNetV3Small", lambda: untrained_cnn(pictures)),
                           ("box gradient histograms", lambda: np.stack([box_hog(p) for p in pictures]))):
            started = time.perf_counter()
            vectors = make()
            seconds = time.perf_counter() - started
            sweep = []
            for cosine in COSINES:
                result = find_duplicates(manifest, vectors=vectors, hashes=hashes,
                                         params=DedupParams(method="both", min_cosine=cosine, verify="none"))
                sweep.append({"method": f"hashes + {name}", "min_cosine": cosine,
                              **score(pair_set(result.pairs), planted, twins), "seconds": round(seconds, 2)})
            best = max(sweep[1:], key=lambda r: (2 * r["precision"] * r["recall"] / max(r["precision"] + r["recall"], 1e-9), r["min_cosine"]))
            rows += [sweep[0], best]

    columns = ["method", "min_cosine", "found", "precision", "recall", "twins_flagged",
               *sorted(c for c in rows[0] if c.startswith("recall_")), "seconds"]
    baseline_recall = rows[0]["recall"]
    lines = ["| " + " | ".join([*columns, "recall vs hashes"]) + " |", "|" + "---|" * (len(columns) + 1)]
    for row in rows:
        ratio = f"{row['recall'] / baseline_recall:.2f}x" if baseline_recall else "n/a"
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + f" | {ratio} |")
    table = "\n".join(lines)
    print(f"catalogue: {len(manifest)} shop pictures, {len(planted)} planted duplicates "
          f"({', '.join(f'{k} {v}' for k, v in planted['transform'].value_counts().sort_index().items())}), "
          f"{len(twins)} label-twin pairs")
    print(table)
    print(f"exact copies found by hashes alone (Hamming 0): {exact_found}")
    print(f"verification: {verification}")
    results = {
        "command": "python bench/dedup_demo_quality.py " + " ".join(sys.argv[1:]),
        "products": args.products, "duplicate_fraction": args.duplicate_fraction, "seed": args.seed,
        "pictures": len(manifest), "planted": len(planted), "label_twin_pairs": len(twins),
        "exact_copies_found_by_hashes_alone": bool(exact_found), "rows": rows, "verification": verification,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    partial = RESULTS.with_suffix(".json.part")
    partial.write_text(json.dumps(results, indent=2), encoding="utf-8")
    partial.replace(RESULTS)


if __name__ == "__main__":
    main()
