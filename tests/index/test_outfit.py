"""One query, several garments: a photo of a person gives the products for each garment worn (real photos).

The catalogue holds, as product shots on white, the T-shirt and the jeans the man on the left wears
in opencv-doc's ``basketball2.png``, the footballer's jersey and shorts, and objects. Queried with
the other frame, ``basketball1.png``, his top finds the T-shirt and his bottom the jeans; a photo
without a person keeps the single answer, in today's shape.
"""

from __future__ import annotations

import json

import cv2
import pandas as pd
import pytest

from cli_runner import street2shop
from real_photos import photo_path, read_rgb
from street2shop.index.search import SearchIndex
from street2shop.segmentation.garment_parts import segment_parts
from street2shop.segmentation.person import PersonModel
from street2shop.segmentation.person_files import ENV_VAR

SHOP = {  # product id -> (photo, part) cut out as its shop picture
    "tshirt": ("basketball2.png", "top"),
    "jeans": ("basketball2.png", "bottom"),
    "jersey": ("messi5.jpg", "top"),
    "shorts-and-socks": ("messi5.jpg", "bottom"),
}
OBJECTS = ("apple.jpg", "orange.jpg", "butterfly.jpg")


@pytest.fixture(scope="module")
def person_model() -> PersonModel:
    return PersonModel()


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory, person_model):
    root = tmp_path_factory.mktemp("outfit")
    images = root / "images"
    images.mkdir()
    rows = []
    for product, (photo, part) in SHOP.items():
        rgb = read_rgb(photo)
        garment = {g.part: g for g in segment_parts(rgb, person_model.find(rgb))}[part]
        cv2.imwrite(str(images / f"{product}.png"), cv2.cvtColor(garment.crop(rgb), cv2.COLOR_RGB2BGR))
        rows.append({"image": f"{product}.png", "product_id": product, "type": part})
    for name in OBJECTS:
        (images / name).write_bytes(photo_path(name).read_bytes())
        rows.append({"image": name, "product_id": name.split(".")[0], "type": "object"})
    pd.DataFrame(rows).to_csv(root / "catalog.csv", index=False)
    street2shop("embed", "--images", images, "--manifest", root / "catalog.csv", "--out", root / "index")
    return root / "index"


def test_each_garment_worn_finds_its_product(index_dir, person_model):
    index = SearchIndex.load(index_dir)
    answer = index.answer(photo_path("basketball1.png").read_bytes(), k=3, person_model=person_model)
    assert answer.results  # the whole picture's answer is still there
    outfit = answer.outfit
    assert outfit is not None and outfit.person_score >= 0.5
    by_part = {garment.part: garment for garment in outfit.garments}
    assert list(by_part) == ["top", "bottom", "full"]
    assert by_part["top"].results[0]["product_id"] == "tshirt", by_part["top"].results
    assert by_part["bottom"].results[0]["product_id"] == "jeans", by_part["bottom"].results
    x0, y0, x1, y1 = outfit.person_box
    for garment in outfit.garments:
        gx0, gy0, gx1, gy1 = garment.box
        assert x0 <= gx0 < gx1 <= x1 and y0 <= gy0 < gy1 <= y1
    assert set(answer.timing_ms) >= {"person", "garments"}


def test_a_filter_applies_to_every_garment(index_dir, person_model):
    index = SearchIndex.load(index_dir)
    answer = index.answer(photo_path("basketball1.png").read_bytes(), k=5, filters={"type": ["bottom"]}, person_model=person_model)
    for garment in answer.outfit.garments:
        assert {row["product_id"] for row in garment.results} <= {"jeans", "shorts-and-socks"}


def test_a_photo_without_a_person_keeps_the_single_answer(index_dir, person_model):
    index = SearchIndex.load(index_dir)
    answer = index.answer(photo_path("orange.jpg").read_bytes(), k=2, person_model=person_model)
    assert answer.outfit is None
    assert answer.results[0]["product_id"] == "orange"


def test_search_prints_garments_with_their_boxes_and_keeps_todays_fields(index_dir):
    done = street2shop("search", "--index", index_dir, "--image", photo_path("basketball1.png"), "-k", "2")
    answer = json.loads(done.stdout)
    assert set(answer) == {"results", "query", "garments"}
    assert set(answer["query"]) == {"attributes", "segmented", "person"}
    assert [g["part"] for g in answer["garments"]] == ["top", "bottom", "full"]
    assert answer["garments"][0]["results"][0]["product_id"] == "tshirt"
    assert all(len(g["box"]) == 4 for g in answer["garments"])

    plain = json.loads(street2shop("search", "--index", index_dir, "--image", photo_path("apple.jpg"), "-k", "2").stdout)
    assert set(plain) == {"results", "query"} and set(plain["query"]) == {"attributes", "segmented"}
    off = json.loads(street2shop("search", "--index", index_dir, "--image", photo_path("basketball1.png"), "--no-garments").stdout)
    assert "garments" not in off


def test_search_without_the_person_files_names_the_set_up(index_dir, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "nowhere"))
    done = street2shop("search", "--index", index_dir, "--image", photo_path("basketball1.png"), check=False)
    assert done.returncode == 2
    assert "make person-models" in done.stderr and "nowhere" in done.stderr
    assert done.stdout == ""


def test_boxes_are_in_the_query_pixels_for_a_jpeg_too(index_dir, person_model):
    # A JPEG query may be decoded at a reduced scale for the encoders; the person model needs, and
    # the boxes are given in, the picture's own pixels.
    index = SearchIndex.load(index_dir)
    png = index.answer(photo_path("basketball1.png").read_bytes(), k=1, person_model=person_model).outfit
    jpeg_bytes = cv2.imencode(".jpg", cv2.imread(str(photo_path("basketball1.png"))), [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
    jpeg = index.answer(jpeg_bytes, k=1, person_model=person_model).outfit
    assert jpeg is not None
    assert all(abs(a - b) <= 6 for a, b in zip(jpeg.person_box, png.person_box)), (jpeg.person_box, png.person_box)
