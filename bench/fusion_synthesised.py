"""Benchmark: fusion weights fitted on synthesised user->shop pairs vs on real validation photos vs equal weights.

One run: generate the demo catalogue (seed 0); embed the shop pictures, the validation and the
test user photos with the parts (garment descriptors colour / texture / shape, each its own
part, on the segmented garment; plus the metric embedding of bench/metric_embedding.py when its
model folder exists); fit the part weights (a) on synthesised street-like views of the shop
pictures (``jobs.fit_weights_on_synthesised``: no user photo used), (b) on the validation
products' real user photos; score (a), (b) and equal weights on the held-out test products'
user photos against the whole shop gallery (a hit: a product with the query's pair_id in the
top k, best view per product). With the metric model, test products it was trained or
validated on (its split.csv) are left out of the test queries.
Run: .venv/bin/python bench/fusion_synthesised.py [--products 120] [--synthesised 120] [--no-metric]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"
METRIC_MODEL = RESULTS / "metric_embedding_model"
KS = (1, 10, 20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--products", type=int, default=120)
    parser.add_argument("--synthesised", type=int, default=120, help="products to synthesise one user photo of")
    parser.add_argument("--descriptor-size", type=int, default=96)
    parser.add_argument("--no-metric", action="store_true", help="leave the metric embedding out even if its model exists")
    parser.add_argument("--seeds", type=int, default=3, help="synthesis seeds (each a separate fit)")
    args = parser.parse_args()
    import logging

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from street2shop.demo.catalogue import make_demo_catalog
    from street2shop.models.descriptors import descriptor_encoder
    from street2shop.models.embedder import Embedder, EncoderWeighting
    from street2shop.models.loading import load_encoder
    from street2shop.index.fusion import fit_part_weights, fused_scores, product_ranks, retrieval_scores, split_parts
    from street2shop.index.fit_weights import fit_weights_on_synthesised
    from street2shop.storage.stores import image_source
    from street2shop.manifest import read_table
    from street2shop.segmentation.step import segment_step, takes_garment

    started = time.perf_counter()
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="street2shop-bench-") as work:
        catalogue = make_demo_catalog(Path(work) / "demo", n_products=args.products, seed=0)
        manifest = read_table(catalogue.manifest)
        gallery = manifest[manifest["source"] == "shop"].reset_index(drop=True)
        users = manifest[manifest["source"] == "user"]
        val = users[users["split"] == "val"].reset_index(drop=True)
        test = users[users["split"] == "test"].reset_index(drop=True)
        encoders = [descriptor_encoder(args.descriptor_size, [part]) for part in ("colour", "texture", "shape")]
        metric_note = "not used"
        if not args.no_metric and (METRIC_MODEL / "model.keras").is_file():
            encoders.append(load_encoder(METRIC_MODEL))
            seen = set(pd.read_csv(METRIC_MODEL / "split.csv", dtype=str)["product_id"])
            before = len(test)
            test = test[~test["product_id"].isin(seen)].reset_index(drop=True)
            metric_note = f"{METRIC_MODEL.relative_to(RESULTS.parent.parent)} ({before - len(test)} test queries of its products left out)"
        step = segment_step(True)
        embedder = Embedder([EncoderWeighting(e, 1.0, takes_garment(e)) for e in encoders], transform=step)
        source = image_source(catalogue.images_dir)

        t0 = time.perf_counter()
        embedded = {name: embedder.embed_source(source, frame["image"].tolist(), batch_size=64) for name, frame in
                    (("gallery", gallery), ("val", val), ("test", test))}
        for name, result in embedded.items():
            if len(result.errors):
                raise SystemExit(f"{len(result.errors)} unreadable {name} pictures")
        timings["embed_real_pictures"] = round(time.perf_counter() - t0, 1)
        layout = embedder.layout()
        parts = {name: split_parts(result.vectors, layout) for name, result in embedded.items()}
        gallery_pairs, gallery_products = gallery["pair_id"].astype(str).to_numpy(), gallery["product_id"].astype(str).to_numpy()

        def score(weights: dict[str, float]) -> dict:
            scores = fused_scores(parts["test"], parts["gallery"], weights)
            return retrieval_scores(product_ranks(scores, test["pair_id"].astype(str).to_numpy(), gallery_pairs, gallery_products), KS)

        names = [p["name"] for p in layout]
        methods: dict[str, dict] = {"equal weights": {**score({n: 1.0 for n in names}), "shares": {n: round(1 / len(names), 3) for n in names}}}
        for name in names:
            methods[f"{name} alone"] = {**score({name: 1.0}), "shares": {name: 1.0}}

        t0 = time.perf_counter()
        real = fit_part_weights(
            parts["val"], parts["gallery"], val["pair_id"].astype(str).to_numpy(), gallery_pairs, gallery_products, objective="mrr", step=0.1
        )
        timings["fit_real"] = round(time.perf_counter() - t0, 1)
        methods[f"fitted on real validation photos ({real.validation['queries']})"] = {
            **score(real.weights), "shares": dict(zip(real.names, real.shares))
        }
        synthesis_seconds = []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            fit, synthetic = fit_weights_on_synthesised(
                embedder, embedded["gallery"].vectors, gallery, source, products=args.synthesised, seed=seed, batch_size=64
            )
            synthesis_seconds.append(round(time.perf_counter() - t0, 1))
            methods[f"fitted on synthesised pairs ({len(synthetic)}, seed {seed})"] = {
                **score(fit.weights), "shares": dict(zip(fit.names, fit.shares))
            }
        timings["fit_synthesised_each"] = synthesis_seconds
        timings["total"] = round(time.perf_counter() - started, 1)

    baseline = methods["equal weights"]
    lines = [
        "| weights | top-1 | top-10 | top-20 | MRR | MRR / equal | shares |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, result in methods.items():
        shares = ", ".join(f"{n.replace('descriptors-', '')} {s:.2f}" for n, s in result["shares"].items())
        ratio = result["mrr"] / baseline["mrr"] if baseline["mrr"] else float("nan")
        lines.append(
            f"| {method} | {result['top_k']['1']:.3f} | {result['top_k']['10']:.3f} | {result['top_k']['20']:.3f} | "
            f"{result['mrr']:.3f} | {ratio:.2f} | {shares} |"
        )
    table = "\n".join(lines)
    print(table)
    print(f"test queries: {len(test)} user photos; gallery {len(gallery)} shop pictures; metric embedding: {metric_note}")
    print(f"timings (s): {timings}")
    RESULTS.mkdir(exist_ok=True)
    results = {
        "benchmark": "fusion_synthesised",
        "command": ".venv/bin/python bench/fusion_synthesised.py " + " ".join(f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if v not in (False, None)),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "settings": vars(args),
        "parts": names,
        "metric_embedding": metric_note,
        "queries": {"validation": len(val), "test": len(test)},
        "gallery": len(gallery),
        "methods": methods,
        "timings_seconds": timings,
        "table": table,
    }
    (RESULTS / "fusion_synthesised.json").write_text(json.dumps(results, indent=2, default=float))


if __name__ == "__main__":
    main()
