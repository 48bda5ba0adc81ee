"""`street2shop train` then `street2shop predict` on real product photos: a fast Fashion-MNIST run (bench/fashion_mnist.py is the full one)."""

from __future__ import annotations

import json

import pandas as pd

import fashion_mnist as fm
from cli_runner import street2shop

TRAIN_PER_CLASS = 300  # 3,000 training pictures
TEST_PICTURES = 2_000  # the first 2,000 of the official test pictures


def test_a_small_cnn_trained_on_3000_pictures_tags_the_real_test_pictures_well_above_chance(tmp_path):
    assert fm.available(), f"Fashion-MNIST is missing under {fm.DIRECTORY}: apt-get install dataset-fashion-mnist (make test does)"
    train_x, train_y = fm.read_split("train")
    test_x, test_y = fm.read_split("test")
    chosen = fm.balanced_subset(train_y, TRAIN_PER_CLASS)
    pictures = tmp_path / "pictures"
    fm.write_pictures(pictures, "train", train_x[chosen], train_y[chosen]).to_csv(tmp_path / "train.csv", index=False)
    fm.write_pictures(pictures, "test", test_x[:TEST_PICTURES], test_y[:TEST_PICTURES]).to_csv(tmp_path / "test.csv", index=False)
    street2shop(
        "train", "--images", pictures, "--manifest", tmp_path / "train.csv", "--label", "type", "--out", tmp_path / "model",
        "--backbone", "small-cnn", "--image-size", "32", "--width", "16", "--encoding-units", "64", "--epochs", "3",
        "--batch-size", "64", "--learning-rate", "3e-3", "--final-learning-rate", "3e-4", "--seed", "1",
    )
    done = street2shop(
        "predict", "--models", tmp_path / "model", "--images", pictures, "--manifest", tmp_path / "test.csv",
        "--out", tmp_path / "tags.csv", "--disagreements",
    )
    tags = pd.read_csv(tmp_path / "tags.csv", dtype=str, keep_default_na=False)
    assert len(tags) == TEST_PICTURES and set(tags["type"]) <= {fm.class_name(i) for i in range(10)}
    accuracy = float((tags["type"] == tags["type_manifest"]).mean())
    assert accuracy >= 0.65, accuracy  # chance is 0.10
    assert json.loads(done.stdout)["disagreements"]["type"] == round((1 - accuracy) * TEST_PICTURES)
    assert len({c for c, n in json.loads((tmp_path / "tags-summary.json").read_text())["models"]["type"]["classes"].items() if n}) >= 8
