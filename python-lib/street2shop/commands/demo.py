"""``street2shop demo``: the main job end to end on a generated catalogue, with nothing to download."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

NAME = "demo"
HELP = "generate a demo catalogue, train the attribute models and a metric embedding, build the fused index, evaluate user->shop search and show results"



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="demo-output", help="working folder (default: demo-output)")
    parser.add_argument("--products", type=int, default=120, help="products in the demo catalogue")
    parser.add_argument("--user-photos", type=int, default=2, help="consumer photos per product")
    parser.add_argument("--train-backbone", default="small-cnn", help="backbone of the attribute models (default: small-cnn, CPU-sized)")
    parser.add_argument("--train-size", type=int, default=64, help="input size of the attribute models in pixels")
    parser.add_argument("--train-width", type=int, default=16, help="small-cnn: filters of its first block")
    parser.add_argument("--train-epochs", type=int, default=20, help="most epochs per attribute model")
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--metric-budget", type=float, default=90.0, help="seconds of metric-embedding training (0: no metric embedding)")
    parser.add_argument("--descriptor-size", type=int, default=128, help="input size of the garment descriptors (0: none)")
    parser.add_argument("--no-segment", action="store_true", help="do not cut garments out (the descriptors then see whole pictures)")
    parser.add_argument("--no-train", action="store_true", help="index with an untrained backbone's features instead (the pre-training demo)")
    parser.add_argument(
        "--no-pretrained", action="store_true",
        help="leave the ImageNet features (efficientnet-lite0, packaged weights) out of the fused index",
    )
    parser.add_argument("--backbone", default="efficientnet-lite0", help="with --no-train: the backbone (default efficientnet-lite0)")
    parser.add_argument(
        "--weights", default="default",
        help="with --no-train: imagenet (efficientnet-lite0: packaged; others: Keras downloads once), none, or a weights file/folder "
        "(default: imagenet for efficientnet-lite0, none for the others)",
    )
    parser.add_argument("--image-size", type=int, default=None, help="with --no-train: the backbone's input size")
    parser.add_argument("-k", type=int, default=5, help="results shown for the sample query")
    parser.add_argument("--no-serve", action="store_true", help="stop after the report instead of serving the page and the API")
    parser.add_argument("--port", type=int, default=8000, help="port of the local server at the end (0 picks a free one)")


def train_demo_models(catalog, out: Path, args: argparse.Namespace) -> list[Path]:
    """Train the four attribute models on the catalogue's train/val products (test products held out)."""
    from street2shop.training.architectures import Architecture
    from street2shop.training.job import train_label_models
    from street2shop.training.trainer import FitParams

    folders = []
    fit = FitParams(epochs=args.train_epochs, learning_rate=args.learning_rate, final_learning_rate=args.learning_rate / 30, patience=6)
    for label, folder, report, seconds in train_label_models(
        manifest=catalog.manifest, images=catalog.images_dir, out_dir=out / "models",
        architecture=Architecture(args.train_backbone, args.train_size, width=args.train_width), fit=fit,
    ):
        s = report.summary
        if report.info["multilabel"]:  # exact-match accuracy says little with several labels per picture
            scores = f"macro F1 {s['macro_f1']:.2f}, mAP {s['map']:.2f}"
        else:
            scores = f"accuracy {s['accuracy']:.2f}, macro F1 {s['macro_f1']:.2f}"
        print(
            f"      {label:8s} {len(s['classes']):2d} classes, {s['train_pictures']} training pictures, "
            f"{s['epochs_run']} epochs: validation {scores} ({seconds:.0f} s) -> {folder}",
            flush=True,
        )
        folders.append(folder)
    return folders


def save_pretrained_part(out: Path) -> Path:
    """The ImageNet feature extractor (efficientnet-lite0, packaged weights) as an encoder folder, a part of the fused index."""
    from street2shop.models.backbones import DEFAULT_BACKBONE, backbone_encoder
    from street2shop.models.encoder import save_encoder

    folder = out / "models" / "imagenet"
    save_encoder(backbone_encoder(DEFAULT_BACKBONE, "imagenet"), folder)
    print(f"      imagenet {DEFAULT_BACKBONE} ImageNet features (packaged weights, not trained here) -> {folder}", flush=True)
    return folder


def train_demo_metric(catalog, out: Path, budget: float) -> Path:
    """Train the metric embedding on synthesised street views of the train/val products' shop pictures."""
    from street2shop.storage.publish import LocalOutputDir
    from street2shop.training.embedding_job import EmbeddingSettings, train_embedding_model

    started = time.monotonic()
    folder = out / "models" / "metric"
    report = train_embedding_model(
        manifest=catalog.manifest, images=catalog.images_dir, output=LocalOutputDir(folder),
        settings=EmbeddingSettings(time_budget_s=budget), mask_cache=out / "mask-cache",
    )
    s = report.summary
    print(
        f"      metric   {s['train_products']} products, {s['epochs_run']} epochs: validation top-10 {s['top_k']['10']:.2f} "
        f"(untrained {s['untrained_top_k']['10']:.2f}) ({time.monotonic() - started:.0f} s) -> {folder}",
        flush=True,
    )
    return folder


