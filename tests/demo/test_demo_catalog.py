"""Tests of the demo catalogue generator: layout, labels, pictures, masks, duplicates, determinism, safety."""

from __future__ import annotations

import csv
import json
import re
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest

from street2shop import cli
from street2shop.demo import catalogue as demo_catalog
from street2shop.demo.catalogue import (
    DUPLICATE_COLUMNS,
    DUPLICATE_TRANSFORMS,
    MANIFEST_COLUMNS,
    SPLITS,
    make_demo_catalog,
)
from street2shop.demo.garments import COLOURS, DEMO_TYPES, GENDERS, MATERIALS, PATTERNS, GarmentSpec, render_garment
from street2shop.demo.street import make_street_photo
from street2shop.errors import InvalidParameter
from street2shop.images.decode import decode_image

# 24 products and a 25% duplicate share give 6 duplicates: one per transform.
PARAMS = dict(n_products=24, user_photos_per_product=2, image_size=96, duplicate_fraction=0.25, seed=3)


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    return make_demo_catalog(tmp_path_factory.mktemp("demo") / "catalogue", **PARAMS)


@pytest.fixture(scope="module")
def rows(catalogue):
    return read_rows(catalogue.manifest)


@pytest.fixture(scope="module")
def duplicates(catalogue):
    return read_rows(catalogue.duplicates)


def test_same_seed_gives_same_bytes_and_another_seed_differs(catalogue, tmp_path):
    again = make_demo_catalog(tmp_path / "again", **PARAMS)
    first, second = all_files(catalogue.root), all_files(again.root)
    assert first.keys() == second.keys()
    assert [name for name in first if first[name] != second[name]] == []

    other = make_demo_catalog(tmp_path / "other", **{**PARAMS, "seed": 4})
    assert other.manifest.read_bytes() != catalogue.manifest.read_bytes()
    third = all_files(other.root)
    shared = [name for name in first if name.endswith(".jpg") and name in third]
    assert shared and all(first[name] != third[name] for name in shared)


def test_layout_and_manifest_values(catalogue, rows):
    assert catalogue.images_dir == catalogue.root / "images" and catalogue.masks_dir == catalogue.root / "masks"
    with open(catalogue.manifest, newline="", encoding="utf-8") as handle:
        assert tuple(next(csv.reader(handle))) == MANIFEST_COLUMNS
    assert len({row["image"] for row in rows}) == len(rows)
    for row in rows:
        source = row["source"]
        pattern = r"shop/P\d{4}_v[12]\.jpg" if source == "shop" else r"user/P\d{4}_u\d+\.jpg"
        assert re.fullmatch(pattern, row["image"]), row["image"]
        assert row["mask"] == row["image"][:-4] + ".png"
        assert (catalogue.images_dir / row["image"]).is_file() and (catalogue.masks_dir / row["mask"]).is_file()
        assert row["type"] in DEMO_TYPES
        colours = row["colours"].split("|")
        assert 1 <= len(colours) <= 2 and len(set(colours)) == len(colours) and set(colours) <= set(COLOURS)
        assert set(row["material"].split("|")) <= set(MATERIALS)
        assert set(row["gender"].split("|")) <= set(GENDERS)
        assert row["pattern"] in PATTERNS
        assert row["split"] in SPLITS and source in ("shop", "user")
        assert int(row["view"]) >= 1 and int(row["pair_id"]) >= 1
        if len(colours) == 2:
            assert row["pattern"] != "plain"  # the second colour must show
    assert read_rows(catalogue.catalog) == [row for row in rows if row["source"] == "shop"]
    assert read_rows(catalogue.queries) == [row for row in rows if row["source"] == "user"]
    split_of = defaultdict(set)
    for row in rows:
        split_of[row["product_id"]].add(row["split"])
    assert all(len(splits) == 1 for splits in split_of.values())
    assert {split for splits in split_of.values() for split in splits} == set(SPLITS)
    assert len({row["type"] for row in rows}) >= 8
    assert catalogue.summary()["counts"]["original_products"] == PARAMS["n_products"]


def test_pictures_decode_and_masks_align(catalogue, rows, duplicates):
    retouched = {row["image_b"] for row in duplicates if row["transform"] == "retouch"}
    for row in rows:
        image = decode_image((catalogue.images_dir / row["image"]).read_bytes(), name=row["image"])
        mask = cv2.imread(str(catalogue.masks_dir / row["mask"]), cv2.IMREAD_UNCHANGED)
        assert mask.shape == image.shape[:2], row["image"]
        assert set(np.unique(mask)) <= {0, 255} and (mask == 255).mean() > 0.05, row["mask"]
        if row["source"] == "shop":
            kernel = np.ones((5, 5), np.uint8)
            inside = cv2.erode(mask, kernel) > 0
            outside = cv2.dilate(mask, kernel) == 0
            darkness = 255 - image.min(axis=2).astype(int)
            assert darkness[inside].mean() > 8, f"{row['image']}: garment is white on white"
            if row["image"] not in retouched:
                assert (image[outside].min(axis=1) >= 235).mean() > 0.98, f"{row['image']}: background is not white"


