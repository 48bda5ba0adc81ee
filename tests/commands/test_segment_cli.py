"""Tests for ``street2shop segment``: the command line end to end on a folder of pictures and a manifest."""

from __future__ import annotations

import json

import cv2
import pandas as pd
import pytest

from street2shop.cli import main
from street2shop.segmentation.mask_model import save_mask_model
from garment_pictures import build_red_model, garment_mask, iou, paint, red_on_clutter, white


@pytest.fixture
def catalogue(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    truths = {}
    for index, colour in enumerate([(200, 30, 30), (30, 30, 200)]):
        truth = garment_mask(200, 160, centre=(0.5, 0.5 + 0.05 * index))
        cv2.imwrite(str(images / f"shop_{index}.jpg"), paint(white(200, 160), truth, colour)[:, :, ::-1])
        truths[f"shop_{index}.jpg"] = truth
    picture, truth = red_on_clutter()
    cv2.imwrite(str(images / "user.png"), picture[:, :, ::-1])
    truths["user.png"] = truth
    (images / "truncated.jpg").write_bytes(cv2.imencode(".jpg", white(100, 100))[1].tobytes()[:200])
    manifest = tmp_path / "manifest.csv"
    pd.DataFrame(
        {
            "image": ["shop_0.jpg", "truncated.jpg", "shop_1.jpg", "user.png", "nowhere.jpg"],
            "product_id": ["p0", "p1", "p1", "p0", "p2"],
        }
    ).to_csv(manifest, index=False)
    return images, manifest, truths


def test_segment_writes_outputs_and_reports_bad_rows(tmp_path, catalogue, capsys):
    images, manifest, truths = catalogue
    out = tmp_path / "out"
    status = main(["segment", "--images", str(images), "--manifest", str(manifest), "--out", str(out), "--margin", "0.15"])
    captured = capsys.readouterr()
    assert status == 0
    summary = json.loads(captured.out)
    assert summary["segmented"] == 3 and summary["errors"] == 2
    assert summary["methods"] == {"border": 2, "centre": 1}
    assert "row 1 (truncated.jpg)" in captured.err and "row 4 (nowhere.jpg)" in captured.err

    boxes = pd.read_csv(out / "boxes.csv")
    assert list(boxes["image"]) == ["shop_0.jpg", "shop_1.jpg", "user.png"]
    assert {"x0", "y0", "x1", "y1", "area_fraction", "method", "flags"} <= set(boxes.columns)
    errors = pd.read_csv(out / "errors.csv")
    assert list(errors["row"]) == [1, 4]
    for name in ("shop_0", "shop_1"):
        mask = cv2.imread(str(out / "masks" / f"{name}.png"), cv2.IMREAD_GRAYSCALE)
        assert iou(mask, truths[f"{name}.jpg"]) >= 0.93
        segmented = cv2.imread(str(out / "segmented" / f"{name}.jpg"))
        assert segmented.shape == (200, 160, 3)
        assert segmented[mask == 0].mean() >= 250  # background turned white (JPEG rings a little at edges)


def test_segment_with_a_user_model_and_transparent_background(tmp_path, catalogue, capsys):
    images, manifest, truths = catalogue
    model_dir = save_mask_model(build_red_model(), tmp_path / "model")
    out = tmp_path / "out"
    argv = ["segment", "--images", str(images), "--manifest", str(manifest), "--out", str(out),
            "--model", str(model_dir), "--background", "transparent", "--work-size", "128"]
    assert main(argv) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["methods"]["model"] == 2  # the two red garments; the blue one falls back to the border
    boxes = pd.read_csv(out / "boxes.csv").set_index("image")
    assert boxes.loc["user.png", "method"] == "model"
    assert boxes.loc["shop_1.jpg", "method"] == "border" and "model_empty" in boxes.loc["shop_1.jpg", "flags"]
    rgba = cv2.imread(str(out / "segmented" / "user.png"), cv2.IMREAD_UNCHANGED)
    assert rgba.shape[2] == 4 and iou(rgba[:, :, 3], truths["user.png"]) >= 0.9


def test_segment_replaces_the_previous_output_whole(tmp_path, catalogue, capsys):
    images, manifest, _ = catalogue
    out = tmp_path / "out"
    (out / "masks").mkdir(parents=True)
    (out / "masks" / "stale.png").write_bytes(b"old")
    assert main(["segment", "--images", str(images), "--manifest", str(manifest), "--out", str(out)]) == 0
    assert not (out / "masks" / "stale.png").exists()
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith("out")) == ["out"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--margin", "3"], "margin"),
        (["--work-size", "4"], "work_size"),
        (["--model", "/nonexistent/model"], "mask_model.keras not found"),
    ],
)
def test_bad_parameters_exit_with_one_line(tmp_path, catalogue, capsys, extra, message):
    images, manifest, _ = catalogue
    status = main(["segment", "--images", str(images), "--manifest", str(manifest), "--out", str(tmp_path / "o"), *extra])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_manifest_without_image_column_is_refused(tmp_path, catalogue, capsys):
    images, _, _ = catalogue
    manifest = tmp_path / "bad.csv"
    pd.DataFrame({"picture": ["shop_0.jpg"]}).to_csv(manifest, index=False)
    status = main(["segment", "--images", str(images), "--manifest", str(manifest), "--out", str(tmp_path / "o")])
    assert status == 2
    assert "image" in capsys.readouterr().err
