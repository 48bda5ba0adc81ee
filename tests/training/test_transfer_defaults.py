"""Defaults that depend on the start: attribute models fine-tune ImageNet weights (warm-up frozen, 1e-4 -> 1e-7), from scratch the trainer's own."""

from __future__ import annotations

import argparse
import json

import pandas as pd

from cli_runner import street2shop
from street2shop.commands import train as train_command
from street2shop.dss.params import train_params
from street2shop.training.trainer import default_rates
from street2shop.images.decode import encode_jpeg
from street2shop.training.transfer import start_defaults
from tiny_models import coloured_picture


def write_pictures(root, n_products: int = 12):
    """Pictures of red and blue garments, labelled by type (red dresses, blue skirts)."""
    images = root / "images"
    images.mkdir()
    rows = []
    for k in range(n_products):
        colour, kind = [((200, 30, 30), "dresses"), ((40, 60, 200), "skirts")][k % 2]
        for view, noise in ((1, 0), (2, 60)):
            name = f"p{k}_{view}.jpg"
            (images / name).write_bytes(encode_jpeg(coloured_picture(colour, noise=noise, seed=k)))
            rows.append({"image": name, "product_id": f"p{k}", "type": kind, "view": str(view)})
    manifest = root / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return images, manifest


def _settings(*flags: str):
    parser = argparse.ArgumentParser()
    train_command.add_arguments(parser)
    args = parser.parse_args(["--images", "i", "--manifest", "m.csv", "--label", "colours", "--out", "o", *flags])
    return train_command.settings_from_args(args)


def test_the_cli_fine_tunes_imagenet_weights_by_default_and_learns_from_scratch_otherwise():
    pretrained = _settings()
    assert pretrained.architecture.name == "efficientnet-lite0" and pretrained.weights == "imagenet"
    assert (pretrained.fit.learning_rate, pretrained.fit.final_learning_rate, pretrained.fit.warmup_epochs) == (1e-4, 1e-7, 2)
    scratch = _settings("--backbone", "small-cnn")
    initial, final = default_rates("none")
    assert scratch.weights == "none" and scratch.fit.warmup_epochs == 0
    assert (scratch.fit.learning_rate, scratch.fit.final_learning_rate) == (initial, final)
    assert _settings("--weights", "none").fit.warmup_epochs == 0  # a random backbone is not frozen
    given = _settings("--learning-rate", "3e-3", "--warmup-epochs", "0", "--epochs", "4")
    assert (given.fit.learning_rate, given.fit.warmup_epochs) == (3e-3, 0)
    assert _settings("--epochs", "1").fit.warmup_epochs == 0  # a warm-up needs an epoch after it


def test_the_train_recipe_has_the_same_start_dependent_defaults():
    pretrained = train_params({"label_column": "type"}).settings
    assert pretrained.architecture.name == "efficientnet-lite0"
    assert (pretrained.fit.learning_rate, pretrained.fit.final_learning_rate, pretrained.fit.warmup_epochs) == (1e-4, 1e-7, 2)
    scratch = train_params({"label_column": "type", "backbone": "small-cnn", "weights_source": "none"}).settings
    assert scratch.fit.warmup_epochs == 0 and scratch.fit.learning_rate == start_defaults("none").learning_rate
    assert train_params({"label_column": "type", "warmup_epochs": 1, "learning_rate": 0.01}).settings.fit.warmup_epochs == 1


def test_an_attribute_model_trains_from_the_packaged_imagenet_weights(tmp_path):
    images, manifest = write_pictures(tmp_path)
    street2shop(
        "train", "--images", images, "--manifest", manifest, "--label", "type", "--out", tmp_path / "type",
        "--image-size", "64", "--encoding-units", "16", "--epochs", "2", "--batch-size", "8", "--min-count", "1",
    )
    info = json.loads((tmp_path / "type" / "model.json").read_text())
    assert info["backbone"] == "efficientnet-lite0" and info["weights"] == "imagenet"
    history = pd.read_csv(tmp_path / "type" / "history.csv")
    assert list(history["phase"]) == ["warm-up", "fine-tune"]  # the warm-up shortened to leave a fine-tuning epoch