def run(args: argparse.Namespace) -> int:
    from street2shop.demo.catalogue import make_demo_catalog
    from street2shop.evaluation.job import compare_parts, evaluate_catalogue
    from street2shop.index.build import embed_catalogue
    from street2shop.storage.stores import image_source
    from street2shop.manifest import read_table
    from street2shop.index.search import SearchIndex
    from street2shop.storage.publish import LocalOutputDir

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    steps = 4 if args.no_train else 6
    print(f"[1/{steps}] generating the demo catalogue in {out / 'catalog'}", flush=True)
    catalog = make_demo_catalog(out / "catalog", n_products=args.products, user_photos_per_product=args.user_photos)
    models = None
    queries = read_table(catalog.queries)
    if not args.no_train:
        print(f"[2/{steps}] training the attribute models ({args.train_backbone}, {args.train_size} px) on the train/val products", flush=True)
        models = train_demo_models(catalog, out, args)
        if args.metric_budget > 0:
            print(f"[3/{steps}] training the metric embedding on synthesised street views (about {args.metric_budget:.0f} s)", flush=True)
            models.append(train_demo_metric(catalog, out, args.metric_budget))
        if not args.no_pretrained:
            models.append(save_pretrained_part(out))
        # The models saw the train/val products' consumer photos: only the held-out products query.
        queries = queries[queries["split"] == "test"].reset_index(drop=True)
        queries.to_csv(out / "test-queries.csv", index=False)
    step = steps - 2
    fused = bool(models)
    descriptors = args.descriptor_size if fused and args.descriptor_size > 0 else None
    if fused:
        parts = [Path(m).name for m in models] + (["descriptors"] if descriptors else [])
        print(
            f"[{step}/{steps}] building the fused index ({', '.join(parts)}"
            f"{'; garments cut out for the parts that expect them' if not args.no_segment else ''}), "
            "weights fitted on the validation products' consumer photos",
            flush=True,
        )
    else:
        print(f"[{step}/{steps}] embedding the shop pictures with {args.backbone} (weights: {args.weights})", flush=True)
    built = embed_catalogue(
        manifest=catalog.catalog,
        images=catalog.images_dir,
        output=LocalOutputDir(out / "index"),
        models=models,
        backbone=args.backbone,
        weights=args.weights,
        image_size=args.image_size,
        descriptors=descriptors,
        segment=fused and not args.no_segment,
        fit_queries=catalog.queries if fused else None,
        fit_split="val",
    )
    print(f"      indexed {built.indexed} pictures into {out / 'index'} ({len(built.errors)} errors)", flush=True)
    if built.info.get("fusion"):
        shares = dict(zip(built.info["fusion"]["names"], built.info["fusion"]["shares"]))
        print("      fitted shares of the similarity: " + ", ".join(f"{name} {share:.2f}" for name, share in shares.items()), flush=True)
    print(f"[{step + 1}/{steps}] evaluating user->shop retrieval ({len(queries)} consumer photos of held-out products)", flush=True)
    index = SearchIndex.load(out / "index")
    result = evaluate_catalogue(index=index, queries=queries, images=catalog.images_dir, report=LocalOutputDir(out / "report"))
    print(json.dumps(result.summary()), flush=True)
    if len(index.info["layout"]) > 1:
        table = compare_parts(index, queries, catalog.images_dir)
        table.to_csv(out / "comparison.csv", index=False)
        print("      each part alone and together (top-k hit rates on the same queries):", flush=True)
        print("      | method | top-1 | top-10 | top-20 | MRR |\n      |---|---|---|---|---|", flush=True)
        for row in table.itertuples(index=False):
            print(f"      | {row.method} | {row.top_1:.3f} | {row.top_10:.3f} | {row.top_20:.3f} | {row.mrr:.3f} |", flush=True)
    sample = queries.iloc[0]
    print(f"[{steps}/{steps}] top {args.k} for the consumer photo {sample['image']} (pair {sample['pair_id']}):", flush=True)
    answer = index.answer(image_source(catalog.images_dir).read_bytes(sample["image"]), k=args.k)
    for name, classes in answer.attributes.items():
        shown = ", ".join(f"{c['class']} {c['probability']:.2f}" for c in classes)
        print(f"      predicted {name}: {shown} (true: {sample.get(name, '')})")
    for rank, hit in enumerate(answer.results, start=1):
        mark = "  <- same product" if hit["product_id"] == sample["product_id"] else ""
        print(f"      {rank}. {hit['product_id']}  score {hit['score']:.3f}  {hit['image']}{mark}")
    print(f"report: {(out / 'report' / 'report.html').resolve()}")
    if args.no_serve:
        return 0
    from street2shop.serving.server import curl_example, serve_forever

    photo = (Path(catalog.images_dir) / sample["image"]).resolve()

    def ready(url: str) -> None:
        print(f"search page: {url}/", flush=True)
        print(f"API (as on the DSS API node): POST {url}/public/api/v1/street2shop/recommend/run", flush=True)
        print(f"try it:\n  {curl_example(url, photo, k=args.k)}", flush=True)
        print("Ctrl-C stops the server.", flush=True)

    serve_forever(index, catalog.images_dir, "127.0.0.1", args.port, on_ready=ready)
    return 0