def test_user_photos_pair_with_shop_products_on_cluttered_backgrounds(catalogue, rows, duplicates):
    shop_pairs = {row["pair_id"] for row in rows if row["source"] == "shop"}
    copies = {row["product_b"] for row in duplicates}
    originals = {row["product_id"] for row in rows if row["source"] == "shop"} - copies
    per_product = defaultdict(int)
    for row in rows:
        if row["source"] != "user":
            continue
        per_product[row["product_id"]] += 1
        assert row["pair_id"] in shop_pairs and row["product_id"] in originals
        image = decode_image((catalogue.images_dir / row["image"]).read_bytes())
        mask = cv2.imread(str(catalogue.masks_dir / row["mask"]), cv2.IMREAD_UNCHANGED)
        background = image[mask == 0]
        assert (background.min(axis=1) >= 235).mean() < 0.5, f"{row['image']}: background looks like a product shot"
    assert per_product == {product: PARAMS["user_photos_per_product"] for product in originals}


def test_planted_duplicates(catalogue, rows, duplicates):
    with open(catalogue.duplicates, newline="", encoding="utf-8") as handle:
        assert tuple(next(csv.reader(handle))) == DUPLICATE_COLUMNS
    assert sorted(row["transform"] for row in duplicates) == sorted(DUPLICATE_TRANSFORMS)
    by_product = defaultdict(list)
    for row in rows:
        by_product[row["product_id"]].append(row)
    label_columns = ("type", "colours", "material", "gender", "pattern", "pair_id", "split")
    for pair in duplicates:
        original, copy = by_product[pair["product_a"]], by_product[pair["product_b"]]
        assert [row["source"] for row in copy] == ["shop"], "a planted duplicate has one shop picture only"
        assert all(copy[0][c] == original[0][c] for c in label_columns)
        a_bytes = (catalogue.images_dir / pair["image_a"]).read_bytes()
        b_bytes = (catalogue.images_dir / pair["image_b"]).read_bytes()
        a, b = decode_image(a_bytes).astype(float), decode_image(b_bytes).astype(float)
        transform = pair["transform"]
        if transform == "exact_copy":
            assert a_bytes == b_bytes
            mask_a, mask_b = (catalogue.masks_dir / pair[k].replace(".jpg", ".png") for k in ("image_a", "image_b"))
            assert mask_a.read_bytes() == mask_b.read_bytes()
            continue
        assert a_bytes != b_bytes
        if transform == "crop":
            assert b.shape[0] < a.shape[0] and b.shape[1] < a.shape[1]
            continue
        if transform == "resize":
            assert b.shape != a.shape
            b = cv2.resize(b, a.shape[1::-1], interpolation=cv2.INTER_AREA)
        if transform == "flip":
            b = b[:, ::-1]
        difference = np.abs(a - b).mean()
        assert difference < (25 if transform == "retouch" else 6), (transform, difference)


def test_distinct_products_share_every_label_yet_look_different(catalogue, rows, duplicates):
    copies = {row["product_b"] for row in duplicates}
    groups = defaultdict(list)
    for row in rows:
        if row["source"] == "shop" and row["view"] == "1" and row["product_id"] not in copies:
            groups[(row["type"], row["colours"], row["material"], row["gender"])].append(row["image"])
    twins = [images for images in groups.values() if len(images) >= 2]
    assert twins
    for images in twins:
        a, b = (decode_image((catalogue.images_dir / name).read_bytes()).astype(float) for name in images[:2])
        assert np.abs(a - b).mean() > 8


def test_colour_histogram_retrieval_is_above_chance_but_not_perfect(catalogue, rows):
    def centre_histogram(name: str) -> np.ndarray:
        image = decode_image((catalogue.images_dir / name).read_bytes())
        h, w = image.shape[:2]
        hsv = cv2.cvtColor(image[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4], cv2.COLOR_RGB2HSV)
        hist = cv2.calcHist([hsv], [0, 1, 2], None, [12, 4, 4], [0, 180, 0, 256, 0, 256]).ravel()
        return hist / hist.sum()

    gallery = [row for row in rows if row["source"] == "shop"]
    queries = [row for row in rows if row["source"] == "user"]
    g = np.stack([centre_histogram(row["image"]) for row in gallery])
    q = np.stack([centre_histogram(row["image"]) for row in queries])
    best = np.minimum(q[:, None, :], g[None, :, :]).sum(axis=2).argmax(axis=1)
    top1 = np.mean([gallery[j]["pair_id"] == query["pair_id"] for j, query in zip(best, queries)])
    chance = 1 / PARAMS["n_products"]
    assert 3 * chance < top1 < 0.9


