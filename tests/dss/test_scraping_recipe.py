"""The street2shop-scrape recipe through the dataiku double: one partition per category, run in parallel, resumed."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest
from dss_harness import DSSProject
from marketplace_fixture import Marketplace

from street2shop.images.decode import decode_image
from street2shop.manifest import validate_manifest

RECIPE = "street2shop-scrape"
OUTPUTS = {"products": ["products"], "visited": ["visited"], "store": ["store"]}
FAST = {"read_timeout_s": 0.25, "backoff_factor_s": 0.02, "max_retries": 2}


@pytest.fixture()
def project(tmp_path):
    project = DSSProject(tmp_path / "dss")
    project.add_dataset("products", partitioning_dimension="category")
    project.add_dataset("visited", partitioning_dimension="category")
    project.add_folder("store", partitioning_dimension="category")
    return project


def _run(project, category, **config):
    return project.run_recipe(RECIPE, inputs={"site_spec": ["spec"]}, outputs=OUTPUTS, write_partition=category,
                              config={"delay_s": 0.01, **config}, timeout=120)


def test_partitions_crawl_in_parallel_and_resume_from_the_folder(project):
    with Marketplace() as market:
        project.add_folder("spec", files={"site-spec.json": json.dumps(market.site_spec(**FAST)).encode()})
        categories = list(market.catalogue)
        first = _run(project, "robes", max_products=3)  # a run cut short by its budget
        assert "max_products" in first.stderr
        with ThreadPoolExecutor(len(categories)) as pool:
            runs = list(pool.map(lambda c: _run(project, c, parallel_partitions=len(categories)), categories))
        assert all("2 crawls share the rate" in run.stderr for run in runs)

        products = project.read_dataset("products")
        assert set(products["product_id"].astype(str)) == market.expected_stored()
        assert not products.duplicated(["product_id", "view"]).any()
        for category in categories:
            part = project.read_dataset("products", partition=category)
            assert set(part["category"]) == {category}
            assert set(part["product_id"].astype(str)) == {p.product_id for p in market.catalogue[category]} & \
                market.expected_stored()
        check = validate_manifest(products, label_columns=["type", "colours", "gender"])
        assert check.errors.empty and set(check.rows["source"]) == {"user"}
        files = project.folder_files("store")
        for image in products["image"]:
            assert image.split("/")[1] == "images" and image in files
            decode_image(files[image].read_bytes())
        report = json.loads(files["robes/report.json"].read_text())
        assert report["totals"]["skipped_visited"] >= 3 and report["unmapped"]["colours"]

        visited = project.read_dataset("visited", partition="costumes-and-blazers")
        assert dict(zip(visited["product_id"].astype(str), visited["status"]))[Marketplace.GONE] == "gone"

        before_hits = dict(market.hits)
        before = project.read_dataset("products", partition="costumes-and-blazers")
        _run(project, "costumes-and-blazers")  # everything visited: only robots.txt and listing pages are fetched
        refetched = [p for p, n in market.hits.items() if n > before_hits.get(p, 0)]
        assert refetched and all(p == "/robots.txt" or p.startswith("/catalog/") for p in refetched)
        pd.testing.assert_frame_equal(project.read_dataset("products", partition="costumes-and-blazers"), before)


def test_bad_partition_and_refusing_site_fail_with_a_clear_message(project):
    with Marketplace() as market:
        project.add_folder("spec", files={"site-spec.json": json.dumps(market.site_spec(**FAST)).encode()})
        failed = project.run_recipe(RECIPE, inputs={"site_spec": ["spec"]}, outputs=OUTPUTS, write_partition="shoes",
                                    config={"delay_s": 0.01}, check=False, timeout=120)
        assert failed.returncode != 0 and "no category 'shoes'" in failed.stderr
        market.refuse_prefix = "/"
        refused = _run_unchecked(project, "robes")
        assert refused.returncode != 0 and "refused every request" in refused.stderr
        assert project.read_dataset("products", partition="robes").empty


def _run_unchecked(project, category):
    return project.run_recipe(RECIPE, inputs={"site_spec": ["spec"]}, outputs=OUTPUTS, write_partition=category,
                              config={"delay_s": 0.01, "max_duration_s": 60}, check=False, timeout=120)
