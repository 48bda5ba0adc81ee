"""The dedup recipe through the ``dataiku`` double: whole catalogue, incremental mode, empty manifest, bad config."""

from __future__ import annotations

import json

import pytest

from dss_harness import DSSProject, storage
from street2shop.dedup.calibration import pair_set
from street2shop.dedup.find import find_duplicates
from street2shop.dedup.outputs import write_outputs
from street2shop.dedup.params import DedupParams
from street2shop.dss.dedup_params import check_duplicates_params, dedup_params
from street2shop.errors import InvalidParameter
from dedup_catalogue import EXPECTED, build_catalogue

PAIRS_DATASET_COLUMNS = ["product_a", "product_b", "image_a", "image_b", "similarity", "method", "group_id", "margin"]
GROUPS_DATASET_COLUMNS = ["group_id", "product_id", "keep", "images", "group_size", "flagged"]
# An untrained tiny encoder maps every picture close to every other: only copies pass this cosine.
CONFIG = {"method": "both", "min_cosine": 0.99999, "keep": "first_seen", "max_workers": 2}


def _files(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _current(project: DSSProject, folder: str):
    root = storage.folder_files_dir(project.root, project.project_key, folder)
    return root / json.loads((root / "street2shop-current.json").read_text())["current"]


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """Pictures (with bad rows), an index over every good picture and one over the catalogue's products only."""
    from street2shop.models.embedder import Embedder
    from street2shop.index.build import build_index
    from street2shop.storage.local import LocalImageStore
    from street2shop.storage.publish import LocalOutputDir
    from street2shop.storage.stores import ImageSource
    from tiny_models import tiny_encoder

    root = tmp_path_factory.mktemp("dedup-recipe")
    manifest = build_catalogue(root / "images")
    good = manifest[~manifest["image"].isin(["broken.jpg", "nowhere.jpg"])]
    source = ImageSource(LocalImageStore(root / "images"))
    encoder = tiny_encoder()
    build_index(good, source, Embedder([encoder]), LocalOutputDir(root / "index_all"))
    catalogue = manifest[manifest["product_id"].str.startswith("P")]
    build_index(catalogue, source, Embedder([encoder]), LocalOutputDir(root / "index_catalogue"))
    # The catalogue's earlier dedup output (its hashes), as an earlier recipe run leaves it.
    write_outputs(find_duplicates(catalogue, images=root / "images"), root / "base", report=False)

    project = DSSProject(root / "project")
    project.add_folder("pictures", files=_files(root / "images"))
    project.add_folder("index_all", source_dir=root / "index_all")
    project.add_folder("index_catalogue", source_dir=root / "index_catalogue")
    project.add_folder("base_report", source_dir=root / "base")
    project.add_dataset("manifest", manifest)
    project.add_dataset("new_products", manifest[manifest["product_id"].isin(["D01", "D03", "T06"])].reset_index(drop=True))
    project.add_dataset("empty_manifest", manifest.iloc[:0])
    return project


def test_whole_catalogue_with_hashes_and_vectors_from_an_index_folder(project):
    for name in ("pairs", "groups", "deduplicated", "rejected"):
        project.add_dataset(name)
    project.add_folder("report")
    project.run_recipe(
        "street2shop-dedup",
        inputs={"manifest": ["manifest"], "images": ["pictures"], "vectors": ["index_all"]},
        outputs={"pairs": ["pairs"], "groups": ["groups"], "deduplicated": ["deduplicated"], "report": ["report"], "errors": ["rejected"]},
        config=CONFIG,
    )
    pairs = project.read_dataset("pairs")
    assert list(pairs.columns) == PAIRS_DATASET_COLUMNS
    assert pair_set(pairs) == EXPECTED  # the recoloured twin T06 is not merged with P06
    assert "hash+cnn" in set(pairs["method"])  # the exact copy: found by both
    groups = project.read_dataset("groups")
    assert list(groups.columns) == GROUPS_DATASET_COLUMNS
    kept = set(groups.loc[groups["keep"].astype(str) == "True", "product_id"])
    assert kept == {"P01", "P02", "P03", "P04", "P05"}  # first seen
    deduplicated = project.read_dataset("deduplicated")
    assert not set(deduplicated["product_id"]) & {"D01", "D02", "D03", "D04", "D05"}
    assert len(deduplicated) == len(project.read_dataset("manifest")) - 5
    rejected = project.read_dataset("rejected")
    assert set(rejected["image"]) == {"broken.jpg", "nowhere.jpg"} and rejected["reason"].str.len().min() > 0
    report = _current(project, "report")
    summary = json.loads((report / "summary.json").read_text())
    assert summary["method"] == "both" and summary["pairs"] == 5 and summary["errors"] == 2
    html = (report / "report" / "index.html").read_text()
    assert "D01" in html and "P01" in html


def test_incremental_mode_checks_new_products_against_the_catalogue(project):
    for name in ("new_pairs", "new_deduplicated"):
        project.add_dataset(name)
    project.add_folder("daily_report")
    project.run_recipe(
        "street2shop-dedup",
        inputs={"manifest": ["new_products"], "images": ["pictures"], "catalogue": ["index_catalogue", "base_report"]},
        outputs={"pairs": ["new_pairs"], "deduplicated": ["new_deduplicated"], "report": ["daily_report"]},
        config=CONFIG,
    )
    pairs = project.read_dataset("new_pairs")
    # New pictures were embedded with the catalogue index's encoder: the copies match by hash and vector.
    assert pair_set(pairs) == {("D01", "P01"), ("D03", "P03")} and set(pairs["method"]) == {"hash+cnn"}
    assert project.read_dataset("new_deduplicated")["product_id"].tolist() == ["T06"]
    summary = json.loads((_current(project, "daily_report") / "summary.json").read_text())
    assert summary["incremental"] and summary["catalogue_images"] == 9 and summary["pairs"] == 2


def test_empty_manifest_gives_empty_outputs_with_their_schemas(project):
    for name in ("empty_pairs", "empty_groups", "empty_deduplicated", "empty_rejected"):
        project.add_dataset(name)
    project.add_folder("empty_report")
    project.run_recipe(
        "street2shop-dedup",
        inputs={"manifest": ["empty_manifest"]},
        outputs={"pairs": ["empty_pairs"], "groups": ["empty_groups"], "deduplicated": ["empty_deduplicated"],
                 "report": ["empty_report"], "errors": ["empty_rejected"]},
        config={},
    )
    for name, columns in (("empty_pairs", PAIRS_DATASET_COLUMNS), ("empty_groups", GROUPS_DATASET_COLUMNS),
                          ("empty_rejected", ["row", "image", "reason"]), ("empty_deduplicated", ["image", "product_id", "type"])):
        assert [c["name"] for c in project.dataset_schema(name)] == columns, name
        assert project.read_dataset(name).empty
    summary = json.loads((_current(project, "empty_report") / "summary.json").read_text())
    assert summary["pairs"] == 0 and summary["images"] == 0


def test_recipe_config_mirrors_the_library_parameters():
    params = dedup_params({"method": "hash", "hash_kinds": ["phash", "dhash"], "max_hamming": 6.0, "thumb_check": False,
                           "keep": "priority", "priority_column": "price", "priority_order": "min", "same_column": "type"})
    assert params == DedupParams(method="hash", hash_kinds=("phash", "dhash"), max_hamming=6, min_thumb_correlation=None,
                                 keep="priority:price:min", same_column="type")
    assert dedup_params({}) == DedupParams()
    for bad, named in (({"method": "sift"}, "'method'"), ({"max_hamming": 65}, "'max_hamming'"),
                       ({"keep": "priority"}, "'priority_column'"), ({"hash_kinds": ["ahash"]}, "'hash_kinds'"),
                       ({"min_cosine": "high"}, "'min_cosine'")):
        with pytest.raises(InvalidParameter, match=named):
            dedup_params(bad)
    step = check_duplicates_params({"dedup_folder": "out", "max_new_duplicates": 2, "on_exceed": "warn"})
    assert (step.max_new_duplicates, step.on_exceed, step.variable_prefix) == (2, "warn", "street2shop_")
    for bad, named in (({}, "'dedup_folder'"), ({"dedup_folder": "x", "on_exceed": "ignore"}, "'on_exceed'"),
                       ({"dedup_folder": "x", "variable_prefix": "1x"}, "'variable_prefix'")):
        with pytest.raises(InvalidParameter, match=named):
            check_duplicates_params(bad)


def test_bad_config_is_one_readable_error_and_leaves_the_report_alone(project):
    project.add_dataset("bad_pairs")
    project.add_folder("bad_report", files={"keep.txt": b"earlier output"})
    done = project.run_recipe(
        "street2shop-dedup",
        inputs={"manifest": ["manifest"], "images": ["pictures"]},
        outputs={"pairs": ["bad_pairs"], "report": ["bad_report"]},
        config={"method": "cnn"},
        check=False,
    )
    assert done.returncode != 0 and "street2shop-dedup: method cnn needs image vectors" in done.stderr
    assert set(project.folder_files("bad_report")) == {"keep.txt"}
