"""Metric losses, the embedding job and its folder, and `street2shop train-embedding` (training/metric.py, embedding_job.py)."""

from __future__ import annotations

import argparse
import contextlib
import io
import json

import numpy as np
import pandas as pd
import pytest

from street2shop.errors import InvalidParameter
from street2shop.ranking import retrieval_ranks, top_k_rates
from street2shop.training.embedding_job import EmbeddingSettings
from street2shop.training.metric import LOSSES, LossParams, build_embedding_model, loss_function, training_model
from tiny_models import write_catalogue


@pytest.mark.parametrize("name", LOSSES)
def test_each_loss_decreases_on_a_toy_problem(name):
    import keras

    keras.utils.set_random_seed(1)
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(6, 10))
    labels = np.repeat(np.arange(6), 4)
    points = (centres[labels] + 0.6 * rng.normal(size=(24, 10))).astype(np.float32)
    from street2shop.models.layers import register_layers

    inputs = keras.Input((10,))
    outputs = register_layers()["L2Normalize"]()(keras.layers.Dense(8)(inputs))
    params = LossParams(name=name)
    model = training_model(keras.Model(inputs, outputs), params, 6)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=loss_function(params))
    before = float(model.evaluate(points, labels, batch_size=24, verbose=0))
    model.fit(points, labels, batch_size=24, epochs=40, verbose=0, shuffle=False)
    after = float(model.evaluate(points, labels, batch_size=24, verbose=0))
    assert np.isfinite(after) and after < 0.7 * before


def test_retrieval_ranks_count_distinct_products_by_their_best_picture():
    gallery = np.array([[1, 0], [0.8, 0.6], [0, 1], [0.6, 0.8]], np.float32)
    ids = np.array(["a", "b", "c", "b"])
    queries = np.array([[0.6, 0.8], [1, 0], [0, 1]], np.float32)
    ranks = retrieval_ranks(queries, np.array(["b", "c", "zz"]), gallery, ids)
    assert ranks.tolist() == [1, 3, 0]  # b's best picture wins; c is last; zz is not in the gallery
    assert top_k_rates(ranks, ks=(1, 5)) == {"1": pytest.approx(1 / 3), "5": pytest.approx(2 / 3)}


def test_bad_settings_are_refused():
    with pytest.raises(InvalidParameter):
        LossParams(name="arcface-ish")
    with pytest.raises(InvalidParameter):
        build_embedding_model("bdn", image_size=32)
    with pytest.raises(InvalidParameter):
        EmbeddingSettings(products_per_batch=1)
    with pytest.raises(InvalidParameter):
        EmbeddingSettings(name="../x")


TINY = dict(image_size=32, width=4, dim=8, epochs=2, steps_per_epoch=2, products_per_batch=4, backgrounds=16, learning_rate=1e-2, seed=2)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from street2shop.commands import train_embedding

    root = tmp_path_factory.mktemp("metric")
    images, catalog, queries = write_catalogue(root, n_products=8)
    manifest = pd.concat([pd.read_csv(catalog), pd.read_csv(queries)], ignore_index=True)
    manifest = pd.concat([manifest, pd.DataFrame([{"image": "shop/missing.jpg", "product_id": "p9", "source": "shop", "pair_id": "pair9"}])])
    manifest.to_csv(root / "manifest.csv", index=False)
    parser = argparse.ArgumentParser()
    train_embedding.add_arguments(parser)
    flags = {"image-size": 32, "width": 4, "dim": 8, "epochs": 2, "steps-per-epoch": 2, "products-per-batch": 4, "learning-rate": 0.01,
             "seed": 2, "validation-share": 0.25, "mask-cache": root / "masks", "name": "street"}
    argv = ["--images", images, "--manifest", root / "manifest.csv", "--out", root / "model"] + [str(x) for k, v in flags.items() for x in (f"--{k}", v)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        status = train_embedding.run(parser.parse_args([str(a) for a in argv]))
    return {"root": root, "images": images, "status": status, "summary": json.loads(out.getvalue())}


def test_cli_writes_an_encoder_folder_with_its_pictures(trained):
    root, summary = trained["root"], trained["summary"]
    assert trained["status"] == 0
    assert summary["train_products"] == 6 and summary["query_kind"] == "user" and summary["validation_queries"] == 2
    assert summary["rejected_rows"] == 1 and summary["epochs_run"] <= 2 and summary["stopped"] in ("completed", "early_stopping")
    assert set(summary["top_k"]) == {"1", "5", "10", "20"}
    model = root / "model"
    for name in ("encoder.json", "model.keras", "history.csv", "learning_curves.png", "retrieval.png", "synthesis.png", "metrics.json", "split.csv"):
        assert (model / name).is_file(), name
    assert "missing.jpg" in (root / "model-errors.csv").read_text()
    history = pd.read_csv(model / "history.csv")
    assert {"epoch", "loss", "val_top1", "val_top10"} <= set(history.columns) and history["loss"].notna().all()
    split = pd.read_csv(model / "split.csv")
    assert set(split["split"]) == {"train", "validation"}
    assert not set(split[split.split == "train"].identity) & set(split[split.split == "validation"].identity)


def test_model_folder_loads_with_load_encoder_and_embeds(trained):
    from street2shop.models.embedder import Embedder
    from street2shop.models.loading import load_encoder
    from street2shop.images.decode import decode_image

    encoder = load_encoder(trained["root"] / "model")
    assert encoder.name == "street" and encoder.image_size == 32 and encoder.dim == 8
    assert encoder.info["kind"] == "metric" and encoder.info["loss"] == LOSSES[0] and encoder.info["seed"] == 2
    assert encoder.fingerprint == trained["summary"]["fingerprint"]
    picture = decode_image((trained["images"] / "user/p1.jpg").read_bytes())
    vectors = Embedder([encoder]).embed_arrays([picture, picture[::-1]])
    assert vectors.shape == (2, 8)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
