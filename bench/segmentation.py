"""Benchmark: garment segmentation quality (IoU vs the demo catalogue's masks), speed against
full-resolution GrabCut, and retrieval top-10 with segmentation on and off, all in one run.

Run: .venv/bin/python bench/segmentation.py [--products 120] [--speed-images 8] [--epochs 30]

Sections:
1. Quality: mean IoU of ``segment_garment`` against the ground-truth masks of a generated demo
   catalogue, shop pictures and user photos; user photos also with a model box, from (a) a
   "ragged oracle" (the true mask eroded, holed and speckled: what the report's pretrained
   segmenter gave, whose box only was kept) and (b) a tiny Keras mask model trained here on the
   catalogue's train split, evaluated on its test split (the recipe of docs/segmentation.md).
2. Speed: segments/s on 512 px and 1024 px demo pictures, GrabCut on the box's crop downscaled
   to 256 px (ours) against the same pipeline at full resolution (baseline), and the IoU
   between the two masks.
3. Retrieval: top-10 hit rate of user photos against shop pictures (same pair_id) with an HSV
   colour-histogram descriptor of the whole picture (segmentation off) and of the garment's
   pixels (segmentation on), exact cosine search.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np
import pandas as pd

from street2shop.demo.catalogue import make_demo_catalog
from street2shop.segmentation.garment import Segmentation, segment_garment
from street2shop.segmentation.params import SegmentParams

RESULTS = Path(__file__).resolve().parent / "results"


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a > 0, b > 0
    union = int((a | b).sum())
    return float((a & b).sum() / union) if union else 1.0


def read_rgb(path: Path) -> np.ndarray:
    return np.ascontiguousarray(cv2.imread(str(path), cv2.IMREAD_COLOR)[:, :, ::-1])


class RaggedOracle:
    """A stand-in for a pretrained segmenter with ragged masks: the true mask, eroded, holed and speckled."""

    def __init__(self, truth: np.ndarray, seed: int):
        rng = np.random.default_rng(seed)
        side = min(truth.shape)
        radius = max(1, int(side * rng.uniform(0.01, 0.03)))
        mask = cv2.erode(truth, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2))
        holes = cv2.GaussianBlur(rng.random(truth.shape).astype(np.float32), (0, 0), side / 40) < 0.47
        probability = (mask > 0) & ~holes
        for _ in range(3):  # stray blobs where there is no garment
            centre = (int(rng.integers(side)), int(rng.integers(side)))
            blob = np.zeros(truth.shape, np.uint8)
            cv2.circle(blob, centre, max(1, side // 60), 1, -1)
            probability |= blob > 0
        self.probability = probability.astype(np.float32)

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        return self.probability


# --- the trained example mask model (the recipe of docs/segmentation.md) --------------------------


def build_mask_model(input_size: int = 64, widths: tuple[int, ...] = (8, 16, 32)):
    """A tiny U-Net: RGB 0-255 in, garment probability out (the mask-model contract)."""
    import keras

    def block(x, filters):
        x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        return keras.layers.Conv2D(filters, 3, padding="same", activation="relu")(x)

    inputs = keras.Input((input_size, input_size, 3))
    x = keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs)  # preprocessing inside the model
    skips = []
    for filters in widths:
        x = block(x, filters)
        skips.append(x)
        x = keras.layers.MaxPooling2D()(x)
    x = block(x, 2 * widths[-1])
    for filters, skip in zip(reversed(widths), reversed(skips)):
        x = keras.layers.UpSampling2D()(x)
        x = block(keras.layers.Concatenate()([x, skip]), filters)
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid")(x)
    return keras.Model(inputs, outputs)


def train_mask_model(pictures: list[np.ndarray], masks: list[np.ndarray], *, input_size: int = 64, epochs: int = 30):
    """Train ``build_mask_model`` on pictures and their 0/255 masks (flips as augmentation)."""
    import keras

    keras.utils.set_random_seed(0)
    x = np.stack([cv2.resize(p, (input_size, input_size), interpolation=cv2.INTER_AREA) for p in pictures])
    y = np.stack([cv2.resize(m, (input_size, input_size), interpolation=cv2.INTER_AREA) for m in masks])
    x = np.concatenate([x, x[:, :, ::-1]]).astype(np.float32)
    y = (np.concatenate([y, y[:, :, ::-1]]) > 127).astype(np.float32)[..., None]
    model = build_mask_model(input_size)
    model.compile(optimizer=keras.optimizers.Adam(2e-3), loss="binary_crossentropy")
    model.fit(x, y, batch_size=16, epochs=epochs, verbose=0, shuffle=True)
    return model


# --- sections -------------------------------------------------------------------------------------


def quality(root: Path, manifest: pd.DataFrame, params: SegmentParams, epochs: int) -> tuple[dict, dict]:
    """Mean IoU per kind of picture; returns the figures and the no-model segmentations (for retrieval)."""
    segs: dict[str, Segmentation] = {}
    rows = []
    started = time.perf_counter()
    for number, row in enumerate(manifest.itertuples()):
        picture = read_rgb(root / "images" / row.image)
        truth = cv2.imread(str(root / "masks" / row.mask), cv2.IMREAD_GRAYSCALE)
        seg = segment_garment(picture, params=params)
        segs[row.image] = seg
        record = {"image": row.image, "source": row.source, "split": row.split, "method": seg.method, "iou": iou(seg.mask, truth)}
        if row.source == "user":
            oracle = segment_garment(picture, params=params, mask_model=RaggedOracle(truth, number))
            record["iou_oracle_box"] = iou(oracle.mask, truth)
            record["oracle_method"] = oracle.method
        rows.append(record)
    seconds = time.perf_counter() - started
    table = pd.DataFrame(rows)
    shop, user = table[table.source == "shop"], table[table.source == "user"]
    figures = {
        "shop": {"pictures": len(shop), "mean_iou": shop.iou.mean(), "median_iou": shop.iou.median(),
                 "share_iou_ge_0.9": (shop.iou >= 0.9).mean(), "methods": shop.method.value_counts().to_dict()},
        "user_no_model": {"pictures": len(user), "mean_iou": user.iou.mean(), "median_iou": user.iou.median(),
                          "methods": user.method.value_counts().to_dict()},
        "user_oracle_box": {"pictures": len(user), "mean_iou": user.iou_oracle_box.mean(),
                            "median_iou": user.iou_oracle_box.median(),
                            "methods": user.oracle_method.value_counts().to_dict()},
        "seconds": seconds,
    }

    if epochs > 0:
        from street2shop.segmentation.mask_model import load_mask_model, save_mask_model

        train = manifest[manifest.split == "train"]
        test_user = manifest[(manifest.split == "test") & (manifest.source == "user")]
        pictures = [read_rgb(root / "images" / image) for image in train.image]
        masks = [cv2.imread(str(root / "masks" / mask), cv2.IMREAD_GRAYSCALE) for mask in train["mask"]]
        started = time.perf_counter()
        model = train_mask_model(pictures, masks, epochs=epochs)
        train_seconds = time.perf_counter() - started
        with tempfile.TemporaryDirectory() as folder:
            save_mask_model(model, folder)
            mask_model = load_mask_model(folder)  # through the contract: safe_mode load
            with_model, without, raw, methods = [], [], [], []
            for row in test_user.itertuples():
                picture = read_rgb(root / "images" / row.image)
                truth = cv2.imread(str(root / "masks" / row.mask), cv2.IMREAD_GRAYSCALE)
                seg = segment_garment(picture, params=params, mask_model=mask_model)
                with_model.append(iou(seg.mask, truth))
                without.append(iou(segs[row.image].mask, truth))
                raw.append(iou(mask_model.predict(picture) >= 0.5, truth))
                methods.append(seg.method)
        figures["user_trained_model"] = {
            "pictures": len(test_user), "train_pictures": len(train), "epochs": epochs, "train_seconds": train_seconds,
            "mean_iou": float(np.mean(with_model)), "mean_iou_same_pictures_no_model": float(np.mean(without)),
            "mean_iou_model_mask_alone": float(np.mean(raw)), "methods": pd.Series(methods).value_counts().to_dict(),
        }
    return figures, segs


def speed(sizes: tuple[int, ...], count: int, work_sizes: tuple[int, ...]) -> dict:
    """Segments/s at each work size against full-resolution GrabCut on demo pictures of each size.

    The baseline is the same pipeline (same box, crop, seeds and clean-up) with GrabCut run at
    the picture's full resolution: the only difference is the downscaling. Half the pictures are
    shop shots, half user photos.
    """
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            root = make_demo_catalog(Path(tmp) / f"demo{size}", n_products=max(1, count // 2), image_size=size,
                                     user_photos_per_product=2, duplicate_fraction=0.0, seed=size).root
            manifest = pd.read_csv(root / "manifest.csv", dtype=str)
            chosen = pd.concat([manifest[manifest.source == "shop"].head(count // 2),
                                manifest[manifest.source == "user"].head(count - count // 2)])
            pictures = [read_rgb(root / "images" / image) for image in chosen.image]
            truths = [cv2.imread(str(root / "masks" / mask), cv2.IMREAD_GRAYSCALE) for mask in chosen["mask"]]
            variants = {str(w): SegmentParams(work_size=w) for w in work_sizes}
            full_params = SegmentParams(work_size=size)
            segment_garment(pictures[0], params=variants[str(work_sizes[0])])  # warm-up
            times = {name: [] for name in (*variants, "full")}
            masks = {name: [] for name in (*variants, "full")}
            for picture in pictures:  # alternate, so a load change on the machine hits all alike
                for name, params in (*variants.items(), ("full", full_params)):
                    started = time.perf_counter()
                    masks[name].append(segment_garment(picture, params=params).mask)
                    times[name].append(time.perf_counter() - started)
            full_truth = float(np.mean([iou(m, t) for m, t in zip(masks["full"], truths)]))
            sources = list(chosen.source)
            for name in variants:
                agreement = [iou(a, b) for a, b in zip(masks[name], masks["full"])]
                by_source = {
                    source: float(np.mean([v for v, s in zip(agreement, sources) if s == source])) for source in ("shop", "user")
                }
                figures[f"{size}px_work{name}"] = {
                    "input": size, "work_size": int(name), "pictures": len(pictures),
                    "ours_per_second": len(pictures) / sum(times[name]),
                    "full_per_second": len(pictures) / sum(times["full"]),
                    "speedup": sum(times["full"]) / sum(times[name]),
                    "mean_iou_vs_full": float(np.mean(agreement)), "min_iou_vs_full": float(np.min(agreement)),
                    "mean_iou_vs_full_shop": by_source["shop"], "mean_iou_vs_full_user": by_source["user"],
                    "ours_mean_iou_vs_truth": float(np.mean([iou(m, t) for m, t in zip(masks[name], truths)])),
                    "full_mean_iou_vs_truth": full_truth,
                }
    return figures


def colour_descriptor(picture: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """HSV histogram (18 hue x 4 saturation x 4 value bins), square-rooted and L2-normalised."""
    hsv = cv2.cvtColor(picture, cv2.COLOR_RGB2HSV)
    histogram = cv2.calcHist([hsv], [0, 1, 2], mask, [18, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
    vector = np.sqrt(histogram / max(histogram.sum(), 1.0))
    return vector / max(np.linalg.norm(vector), 1e-12)


def top_k_hit_rate(queries: np.ndarray, query_pairs: np.ndarray, gallery: np.ndarray, gallery_pairs: np.ndarray, k: int) -> float:
    scores = queries @ gallery.T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return float(np.mean([(gallery_pairs[row] == pair).any() for row, pair in zip(top, query_pairs)]))


def retrieval(root: Path, manifest: pd.DataFrame, segs: dict[str, Segmentation], k: int = 10) -> dict:
    shop, user = manifest[manifest.source == "shop"], manifest[manifest.source == "user"]
    pictures = {image: read_rgb(root / "images" / image) for image in manifest.image}
    figures = {"queries": len(user), "gallery": len(shop), "k": k}
    for name, use_mask in (("segmentation_off", False), ("segmentation_on", True)):
        def describe(image: str) -> np.ndarray:
            return colour_descriptor(pictures[image], segs[image].mask if use_mask else None)

        gallery = np.stack([describe(image) for image in shop.image])
        queries = np.stack([describe(image) for image in user.image])
        figures[name] = top_k_hit_rate(queries, user.pair_id.to_numpy(), gallery, shop.pair_id.to_numpy(), k)
    figures["chance"] = min(1.0, k / max(1, shop.pair_id.nunique()))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=120, help="demo catalogue products (default 120)")
    parser.add_argument("--speed-images", type=int, default=8, help="pictures per size in the speed test (half shop, half user)")
    parser.add_argument("--epochs", type=int, default=15, help="epochs of the example mask model (0: skip it)")
    parser.add_argument("--work-size", type=int, default=256)
    args = parser.parse_args()

    params = SegmentParams(work_size=args.work_size)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        root = make_demo_catalog(Path(tmp) / "demo", n_products=args.products, seed=0).root
        manifest = pd.read_csv(root / "manifest.csv", dtype=str)
        quality_figures, segs = quality(root, manifest, params, args.epochs)
        retrieval_figures = retrieval(root, manifest, segs)
    speed_figures = speed((512, 1024), args.speed_images, tuple(dict.fromkeys((args.work_size, 192))))

    results = {
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "load_average": os.getloadavg()},
        "command": "bench/segmentation.py " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items()),
        "quality": quality_figures,
        "speed": speed_figures,
        "retrieval": retrieval_figures,
        "seconds": time.perf_counter() - started,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "segmentation.json").write_text(json.dumps(results, indent=2, default=float) + "\n")

    q = quality_figures
    print(f"## segmentation (demo catalogue, {args.products} products, 256 px; work size {args.work_size})\n")
    print("| pictures | box source | n | mean IoU | median IoU |")
    print("|---|---|---|---|---|")
    print(f"| shop | border / centre | {q['shop']['pictures']} | **{q['shop']['mean_iou']:.3f}** | {q['shop']['median_iou']:.3f} |")
    print(f"| user | no model (border / centre) | {q['user_no_model']['pictures']} | {q['user_no_model']['mean_iou']:.3f} | {q['user_no_model']['median_iou']:.3f} |")
    print(f"| user | model box: ragged oracle | {q['user_oracle_box']['pictures']} | {q['user_oracle_box']['mean_iou']:.3f} | {q['user_oracle_box']['median_iou']:.3f} |")
    if "user_trained_model" in q:
        t = q["user_trained_model"]
        print(f"| user, test split | no model | {t['pictures']} | {t['mean_iou_same_pictures_no_model']:.3f} | |")
        print(f"| user, test split | model box: tiny U-Net trained on {t['train_pictures']} train pictures | {t['pictures']} | {t['mean_iou']:.3f} | |")
        print(f"| user, test split | that model's own mask (threshold 0.5), no GrabCut | {t['pictures']} | {t['mean_iou_model_mask_alone']:.3f} | |")
    print("\n| input | work size | pictures | ours (seg/s) | full-res GrabCut (seg/s) | speed-up "
          "| IoU vs full: mean (shop / user), min | IoU vs truth: ours / full |")
    print("|---|---|---|---|---|---|---|---|")
    for s in speed_figures.values():
        print(f"| {s['input']} px | {s['work_size']} | {s['pictures']} | {s['ours_per_second']:.2f} | {s['full_per_second']:.2f} | **{s['speedup']:.1f}x** "
              f"| {s['mean_iou_vs_full']:.3f} ({s['mean_iou_vs_full_shop']:.3f} / {s['mean_iou_vs_full_user']:.3f}), {s['min_iou_vs_full']:.3f} "
              f"| {s['ours_mean_iou_vs_truth']:.3f} / {s['full_mean_iou_vs_truth']:.3f} |")
    r = retrieval_figures
    print(f"\n| retrieval, HSV histogram, {r['queries']} user queries vs {r['gallery']} shop pictures | top-{r['k']} |")
    print("|---|---|")
    print(f"| segmentation off (whole picture) | {r['segmentation_off']:.3f} |")
    print(f"| segmentation on (garment pixels) | **{r['segmentation_on']:.3f}** |")
    print(f"| chance | {r['chance']:.3f} |")
    print(f"\nTotal {results['seconds']:.0f} s; results in {RESULTS / 'segmentation.json'}")


if __name__ == "__main__":
    main()
