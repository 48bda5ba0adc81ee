"""Benchmark: user->shop retrieval on the demo catalogue by method: histograms, garment descriptors, attribute models, fusion.

One run: generate the demo catalogue; segment every shop picture and the validation and test
user photos once (GrabCut, no mask model); train the four attribute models (type, colours,
material, gender) as bench/attribute_search_quality.py does; describe every picture by each
method; fit the fusion weights (and the type re-ranking bonus) on the validation products' user
photos; score everything on the held-out test products' user photos against the whole shop
gallery (a hit: a product with the query's pair_id in the top k, best view per product).
The metric embedding (``street2shop train-embedding``) joins when --metric-model names its folder.
Run: .venv/bin/python bench/search_methods.py [--quick] [--products 300] [--metric-model DIR | --metric-budget S]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2
import numpy as np
import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
KS = (1, 10, 20)


def hsv_histogram(picture: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The segmentation bench's baseline: HSV histogram (18 x 4 x 4), square-rooted, L2-normalised."""
    hsv = cv2.cvtColor(picture, cv2.COLOR_RGB2HSV)
    histogram = cv2.calcHist([hsv], [0, 1, 2], mask, [18, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
    vector = np.sqrt(histogram / max(histogram.sum(), 1.0))
    return vector / max(np.linalg.norm(vector), 1e-12)


def train_attribute_models(manifest: pd.DataFrame, catalogue, work: Path, epochs: int, size: int, width: int) -> tuple[list[Path], dict]:
    from street2shop.training.architectures import Architecture
    from street2shop.training.job import train_label_models
    from street2shop.training.trainer import FitParams

    folders, summary = [], {}
    for label, folder, report, seconds in train_label_models(
        manifest=manifest, images=catalogue.images_dir, out_dir=work / "models",
        architecture=Architecture("small-cnn", size, width=width), fit=FitParams(epochs=epochs, learning_rate=3e-3, final_learning_rate=1e-4, patience=8),
    ):
        summary[label] = {k: report.summary.get(k) for k in ("accuracy", "map", "epochs_run")} | {"seconds": round(seconds, 1)}
        print(f"  trained {label}: {summary[label]}", flush=True)
        folders.append(folder)
    return folders, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--user-photos", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="attribute models: 8 epochs instead of 30")
    parser.add_argument("--epochs", type=int, default=None, help="attribute models' epochs (default 30, --quick 8)")
    parser.add_argument("--descriptor-size", type=int, default=128)
    parser.add_argument("--metric-model", default=None, help="a metric-embedding model folder (street2shop train-embedding) to include")
    parser.add_argument(
        "--metric-budget", type=float, default=120.0,
        help="without --metric-model: train one in this run on the train/val products for about this many seconds (0: none)",
    )
    parser.add_argument("--workers", type=int, default=2, help="segmenting threads")
    parser.add_argument("--work", default=None, help="working folder (default: a temporary one)")
    args = parser.parse_args()
    epochs = args.epochs or (8 if args.quick else 30)
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    import tensorflow as tf

    from street2shop.demo.catalogue import make_demo_catalog
    from street2shop.models.descriptors import descriptor_encoder
    from street2shop.models.embedder import Embedder
    from street2shop.index.fusion import fit_part_weights, fused_scores, rerank_by_attributes, split_parts
    from street2shop.ranking import product_ranks, retrieval_scores
    from street2shop.images.decode import decode_image, fit_to_square
    from street2shop.index.build import make_embedder
    from street2shop.manifest import read_table
    from street2shop.segmentation.garment import crop_to_garment, segment_garment

    temporary = None if args.work else tempfile.TemporaryDirectory(prefix="street2shop-bench-")
    work = Path(args.work or temporary.name)
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    timings = {}
    catalogue = make_demo_catalog(work / "catalog", n_products=args.products, user_photos_per_product=args.user_photos)
    manifest = read_table(catalogue.manifest)
    gallery = manifest[manifest["source"] == "shop"].reset_index(drop=True)
    users = manifest[manifest["source"] == "user"]
    sets = {name: users[users["split"] == name].reset_index(drop=True) for name in ("val", "test")}
    timings["catalogue"] = round(time.perf_counter() - started, 1)
    print(f"catalogue: {len(gallery)} shop pictures; {len(sets['val'])} validation and {len(sets['test'])} test queries", flush=True)

    # Decode and segment once; every method sees the same pictures.
    t0 = time.perf_counter()
    images = list(gallery["image"]) + [image for frame in sets.values() for image in frame["image"]]
    pictures = {image: decode_image((catalogue.images_dir / image).read_bytes(), max_pixels=10**8, name=image) for image in images}
    with ThreadPoolExecutor(args.workers) as pool:
        segmentations = dict(zip(images, pool.map(lambda image: segment_garment(pictures[image]), images)))
    cutouts = {image: crop_to_garment(pictures[image], segmentations[image]) for image in images}
    timings["segmentation"] = round(time.perf_counter() - t0, 1)
    print(f"segmented {len(images)} pictures in {timings['segmentation']} s", flush=True)

    t0 = time.perf_counter()
    trained, training = train_attribute_models(manifest, catalogue, work, epochs, 64, 16)
    timings["training"] = round(time.perf_counter() - t0, 1)

    # Per method and per picture set: {part name: vectors}.
    groups = {"gallery": list(gallery["image"]), "val": list(sets["val"]["image"]), "test": list(sets["test"]["image"])}
    parts: dict[str, dict[str, np.ndarray]] = {group: {} for group in groups}
    for group, names in groups.items():
        parts[group]["histogram, whole picture"] = np.stack([hsv_histogram(pictures[i], None) for i in names])
        parts[group]["histogram, segmented garment"] = np.stack([hsv_histogram(pictures[i], segmentations[i].mask) for i in names])

    descriptor_encoders = {part: descriptor_encoder(args.descriptor_size, [part]) for part in ("colour", "texture", "shape")}
    descriptor_encoders["all"] = descriptor_encoder(args.descriptor_size)
    t0 = time.perf_counter()
    for part, encoder in descriptor_encoders.items():
        embedder = Embedder([encoder])
        for group, names in groups.items():
            parts[group][f"descriptors: {part}"] = embedder.embed_arrays([cutouts[i] for i in names], batch_size=64)
    timings["descriptors"] = round(time.perf_counter() - t0, 1)

    attribute_embedder = make_embedder(models=trained)
    layout = attribute_embedder.layout()
    probabilities = {}
    for group, names in groups.items():
        vectors, probabilities[group] = attribute_embedder.embed_arrays_with_attributes([pictures[i] for i in names], batch_size=64)
        parts[group]["attribute models (4, concatenated)"] = vectors
        for name, part_vectors in split_parts(vectors, layout).items():
            parts[group][f"attribute model: {name}"] = part_vectors

    metric_note = "not included: no metric-embedding model folder given (--metric-model)"
    if not args.metric_model and args.metric_budget > 0:
        from street2shop.storage.publish import LocalOutputDir
        from street2shop.training.embedding_job import EmbeddingSettings, train_embedding_model

        t0 = time.perf_counter()
        report = train_embedding_model(
            manifest=catalogue.manifest, images=catalogue.images_dir, output=LocalOutputDir(work / "metric"),
            settings=EmbeddingSettings(time_budget_s=args.metric_budget),
        )
        timings["metric_training"] = round(time.perf_counter() - t0, 1)
        print(f"metric embedding trained in {timings['metric_training']} s: {report.summary}", flush=True)
        args.metric_model = str(work / "metric")
    if args.metric_model and Path(args.metric_model).is_dir():
        metric = make_embedder(models=[args.metric_model])
        for group, names in groups.items():
            parts[group]["metric embedding"] = metric.embed_arrays([pictures[i] for i in names], batch_size=64)
        metric_note = (
            f"trained in this run on the train/val products ({timings['metric_training']} s)"
            if "metric_training" in timings else f"included: {args.metric_model}"
        )
    elif args.metric_model:
        metric_note = f"not included: {args.metric_model} does not exist"
    print(f"metric embedding: {metric_note}", flush=True)

    gallery_pairs = gallery["pair_id"].astype(str).to_numpy()
    gallery_products = gallery["product_id"].astype(str).to_numpy()
    pairs = {group: sets[group]["pair_id"].astype(str).to_numpy() for group in ("val", "test")}

    def score(group: str, scores: np.ndarray) -> dict:
        return retrieval_scores(product_ranks(scores, pairs[group], gallery_pairs, gallery_products), KS)

    methods = {}
    for name in parts["test"]:
        methods[name] = score("test", parts["test"][name] @ parts["gallery"][name].T)

    # Fusion: descriptor parts, attribute models one by one, and the metric embedding if any.
    fused = ["descriptors: colour", "descriptors: texture", "descriptors: shape"] + [f"attribute model: {p['name']}" for p in layout]
    if "metric embedding" in parts["test"]:
        fused.append("metric embedding")
    t0 = time.perf_counter()
    fit = fit_part_weights(
        {n: parts["val"][n] for n in fused}, {n: parts["gallery"][n] for n in fused}, pairs["val"], gallery_pairs, gallery_products,
        objective="mrr", step=0.1, max_grid=20000,
    )
    timings["fit_weights"] = round(time.perf_counter() - t0, 1)
    fusion_test = fused_scores({n: parts["test"][n] for n in fused}, {n: parts["gallery"][n] for n in fused}, fit.weights)
    methods["fusion (weights fitted on validation)"] = score("test", fusion_test)
    equal = fused_scores({n: parts["test"][n] for n in fused}, {n: parts["gallery"][n] for n in fused}, {n: 1.0 for n in fused})
    methods["fusion, equal weights"] = score("test", equal)

    # Re-ranking the top 50 by agreement of the predicted type (and colours) with each candidate's.
    type_classes = attribute_embedder.attribute_models[0].classes
    gallery_type = [type_classes[i] for i in probabilities["gallery"]["type"].argmax(axis=1)]
    colour_model = next(e for e in attribute_embedder.attribute_models if e.name == "colours")
    gallery_colours = ["|".join(colour_model.classes[j] for j in np.flatnonzero(row >= 0.5)) for row in probabilities["gallery"]["colours"]]

    def reranked_scores(group: str, scores: np.ndarray, bonus: dict) -> np.ndarray:
        """Scores whose top-50 products are re-ranked (the rest pushed below them)."""
        out = np.full_like(scores, -10.0)
        for q, row in enumerate(scores):
            order = np.argsort(-row, kind="stable")[:50]
            hits = [{"product_id": str(i), "score": float(row[i]), "attributes": {"type": gallery_type[i], "colours": gallery_colours[i]}} for i in order]
            query = {
                "type": dict(zip(type_classes, probabilities[group]["type"][q].tolist())),
                "colours": dict(zip(colour_model.classes, probabilities[group]["colours"][q].tolist())),
            }
            for position, hit in enumerate(rerank_by_attributes(hits, query, bonus=bonus)):
                out[q, int(hit["product_id"])] = 10.0 - position * 1e-3
        return out

    fusion_val = fused_scores({n: parts["val"][n] for n in fused}, {n: parts["gallery"][n] for n in fused}, fit.weights)
    candidates = [{"type": t, "colours": c} for t in (0.0, 0.02, 0.05, 0.1, 0.2) for c in (0.0, 0.02, 0.05)]
    rerank_val = [(score("val", reranked_scores("val", fusion_val, b))["mrr"], i) for i, b in enumerate(candidates)]
    best_bonus = candidates[max(rerank_val)[1]]
    methods["fusion + attribute re-ranking (top 50)"] = score("test", reranked_scores("test", fusion_test, best_bonus))

    # Speed: the descriptor encoder's forward pass against the OpenCV histogram, same pictures, same run.
    batch = np.stack([fit_to_square(cutouts[i], args.descriptor_size) for i in groups["gallery"][:64]])
    infer = tf.function(lambda x: descriptor_encoders["all"].model(x, training=False))
    infer(batch)
    t0 = time.perf_counter()
    for _ in range(5):
        infer(batch).numpy()
    descriptor_rate = 5 * len(batch) / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(5):
        for picture in batch:
            hsv_histogram(picture, None)
    histogram_rate = 5 * len(batch) / (time.perf_counter() - t0)
    speed = {
        "size": args.descriptor_size,
        "descriptors_per_second": round(descriptor_rate, 1),
        "opencv_histogram_per_second": round(histogram_rate, 1),
        "descriptor_vs_histogram_time": round(histogram_rate / descriptor_rate, 2),
        "minutes_for_100k": round(100_000 / descriptor_rate / 60, 1),
        "load_average": os.getloadavg(),
    }

    segmented = methods["histogram, segmented garment"]["top_k"]["10"]
    lines = ["| method | top-1 | top-10 | top-20 | MRR | top-10 / segmented histogram |", "|---|---|---|---|---|---|"]
    for name, result in methods.items():
        t = result["top_k"]
        ratio = f"{t['10'] / segmented:.2f}" if segmented else "inf"
        lines.append(f"| {name} | {t['1']:.3f} | {t['10']:.3f} | {t['20']:.3f} | {result['mrr']:.3f} | {ratio} |")
    if "metric embedding" not in methods:
        lines.append("| metric embedding | (slot: " + metric_note + ") | | | | |")
    table = "\n".join(lines)
    print(table)
    fusion_top10 = methods["fusion (weights fitted on validation)"]["top_k"]["10"]
    print(f"fused parts and shares (fitted on {fit.validation['queries']} validation queries): " + ", ".join(f"{n} {s:.2f}" for n, s in zip(fit.names, fit.shares)))
    print(f"re-ranking bonus chosen on validation: {best_bonus}")
    print(f"target fusion top-10 >= 2x segmented histogram ({2 * segmented:.3f}) and >= 0.6: {fusion_top10 >= max(2 * segmented, 0.6)} (fusion {fusion_top10:.3f})")
    print(f"speed at {args.descriptor_size} px: descriptors {descriptor_rate:.0f}/s, OpenCV histogram {histogram_rate:.0f}/s; 100k pictures: {speed['minutes_for_100k']} min of descriptor compute")
    timings["total"] = round(time.perf_counter() - started, 1)
    results = {
        "benchmark": "search_methods",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "settings": vars(args) | {"epochs": epochs},
        "catalogue": catalogue.summary()["counts"],
        "queries": {"validation": len(sets["val"]), "test": len(sets["test"])},
        "methods": methods,
        "fusion": fit.as_dict(),
        "rerank_bonus": best_bonus,
        "metric_embedding": metric_note,
        "training": training,
        "speed": speed,
        "timings_seconds": timings,
        "table": table,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "search_methods.json").write_text(json.dumps(results, indent=2, default=float))
    if temporary is not None:
        temporary.cleanup()


if __name__ == "__main__":
    main()
