"""Benchmark: training images/s reading JPEG files with augmentation vs the same training fed from cached tensors.

Same model, same augmentation, same run, alternating epochs; the figure that matters is the ratio
files / cached (target >= 0.9 on CPU), taken on each pipeline's best epoch of the rounds (other
jobs on a shared machine only ever slow an epoch down; medians are reported too), and on the
CPU time each pipeline spends per picture, which other jobs do not change. A third
pipeline, cached tensors without augmentation, shows what augmentation itself costs.
Run: .venv/bin/python bench/train_input_pipeline.py [--images 192] [--side 512] [--configs mobilenetv3small:224 small-cnn:96]
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

RESULTS = Path(__file__).resolve().parent / "results"


def make_jpegs(directory: Path, count: int, side: int) -> list[str]:
    """Photo-like JPEGs (gradients, a garment-like block, noise) of side x side pixels at quality 90."""
    from street2shop.images.decode import encode_jpeg

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
    names = []
    for i in range(count):
        picture = rng.uniform(0, 255, 3) + 70 * np.stack([np.sin(6 * xx + i), np.cos(5 * yy), xx * yy], axis=2)
        picture[side // 5 : -side // 5, side // 4 : -side // 4] = rng.uniform(0, 255, 3)
        picture += rng.normal(0, 10, picture.shape)
        name = f"img_{i:04d}.jpg"
        (directory / name).write_bytes(encode_jpeg(np.clip(picture, 0, 255).astype(np.uint8), 90))
        names.append(name)
    return names


def measure(backbone: str, size: int, directory: Path, names: list[str], batch_size: int, rounds: int) -> dict:
    import keras

    from street2shop.storage.local import LocalImageStore
    from street2shop.storage.stores import ImageSource
    from street2shop.training.architectures import Architecture, build_classifier
    from street2shop.training.augment import AugmentParams
    from street2shop.training.data import PictureSet, load_pictures, make_dataset

    source = ImageSource(LocalImageStore(directory))
    cached, _ = load_pictures(source, names, list(range(len(names))), size=size, cache="memory")
    files = PictureSet(images=list(names), size=size, source=source)
    targets = np.eye(4, dtype=np.float32)[np.arange(len(names)) % 4]
    positions = np.arange(len(names))
    augment = AugmentParams()
    pipelines = {
        "files + augmentation": make_dataset(files, positions, targets, batch_size=batch_size, shuffle=True, augment=augment),
        "cached tensors + augmentation": make_dataset(cached, positions, targets, batch_size=batch_size, shuffle=True, augment=augment),
        "cached tensors, no augmentation": make_dataset(cached, positions, targets, batch_size=batch_size, shuffle=True),
    }
    keras.utils.set_random_seed(0)
    model = build_classifier(Architecture(backbone, size, width=16 if backbone == "small-cnn" else 32), 4, multilabel=False)
    model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="categorical_crossentropy", jit_compile=False)
    for dataset in pipelines.values():  # warm-up: trace the train step, fill the tf.data autotuner
        model.fit(dataset, epochs=1, verbose=0)
    rates: dict[str, list[float]] = {name: [] for name in pipelines}
    cpu: dict[str, list[float]] = {name: [] for name in pipelines}
    for _ in range(rounds):
        for name, dataset in pipelines.items():
            started, cpu_started = time.perf_counter(), time.process_time()
            model.fit(dataset, epochs=1, verbose=0)
            rates[name].append(len(names) / (time.perf_counter() - started))
            cpu[name].append((time.process_time() - cpu_started) / len(names) * 1000)
    best = {name: max(values) for name, values in rates.items()}
    cpu_ms = {name: statistics.median(values) for name, values in cpu.items()}
    medians = {name: statistics.median(values) for name, values in rates.items()}
    return {
        "backbone": backbone,
        "image_size": size,
        "images_per_s": {name: round(value, 1) for name, value in best.items()},
        "median_images_per_s": {name: round(value, 1) for name, value in medians.items()},
        "all_rounds": {name: [round(v, 1) for v in values] for name, values in rates.items()},
        "ratio_files_vs_cached": round(best["files + augmentation"] / best["cached tensors + augmentation"], 3),
        "ratio_files_vs_cached_no_augmentation": round(best["files + augmentation"] / best["cached tensors, no augmentation"], 3),
        "median_ratio_files_vs_cached": round(medians["files + augmentation"] / medians["cached tensors + augmentation"], 3),
        "cpu_ms_per_image": {name: round(value, 2) for name, value in cpu_ms.items()},
        # With every core busy (a CPU-bound training), throughput follows CPU time per picture.
        "cpu_ratio_files_vs_cached": round(cpu_ms["cached tensors + augmentation"] / cpu_ms["files + augmentation"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=192)
    parser.add_argument("--side", type=int, default=512, help="side of the JPEG files in pixels")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--configs", nargs="+", default=["mobilenetv3small:224", "small-cnn:96"], metavar="BACKBONE:SIZE")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="street2shop-bench-") as tmp:
        names = make_jpegs(Path(tmp), args.images, args.side)
        for config in args.configs:
            backbone, size = config.split(":")
            results.append(measure(backbone, int(size), Path(tmp), names, args.batch_size, args.rounds))
            print(json.dumps(results[-1]), flush=True)
    lines = [
        "| model | files + augmentation (img/s) | cached + augmentation (img/s) | cached, no augmentation (img/s) | files / cached | files / cached, no aug. | files / cached (medians) | CPU ms/img files / cached | CPU ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rates = r["images_per_s"]
        lines.append(
            f"| {r['backbone']} {r['image_size']} px | {rates['files + augmentation']} | {rates['cached tensors + augmentation']} | "
            f"{rates['cached tensors, no augmentation']} | **{r['ratio_files_vs_cached']:.2f}** | {r['ratio_files_vs_cached_no_augmentation']:.2f} | "
            f"{r['median_ratio_files_vs_cached']:.2f} | {r['cpu_ms_per_image']['files + augmentation']} / "
            f"{r['cpu_ms_per_image']['cached tensors + augmentation']} | {r['cpu_ratio_files_vs_cached']:.2f} |"
        )
    table = "\n".join(lines)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "train_input_pipeline.json").write_text(
        json.dumps(
            {
                "benchmark": "train_input_pipeline",
                "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
                "settings": vars(args),
                "results": results,
                "table": table,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