def test_render_garment_draws_every_type_inside_the_frame():
    rng = np.random.default_rng(0)
    for garment_type in DEMO_TYPES:
        spec = demo_catalog._sample_spec(garment_type, rng)
        rgb, mask = render_garment(spec, 80, 7)
        again, _ = render_garment(spec, 80, 7)
        assert rgb.shape == (80, 80, 3) and rgb.dtype == np.uint8 and mask.shape == (80, 80)
        assert np.array_equal(rgb, again)
        assert set(np.unique(mask)) == {0, 255}
        border = np.concatenate([mask[0], mask[-1], mask[:, 0], mask[:, -1]])
        assert not border.any(), garment_type
        back, _ = render_garment(GarmentSpec(**{**spec.__dict__, "back": True}), 80, 7)
        if garment_type not in ("leggings", "skirts"):
            assert not np.array_equal(back, rgb), garment_type


def test_plain_garment_shows_its_colour():
    spec = GarmentSpec("t-shirts", ("red",), ("cotton",), ("men",), pattern="plain")
    rgb, mask = render_garment(spec, 128, 0)
    r, g, b = np.median(rgb[cv2.erode(mask, np.ones((7, 7), np.uint8)) > 0], axis=0)
    assert r > 120 and g < 70 and b < 70


def test_street_photo_moves_the_garment_and_its_mask_together():
    spec = GarmentSpec("skirts", ("blue",), ("cotton",), ("women",), width=1.0, length=3.0, flare=1.5, style="plain")
    rgb, mask = render_garment(spec, 128, 0)
    photo, photo_mask = make_street_photo(rgb, mask, 5, occlusion_probability=0.0)
    assert photo.shape == (128, 128, 3) and photo_mask.shape == (128, 128)
    assert set(np.unique(photo_mask)) == {0, 255}
    garment = photo[cv2.erode(photo_mask, np.ones((5, 5), np.uint8)) > 0].astype(float)
    background = photo[cv2.dilate(photo_mask, np.ones((5, 5), np.uint8)) == 0].astype(float)
    # The blue skirt is under the mask, and not elsewhere.
    assert (garment[:, 2] - garment[:, 0]).mean() > 40
    assert (background[:, 2] - background[:, 0]).mean() < (garment[:, 2] - garment[:, 0]).mean() - 30
    occluded_areas = [
        np.count_nonzero(make_street_photo(rgb, mask, seed, occlusion_probability=1.0)[1]) for seed in range(6)
    ]
    unoccluded_areas = [
        np.count_nonzero(make_street_photo(rgb, mask, seed, occlusion_probability=0.0)[1]) for seed in range(6)
    ]
    assert sum(o < u for o, u in zip(occluded_areas, unoccluded_areas)) >= 3


def test_refuses_to_overwrite_a_foreign_directory(tmp_path):
    foreign = tmp_path / "precious"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("do not delete")
    with pytest.raises(InvalidParameter, match="not a demo catalogue"):
        make_demo_catalog(foreign, n_products=2, user_photos_per_product=0, image_size=64)
    assert (foreign / "thesis.txt").read_text() == "do not delete"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(InvalidParameter, match="not a directory"):
        make_demo_catalog(a_file, n_products=2, image_size=64)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "precious"]


def test_replaces_an_earlier_catalogue_and_keeps_it_when_a_build_fails(tmp_path, monkeypatch):
    out = tmp_path / "demo"
    out.mkdir()  # an empty directory is fine
    make_demo_catalog(out, n_products=3, user_photos_per_product=1, image_size=64, seed=1)
    make_demo_catalog(out, n_products=4, user_photos_per_product=0, image_size=64, seed=2)
    assert len({row["product_id"] for row in read_rows(out / "catalog.csv")}) == 4
    before = all_files(out)

    def broken(root, *args):
        (root / "half-written").write_text("x")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(demo_catalog, "_build", broken)
    with pytest.raises(RuntimeError, match="disk on fire"):
        make_demo_catalog(out, n_products=5, image_size=64)
    assert all_files(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["demo"], "no temporary directory is left behind"


@pytest.mark.parametrize(
    "bad",
    [{"n_products": 0}, {"image_size": 16}, {"duplicate_fraction": 1.5}, {"user_photos_per_product": -1}, {"seed": -1}],
)
def test_rejects_bad_parameters(tmp_path, bad):
    with pytest.raises(InvalidParameter):
        make_demo_catalog(tmp_path / "x", **{"n_products": 2, "image_size": 64, **bad})
    assert not (tmp_path / "x").exists()


def test_command_line(tmp_path, capsys):
    out = tmp_path / "cli"
    arguments = ["make-demo-catalog", str(out), "--products", "5", "--user-photos", "1", "--size", "64", "--seed", "2"]
    status = cli.main(arguments)
    assert status == 0
    summary = json.loads(capsys.readouterr().out.strip())
    assert summary["original_products"] == 5 and summary["user_images"] == 5
    assert summary["shop_images"] == len(read_rows(out / "catalog.csv"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("x")
    assert cli.main(["make-demo-catalog", str(tmp_path / "other"), "--products", "2", "--size", "64"]) == 2
    assert "not a demo catalogue" in capsys.readouterr().err
