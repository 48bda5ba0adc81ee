"""``street2shop fit-weights``: fit the weights of an index's parts on validation user->shop pairs."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

NAME = "fit-weights"
HELP = "fit each model's weight in a multi-part index on user photos with pair_id; prints the weights JSON"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", required=True, help="index folder built with several models (embed --models A B ...)")
    parser.add_argument("--images", required=True, help="folder of the query pictures, or s3://bucket/prefix")
    parser.add_argument("--queries", required=True, help="CSV or Parquet manifest of user photos with pair_id (validation pairs)")
    parser.add_argument("--split", default=None, help="use only query rows whose 'split' column has this value (e.g. val)")
    parser.add_argument("--objective", default="mrr", choices=["mrr", "top10"], help="what to maximise (default: mean reciprocal rank)")
    parser.add_argument("--step", type=float, default=0.1, help="grid step on the simplex of part shares (default 0.1)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--out", default=None, help="also write the weights JSON to this file")


def run(args: argparse.Namespace) -> int:
    from street2shop.errors import ManifestError
    from street2shop.evaluation import select_queries
    from street2shop.fusion import fit_part_weights, split_parts, stored_vectors
    from street2shop.jobs import image_source
    from street2shop.manifest import read_table, validate_manifest
    from street2shop.search import SearchIndex

    from street2shop.descriptors import register_descriptor_layers

    register_descriptor_layers()  # an index may bundle a descriptor encoder; load_encoder does not know its layers yet
    index = SearchIndex.load(args.index)
    layout = index.info["layout"]
    if len(layout) < 2:
        raise ManifestError(f"{args.index} was built with one model ({layout[0]['name']}): there is nothing to weigh")
    if "pair_id" not in index.items.columns:
        raise ManifestError(f"{args.index}: the index's items have no pair_id column; rebuild it from a manifest with pair_id")
    rows = select_queries(validate_manifest(read_table(args.queries)).rows)
    if args.split is not None:
        if "split" not in rows.columns:
            raise ManifestError(f"{args.queries}: --split given but the manifest has no 'split' column")
        rows = rows[rows["split"].astype(str) == args.split]
    rows = rows[rows["pair_id"].astype(str).isin(set(index.items["pair_id"].astype(str)))].reset_index(drop=True)
    if rows.empty:
        raise ManifestError(f"{args.queries}: no user photo whose pair_id is in the index" + (f" (split {args.split})" if args.split else ""))
    embedded = index.embedder.embed_source(image_source(args.images), rows["image"].tolist(), batch_size=args.batch_size, progress_label="queries")
    for row in embedded.errors.head(20).itertuples():
        print(f"query {rows.at[int(row.row), 'image']}: {row.reason}", file=sys.stderr)
    fit = fit_part_weights(
        split_parts(embedded.vectors, layout),
        split_parts(stored_vectors(index.vectors), layout),
        rows["pair_id"].astype(str).to_numpy()[embedded.rows],
        index.items["pair_id"].astype(str).to_numpy(),
        index.items["product_id"].astype(str).to_numpy(),
        objective=args.objective,
        step=args.step,
    )
    for warning in fit.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    result = {
        **fit.as_dict(),
        "index": str(args.index),
        "unreadable_queries": int(len(embedded.errors)),
        "models_in_order": [part["name"] for part in layout],
        "embed_model_weights": "--model-weights " + " ".join(f"{w:g}" for w in fit.model_weights),
    }
    text = json.dumps(result, indent=2)
    if args.out:
        _write_atomically(Path(args.out), text + "\n")
    print(text)
    return 0


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
