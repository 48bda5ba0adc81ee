"""Tests for ``street2shop dedup``: the demo catalogue's planted duplicates, vectors, incremental mode, bad input."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from street2shop.cli import main
from street2shop.dedup.calibration import pair_set
from street2shop.dedup.grouping import GROUP_COLUMNS, PAIR_COLUMNS
from street2shop.demo.catalogue import make_demo_catalog
from dedup_catalogue import EXPECTED, build_catalogue, planted_vectors


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return make_demo_catalog(tmp_path_factory.mktemp("demo") / "catalogue", user_photos_per_product=0)


def run_cli(argv: list[str], capsys) -> tuple[int, dict | None, str]:
    status = main(["dedup", *argv])
    captured = capsys.readouterr()
    return status, (json.loads(captured.out) if status == 0 else None), captured.err


def test_demo_catalogue_planted_copies_found_by_hashes_and_crops_by_verification(demo, tmp_path, capsys):
    out = tmp_path / "out"
    status, summary, _ = run_cli(
        ["--images", str(demo.images_dir), "--manifest", str(demo.catalog), "--out", str(out), "--calibrate", str(demo.duplicates)],
        capsys,
    )
    assert status == 0 and summary["method"] == "hash" and summary["errors"] == 0
    planted = pd.read_csv(demo.duplicates, dtype=str)
    found = pair_set(pd.read_csv(out / "pairs.csv", dtype=str))
    # Hashes find the copies; geometric verification of look-alikes finds the crops.
    precision = len(found & pair_set(planted)) / len(found)
    recall = len(found & pair_set(planted)) / len(planted)
    assert precision >= 0.95 and recall >= 0.95
    assert summary["verify"] == "geometric" and summary["verified_pairs"] >= len(planted[planted["transform"] == "crop"])
    assert pair_set(planted[planted["transform"] == "exact_copy"]) <= found
    pairs = pd.read_csv(out / "pairs.csv")
    assert list(pairs.columns) == PAIR_COLUMNS and pairs["margin"].is_monotonic_increasing  # most doubtful first
    groups = pd.read_csv(out / "groups.csv")
    assert list(groups.columns) == GROUP_COLUMNS
    deduplicated = pd.read_csv(out / "manifest_dedup.csv", dtype=str)
    assert len(deduplicated) == len(pd.read_csv(demo.catalog)) - summary["products_dropped"]
    assert (out / "report" / "index.html").is_file()
    # The sweep over Hamming thresholds agrees with the hash pairs of the run at the default threshold (4).
    sweep = pd.read_csv(out / "calibration.csv").set_index("threshold")
    assert set(sweep["method"]) == {"hash"} and list(sweep.index) == list(range(17))
    assert sweep.loc[4, "predicted"] == len(pair_set(pairs[pairs["method"].str.contains("hash")]))
    assert sweep.loc[0, "true_positives"] >= len(pair_set(planted[planted["transform"] == "exact_copy"]))
    assert summary["recommended"]["hash"]["f1"] == sweep["f1"].max()


def test_embeddings_file_adds_vector_pairs_and_incremental_mode_checks_new_products(tmp_path, capsys):
    images = tmp_path / "images"
    manifest = build_catalogue(images)
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    np.save(tmp_path / "vectors.npy", planted_vectors(manifest))
    out = tmp_path / "out"
    status, summary, err = run_cli(
        ["--images", str(images), "--manifest", str(tmp_path / "manifest.csv"), "--out", str(out),
         "--embeddings", str(tmp_path / "vectors.npy"), "--keep", "first_seen"], capsys,
    )
    assert status == 0 and summary["method"] == "both"
    assert pair_set(pd.read_csv(out / "pairs.csv", dtype=str)) == EXPECTED | {("P07", "P08")}
    assert "broken.jpg" in err and "nowhere.jpg" in err

    catalogue = manifest[manifest["product_id"].str.startswith("P")]
    catalogue.to_csv(tmp_path / "catalogue.csv", index=False)
    assert run_cli(["--images", str(images), "--manifest", str(tmp_path / "catalogue.csv"), "--out", str(tmp_path / "base"),
                    "--no-report"], capsys)[0] == 0
    new = manifest[manifest["product_id"].isin(["D01", "D04", "T06"])]
    new.to_csv(tmp_path / "new.csv", index=False)
    status, summary, _ = run_cli(["--images", str(images), "--manifest", str(tmp_path / "new.csv"), "--out", str(tmp_path / "daily"),
                                  "--against", str(tmp_path / "base")], capsys)
    assert status == 0 and summary["incremental"] and summary["pairs"] == 2
    assert pair_set(pd.read_csv(tmp_path / "daily" / "pairs.csv", dtype=str)) == {("D01", "P01"), ("D04", "P04")}
    assert list(pd.read_csv(tmp_path / "daily" / "manifest_dedup.csv")["product_id"]) == ["T06"]


def test_bad_input_is_one_line_error(tmp_path, capsys):
    images = tmp_path / "images"
    manifest = build_catalogue(images)
    manifest.to_csv(tmp_path / "manifest.csv", index=False)
    np.save(tmp_path / "short.npy", np.ones((len(manifest) - 1, 4), np.float32))
    base = ["--images", str(images), "--manifest", str(tmp_path / "manifest.csv"), "--out", str(tmp_path / "out")]
    status, _, err = run_cli([*base, "--embeddings", str(tmp_path / "short.npy")], capsys)
    assert status == 2 and "one row per manifest row" in err and err.count("\n") == 1
    status, _, err = run_cli([*base, "--same", "season"], capsys)
    assert status == 2 and "season" in err
    status, _, err = run_cli([*base, "--method", "cnn"], capsys)
    assert status == 2 and "vectors" in err
    (tmp_path / "not.npy").write_text("nope")
    status, _, err = run_cli([*base, "--embeddings", str(tmp_path / "not.npy")], capsys)
    assert status == 2 and "not.npy" in err
    with pytest.raises(SystemExit):
        main(["dedup", *base, "--keep", "newest"])
    assert not (tmp_path / "out").exists()


def test_empty_manifest_gives_empty_outputs(tmp_path, capsys):
    (tmp_path / "manifest.csv").write_text("image,product_id\n")
    status, summary, _ = run_cli(["--manifest", str(tmp_path / "manifest.csv"), "--out", str(tmp_path / "out")], capsys)
    assert status == 0 and summary["pairs"] == 0 and summary["images"] == 0
    assert list(pd.read_csv(tmp_path / "out" / "pairs.csv").columns) == PAIR_COLUMNS
    assert pd.read_csv(tmp_path / "out" / "groups.csv").empty


@pytest.mark.slow
def test_vectors_from_an_index_folder_and_new_pictures_embedded_like_it(tmp_path, capsys):
    from street2shop.models.embedder import Embedder
    from street2shop.index.build import build_index
    from street2shop.storage.local import LocalImageStore
    from street2shop.storage.publish import LocalOutputDir
    from street2shop.storage.stores import ImageSource
    from tiny_models import tiny_encoder

    images = tmp_path / "images"
    manifest = build_catalogue(images)
    catalogue = manifest[manifest["product_id"].str.startswith("P")]
    catalogue.to_csv(tmp_path / "catalogue.csv", index=False)
    build_index(catalogue, ImageSource(LocalImageStore(images)), Embedder([tiny_encoder()]), LocalOutputDir(tmp_path / "index"))
    status, summary, _ = run_cli(["--images", str(images), "--manifest", str(tmp_path / "catalogue.csv"), "--out", str(tmp_path / "base"),
                                  "--index", str(tmp_path / "index"), "--min-cosine", "0.99999"], capsys)
    assert status == 0 and summary["method"] == "both" and summary["images_searched"] == len(catalogue)

    new = manifest[manifest["product_id"].isin(["D01", "D03", "T06"])]
    new.to_csv(tmp_path / "new.csv", index=False)
    status, summary, _ = run_cli(["--images", str(images), "--manifest", str(tmp_path / "new.csv"), "--out", str(tmp_path / "daily"),
                                  "--against", str(tmp_path / "index"), str(tmp_path / "base"), "--min-cosine", "0.99999"], capsys)
    assert status == 0 and summary["method"] == "both"
    # An untrained tiny encoder maps all pictures close together: only copies pass 0.99999.
    pairs = pd.read_csv(tmp_path / "daily" / "pairs.csv", dtype=str)
    assert pair_set(pairs) == {("D01", "P01"), ("D03", "P03")}
    assert set(pairs["method"]) == {"hash+cnn"}
