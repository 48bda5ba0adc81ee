"""Benchmark the duplicate pairing stage: street2shop's cell search vs numpy brute force vs the report's k-means.

Data: CNN-like vectors (non-negative, a mixture of modes, one per ~300 rows, plus a low-rank part
and noise, so that random pairs have cosines of about 0.3-0.7) with 2% of the rows in planted clusters of 2-5
near-duplicates (cosine ~0.93-0.995 to their seed). The truth is every pair at cosine >= the
threshold, found by exact brute force. Each method runs in its own process, which reports its
wall time, CPU time and peak resident memory (input included).

Run: .venv/bin/python bench/dedup_pairs.py            (120k x 2048, then 1M x 512)
     .venv/bin/python bench/dedup_pairs.py --quick    (20k x 512, 100k x 128: a smoke run)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "python-lib"))

RESULTS = ROOT / "bench" / "results" / "dedup_pairs.json"


# --------------------------------------------------------------------------- data


def make_vectors(path: Path, n: int, dim: int, seed: int = 0, planted_share: float = 0.02) -> list[list[int]]:
    """Write an (n, dim) float32 .npy of CNN-like vectors; return the planted clusters (row lists)."""
    rng = np.random.default_rng(seed)
    f32 = np.float32
    # One mode per ~300 products: a bigger catalogue has more kinds of product, not denser ones.
    rank, n_super, n_modes = 128, 12, max(50, n // 300)
    bias = rng.standard_normal(dim).astype(f32) * 0.8 - 0.3
    supers = rng.standard_normal((n_super, dim)).astype(f32)
    modes = rng.standard_normal((n_modes, dim)).astype(f32) * 0.7
    super_of = rng.integers(0, n_super, n_modes)
    spectrum = (1.0 / np.sqrt(1 + np.arange(rank) / 4)).astype(f32)
    spectrum /= np.sqrt((spectrum**2).sum())
    basis = rng.standard_normal((rank, dim)).astype(f32) * 0.6

    def pre_activations(count: int) -> np.ndarray:
        mode = rng.integers(0, n_modes, count)
        amplitude = rng.uniform(0.5, 1.5, (count, 1)).astype(f32)
        latent = rng.standard_normal((count, rank)).astype(f32) * spectrum
        noise = rng.standard_normal((count, dim)).astype(f32) * 0.35
        return bias + amplitude * (supers[super_of[mode]] + modes[mode]) + latent @ basis + noise

    out = np.lib.format.open_memmap(path, mode="w+", dtype=f32, shape=(n, dim))
    for start in range(0, n, 8192):
        stop = min(n, start + 8192)
        out[start:stop] = np.maximum(pre_activations(stop - start), 0)
    sizes, total = [], 0
    while total < planted_share * n:
        sizes.append(int(rng.integers(2, 6)))
        total += sizes[-1]
    positions = rng.choice(n, size=total, replace=False)
    clusters, cursor = [], 0
    for size in sizes:
        members = positions[cursor : cursor + size]
        cursor += size
        seed_pre = pre_activations(1)[0]
        out[members[0]] = np.maximum(seed_pre, 0)
        for member in members[1:]:
            out[member] = np.maximum(seed_pre + rng.standard_normal(dim).astype(f32) * rng.uniform(0.2, 0.5), 0)
        clusters.append([int(m) for m in members])
    out.flush()
    del out
    return clusters


def describe(path: Path, clusters: list[list[int]]) -> dict:
    """Cosine spread of random and planted pairs (how CNN-like the data is)."""
    data = np.load(path, mmap_mode="r")
    rng = np.random.default_rng(1)
    rows = np.sort(rng.choice(len(data), size=min(len(data), 4000), replace=False))
    sample = np.asarray(data[rows], np.float32)
    sample /= np.linalg.norm(sample, axis=1, keepdims=True)
    half = len(sample) // 2
    random_cos = (sample[:half] @ sample[half:].T).ravel()
    planted = []
    for members in clusters[:500]:
        vectors = np.asarray(data[members], np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        planted.extend((vectors[0] @ vectors[1:].T).tolist())
    pct = np.percentile(random_cos, [1, 50, 99]).round(3).tolist()
    return {
        "random_pair_cosine_p1_p50_p99": pct,
        "planted_cosine_min_median_max": np.percentile(planted, [0, 50, 100]).round(3).tolist(),
        "planted_rows": int(sum(map(len, clusters))),
        "planted_clusters": len(clusters),
    }


# --------------------------------------------------------------------------- methods (run in a worker process)


def brute_force(data: np.ndarray, min_cosine: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact: a normalised copy, then upper-triangle tiles of 4096 x 4096 with numpy's (multi-threaded) BLAS."""
    unit = data / np.linalg.norm(data, axis=1, keepdims=True)
    a_parts, b_parts = [], []
    tile, n = 4096, len(unit)
    for qs in range(0, n, tile):
        for ds in range(qs, n, tile):
            sims = unit[qs : qs + tile] @ unit[ds : ds + tile].T
            a, b = np.nonzero(sims >= np.float32(min_cosine))
            a, b = a + qs, b + ds
            keep = b > a
            a_parts.append(a[keep])
            b_parts.append(b[keep])
    return np.concatenate(a_parts).astype(np.int64), np.concatenate(b_parts).astype(np.int64)


