"""Benchmark: user->shop retrieval on the demo catalogue with trained attribute models vs untrained features and colour histograms.

One run: generate the demo catalogue, train the type, colours, material and gender models
(CPU-sized backbone, from scratch) on its train/val products' shop and user pictures, index its
whole shop gallery, and query with the user photos of the held-out test products. Baselines,
same gallery and queries: the untrained small CNN's pooled features, the untrained ResNet50's
(the pre-training demo), and a joint RGB colour histogram.
Run: .venv/bin/python bench/attribute_search_quality.py [--products 300] [--epochs 30] [--image-size 64] [--with-resnet50]
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

import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
KS = (1, 10, 20)


def histogram_encoder(size: int = 64, bins: int = 8):
    """A joint RGB colour histogram (bins^3 cells, square-rooted) as an encoder."""
    import keras

    from street2shop.models.encoder import make_encoder

    @keras.saving.register_keras_serializable(package="bench")
    class ColourHistogram(keras.layers.Layer):
        def __init__(self, bins: int = 8, **kwargs):
            super().__init__(**kwargs)
            self.bins = bins

        def call(self, inputs):
            ops = keras.ops
            q = ops.cast(ops.floor(ops.cast(inputs, "float32") * (self.bins / 256.0)), "int32")
            cell = q[..., 0] * self.bins * self.bins + q[..., 1] * self.bins + q[..., 2]
            hot = ops.one_hot(ops.reshape(cell, (ops.shape(cell)[0], -1)), self.bins**3)
            return ops.sqrt(ops.mean(hot, axis=1))

        def get_config(self):
            return {**super().get_config(), "bins": self.bins}

    inputs = keras.Input((size, size, 3), dtype="uint8")
    return make_encoder("colour_histogram", keras.Model(inputs, ColourHistogram(bins)(inputs)), {"kind": "baseline"})


def untrained_small_cnn(size: int, width: int):
    """The same small CNN as the trained models, randomly initialised: its pooled features."""
    import keras

    from street2shop.models.encoder import make_encoder
    from street2shop.models.layers import POOLED_LAYER
    from street2shop.training.architectures import Architecture, build_classifier

    keras.utils.set_random_seed(0)
    model = build_classifier(Architecture("small-cnn", size, width=width), 2, multilabel=False)
    return make_encoder("small_cnn_random", keras.Model(model.inputs, model.get_layer(POOLED_LAYER).output), {"kind": "baseline"})


def evaluate(name: str, embedder, catalogue, work: Path, queries: pd.DataFrame) -> dict:
    from street2shop.evaluation.retrieval import evaluate_retrieval
    from street2shop.index.build import build_index
    from street2shop.manifest import read_table
    from street2shop.index.search import SearchIndex
    from street2shop.storage.local import LocalImageStore
    from street2shop.storage.publish import LocalOutputDir
    from street2shop.storage.stores import ImageSource

    source = ImageSource(LocalImageStore(catalogue.images_dir))
    started = time.perf_counter()
    build_index(read_table(catalogue.catalog), source, embedder, LocalOutputDir(work / f"index-{name}"))
    index = SearchIndex.load(work / f"index-{name}", encoders=[part.encoder for part in embedder.parts])
    result = evaluate_retrieval(index, queries, source, ks=KS)
    seconds = time.perf_counter() - started
    print(f"  {name}: {result.top_k} ({seconds:.0f} s)", flush=True)
    return {"top_k": result.top_k, "queries": result.queries, "gallery": result.gallery, "seconds": round(seconds, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=300)
    parser.add_argument("--user-photos", type=int, default=2)
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--final-learning-rate", type=float, default=1e-4)
    parser.add_argument("--patience", type=int, default=8)
    parser.add_argument("--work", default=None, help="working folder (default: a temporary one)")
    parser.add_argument("--with-resnet50", action="store_true", help="also the untrained ResNet50 at 224 px (the pre-training demo; slow on CPU)")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("street2shop.training").setLevel(logging.INFO)

    import keras

    from street2shop.models.backbones import backbone_encoder
    from street2shop.demo.catalogue import make_demo_catalog
    from street2shop.models.embedder import Embedder
    from street2shop.index.build import make_embedder
    from street2shop.manifest import read_table
    from street2shop.training.architectures import Architecture
    from street2shop.training.job import train_label_models
    from street2shop.training.trainer import FitParams

    temporary = None if args.work else tempfile.TemporaryDirectory(prefix="street2shop-bench-")
    work = Path(args.work or temporary.name)
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    catalogue = make_demo_catalog(work / "catalog", n_products=args.products, user_photos_per_product=args.user_photos)
    manifest = read_table(catalogue.manifest)
    queries = read_table(catalogue.queries)
    queries = queries[queries["split"] == "test"].reset_index(drop=True)
    print(f"catalogue: {len(manifest)} pictures; {len(queries)} test queries", flush=True)

    trained, training = [], {}
    fit = FitParams(epochs=args.epochs, learning_rate=args.learning_rate, final_learning_rate=args.final_learning_rate, patience=args.patience)
    for label, folder, report, seconds in train_label_models(
        manifest=manifest, images=catalogue.images_dir, out_dir=work / "models",
        architecture=Architecture("small-cnn", args.image_size, width=args.width), fit=fit,
    ):
        s = report.summary
        training[label] = {k: s.get(k) for k in ("accuracy", "micro_f1", "macro_f1", "map", "epochs_run", "best_epoch", "train_pictures")}
        training[label]["seconds"] = round(seconds, 1)
        print(f"trained {label}: {training[label]}", flush=True)
        trained.append(folder)
    train_seconds = time.perf_counter() - started

    methods = {}
    print("retrieval (user -> shop, held-out test products):", flush=True)
    methods["trained attribute models (4, concatenated)"] = evaluate("trained", make_embedder(models=trained), catalogue, work, queries)
    methods["trained models, pooled layer instead of encoding"] = evaluate(
        "trained-pooled", make_embedder(models=trained, encoding_layer="pooled"), catalogue, work, queries
    )
    methods["untrained small CNN (same backbone, random)"] = evaluate(
        "small-cnn-random", Embedder([untrained_small_cnn(args.image_size, args.width)]), catalogue, work, queries
    )
    if args.with_resnet50:
        keras.utils.set_random_seed(0)
        methods["untrained ResNet50 (random, 224 px)"] = evaluate(
            "resnet50-random", Embedder([backbone_encoder("resnet50", "none", 224)]), catalogue, work, queries
        )
    methods["colour histogram (RGB 8x8x8)"] = evaluate("histogram", Embedder([histogram_encoder()]), catalogue, work, queries)

    ours_name = "trained attribute models (4, concatenated)"
    ours = methods[ours_name]["top_k"]
    baselines = {name: m for name, m in methods.items() if not name.startswith("trained")}
    lines = ["| method | top-1 | top-10 | top-20 | trained / method at top-10 |", "|---|---|---|---|---|"]
    for name, result in methods.items():
        t = result["top_k"]
        ratio = "-" if name == ours_name else (f"{ours['10'] / t['10']:.2f}" if t["10"] else "inf")
        lines.append(f"| {name} | {t['1']:.3f} | {t['10']:.3f} | {t['20']:.3f} | {ratio} |")
    table = "\n".join(lines)
    print(table)
    beats = all(ours[k] > other["top_k"][k] for other in baselines.values() for k in ("1", "10", "20"))
    print(f"trained models beat every baseline at top-1, top-10 and top-20: {beats}")
    results = {
        "benchmark": "attribute_search_quality",
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "settings": vars(args),
        "catalogue": catalogue.summary()["counts"],
        "queries": len(queries),
        "training": training,
        "methods": methods,
        "trained_beats_baselines": beats,
        "seconds": round(time.perf_counter() - started, 1),
        "training_seconds": round(train_seconds, 1),
        "table": table,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "attribute_search_quality.json").write_text(json.dumps(results, indent=2))
    if temporary is not None:
        temporary.cleanup()


if __name__ == "__main__":
    main()
