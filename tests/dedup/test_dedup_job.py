"""Tests for the dedup runs (dedup.find, incremental, catalogue, calibration): the whole catalogue, outputs, incremental mode and the duplicate-count check."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pandas as pd
import pytest

from street2shop.dedup.calibration import calibrate_thresholds, pair_set
from street2shop.dedup.catalogue import Catalogue, load_catalogue
from street2shop.dedup.find import find_duplicates
from street2shop.dedup.grouping import GROUP_COLUMNS, PAIR_COLUMNS
from street2shop.dedup.incremental import check_new_products
from street2shop.dedup.outputs import check_duplicate_count, read_summary, write_outputs
from street2shop.dedup.params import DedupParams
from street2shop.dedup.run import deduplicate
from street2shop.errors import InvalidParameter, ManifestError
from dedup_catalogue import EXPECTED, build_catalogue, planted_vectors, product_shot, write_jpeg

@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    root = tmp_path_factory.mktemp("dedup-catalogue")
    manifest = build_catalogue(root / "images")
    manifest.to_csv(root / "manifest.csv", index=False)
    return root, manifest


def test_hashes_find_copies_resized_recompressed_mirrored_retouched_and_skip_bad_images(catalogue):
    root, manifest = catalogue
    result = find_duplicates(root / "manifest.csv", images=root / "images")
    assert result.summary["method"] == "hash"
    assert pair_set(result.pairs) == EXPECTED  # not T06: same shape, another colour
    assert list(result.pairs.columns) == PAIR_COLUMNS and list(result.groups.columns) == GROUP_COLUMNS
    assert set(result.pairs["method"]) == {"hash"} and result.pairs["hamming"].between(0, 4).all()
    exact = result.pairs[result.pairs["product_b"] == "P01"].iloc[0]
    assert exact.hamming == 0 and exact.similarity == 1.0
    errors = result.errors.set_index("image")
    assert set(errors.index) == {"broken.jpg", "nowhere.jpg"}
    assert "missing" in errors.loc["nowhere.jpg", "reason"]
    assert list(result.errors["row"]) == sorted(manifest.index[manifest["image"].isin(errors.index)].tolist())
    # P03 has two views, so it is kept over its copy; other ties keep the first seen (the original).
    kept = set(result.groups.loc[result.groups["keep"], "product_id"])
    assert kept == {"P01", "P02", "P03", "P04", "P05"}
    assert set(result.manifest["product_id"]) == set(manifest["product_id"]) - {"D01", "D02", "D03", "D04", "D05"}
    assert result.summary["errors"] == 2 and result.summary["pairs"] == 5 and result.summary["products_dropped"] == 5


def test_without_the_thumbnail_check_the_recoloured_twin_is_merged(catalogue):
    root, _ = catalogue
    result = find_duplicates(root / "manifest.csv", images=root / "images", params=DedupParams(min_thumb_correlation=None, max_hamming=2))
    assert ("P06", "T06") in pair_set(result.pairs)


def test_same_column_and_keep_policy(catalogue):
    root, manifest = catalogue
    relabelled = manifest.assign(type=np.where(manifest["product_id"] == "D02", "tops", manifest["type"]))
    result = find_duplicates(relabelled, images=root / "images", params=DedupParams(same_column="type", keep="first_seen"))
    assert pair_set(result.pairs) == EXPECTED - {("D02", "P02")}
    with pytest.raises(ManifestError, match="colour"):
        find_duplicates(manifest, images=root / "images", params=DedupParams(same_column="colour"))
    with pytest.raises(InvalidParameter):
        DedupParams(keep="newest").check()


def test_outputs_are_written_whole_with_a_review_report(catalogue, tmp_path):
    root, _ = catalogue
    params = DedupParams()
    result = find_duplicates(root / "manifest.csv", images=root / "images", params=params)
    out = tmp_path / "out"
    write_outputs(result, out, images=root / "images", params=params)
    names = {p.name for p in out.iterdir()}
    assert {"pairs.csv", "groups.csv", "manifest_dedup.csv", "errors.csv", "hashes.csv", "thumbs.npy", "summary.json", "report"} <= names
    assert list(pd.read_csv(out / "pairs.csv").columns) == PAIR_COLUMNS
    assert "_row" not in pd.read_csv(out / "manifest_dedup.csv").columns
    html = (out / "report" / "index.html").read_text()
    assert html.count('class="pair') == 5 and "D04.jpg" in html
    assert len(list((out / "report" / "thumbs").iterdir())) == 10
    assert read_summary(out)["pairs"] == 5
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no staging folder left behind


def test_empty_and_duplicate_free_manifests_give_empty_outputs(tmp_path, catalogue):
    root, manifest = catalogue
    header_only = tmp_path / "header.csv"
    header_only.write_text("image,product_id,type\n")
    zero_bytes = tmp_path / "zero.csv"
    zero_bytes.write_bytes(b"")
    distinct = manifest[manifest["product_id"].isin(["P01", "P02", "P07"])]
    for source in (header_only, zero_bytes, distinct):
        result = find_duplicates(source, images=root / "images")
        assert result.pairs.empty and result.groups.empty and result.errors.empty
        out = tmp_path / "out"
        write_outputs(result, out, images=root / "images")
        assert list(pd.read_csv(out / "pairs.csv").columns) == PAIR_COLUMNS
        assert list(pd.read_csv(out / "groups.csv").columns) == GROUP_COLUMNS
        assert list(pd.read_csv(out / "errors.csv").columns) == ["row", "image", "reason"]
        assert len(pd.read_csv(out / "manifest_dedup.csv")) == (len(distinct) if source is distinct else 0)
        assert "No duplicate pairs" in (out / "report" / "index.html").read_text()


def test_vectors_and_hashes_combined(catalogue):
    root, manifest = catalogue
    vectors = planted_vectors(manifest)
    both = find_duplicates(manifest, images=root / "images", vectors=vectors)
    assert both.summary["method"] == "both"
    assert pair_set(both.pairs) == EXPECTED | {("P07", "P08")}
    assert both.pairs.set_index("product_b").loc["P08", "method"] == "cnn"
    vectors[manifest.index[manifest["image"] == "P01.jpg"][0]] = np.nan
    cnn = find_duplicates(manifest, vectors=vectors, params=DedupParams(method="cnn"))
    assert pair_set(cnn.pairs) == {("P07", "P08")}
    assert "P01.jpg" in set(cnn.errors["image"])
    # A row the manifest check rejects (no product id) shifts nothing: vectors stay aligned by row.
    holed = manifest.copy()
    holed.loc[0, "product_id"] = ""
    shifted = find_duplicates(holed, vectors=vectors, params=DedupParams(method="cnn"))
    assert pair_set(shifted.pairs) == {("P07", "P08")} and 0 in set(shifted.errors["row"])
    with pytest.raises(InvalidParameter, match="vectors"):
        find_duplicates(manifest, images=root / "images", params=DedupParams(method="cnn"))
    with pytest.raises(InvalidParameter, match="one row per manifest row"):
        find_duplicates(manifest, vectors=vectors[:-1], params=DedupParams(method="cnn"))


def test_new_products_are_checked_against_the_catalogue_only(catalogue, tmp_path):
    root, manifest = catalogue
    base = manifest[manifest["product_id"].str.startswith("P")]
    previous = tmp_path / "previous"
    write_outputs(find_duplicates(base, images=root / "images"), previous, report=False)
    new = manifest[manifest["product_id"].str.startswith(("D", "T", "B"))].reset_index(drop=True)
    # Two new products that duplicate each other, none of the catalogue.
    write_jpeg(root / "images" / "N01.jpg", product_shot(77))
    write_jpeg(root / "images" / "N02.jpg", cv2.resize(product_shot(77), (200, 200), interpolation=cv2.INTER_AREA))
    new = pd.concat([new, pd.DataFrame({"image": ["N01.jpg", "N02.jpg"], "product_id": ["N01", "N02"], "type": "tops"})], ignore_index=True)
    result = check_new_products(new, load_catalogue(previous), images=root / "images", params=DedupParams(keep="first_seen"))
    assert pair_set(result.pairs) == EXPECTED | {("N01", "N02")}
    assert result.summary["incremental"] and result.summary["catalogue_images"] == len(base)
    kept = set(result.groups.loc[result.groups["keep"], "product_id"])
    assert kept == {"P01", "P02", "P03", "P04", "P05", "N01"}
    assert set(result.manifest["product_id"]) == {"T06", "B01", "B02", "N01"}
    assert set(result.errors["image"]) == {"broken.jpg", "nowhere.jpg"}

    vectors = planted_vectors(manifest)
    in_base = manifest["product_id"].str.startswith("P").to_numpy()
    store = Catalogue(items=base.reset_index(drop=True), vectors=vectors[in_base], vectors_ok=np.ones(int(in_base.sum()), bool))
    query = pd.DataFrame({"image": ["P07-again.jpg"], "product_id": ["N07"]})
    near = check_new_products(query, store, vectors=2 * vectors[(manifest["image"] == "P07.jpg").to_numpy()], params=DedupParams(method="cnn"))
    assert pair_set(near.pairs) == {("N07", "P07"), ("N07", "P08")}  # the catalogue's own pair is not searched again
    assert near.manifest.empty and near.summary["new_products_dropped"] == 1


def test_deduplicate_searches_the_whole_manifest_or_checks_it_against_a_catalogue(catalogue, tmp_path):
    """The CLI's and the DSS recipe's one entry: find_duplicates without ``against``, check_new_products with it."""
    root, manifest = catalogue
    images, params = root / "images", DedupParams(verify="none")
    whole = deduplicate(root / "manifest.csv", images=images, params=params)
    pd.testing.assert_frame_equal(whole.pairs, find_duplicates(manifest, images=images, params=params).pairs)
    base = manifest[manifest["product_id"].str.startswith("P")]
    write_outputs(find_duplicates(base, images=images, params=params), tmp_path / "base", report=False)
    new = manifest[manifest["product_id"].str.startswith("D")].reset_index(drop=True)
    daily = deduplicate(new, images=images, against=[tmp_path / "base"], params=params)
    assert daily.summary["incremental"] and pair_set(daily.pairs) == EXPECTED
    pd.testing.assert_frame_equal(daily.pairs, check_new_products(new, load_catalogue(tmp_path / "base"), images=images, params=params).pairs)


def test_calibration_with_labelled_pairs(catalogue):
    root, manifest = catalogue
    vectors = planted_vectors(manifest)
    truth = pd.DataFrame(
        {"product_a": ["P01", "P02", "P06", "P07", "P01"], "product_b": ["D01", "D02", "T06", "P08", "P02"], "label": [1, 1, 0, 1, 0]}
    )
    sweep, recommended = calibrate_thresholds(manifest, truth, images=root / "images", vectors=vectors)
    assert set(sweep["method"]) == {"hash", "cnn"}
    hashes = sweep[sweep["method"] == "hash"].set_index("threshold")
    # P07-P08 is invisible to hashes (a vector pair): one positive always missed by them.
    assert hashes.loc[4, "true_positives"] == 2 and hashes.loc[4, "false_negatives"] == 1
    assert hashes.loc[4, "false_positives"] == 0  # the recoloured twin is not matched
    cnn = sweep[sweep["method"] == "cnn"].set_index("threshold")
    assert cnn.loc[0.9, "true_positives"] >= 1 and cnn.loc[0.9, "false_positives"] == 0
    assert recommended["hash"]["precision"] == 1.0
    with pytest.raises(ManifestError, match="product_b"):
        calibrate_thresholds(manifest, truth[["product_a"]], images=root / "images")


def test_duplicate_count_check_for_a_scenario_step():
    summary = {"pairs": 3, "groups": 2, "top_pairs": [{"product_a": "A", "product_b": "B", "method": "hash", "similarity": 1.0}]}
    failing = check_duplicate_count(summary, max_new_duplicates=0)
    assert not failing.ok and failing.count == 3 and "above" in failing.message
    assert failing.variables["street2shop_duplicates_count"] == "3"
    assert "A ~ B" in failing.variables["street2shop_duplicates_top"]
    passing = check_duplicate_count({"pairs": 0, "groups": 0, "top_pairs": []}, max_new_duplicates=0)
    assert passing.ok and passing.variables["street2shop_duplicates_top"] == ""
    assert check_duplicate_count(summary, max_new_duplicates=5).ok
    with pytest.raises(InvalidParameter):
        check_duplicate_count(summary, max_new_duplicates=-1)
    assert json.dumps(failing.variables)
