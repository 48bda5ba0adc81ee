"""``street2shop dedup``: find duplicate products by image (hashes and/or vectors), or check new products."""

from __future__ import annotations

import argparse
import json
import sys

from street2shop.images.decode import DEFAULT_MAX_PIXELS

NAME = "dedup"
HELP = "find duplicate products by image: pairs, groups, a deduplicated manifest and a review gallery"


def _keep(text: str) -> str:
    from street2shop.dedup.grouping import KeepPolicy

    KeepPolicy.parse(text)
    return text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from street2shop.dedup.params import DEFAULT_MAX_HAMMING, DEFAULT_MIN_COSINE, DEFAULT_MIN_THUMB_CORRELATION, METHODS
    from street2shop.dedup.verify import VerifyParams

    parser.add_argument("--images", default=None, help="folder of pictures, or s3://bucket/prefix (needed for hashes and the report)")
    parser.add_argument("--manifest", required=True, help="CSV or Parquet manifest (image, product_id, labels...)")
    parser.add_argument("--out", required=True, help="output folder (replaced atomically): pairs.csv, groups.csv, "
                        "manifest_dedup.csv, errors.csv, hashes.csv, summary.json, report/index.html")
    vectors = parser.add_mutually_exclusive_group()
    vectors.add_argument("--embeddings", default=None, metavar="FILE.npy", help="image vectors, one row per manifest row "
                         "(all-zero or non-finite rows count as failed)")
    vectors.add_argument("--index", default=None, metavar="DIR", help="take the vectors from an index folder made by 'embed' (matched on image)")
    parser.add_argument("--method", default="auto", choices=METHODS,
                        help="hash (copies), cnn (near-duplicates, needs vectors), both, or auto: both with vectors, else hash")
    parser.add_argument("--max-hamming", type=int, default=DEFAULT_MAX_HAMMING, help=f"hash pairs: Hamming distance at most (of 64 bits; default {DEFAULT_MAX_HAMMING})")
    parser.add_argument("--min-cosine", type=float, default=DEFAULT_MIN_COSINE, help=f"vector pairs: cosine similarity at least (default {DEFAULT_MIN_COSINE})")
    parser.add_argument("--min-thumb-correlation", type=float, default=DEFAULT_MIN_THUMB_CORRELATION,
                        help=f"hash pairs must also have colour thumbnails correlating at least this (default {DEFAULT_MIN_THUMB_CORRELATION}); "
                        "a negative value turns the check off")
    parser.add_argument("--hash", dest="hash_kinds", nargs="+", default=["phash"], choices=["phash", "dhash"],
                        help="hash kinds (default phash); with several, every kind must be within --max-hamming")
    parser.add_argument("--no-flip", action="store_true", help="do not match pictures mirrored left to right")
    parser.add_argument("--same", default=None, metavar="COLUMN", help="only compare pictures with the same value in this column")
    parser.add_argument("--keep", default="most_views", type=_keep, metavar="POLICY",
                        help="which product of a group stays: most_views (default), first_seen, priority:COLUMN[:min]")
    parser.add_argument("--against", nargs="+", default=None, metavar="DIR",
                        help="incremental mode: check the manifest's products against an existing catalogue "
                        "(an index folder for vectors: new pictures are embedded with its models; an earlier dedup "
                        "output for hashes)")
    parser.add_argument("--calibrate", default=None, metavar="PAIRS.csv",
                        help="also sweep thresholds against known pairs (product_a, product_b[, label 1/0]; without label: "
                        "planted duplicates) and recommend one: calibration.csv, 'recommended' in the summary")
    parser.add_argument("--min-precision", type=float, default=None, help="with --calibrate: recommend the best recall at this precision")
    parser.add_argument("--verify", default="geometric", choices=["geometric", "none"],
                        help="geometric (default): also check each picture's nearest pictures with local features and "
                        "RANSAC (finds crops); none: thresholds only")
    parser.add_argument("--neighbours", type=int, default=VerifyParams.neighbours,
                        help=f"verification candidates per picture (default {VerifyParams.neighbours})")
    parser.add_argument("--min-inliers", type=int, default=VerifyParams.min_inliers,
                        help=f"verification: RANSAC inliers at least (default {VerifyParams.min_inliers})")
    parser.add_argument("--min-detail-correlation", type=float, default=VerifyParams.min_detail_correlation,
                        help=f"verification: aligned detail correlation at least (default {VerifyParams.min_detail_correlation})")
    parser.add_argument("--strategy", default="auto", choices=["auto", "exact", "ivf"], help="vector pair search (default auto: exact while cheap)")
    parser.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS, help="refuse bigger pictures")
    parser.add_argument("--workers", type=int, default=8, help="picture reading threads (default 8)")
    parser.add_argument("--report-pairs", type=int, default=500, help="pairs shown in the HTML report (default 500)")
    parser.add_argument("--no-report", action="store_true", help="skip the HTML report")


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from street2shop.dedup.calibration import calibrate_thresholds, hashes_by_manifest_row
    from street2shop.dedup.catalogue import index_vectors, vectors_for_manifest
    from street2shop.dedup.outputs import write_outputs
    from street2shop.dedup.params import DedupParams
    from street2shop.dedup.run import deduplicate
    from street2shop.dedup.stages import read_manifest
    from street2shop.dedup.vector_pairs import VectorSearchParams
    from street2shop.dedup.verify import VerifyParams
    from street2shop.errors import InvalidParameter
    from street2shop.manifest import read_table

    params = DedupParams(
        method=args.method,
        min_cosine=args.min_cosine,
        max_hamming=args.max_hamming,
        hash_kinds=tuple(args.hash_kinds),
        flip=not args.no_flip,
        min_thumb_correlation=None if args.min_thumb_correlation < 0 else args.min_thumb_correlation,
        same_column=args.same,
        keep=args.keep,
        search=VectorSearchParams(strategy=args.strategy),
        verify=args.verify,
        verification=VerifyParams(
            neighbours=args.neighbours, min_inliers=args.min_inliers, min_detail_correlation=args.min_detail_correlation
        ),
        max_pixels=args.max_pixels,
        max_workers=args.workers,
        report_pairs=args.report_pairs,
    ).check()
    manifest = read_manifest(args.manifest)
    vectors = None
    if args.embeddings:
        try:
            vectors = np.load(args.embeddings, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError) as err:
            raise InvalidParameter(f"--embeddings {args.embeddings}: not a readable .npy array ({err})") from err
    elif args.index:
        items, stored = index_vectors(args.index)
        vectors, _ = vectors_for_manifest(manifest, items, stored)
    if args.against and args.calibrate:
        raise InvalidParameter("--calibrate works on a whole catalogue, not with --against")
    result = deduplicate(manifest, images=args.images, vectors=vectors, against=args.against, params=params)
    if args.calibrate:
        result.calibration, result.summary["recommended"] = calibrate_thresholds(
            manifest, read_table(args.calibrate), images=args.images, vectors=vectors,
            hashes=hashes_by_manifest_row(result, len(manifest)), params=params, min_precision=args.min_precision,
        )
    write_outputs(result, args.out, images=args.images, report=not args.no_report, params=params)
    for row in result.errors.head(20).itertuples():
        print(f"row {row.row} ({row.image}): {row.reason}", file=sys.stderr)
    summary = {key: value for key, value in result.summary.items() if key != "top_pairs"}
    print(json.dumps({"out": str(args.out), **summary}))
    return 0
