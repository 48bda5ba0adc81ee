"""Garment descriptors: colour/texture/shape layers behave, save and reload safely, and join an embedding."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from street2shop.errors import InvalidParameter

LIB = Path(__file__).resolve().parents[2] / "python-lib"

SIZE = 64


def garment(colour, *, size: int = SIZE, box=(0.15, 0.2, 0.85, 0.8), background: int = 255, stripes: bool = False) -> np.ndarray:
    """A garment-like block of ``colour`` on a plain background (a cut-out on white by default)."""
    picture = np.full((size, size, 3), background, np.uint8)
    y0, x0, y1, x1 = (int(round(v * size)) for v in box)
    picture[y0:y1, x0:x1] = colour
    if stripes:
        picture[y0:y1:4, x0:x1] = (20, 20, 20)
    return picture


@pytest.fixture(scope="module")
def encoders():
    from street2shop.models.descriptors import descriptor_encoder

    return {
        "all": descriptor_encoder(SIZE),
        "colour": descriptor_encoder(SIZE, ["colour"]),
        "texture": descriptor_encoder(SIZE, ["texture"]),
        "shape": descriptor_encoder(SIZE, ["shape"]),
    }


def vectors(encoder, pictures):
    out = encoder.model(np.stack(pictures)).numpy()
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-4)
    return out


def test_same_colour_is_closer_than_another_colour(encoders):
    red_a = garment((200, 30, 40))
    red_b = garment((185, 40, 50), box=(0.1, 0.3, 0.9, 0.7))  # another red, another shape
    blue = garment((40, 70, 170))
    for name in ("colour", "all"):
        a, b, c = vectors(encoders[name], [red_a, red_b, blue])
        assert a @ b > a @ c + 0.2, name


def test_texture_and_shape_see_what_colour_does_not(encoders):
    plain, striped = garment((40, 120, 60)), garment((40, 120, 60), stripes=True)
    wide, tall = garment((40, 120, 60), box=(0.35, 0.05, 0.65, 0.95)), garment((40, 120, 60), box=(0.05, 0.35, 0.95, 0.65))
    t = vectors(encoders["texture"], [plain, striped, garment((200, 30, 40))])
    assert t[0] @ t[2] > t[0] @ t[1] + 0.2  # a plain red block's texture is a plain green one's, not the striped one's
    s = vectors(encoders["shape"], [wide, tall, garment((200, 30, 40), box=(0.36, 0.06, 0.66, 0.96))])
    assert s[0] @ s[2] > s[0] @ s[1] + 0.2  # same silhouette, another colour: closer than the turned one


def test_white_background_is_ignored(encoders):
    """More or less white around the garment, or near-white instead of pure white, changes little."""
    tight = garment((200, 30, 40), box=(0.05, 0.05, 0.95, 0.95))
    loose = garment((200, 30, 40), box=(0.3, 0.3, 0.7, 0.7))
    off_white = garment((200, 30, 40), box=(0.05, 0.05, 0.95, 0.95), background=249)
    a, b, c = vectors(encoders["colour"], [tight, loose, off_white])
    assert a @ b > 0.97 and a @ c > 0.99
    # The same garment on a dark backdrop is not cut out: the whole picture would count, so the
    # centre prior takes over (no near-white pixels) and the vector is still a unit vector.
    dark = vectors(encoders["all"], [garment((200, 30, 40), background=10), np.full((SIZE, SIZE, 3), 255, np.uint8)])
    assert dark.shape == (2, encoders["all"].dim)


def test_command_writes_a_folder_that_reloads_safely(tmp_path, encoders):
    from street2shop.commands import descriptors as command
    from street2shop.models.loading import load_encoder

    out = tmp_path / "descriptors"
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    assert command.run(parser.parse_args([str(out), "--size", str(SIZE)])) == 0
    loaded = load_encoder(out)  # Keras safe_mode
    assert loaded.fingerprint == encoders["all"].fingerprint and loaded.info["kind"] == "descriptors"
    pictures = [garment((200, 30, 40)), garment((40, 70, 170), stripes=True)]
    np.testing.assert_allclose(loaded.model(np.stack(pictures)).numpy(), vectors(encoders["all"], pictures), atol=1e-6)
    assert not list(tmp_path.glob("descriptors.tmp-*"))
    # A fresh process (as `embed --models` runs) knows the layers from the folder alone.
    script = "import sys; from street2shop.models.loading import load_encoder; print(load_encoder(sys.argv[1]).fingerprint)"
    fresh = subprocess.run([sys.executable, "-c", script, str(out)], capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(LIB)})
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    assert fresh.stdout.split()[-1] == loaded.fingerprint
    # Other settings are other models: the fingerprint (which covers the fixed parameters) differs.
    assert command.run(parser.parse_args([str(out), "--size", str(SIZE), "--part-weights", "1", "1", "1"])) == 0
    assert load_encoder(out).fingerprint != encoders["all"].fingerprint
    with pytest.raises(InvalidParameter, match="one per part"):
        command.run(parser.parse_args([str(out), "--parts", "colour", "--part-weights", "1", "2"]))
    with pytest.raises(InvalidParameter, match="multiple of 16"):
        command.run(parser.parse_args([str(out), "--size", "50"]))


def test_joins_an_embedding_and_fit_weights_reads_the_index(tmp_path, capsys):
    from street2shop.commands import descriptors as descriptors_command
    from street2shop.commands import fit_weights
    from street2shop.models.encoder import save_encoder
    from street2shop.index.build import embed_catalogue, make_embedder
    from street2shop.index.search import SearchIndex
    from street2shop.storage.publish import LocalOutputDir
    from tiny_models import tiny_encoder, write_catalogue

    parser = argparse.ArgumentParser()
    descriptors_command.add_arguments(parser)
    descriptors_command.run(parser.parse_args([str(tmp_path / "descriptors"), "--size", "32", "--parts", "colour", "shape"]))
    save_encoder(tiny_encoder("tiny", size=32), tmp_path / "tiny")
    models = [tmp_path / "descriptors", tmp_path / "tiny"]
    embedder = make_embedder(models=models, model_weights=[2.0, 0.5])
    assert [p["name"] for p in embedder.layout()] == ["descriptors-colour-shape", "tiny"]
    images, catalogue, queries = write_catalogue(tmp_path / "cat", n_products=6)
    embed_catalogue(manifest=catalogue, images=images, output=LocalOutputDir(tmp_path / "index"), models=models, model_weights=[2.0, 0.5])
    index = SearchIndex.load(tmp_path / "index")
    assert [p["weight"] for p in index.info["layout"]] == [2.0, 0.5]
    capsys.readouterr()

    parser = argparse.ArgumentParser()
    fit_weights.add_arguments(parser)
    args = parser.parse_args(["--index", str(tmp_path / "index"), "--images", str(images), "--queries", str(queries), "--step", "0.25", "--out", str(tmp_path / "w.json")])
    assert fit_weights.run(args) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads((tmp_path / "w.json").read_text())
    assert printed["models_in_order"] == ["descriptors-colour-shape", "tiny"]
    assert len(printed["model_weights"]) == 2 and printed["validation"]["queries"] == 6
    # Colour identifies these products (one colour each): the descriptors must get the larger share.
    assert printed["shares"][0] > printed["shares"][1]
    assert printed["validation"]["fitted"]["top_k"]["1"] >= printed["validation"]["equal_weights"]["top_k"]["1"]
