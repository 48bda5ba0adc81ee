"""Integer columns with empty cells, read as DSS's ``dataiku`` package reads them (before and after DSS 13)."""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest

from dss_harness import DOUBLE_DIR, DSSProject, InProcessDouble
from street2shop.dss.frames import read_frame
from street2shop.images.decode import encode_jpeg

MANIFEST = pd.DataFrame({
    "image": ["a.jpg", "b.jpg", "c.jpg"],
    "product_id": ["007", "008", "009"],
    "view": pd.array([1, None, 2], dtype="Int64"),
    "split": ["train", None, "val"],
})


def _open(project: DSSProject, tmp_path, version: str):
    project.dss_version = version
    run_dir = tmp_path / f"run-{version}"
    run_dir.mkdir()
    return InProcessDouble(project._base_env(project._spec(run_dir)), [str(DOUBLE_DIR)], tmp_path)


@pytest.mark.parametrize("version", ["14.0", "12.2"])
def test_the_double_fails_on_an_empty_integer_cell_as_dss_does_and_read_frame_does_not(tmp_path, version):
    project = DSSProject(tmp_path / "project")
    project.add_dataset("manifest", MANIFEST)
    assert [c["type"] for c in project.dataset_schema("manifest")] == ["string", "string", "bigint", "string"]
    with _open(project, tmp_path, version):
        import dataiku

        dataset = dataiku.Dataset("manifest")
        nullable = "use_nullable_integers" in inspect.signature(dataset.get_dataframe).parameters
        with pytest.raises(ValueError, match="Integer column has NA values"):
            dataset.get_dataframe(infer_with_pandas=False, parse_dates=False)
        if nullable:
            sized = dataset.get_dataframe(infer_with_pandas=False, use_nullable_integers=True)
            assert str(sized["view"].dtype) == "Int64" and sized["view"].isna().tolist() == [False, True, False]
        frame = read_frame(dataset)
    assert nullable == (version == "14.0")
    assert frame.columns.tolist() == ["image", "product_id", "view", "split"]
    assert frame["product_id"].tolist() == ["007", "008", "009"]  # strings stay strings (no pandas inference)
    assert str(frame["view"].dtype) == "Int64" and frame["view"].tolist()[0] == 1 and frame["view"].isna().tolist() == [False, True, False]
    assert frame["split"].isna().tolist() == [False, True, False]


@pytest.mark.parametrize("version", ["14.0", "12.2"])
def test_a_recipe_reads_a_manifest_with_an_empty_view_cell(tmp_path, version):
    shop = np.full((120, 100, 3), 255, np.uint8)
    shop[20:100, 20:80] = (30, 60, 200)
    project = DSSProject(tmp_path / "project")
    project.dss_version = version
    project.add_folder("pictures", files={name: encode_jpeg(shop) for name in MANIFEST["image"]})
    project.add_dataset("manifest", MANIFEST)
    project.add_folder("segmented")
    project.add_dataset("boxes")
    project.add_dataset("rejected")
    project.run_recipe(
        "street2shop-segment",
        inputs={"manifest": ["manifest"], "images": ["pictures"]},
        outputs={"segmented": ["segmented"], "boxes": ["boxes"], "errors": ["rejected"]},
        config={"background": "white", "margin": 0.1, "work_size": 128, "iterations": 2, "max_pixels": 10_000_000},
    )
    assert sorted(project.read_dataset("boxes")["image"]) == ["a.jpg", "b.jpg", "c.jpg"]
