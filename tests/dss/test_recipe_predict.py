"""The predict recipe through the ``dataiku`` double: partitioned manifest + pictures + model folders -> tags, rejected rows, summary."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from colour_models import colour_model_folder, solid
from dss_harness import DSSProject, storage
from street2shop.images.decode import encode_png

COLOURS = {"red": (220, 20, 20), "green": (20, 200, 40), "blue": (30, 40, 210)}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict-recipe")
    files = {f"{name}.png": encode_png(solid(rgb)) for name, rgb in COLOURS.items()}
    files["purple.png"] = encode_png(solid((230, 20, 220)))
    files["broken.png"] = files["red.png"][:30]
    project = DSSProject(root / "project")
    project.add_folder("pictures", files=files)
    spring = pd.DataFrame({
        "image": ["red.png", "green.png", "broken.png"], "product_id": ["p1", "p2", "p3"], "view": ["1", "1", "1"],
        "type": ["red-dress", "blue-coat", "red-dress"],  # p2's type is wrong
    })
    autumn = pd.DataFrame({
        "image": ["blue.png", "purple.png"], "product_id": ["p4", "p1"], "view": ["1", "3"], "type": ["blue-coat", "red-dress"],
    })
    project.add_dataset("manifest", partitions={"spring": spring, "autumn": autumn}, partitioning_dimension="season")
    types = colour_model_folder(root / "type", label="type", classes={"red-dress": COLOURS["red"], "green-skirt": COLOURS["green"], "blue-coat": COLOURS["blue"]})
    colours = colour_model_folder(root / "colours", label="colours", multilabel=True)
    project.add_folder("type_model", files={p.name: p.read_bytes() for p in types.iterdir()})
    project.add_folder("colours_model", files={p.name: p.read_bytes() for p in colours.iterdir()})
    for name in ("tags", "rejected"):
        project.add_dataset(name)
    project.add_folder("summary")
    return project


def run(project: DSSProject, config: dict, partitions: list[str], **kwargs):
    return project.run_recipe(
        "street2shop-predict",
        inputs={"manifest": ["manifest"], "images": ["pictures"], "models": ["type_model", "colours_model"]},
        outputs={"tags": ["tags"], "errors": ["rejected"], "summary": ["summary"]},
        config={"batch_size": 2, "max_pixels": 10_000_000, **config},
        read_partitions={"manifest": partitions},
        **kwargs,
    )


def test_recipe_tags_the_partitions_read_and_writes_rejected_rows_and_summary(project):
    done = run(project, {"disagreements": True}, ["spring"])
    tags = project.read_dataset("tags").set_index("image")
    assert list(tags.index) == ["red.png", "green.png"]  # only the partition DSS read; broken.png rejected
    assert tags["type"].to_dict() == {"red.png": "red-dress", "green.png": "green-skirt"}
    assert tags["colours"].to_dict() == {"red.png": "red", "green.png": "green"}
    assert [bool(v) for v in tags["type_disagrees"]] == [False, True]
    rejected = project.read_dataset("rejected")
    assert rejected["image"].tolist() == ["broken.png"]
    root = storage.folder_files_dir(project.root, project.project_key, "summary")
    summary = json.loads((root / "summary.json").read_text())
    assert summary["models"]["type"]["disagreements"] == 1 and summary["models"]["type"]["classes"]["green-skirt"] == 1
    assert "1 disagree with the manifest" in done.stderr  # the summary is in the run's log too


def test_recipe_votes_per_product_over_both_partitions(project):
    run(project, {"products": True, "threshold": 0.5}, ["spring", "autumn"])
    tags = project.read_dataset("tags").set_index("product_id")
    assert sorted(tags.index) == ["p1", "p2", "p4"]
    assert tags.loc["p1", "type"] == "red-dress" and int(tags.loc["p1", "views"]) == 1  # the purple view 3 does not vote
    assert tags.loc["p4", "colours"] == "blue"


def test_recipe_refuses_a_bad_threshold_in_one_line(project):
    done = run(project, {"threshold": 1.5}, ["spring"], check=False)
    assert done.returncode != 0
    assert "threshold" in done.stderr and "1.5" in done.stderr
