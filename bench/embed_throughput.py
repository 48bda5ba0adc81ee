"""Benchmark: images/s of the full embedding path (JPEG files -> vectors) against model.predict on decoded tensors.

Same model, same run, alternating rounds; the figure that matters is the ratio (target >= 0.85 on CPU).
Run: .venv/bin/python bench/embed_throughput.py [--images N] [--side 640] [--backbones resnet50 mobilenetv3small]

Each round embeds a whole set of files, as a catalogue job does; the set is sized per backbone so that
the fixed cost of starting a tf.data pipeline (under a second) weighs as little as on a real catalogue.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

from street2shop.models.backbones import backbone_encoder
from street2shop.models.embedder import Embedder
from street2shop.images.decode import decode_image, encode_jpeg
from street2shop.storage.local import LocalImageStore
from street2shop.storage.stores import ImageSource

RESULTS = Path(__file__).resolve().parent / "results"
#: Pictures per round by backbone (about a minute of CPU each on 2 cores).
DEFAULT_IMAGES = {"resnet50": 128, "mobilenetv3small": 512, "efficientnetb0": 256, "efficientnet-lite0": 256}


def make_jpegs(directory: Path, count: int, side: int) -> list[str]:
    """Photo-like JPEGs (smooth gradients, shapes and noise) of side x side pixels at quality 90."""
    rng = np.random.default_rng(0)
    names = []
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    for i in range(count):
        base = rng.uniform(0, 255, 3)
        picture = base + 80 * np.stack([np.sin(6 * xx + i), np.cos(5 * yy), xx * yy], axis=2)
        picture += rng.normal(0, 12, picture.shape)
        name = f"img_{i:04d}.jpg"
        (directory / name).write_bytes(encode_jpeg(np.clip(picture, 0, 255).astype(np.uint8), 90))
        names.append(name)
    return names


def measure(backbone: str, directory: Path, names: list[str], batch_size: int, rounds: int) -> dict:
    encoder = backbone_encoder(backbone, "none")
    embedder = Embedder([encoder])
    source = ImageSource(LocalImageStore(directory))
    decoded = np.stack([embedder.prepare(decode_image((directory / n).read_bytes()))[0] for n in names])
    # Warm-up: trace the inference functions of both paths.
    encoder.model.predict(decoded[:batch_size], batch_size=batch_size, verbose=0)
    embedder.embed_source(source, names[: batch_size * 2], batch_size=batch_size)
    full_path, predict = [], []
    for _ in range(rounds):
        started = time.perf_counter()
        result = embedder.embed_source(source, names, batch_size=batch_size)
        full_path.append(len(result.rows) / (time.perf_counter() - started))
        started = time.perf_counter()
        encoder.model.predict(decoded, batch_size=batch_size, verbose=0)
        predict.append(len(names) / (time.perf_counter() - started))
    files, tensors = statistics.median(full_path), statistics.median(predict)
    return {
        "backbone": backbone,
        "image_size": encoder.image_size,
        "images": len(names),
        "batch_size": batch_size,
        "full_path_images_per_s": round(files, 2),
        "predict_decoded_images_per_s": round(tensors, 2),
        "ratio": round(files / tensors, 3),
        "rounds": rounds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=None, help="pictures per round (default: by backbone)")
    parser.add_argument("--side", type=int, default=640, help="side of the JPEG files, pixels")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backbones", nargs="+", default=["resnet50", "mobilenetv3small"])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        counts = {b: args.images or DEFAULT_IMAGES.get(b, 256) for b in args.backbones}
        names = make_jpegs(Path(tmp), max(counts.values()), args.side)
        for backbone in args.backbones:
            rows.append(measure(backbone, Path(tmp), names[: counts[backbone]], args.batch_size, args.rounds))
    print(f"| backbone | input | JPEG {args.side}px files -> vectors (img/s) | model.predict on decoded tensors (img/s) | ratio |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['backbone']} | {row['image_size']} | {row['full_path_images_per_s']} | {row['predict_decoded_images_per_s']} | {row['ratio']} |")
    RESULTS.mkdir(exist_ok=True)
    machine = {"cpus": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()}
    (RESULTS / "embed_throughput.json").write_text(json.dumps({"machine": machine, "side": args.side, "results": rows}, indent=2))


if __name__ == "__main__":
    main()
