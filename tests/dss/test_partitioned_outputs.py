"""A partitioned output folder: each build writes and prunes inside its own partition only."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dss_harness import DOUBLE_DIR, DSSProject, InProcessDouble, storage
from street2shop.images.decode import encode_jpeg

CONFIG = {"background": "white", "margin": 0.1, "work_size": 128, "iterations": 2, "max_pixels": 10_000_000}
PATTERN = "runs/%{season}/.*"  # the partition's directory is not its id: it must come from the folder


def _picture(colour) -> bytes:
    shop = np.full((120, 100, 3), 255, np.uint8)
    shop[20:100, 20:80] = colour
    return encode_jpeg(shop)


def _snapshot(project: DSSProject, folder: str, partition: str) -> dict[str, bytes]:
    return {rel: path.read_bytes() for rel, path in project.folder_files(folder, partition).items()}


def _build(project: DSSProject, season: str) -> None:
    project.run_recipe(
        "street2shop-segment",
        inputs={"manifest": ["manifest"], "images": ["pictures"]},
        outputs={"segmented": ["segmented"], "boxes": ["boxes"], "errors": ["rejected"]},
        config=CONFIG, write_partition=season,
    )


@pytest.fixture()
def project(tmp_path):
    project = DSSProject(tmp_path / "project")
    project.add_folder("pictures", files={"a.jpg": _picture((30, 60, 200)), "b.jpg": _picture((200, 60, 30))})
    project.add_dataset("manifest", pd.DataFrame({"image": ["a.jpg", "b.jpg"], "product_id": ["a", "b"]}))
    project.add_folder("segmented", partitioning_dimension="season", file_path_pattern=PATTERN)
    project.add_dataset("boxes")
    project.add_dataset("rejected")
    return project


def test_building_one_partition_leaves_the_other_byte_for_byte(project):
    _build(project, "spring")
    spring = _snapshot(project, "segmented", "spring")
    pointer = json.loads(spring["street2shop-current.json"])
    assert any(rel.startswith(pointer["current"] + "/segmented/") for rel in spring)
    _build(project, "autumn")
    _build(project, "autumn")  # a rebuild prunes autumn's older version, inside autumn only
    assert _snapshot(project, "segmented", "spring") == spring
    autumn = _snapshot(project, "segmented", "autumn")
    versions = {rel.split("/", 1)[0] for rel in autumn if rel != "street2shop-current.json"}
    assert versions == {json.loads(autumn["street2shop-current.json"])["current"]}
    root = storage.folder_files_dir(project.root, project.project_key, "segmented")
    assert sorted(p.name for p in root.iterdir()) == ["runs"]  # nothing written at the folder's root
    assert sorted(p.name for p in (root / "runs").iterdir()) == ["autumn", "spring"]


def test_a_downstream_reader_sees_the_partition_it_reads(project, tmp_path):
    _build(project, "spring")
    _build(project, "autumn")
    from street2shop.storage.published import open_published

    run_dir = tmp_path / "reader"
    run_dir.mkdir()
    flow = {"in": [{"role": "x", "type": "MANAGED_FOLDER", "fullName": "TESTPROJ.segmented", "smartName": "segmented",
                    "boxLabel": "segmented", "partitions": ["autumn"]}], "out": []}
    with InProcessDouble(project._base_env(project._spec(run_dir, flow=flow)), [str(DOUBLE_DIR)], tmp_path):
        import dataiku

        published = open_published(dataiku.Folder("segmented"))
        files, version = published.list_files(), published.version
        first = published.read_bytes(files[0])
    autumn = _snapshot(project, "segmented", "autumn")
    assert version == json.loads(autumn["street2shop-current.json"])["current"]
    assert first == autumn[f"{version}/{files[0]}"] and "street2shop-current.json" not in files
