"""Tests for street2shop.segmentation.garment: box sources, GrabCut, degenerate pictures and cut-outs."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from street2shop.errors import InvalidParameter
from street2shop.segmentation.garment import (
    apply_mask,
    crop_to_garment,
    garment_transform,
    segment_and_crop,
    segment_garment,
)
from street2shop.segmentation.job import segment_images
from street2shop.storage.local import LocalImageStore
from street2shop.storage.stores import ImageSource
from street2shop.segmentation.params import FLAGS, SegmentParams
from garment_pictures import clutter, garment_mask, iou, paint, white

def check_valid(seg, height: int, width: int) -> None:
    assert seg.mask.shape == (height, width) and seg.mask.dtype == np.uint8
    assert set(np.unique(seg.mask)) <= {0, 255}
    assert seg.method in ("model", "border", "centre", "whole")
    assert all(flag in FLAGS for flag in seg.flags)
    assert seg.area_fraction == pytest.approx(np.count_nonzero(seg.mask) / max(1, height * width))


def test_product_shot_on_white_is_cut_out_from_the_border():
    truth = garment_mask(300, 240)
    picture = paint(white(300, 240), truth, (200, 40, 40))
    seg = segment_garment(picture)
    check_valid(seg, 300, 240)
    assert seg.method == "border"
    assert iou(seg.mask, truth) >= 0.95
    ys, xs = np.nonzero(truth)
    assert np.allclose(seg.box, (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1), atol=4)


def test_off_centre_garment_on_grey_jpeg_is_found_where_it_is():
    # The centre prior would miss it: only the border's background estimate finds a garment in a corner.
    truth = garment_mask(400, 600, centre=(0.22, 0.3), scale=0.5)
    picture = paint(np.full((400, 600, 3), 235, np.uint8), truth, (40, 90, 160))
    picture = cv2.imdecode(cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, 70])[1], cv2.IMREAD_COLOR)
    seg = segment_garment(picture)
    assert seg.method == "border"
    assert iou(seg.mask, truth) >= 0.93
    assert seg.box[2] < 300 and seg.box[3] < 250


def test_large_picture_is_segmented_at_work_size_and_agrees_with_full_resolution():
    truth = garment_mask(520, 400)
    picture = paint(white(520, 400), truth, (30, 150, 60))
    fast = segment_garment(picture, params=SegmentParams(work_size=128))
    full = segment_garment(picture, params=SegmentParams(work_size=1024))
    assert fast.mask.shape == (520, 400)
    assert iou(fast.mask, full.mask) >= 0.95
    assert iou(fast.mask, truth) >= 0.95


def test_garment_on_clutter_uses_the_centre_prior():
    height, width = 320, 260
    truth = garment_mask(height, width)
    picture = paint(clutter(height, width, palette=[(20, 160, 40), (230, 220, 40), (40, 40, 40)]), truth, (200, 30, 160))
    seg = segment_garment(picture)
    check_valid(seg, height, width)
    assert seg.method == "centre"
    assert iou(seg.mask, truth) >= 0.7


class StubModel:
    """A mask model returning a fixed probability map (or raising)."""

    def __init__(self, probability=None, error: Exception | None = None, threshold: float = 0.5):
        self.probability = probability
        self.error = error
        self.threshold = threshold
        self.calls = 0

    def predict(self, rgb):
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.probability


def ragged(mask: np.ndarray, seed: int = 1) -> np.ndarray:
    """A ragged model output: the mask eroded, with holes and stray blobs, as probabilities."""
    rng = np.random.default_rng(seed)
    out = cv2.erode(mask, np.ones((9, 9), np.uint8)).astype(np.float32) / 255.0
    out *= rng.random(out.shape) > 0.15
    return np.clip(out * 0.9 + 0.05, 0, 1)


def test_model_box_is_used_and_seeds_grabcut():
    height, width = 300, 400
    left = garment_mask(height, width, centre=(0.25, 0.5), scale=0.6)
    right = garment_mask(height, width, centre=(0.75, 0.5), scale=0.6)
    picture = paint(paint(white(height, width), left, (200, 40, 40)), right, (40, 40, 200), seed=2)
    model = StubModel(ragged(right))
    seg = segment_garment(picture, mask_model=model)
    assert model.calls == 1
    assert seg.method == "model"
    assert iou(seg.mask, right) >= 0.9
    assert seg.box[0] >= width // 2
    without = segment_garment(picture)
    assert without.method == "border" and without.box[0] < width // 2


def test_model_that_finds_nothing_or_fails_falls_back_to_the_border():
    truth = garment_mask(200, 200)
    picture = paint(white(200, 200), truth, (90, 60, 30))
    empty = segment_garment(picture, mask_model=StubModel(np.zeros((50, 50), np.float32)))
    assert empty.method == "border" and "model_empty" in empty.flags
    failed = segment_garment(picture, mask_model=StubModel(error=RuntimeError("boom")))
    assert failed.method == "border" and "model_failed" in failed.flags
    wrong_shape = segment_garment(picture, mask_model=StubModel(np.zeros((2, 3, 4), np.float32)))
    assert wrong_shape.method == "border" and "model_failed" in wrong_shape.flags
    assert iou(failed.mask, truth) >= 0.95


def test_model_box_covering_the_picture_keeps_the_whole_picture():
    picture = paint(white(120, 100), garment_mask(120, 100), (10, 200, 10))
    seg = segment_garment(picture, mask_model=StubModel(np.ones((120, 100), np.float32)))
    check_valid(seg, 120, 100)
    assert seg.method == "whole" and seg.flags == ("box_covers_image",)
    assert seg.mask.min() == 255 and seg.box == (0, 0, 100, 120)


def stripes(height: int, width: int) -> np.ndarray:
    picture = np.zeros((height, width, 3), np.uint8)
    for x in range(0, width, 16):
        picture[:, x : x + 8] = (200, 30, 30)
        picture[:, x + 8 : x + 16] = (30, 30, 200)
    return picture


@pytest.mark.parametrize(
    ("picture", "flag"),
    [
        (np.zeros((0, 0, 3), np.uint8), "empty_image"),
        (np.full((1, 1, 3), 90, np.uint8), "tiny_image"),
        (np.random.default_rng(0).integers(0, 255, (5, 5, 3), dtype=np.uint8), "tiny_image"),
        (white(200, 150), "blank_image"),
        (np.zeros((100, 100, 3), np.uint8), "blank_image"),
        (np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8), ("low_contrast", "grabcut_empty")),
        (stripes(160, 160), ("low_contrast", "grabcut_empty")),
        (np.full((64, 300, 3), (20, 120, 200), np.uint8), "blank_image"),
    ],
    ids=["0x0", "1x1", "5x5", "blank-white", "all-black", "noise", "garment-fills-frame", "flat-colour"],
)
def test_degenerate_pictures_give_the_whole_picture_with_a_flag(picture, flag):
    seg = segment_garment(picture)
    check_valid(seg, *picture.shape[:2])
    assert seg.method == "whole"
    assert set(seg.flags) & ({flag} if isinstance(flag, str) else set(flag))
    assert (seg.mask == 255).all()
    assert seg.box == (0, 0, picture.shape[1], picture.shape[0])


def test_plain_border_with_nothing_on_it_keeps_the_whole_picture():
    picture = white(100, 100)
    picture[10:90, 50:52] = 0  # a thin line: removed as a speck, not a garment
    seg = segment_garment(picture)
    assert seg.method == "whole" and "no_foreground" in seg.flags


def test_input_variants_and_bad_inputs():
    truth = garment_mask(150, 150)
    gray = paint(white(150, 150), truth, (60, 60, 60))[:, :, 0]
    assert segment_garment(gray).method == "border"
    rgba = np.dstack([paint(white(150, 150), truth, (60, 60, 200)), np.full((150, 150), 255, np.uint8)])
    assert iou(segment_garment(rgba).mask, truth) >= 0.9
    with pytest.raises(InvalidParameter):
        segment_garment(np.zeros((50, 50, 3), np.float32))
    with pytest.raises(InvalidParameter):
        segment_garment([[1, 2], [3, 4]])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "kwargs", [{"margin": -0.1}, {"margin": 2}, {"work_size": 8}, {"iterations": 0}, {"work_size": 256.5}, {"centre_box": (0.5,)}]
)
def test_bad_params_are_refused(kwargs):
    with pytest.raises(InvalidParameter):
        SegmentParams(**kwargs)


def test_params_round_trip_through_json():
    import json

    params = SegmentParams(margin=0.2, work_size=200, centre_box=(0.5, 0.7))
    again = SegmentParams.from_dict(json.loads(json.dumps(params.as_dict())))
    assert again == params and again.centre_box == (0.5, 0.7)
    with pytest.raises(InvalidParameter, match="unknown"):
        SegmentParams.from_dict({"margin": 0.1, "colour": "red"})


def test_apply_mask_and_crop_to_garment():
    truth = garment_mask(200, 160)
    picture = paint(clutter(200, 160), truth, (250, 120, 0))
    seg = segment_garment(picture, mask_model=StubModel(truth.astype(np.float32) / 255))
    on_white = apply_mask(picture, seg.mask)
    assert on_white.shape == picture.shape
    assert (on_white[seg.mask == 0] == 255).all()
    assert (on_white[seg.mask > 0] == picture[seg.mask > 0]).all()
    transparent = apply_mask(picture, seg.mask, background="transparent")
    assert transparent.shape == (200, 160, 4)
    assert (transparent[:, :, 3] == seg.mask).all()
    with pytest.raises(InvalidParameter):
        apply_mask(picture, seg.mask, background="pink")
    with pytest.raises(InvalidParameter):
        apply_mask(picture, seg.mask[:10])

    crop = crop_to_garment(picture, seg, pad=0.0)
    x0, y0, x1, y1 = seg.box
    assert crop.shape == (y1 - y0, x1 - x0, 3)
    padded = crop_to_garment(picture, seg, pad=0.1)
    assert padded.shape[0] > crop.shape[0] and padded.shape[1] > crop.shape[1]
    assert crop_to_garment(picture, seg, background="transparent").shape[2] == 4
    assert np.array_equal(segment_and_crop(picture, mask_model=StubModel(truth.astype(np.float32) / 255)), crop_to_garment(picture, seg))
    whole = segment_garment(white(80, 80))
    assert crop_to_garment(white(80, 80), whole).shape == (80, 80, 3)


def test_garment_transform_is_a_pixels_to_pixels_function():
    truth = garment_mask(180, 180)
    picture = paint(white(180, 180), truth, (0, 0, 0))
    transform = garment_transform(params=SegmentParams(margin=0.05), mask_model=StubModel(truth.astype(np.float32) / 255))
    out = transform(picture)
    ys, xs = np.nonzero(truth)
    assert out.shape[0] == pytest.approx((ys.max() - ys.min() + 1) * 1.1, abs=6)
    assert out.shape[1] == pytest.approx((xs.max() - xs.min() + 1) * 1.1, abs=6)


def test_segment_images_writes_outputs_and_reports_bad_rows(tmp_path):
    images = tmp_path / "images"
    (images / "shop").mkdir(parents=True)
    truth = garment_mask(160, 120)
    cv2.imwrite(str(images / "shop" / "a.png"), paint(white(160, 120), truth, (30, 30, 220)))
    cv2.imwrite(str(images / "b.jpg"), white(50, 50))
    (images / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    manifest = pd.DataFrame({"image": ["shop/a.png", "b.jpg", "broken.jpg", "missing.png", "", "b.jpg"]})
    report = segment_images(ImageSource(LocalImageStore(images)), manifest, tmp_path / "out", background="transparent")

    assert list(report.boxes["image"]) == ["shop/a.png", "b.jpg"]
    assert list(report.boxes["method"]) == ["border", "whole"]
    assert report.boxes.loc[1, "flags"] == "blank_image"
    assert list(report.errors["row"]) == [2, 3, 4, 5]
    reasons = list(report.errors["reason"])
    assert "corrupt" in reasons[0] or "not an image" in reasons[0]
    assert "missing" in reasons[1] and "empty image" in reasons[2] and "duplicate of row 1" in reasons[3]

    out = tmp_path / "out"
    rgba = cv2.imread(str(out / "segmented" / "shop" / "a.png"), cv2.IMREAD_UNCHANGED)
    assert rgba.shape == (160, 120, 4)
    assert iou(rgba[:, :, 3], truth) >= 0.95
    mask = cv2.imread(str(out / "masks" / "shop" / "a.png"), cv2.IMREAD_GRAYSCALE)
    assert iou(mask, truth) >= 0.95
    boxes = pd.read_csv(out / "boxes.csv")
    assert list(boxes["segmented"]) == ["segmented/shop/a.png", "segmented/b.png"]
    assert len(pd.read_csv(out / "errors.csv")) == 4
    assert report.summary()["segmented"] == 2 and report.summary()["methods"] == {"border": 1, "whole": 1}
