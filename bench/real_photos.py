"""Benchmark: instance retrieval on real photographs, the pretrained default against today's random default.

Gallery: real photographs from Debian's opencv-doc samples (``make bench`` installs the package as
root; the pictures are never committed), one of each near-identical pair. Queries: street-like
variants of each (a random crop, a rotation, a colour cast, blur or noise, low JPEG quality, all at
once), decoded and fitted by the same code as a served query. A hit: the query's own original is the
nearest gallery picture (cosine). Compared in the same run: ``efficientnet-lite0`` with its packaged
ImageNet weights (the embedded default) and ``resnet50`` with random weights (the default before).

Run: .venv/bin/python bench/real_photos.py [--variants 3] [--seed 0] [--backbones efficientnet-lite0:imagenet resnet50:none]
Writes bench/results/real_photos.json. Target: top-1 >= 0.90 for the pretrained default.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
#: Real photographs (and two paintings/renders) of opencv-doc; of each near-identical pair
#: (left/right, aloeL/R, leuvenA/B, graf1/3, ela_*, basketball1/2, ...) only one is kept.
PHOTOS = (
    "apple.jpg", "orange.jpg", "butterfly.jpg", "baboon.jpg", "fruits.jpg", "messi5.jpg", "squirrel_cls.jpg",
    "starry_night.jpg", "building.jpg", "home.jpg", "board.jpg", "HappyFish.jpg", "aero1.jpg", "aloeL.jpg",
    "leuvenA.jpg", "ela_original.jpg", "graf1.png", "rubberwhale1.png", "basketball1.png", "box_in_scene.png",
    "smarties.png", "licenseplate_motion.jpg", "pca_test1.jpg", "stuff.jpg", "left.jpg", "sudoku.png",
    "Blender_Suzanne1.jpg", "chicky_512.png", "cards.png", "text_defocus.jpg", "left01.jpg", "blox.jpg", "ellipses.jpg",
)
DEFAULT_BACKBONES = ("efficientnet-lite0:imagenet", "resnet50:none")


def photo_bytes(names: tuple[str, ...] = PHOTOS) -> dict[str, bytes]:
    """The encoded files, by name; a clear error when opencv-doc is not installed."""
    missing = [name for name in names if not (OPENCV_DATA / name).is_file()]
    if missing:
        raise SystemExit(f"{OPENCV_DATA}: {', '.join(missing[:3])} missing: install Debian's opencv-doc (apt-get install opencv-doc)")
    return {name: (OPENCV_DATA / name).read_bytes() for name in names}


def street_variant(rgb: np.ndarray, rng: np.random.Generator) -> bytes:
    """A street-like shot of a picture, as JPEG bytes: crop, rotation, colour cast, blur or noise, low quality."""
    height, width = rgb.shape[:2]
    share = rng.uniform(0.6, 0.85)  # of each side kept
    crop_h, crop_w = int(height * share), int(width * share)
    top, left = rng.integers(0, height - crop_h + 1), rng.integers(0, width - crop_w + 1)
    picture = rgb[top : top + crop_h, left : left + crop_w].astype(np.float32)
    angle = rng.uniform(-15.0, 15.0)
    matrix = cv2.getRotationMatrix2D((crop_w / 2, crop_h / 2), angle, 1.0)
    picture = cv2.warpAffine(picture, matrix, (crop_w, crop_h), borderMode=cv2.BORDER_REFLECT)
    picture = picture * rng.uniform(0.8, 1.2, 3) + rng.uniform(-20, 20, 3)  # white balance and exposure
    if rng.random() < 0.5:
        picture = cv2.GaussianBlur(picture, (0, 0), rng.uniform(1.0, 2.5))
    else:
        picture = picture + rng.normal(0.0, rng.uniform(6.0, 14.0), picture.shape)
    picture = np.clip(picture, 0, 255).astype(np.uint8)
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(picture, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 35))])
    assert ok
    return encoded.tobytes()


def make_queries(photos: dict[str, bytes], variants: int, seed: int) -> list[tuple[str, bytes]]:
    """``variants`` street-like variants of each photo, as ``(original name, JPEG bytes)``."""
    from street2shop.images.decode import decode_image

    rng = np.random.default_rng(seed)
    return [(name, street_variant(decode_image(data), rng)) for name, data in photos.items() for _ in range(variants)]


def retrieval_top1(backbone: str, weights: str, photos: dict[str, bytes], queries: list[tuple[str, bytes]]) -> dict:
    """Top-1 instance retrieval of the queries among the photos, one backbone, the served decode/fit path."""
    from street2shop.images.decode import decode_image
    from street2shop.models.backbones import backbone_encoder
    from street2shop.models.embedder import Embedder

    started = time.perf_counter()
    embedder = Embedder([backbone_encoder(backbone, weights)])
    built = time.perf_counter() - started
    names = list(photos)
    started = time.perf_counter()
    gallery = embedder.embed_arrays([decode_image(photos[name]) for name in names], batch_size=16)
    probes = embedder.embed_arrays([decode_image(data) for _, data in queries], batch_size=16)
    seconds = time.perf_counter() - started
    nearest = np.argmax(probes @ gallery.T, axis=1)
    hits = [names[i] == truth for i, (truth, _) in zip(nearest, queries)]
    missed = sorted({truth for (truth, _), hit in zip(queries, hits) if not hit})
    return {
        "backbone": backbone,
        "weights": weights,
        "top_1": round(float(np.mean(hits)), 4),
        "queries": len(queries),
        "gallery": len(names),
        "build_s": round(built, 2),
        "embed_ms_per_picture": round(1000 * seconds / (len(names) + len(queries)), 1),
        "missed_originals": missed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=3, help="street-like variants per photo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backbones", nargs="+", default=list(DEFAULT_BACKBONES), metavar="NAME:WEIGHTS")
    args = parser.parse_args()
    photos = photo_bytes()
    queries = make_queries(photos, args.variants, args.seed)
    results = [retrieval_top1(*spec.split(":", 1), photos, queries) for spec in args.backbones]
    baseline = results[-1]["top_1"]
    for result in results:
        result["ratio_to_last"] = round(result["top_1"] / baseline, 3) if baseline else None
    report = {"machine": platform.platform(), "variants_per_photo": args.variants, "seed": args.seed, "results": results}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "real_photos.json").write_text(json.dumps(report, indent=2))
    print("| backbone | weights | queries | gallery | top-1 | ms/picture |\n|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['backbone']} | {r['weights']} | {r['queries']} | {r['gallery']} | **{r['top_1']:.3f}** | {r['embed_ms_per_picture']} |")
    for r in results:
        if r["missed_originals"]:
            print(f"{r['backbone']} ({r['weights']}) missed variants of: {', '.join(r['missed_originals'])}")


if __name__ == "__main__":
    main()
