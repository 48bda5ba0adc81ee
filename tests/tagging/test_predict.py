"""`street2shop predict` and ``tagging.predict``: labels per picture or product, scores, disagreements, bad rows, summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cli_runner import street2shop
from colour_models import colour_model_folder, solid
from street2shop.images.decode import encode_png
from street2shop.tagging.predict import Tagger, disagrees, tag_catalogue
from tiny_models import coloured_picture

TYPES = {"red-dress": (220, 20, 20), "green-skirt": (20, 200, 40), "blue-coat": (30, 40, 210)}
PURPLE = (230, 20, 220)


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    """Pictures of known colours, a manifest with two wrong catalogue labels, one missing, and bad rows; two models."""
    root = tmp_path_factory.mktemp("predict")
    images = root / "images"
    images.mkdir()
    pictures = {
        "a1.png": ((220, 20, 20), "a", 1, "red-dress", "red"),
        "a2.png": ((215, 25, 25), "a", 2, "red-dress", "red"),
        "a3.png": ((30, 40, 210), "a", 3, "red-dress", "red"),  # the back of product a, drawn blue: views 1-2 outvote it
        "b1.png": ((20, 200, 40), "b", 1, "blue-coat", "green"),  # wrong catalogue type
        "c1.png": ((30, 40, 210), "c", 1, "blue-coat", "red"),  # wrong catalogue colour
        "d1.png": (PURPLE, "d", 1, "", "red|blue"),  # type missing from the catalogue
        "e3.png": ((20, 200, 40), "e", 3, "green-skirt", "green"),  # only a view 3: it votes alone
    }
    rows = []
    for name, (rgb, product, view, kind, colours) in pictures.items():
        (images / name).write_bytes(encode_png(solid(rgb)))
        rows.append({"image": name, "product_id": product, "view": view, "type": kind, "colours": colours})
    (images / "broken.png").write_bytes(encode_png(solid((1, 2, 3)))[:40])
    rows += [
        {"image": "broken.png", "product_id": "f", "view": 1, "type": "red-dress", "colours": "red"},
        {"image": "absent.png", "product_id": "g", "view": 1, "type": "red-dress", "colours": "red"},
        {"image": "", "product_id": "h", "view": 1, "type": "red-dress", "colours": "red"},
    ]
    manifest = root / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    types = colour_model_folder(root / "type-model", label="type", classes={**TYPES, "white": (255, 255, 255)})
    colours = colour_model_folder(root / "colours-model", label="colours", multilabel=True)
    return root, images, manifest, types, colours


def test_one_row_per_picture_with_labels_scores_disagreements_errors_and_summary(catalogue):
    root, images, manifest, types, colours = catalogue
    out = root / "tags.csv"
    done = street2shop("predict", "--models", types, colours, "--images", images, "--manifest", manifest, "--out", out, "--disagreements")
    printed = json.loads(done.stdout)
    tags = pd.read_csv(out, dtype=str, keep_default_na=False).set_index("image")
    assert list(tags.index) == ["a1.png", "a2.png", "a3.png", "b1.png", "c1.png", "d1.png", "e3.png"]
    assert tags["type"].to_dict() == {
        "a1.png": "red-dress", "a2.png": "red-dress", "a3.png": "blue-coat", "b1.png": "green-skirt",
        "c1.png": "blue-coat", "d1.png": "red-dress", "e3.png": "green-skirt",
    }
    assert tags.loc["d1.png", "colours"] == "red|blue"  # both channels above the threshold, best first
    assert tags.loc["c1.png", "colours"] == "blue"
    scores = [float(s) for s in tags.loc["d1.png", "colours_score"].split("|")]
    assert len(scores) == 2 and all(0.5 <= s <= 1 for s in scores)
    assert 0.5 < float(tags.loc["a1.png", "type_score"]) <= 1
    assert tags["type_disagrees"].to_dict() == {
        "a1.png": "False", "a2.png": "False", "a3.png": "True", "b1.png": "True", "c1.png": "False",
        "d1.png": "False", "e3.png": "False",  # d1's type is missing in the catalogue: not a disagreement
    }
    assert tags.loc["b1.png", "type_manifest"] == "blue-coat"
    assert set(tags.index[tags["colours_disagrees"] == "True"]) == {"a3.png", "c1.png"}
    errors = pd.read_csv(printed["errors_file"], dtype=str, keep_default_na=False)
    assert dict(zip(errors["image"], errors["row"])) == {"broken.png": "7", "absent.png": "8", "": "9"}
    summary = json.loads(Path(printed["summary_file"]).read_text())
    assert summary == json.loads((root / "tags-summary.json").read_text())
    assert summary["rows"] == 7 and summary["errors"] == 3 and summary["per"] == "picture" and summary["segment"] is None
    assert summary["models"]["type"]["classes"] == {"red-dress": 3, "green-skirt": 2, "blue-coat": 2, "white": 0}
    assert summary["models"]["type"]["disagreements"] == 2 and summary["models"]["type"]["missing_in_manifest"] == 1
    assert summary["models"]["colours"]["classes"] == {"red": 3, "green": 2, "blue": 3}
    assert printed["disagreements"] == {"type": 2, "colours": 2}


def test_products_vote_over_views_one_and_two(catalogue):
    root, images, manifest, types, colours = catalogue
    out = root / "products.parquet"
    street2shop("predict", "--models", types, colours, "--images", images, "--manifest", manifest, "--out", out, "--products", "--disagreements")
    tags = pd.read_parquet(out).set_index("product_id")
    assert list(tags.index) == ["a", "b", "c", "d", "e"]
    assert tags.loc["a", "type"] == "red-dress" and tags.loc["a", "views"] == 2  # the blue back (view 3) does not vote
    assert not tags.loc["a", "type_disagrees"] and tags.loc["b", "type_disagrees"]
    assert tags.loc["e", "views"] == 1 and tags.loc["e", "type"] == "green-skirt"  # no view 1 or 2: all its views vote
    assert tags.loc["a", "image"] == "a1.png"


def test_threshold_changes_what_a_multilabel_model_keeps(catalogue):
    root, images, manifest, _, colours = catalogue
    strict = tag_catalogue(manifest=manifest, images=images, models=[colours], threshold=0.9999999)
    loose = tag_catalogue(manifest=manifest, images=images, models=[colours])
    assert loose.tags.set_index("image").loc["d1.png", "colours"] == "red|blue"
    assert set(strict.tags["colours"]) == {""}  # nothing reaches it
    assert strict.summary["models"]["colours"]["untagged"] == 7 and strict.summary["models"]["colours"]["threshold"] == 0.9999999


def test_segment_gives_the_cut_out_garment_to_a_model_trained_on_garments(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (images / "red.png").write_bytes(encode_png(coloured_picture((220, 20, 20), size=(160, 120))))
    pd.DataFrame({"image": ["red.png"], "product_id": ["p"]}).to_csv(tmp_path / "m.csv", index=False)
    classes = {"red-dress": (220, 20, 20), "white": (255, 255, 255)}
    record = {"margin": 0.1}
    whole = colour_model_folder(tmp_path / "whole", label="type", classes=classes)
    garment = colour_model_folder(tmp_path / "garment", label="type", classes=classes, segment=record)
    seen_whole = tag_catalogue(manifest=tmp_path / "m.csv", images=images, models=[whole], segment=True)
    seen_cut = tag_catalogue(manifest=tmp_path / "m.csv", images=images, models=[garment], segment=True)
    assert seen_whole.tags["type"].tolist() == ["white"]  # a model trained on whole pictures still sees mostly white
    assert seen_cut.tags["type"].tolist() == ["red-dress"]  # the cut-out is the garment
    assert seen_cut.summary["segment"]["margin"] == 0.1


def test_disagreement_rules():
    assert disagrees("red-dress", "Red-Dress ", multilabel=False) is False
    assert disagrees("red", "", multilabel=False) is False
    assert disagrees("red|blue", "blue|red", multilabel=True) is False
    assert disagrees("red", "blue|red", multilabel=True) is True


def test_bad_input_is_one_line_and_status_2(catalogue, tmp_path):
    root, images, manifest, types, _ = catalogue
    from street2shop.models.encoder import save_encoder
    from tiny_models import tiny_encoder

    save_encoder(tiny_encoder(), tmp_path / "encoder")
    cases = {
        "not an attribute model": ["--models", tmp_path / "encoder", "--out", tmp_path / "t.csv"],
        "threshold must be in (0, 1]": ["--models", types, "--out", tmp_path / "t.csv", "--threshold", "1.5"],
        "give a .csv or .parquet": ["--models", types, "--out", tmp_path / "t.txt"],
        "two models predict the label column 'type'": ["--models", types, types, "--out", tmp_path / "t.csv"],
        "is not a trained model folder": ["--models", tmp_path, "--out", tmp_path / "t.csv"],
    }
    for message, args in cases.items():
        done = street2shop("predict", "--images", images, "--manifest", manifest, *args, check=False)
        assert done.returncode == 2, (message, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (message, done.stderr)
    assert not (tmp_path / "t.csv").exists()


def test_cells_of_a_tagger_follow_its_threshold(catalogue):
    _, _, _, _, colours = catalogue
    from street2shop.tagging.predict import load_taggers

    tagger = load_taggers([colours])[0]
    labels, scores = Tagger(tagger.encoder, "colours", 0.6).cells(np.array([[0.7, 0.2, 0.65], [0.1, 0.1, 0.1]]))
    assert labels == ["red|blue", ""] and scores == ["0.7000|0.6500", ""]