def report_kmeans(data: np.ndarray, min_cosine: float) -> tuple[np.ndarray, np.ndarray]:
    """The report's shortcut: 9 summary features (max, min, sum, deciles 4-9) -> k-means into clusters of
    ~200 -> every pair inside a cluster (scored here by cosine, like the other methods)."""
    import faiss

    n = len(data)
    features = np.empty((n, 9), np.float32)
    for start in range(0, n, 8192):
        chunk = np.asarray(data[start : start + 8192], np.float32)
        features[start : start + len(chunk), 0] = chunk.max(axis=1)
        features[start : start + len(chunk), 1] = chunk.min(axis=1)
        features[start : start + len(chunk), 2] = chunk.sum(axis=1)
        features[start : start + len(chunk), 3:] = np.percentile(chunk, [40, 50, 60, 70, 80, 90], axis=1).T
    features = (features - features.mean(axis=0)) / (features.std(axis=0) + 1e-9)
    k = max(1, n // 200)
    kmeans = faiss.Kmeans(9, k, niter=20, seed=1, max_points_per_centroid=256)
    kmeans.train(features)
    _, assignment = kmeans.index.search(features, 1)
    assignment = assignment[:, 0]
    order = np.argsort(assignment, kind="stable")
    bounds = np.searchsorted(assignment[order], np.arange(k + 1))
    a_parts, b_parts = [], []
    for c in range(k):
        members = order[bounds[c] : bounds[c + 1]]
        if len(members) < 2:
            continue
        unit = np.asarray(data[members], np.float32)
        unit /= np.linalg.norm(unit, axis=1, keepdims=True)
        a, b = np.nonzero(np.triu(unit @ unit.T >= np.float32(min_cosine), 1))
        ra, rb = members[a], members[b]
        a_parts.append(np.minimum(ra, rb))
        b_parts.append(np.maximum(ra, rb))
    if not a_parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(a_parts).astype(np.int64), np.concatenate(b_parts).astype(np.int64)


def street2shop_pairs(data: np.ndarray, min_cosine: float, strategy: str) -> tuple[np.ndarray, np.ndarray]:
    from street2shop.dedup.vector_pairs import VectorSearchParams, vector_pairs

    found = vector_pairs(data, min_cosine, params=VectorSearchParams(strategy=strategy))
    return found.a, found.b


def sample_truth(data: np.ndarray, min_cosine: float, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact pairs touching the sampled rows (for recall at a size where full brute force is too long)."""
    unit_rows = np.asarray(data[rows], np.float32)
    unit_rows /= np.linalg.norm(unit_rows, axis=1, keepdims=True)
    a_parts, b_parts = [], []
    for start in range(0, len(data), 16384):
        chunk = np.asarray(data[start : start + 16384], np.float32)
        chunk /= np.linalg.norm(chunk, axis=1, keepdims=True)
        q, d = np.nonzero(unit_rows @ chunk.T >= np.float32(min_cosine))
        ra, rb = rows[q], d + start
        keep = ra != rb
        a_parts.append(np.minimum(ra[keep], rb[keep]))
        b_parts.append(np.maximum(ra[keep], rb[keep]))
    return np.concatenate(a_parts).astype(np.int64), np.concatenate(b_parts).astype(np.int64)


def worker(args: argparse.Namespace) -> None:
    data = np.load(args.data)  # the input is in memory for every method
    start_wall, start_cpu = time.perf_counter(), time.process_time()
    if args.worker == "bruteforce":
        a, b = brute_force(data, args.min_cosine)
    elif args.worker == "report":
        a, b = report_kmeans(data, args.min_cosine)
    elif args.worker in ("street2shop", "street2shop_exact"):
        a, b = street2shop_pairs(data, args.min_cosine, "exact" if args.worker.endswith("exact") else "auto")
    elif args.worker == "sample_truth":
        a, b = sample_truth(data, args.min_cosine, np.load(args.rows))
    else:
        raise SystemExit(f"unknown worker {args.worker}")
    wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
    np.savez(args.pairs, a=a, b=b)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB -> MB on Linux
    print(json.dumps({"seconds": wall, "cpu_seconds": cpu, "peak_rss_mb": peak, "pairs": int(len(a))}))


def run_worker(method: str, data: Path, min_cosine: float, workdir: Path, rows: Path | None = None) -> tuple[dict, np.ndarray]:
    pairs = workdir / f"{method}-pairs.npz"
    command = [sys.executable, __file__, "--worker", method, "--data", str(data), "--pairs", str(pairs), "--min-cosine", str(min_cosine)]
    if rows is not None:
        command += ["--rows", str(rows)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python-lib"))
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{method} failed:\n{done.stderr[-3000:]}")
    facts = json.loads(done.stdout.strip().splitlines()[-1])
    found = np.load(pairs)
    n = int(np.load(data, mmap_mode="r").shape[0])
    keys = np.unique(found["a"] * n + found["b"])
    print(f"  {method}: {facts['seconds']:.1f} s, {facts['pairs']} pairs, peak {facts['peak_rss_mb']:.0f} MB", flush=True)
    return facts, keys


# --------------------------------------------------------------------------- runs


def main_run(n: int, dim: int, min_cosine: float, workdir: Path, with_exact: bool) -> dict:
    data = workdir / f"vectors-{n}x{dim}.npy"
    print(f"generating {n} x {dim} ...", flush=True)
    clusters = make_vectors(data, n, dim)
    facts = {"n": n, "dim": dim, "min_cosine": min_cosine, "data": describe(data, clusters), "methods": {}}
    methods = ["bruteforce", "street2shop", "report"] + (["street2shop_exact"] if with_exact else [])
    keys = {}
    for method in methods:
        facts["methods"][method], keys[method] = run_worker(method, data, min_cosine, workdir)
    truth = keys["bruteforce"]
    planted = set()
    for members in clusters:
        for i in members:
            for j in members:
                if i < j:
                    planted.add(i * n + j)
    planted_keys = np.array(sorted(planted), dtype=np.int64)
    for method, found in keys.items():
        entry = facts["methods"][method]
        entry["recall"] = float(np.isin(truth, found).mean()) if len(truth) else 1.0
        entry["precision"] = float(np.isin(found, truth).mean()) if len(found) else 1.0
        entry["planted_recall"] = float(np.isin(planted_keys[np.isin(planted_keys, truth)], found).mean())
    facts["truth_pairs"] = int(len(truth))
    data.unlink()
    return facts


def large_run(n: int, dim: int, min_cosine: float, workdir: Path, sample: int) -> dict:
    data = workdir / f"vectors-{n}x{dim}.npy"
    print(f"generating {n} x {dim} ...", flush=True)
    clusters = make_vectors(data, n, dim, seed=2)
    rng = np.random.default_rng(3)
    planted_rows = np.array([m for members in clusters for m in members])
    rows = np.unique(np.concatenate([rng.choice(n, size=sample // 2, replace=False), rng.choice(planted_rows, size=sample // 2, replace=False)]))
    np.save(workdir / "rows.npy", rows)
    facts = {"n": n, "dim": dim, "min_cosine": min_cosine, "data": describe(data, clusters), "sampled_rows": int(len(rows)), "methods": {}}
    ours, found = run_worker("street2shop", data, min_cosine, workdir)
    truth_facts, truth = run_worker("sample_truth", data, min_cosine, workdir, rows=workdir / "rows.npy")
    # Recall over the exact pairs that touch a sampled row (half random rows, half planted rows).
    ours["recall_on_sampled_pairs"] = float(np.isin(truth, found).mean()) if len(truth) else 1.0
    touching = np.isin(found // n, rows) | np.isin(found % n, rows)
    ours["precision_on_sampled_pairs"] = float(np.isin(found[touching], truth).mean()) if touching.any() else 1.0
    facts["methods"]["street2shop"] = ours
    # Brute force at this size, extrapolated from the sampled rows' exact search (n/2 pairs per row).
    per_row = truth_facts["seconds"] / len(rows)
    facts["methods"]["bruteforce_extrapolated"] = {"seconds": per_row * n / 2, "from_sampled_rows_seconds": truth_facts["seconds"]}
    facts["sampled_truth_pairs"] = int(len(truth))
    data.unlink()
    return facts


def table(main: dict, large: dict | None) -> str:
    base = main["methods"]["bruteforce"]
    lines = [
        f"### {main['n']:,} x {main['dim']}, cosine >= {main['min_cosine']} ({main['truth_pairs']:,} exact pairs)",
        "",
        "| method | time (s) | CPU (s) | speed-up vs brute force | recall | planted recall | precision | peak RSS (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    names = {
        "street2shop": "street2shop cells (default)", "street2shop_exact": "street2shop exact",
        "bruteforce": "numpy brute force (exact)", "report": "report: k-means on 9 summary features",
    }
    for key, entry in main["methods"].items():
        lines.append(
            f"| {names[key]} | {entry['seconds']:.1f} | {entry['cpu_seconds']:.1f} | {base['seconds'] / entry['seconds']:.1f}x"
            f" | {entry['recall']:.4f} | {entry['planted_recall']:.4f} | {entry['precision']:.4f} | {entry['peak_rss_mb']:.0f} |"
        )
    if large:
        ours, brute = large["methods"]["street2shop"], large["methods"]["bruteforce_extrapolated"]
        lines += [
            "",
            f"### {large['n']:,} x {large['dim']}, cosine >= {large['min_cosine']}",
            "",
            "| method | time (s) | CPU (s) | recall (pairs of sampled rows) | peak RSS (MB) |",
            "|---|---:|---:|---:|---:|",
            f"| street2shop cells (default) | {ours['seconds']:.1f} | {ours['cpu_seconds']:.1f} | {ours['recall_on_sampled_pairs']:.4f} | {ours['peak_rss_mb']:.0f} |",
            f"| numpy brute force, extrapolated from {large['sampled_rows']} rows | {brute['seconds']:.0f} | | 1 | |",
        ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=120_000)
    parser.add_argument("--dim", type=int, default=2048)
    parser.add_argument("--large-n", type=int, default=1_000_000)
    parser.add_argument("--large-dim", type=int, default=512)
    parser.add_argument("--sample", type=int, default=2000, help="rows whose exact pairs measure recall in the large run")
    parser.add_argument("--min-cosine", type=float, default=0.9)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--with-exact", action="store_true", help="also time street2shop's exact strategy (as long as brute force)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--pairs", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--rows", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if args.quick:
        args.n, args.dim, args.large_n, args.large_dim, args.sample = 20_000, 512, 100_000, 128, 400
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="dedup-bench-") as tmp:
        workdir = Path(tmp)
        main_facts = main_run(args.n, args.dim, args.min_cosine, workdir, args.with_exact)
        large_facts = None if args.skip_large else large_run(args.large_n, args.large_dim, args.min_cosine, workdir, args.sample)
    results = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "cpus": len(os.sched_getaffinity(0)),
        "load_average_at_start": [round(x, 2) for x in load],
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "main": main_facts,
        "large": large_facts,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print()
    print(table(main_facts, large_facts))
    print(f"\ncpus: {results['cpus']}; load average at start {results['load_average_at_start']}, at end {results['load_average_at_end']}")
    print(f"data: {main_facts['data']}")
    print(f"results: {RESULTS}")


if __name__ == "__main__":
    main()
