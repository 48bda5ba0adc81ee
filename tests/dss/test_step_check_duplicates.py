"""The check-duplicates scenario step through the ``dataiku`` double: fails on new duplicates, passes without."""

from __future__ import annotations

import pytest

from dss_harness import DSSProject
from street2shop.dedup.catalogue import load_catalogue
from street2shop.dedup.find import find_duplicates
from street2shop.dedup.incremental import check_new_products
from street2shop.dedup.outputs import write_outputs
from dedup_catalogue import build_catalogue


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """Two incremental dedup outputs over one catalogue: a day with new duplicates, a day without."""
    root = tmp_path_factory.mktemp("check-duplicates")
    manifest = build_catalogue(root / "images")
    images = root / "images"
    catalogue = manifest[manifest["product_id"].str.startswith("P")]
    write_outputs(find_duplicates(catalogue, images=images), root / "base", report=False)
    base = load_catalogue(root / "base")
    for day, new_ids in (("copies", ["D01", "D04", "T06"]), ("clean", ["T06"])):
        new = manifest[manifest["product_id"].isin(new_ids)]
        write_outputs(check_new_products(new, base, images=images), root / day, images=images)
    project = DSSProject(root / "project")
    project.add_folder("dedup_copies", source_dir=root / "copies")
    project.add_folder("dedup_clean", source_dir=root / "clean")
    project.add_folder("not_dedup", files={"readme.txt": b"something else"})
    return project


def test_new_duplicates_fail_the_step_and_set_the_variables(project):
    run = project.run_step("street2shop-check-duplicates", config={"dedup_folder": "dedup_copies", "max_new_duplicates": 0}, check=False)
    assert run.returncode != 0
    assert "2 duplicate product pair(s) found, above the allowed 0" in run.stderr
    variables = run.scenario_variables
    assert variables["street2shop_duplicates_count"] == "2" and variables["street2shop_duplicates_passed"] == "false"
    top = variables["street2shop_duplicates_top"].splitlines()
    assert len(top) == 2 and {line.split(" (")[0] for line in top} == {"D01 ~ P01", "D04 ~ P04"}


def test_warn_mode_and_an_allowance_let_the_scenario_go_on(project):
    warned = project.run_step("street2shop-check-duplicates",
                              config={"dedup_folder": "dedup_copies", "on_exceed": "warn", "variable_prefix": "dd_", "top": 1})
    assert warned.returncode == 0 and "above the allowed 0" in warned.stderr
    assert warned.scenario_variables["dd_duplicates_passed"] == "false"
    assert len(warned.scenario_variables["dd_duplicates_top"].splitlines()) == 1
    allowed = project.run_step("street2shop-check-duplicates", config={"dedup_folder": "dedup_copies", "max_new_duplicates": 2})
    assert allowed.scenario_variables["street2shop_duplicates_passed"] == "true"


def test_no_new_duplicates_pass(project):
    run = project.run_step("street2shop-check-duplicates", config={"dedup_folder": "dedup_clean", "max_new_duplicates": 0})
    assert run.returncode == 0
    assert run.scenario_variables == {
        "street2shop_duplicates_count": "0", "street2shop_duplicates_groups": "0",
        "street2shop_duplicates_top": "", "street2shop_duplicates_passed": "true",
    }


def test_a_folder_without_a_dedup_summary_is_a_readable_failure(project):
    run = project.run_step("street2shop-check-duplicates", config={"dedup_folder": "not_dedup"}, check=False)
    assert run.returncode != 0 and "street2shop-check-duplicates:" in run.stderr and "summary.json" in run.stderr
    assert run.scenario_variables == {}
