"""A fused index: several parts (a model, garment descriptors), weights fitted on user photos, per-part segmentation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from street2shop.demo.catalogue import make_demo_catalog
from street2shop.models.encoder import save_encoder
from street2shop.errors import InvalidParameter, ManifestError
from street2shop.index.fusion import stored_vectors
from street2shop.images.decode import decode_image
from street2shop.index.build import embed_catalogue
from street2shop.index.search import SearchIndex
from street2shop.segmentation.garment import SegmentParams
from street2shop.storage.publish import LocalOutputDir
from tiny_models import tiny_encoder


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    root = tmp_path_factory.mktemp("fused")
    demo = make_demo_catalog(root / "catalog", n_products=16, user_photos_per_product=2, image_size=96, duplicate_fraction=0.0)
    model = tiny_encoder("whole", size=32, dim=8)
    model.info["segment"] = None  # as a model trained on whole pictures records it
    save_encoder(model, root / "whole")
    return root, demo


def test_weights_fitted_on_user_photos_are_used_by_the_index_and_its_queries(catalogue, tmp_path):
    root, demo = catalogue
    report = embed_catalogue(
        manifest=demo.catalog, images=demo.images_dir, output=LocalOutputDir(tmp_path / "index"),
        models=[root / "whole"], descriptors=32, fit_queries=demo.queries, fit_split=None, batch_size=8,
    )
    info = json.loads((tmp_path / "index" / "index.json").read_text())
    fusion = info["fusion"]
    assert [part["name"] for part in info["layout"]] == ["whole", "descriptors"]
    assert [part["weight"] for part in info["layout"]] == pytest.approx(fusion["model_weights"])
    assert fusion["validation"]["queries"] == len(pd.read_csv(demo.queries)) and report.info["fusion"] == fusion
    assert fusion["pairs"] == "real"
    # The stored vectors are those the loaded index's embedder (with the fitted weights) makes.
    index = SearchIndex.load(tmp_path / "index")
    gallery = pd.read_csv(demo.catalog, dtype=str)
    pictures = [
        decode_image((demo.images_dir / image).read_bytes(), max_pixels=10**7, name=image, min_side=index.embedder.sizes[-1])
        for image in gallery["image"][:4]
    ]
    again = index.embedder.embed_arrays(pictures)
    stored = stored_vectors(index.vectors)[:4]
    np.testing.assert_allclose(np.sum(again * stored, axis=1), 1.0, atol=1e-5)


def test_segmentation_reaches_only_the_parts_that_expect_the_garment(catalogue, tmp_path):
    root, demo = catalogue
    embed_catalogue(
        manifest=demo.catalog, images=demo.images_dir, output=LocalOutputDir(tmp_path / "index"),
        models=[root / "whole"], descriptors=32, segment=SegmentParams(), batch_size=8,
    )
    layout = json.loads((tmp_path / "index" / "index.json").read_text())["layout"]
    assert {part["name"]: part["transformed"] for part in layout} == {"whole": False, "descriptors": True}
    index = SearchIndex.load(tmp_path / "index")
    query = (demo.images_dir / pd.read_csv(demo.queries)["image"][0]).read_bytes()
    pixels = decode_image(query, max_pixels=10**7, name="q")
    answer = index.answer(query, k=3)
    assert answer.segmented
    # The model part is the same whether or not the picture is cut out; the descriptors' part is not.
    whole = index.embedder.embed_arrays([pixels], cuts=[pixels])
    cut = index.embedder.embed_arrays([pixels])
    model_dim = layout[0]["dim"]
    np.testing.assert_allclose(
        whole[0, :model_dim] / np.linalg.norm(whole[0, :model_dim]), cut[0, :model_dim] / np.linalg.norm(cut[0, :model_dim]), atol=1e-5
    )
    assert not np.allclose(whole[0, model_dim:], cut[0, model_dim:], atol=1e-3)


def test_fitting_needs_two_parts_and_matching_queries(catalogue, tmp_path):
    root, demo = catalogue
    with pytest.raises(InvalidParameter, match="at least two parts"):
        embed_catalogue(manifest=demo.catalog, images=demo.images_dir, output=LocalOutputDir(tmp_path / "one"),
                        models=[root / "whole"], fit_queries=demo.queries, fit_split=None, batch_size=8)
    with pytest.raises(ManifestError, match="split 'nope'|split nope"):
        embed_catalogue(manifest=demo.catalog, images=demo.images_dir, output=LocalOutputDir(tmp_path / "two"),
                        models=[root / "whole"], descriptors=32, fit_queries=demo.queries, fit_split="nope", batch_size=8)
    assert not (tmp_path / "one").exists() and not (tmp_path / "two").exists()
    # Asked to, embed falls back to synthesised pairs when the user photos give nothing to fit on.
    embed_catalogue(manifest=demo.catalog, images=demo.images_dir, output=LocalOutputDir(tmp_path / "three"),
                    models=[root / "whole"], descriptors=32, fit_queries=demo.queries, fit_split="nope", fit_synthesised=4, batch_size=8)
    fusion = json.loads((tmp_path / "three" / "index.json").read_text())["fusion"]
    assert fusion["pairs"] == "synthesised" and "nope" in fusion["fallback_reason"] and fusion["validation"]["queries"] == 4


def test_synthesised_queries_are_one_street_like_view_per_picked_product(catalogue):
    from street2shop.images.decode import fit_to_square
    from street2shop.storage.stores import image_source
    from street2shop.synthesis.queries import synthesise_queries

    _, demo = catalogue
    items = pd.read_csv(demo.catalog, dtype=str)
    source = image_source(demo.images_dir)
    queries = synthesise_queries(items, source, products=5, size=48, seed=3)
    assert queries.views.shape == (5, 48, 48, 3) and queries.views.dtype == np.uint8
    assert len(set(queries.products)) == 5 and queries.pair_column == "pair_id"
    pair_of = dict(zip(items["product_id"], items["pair_id"]))
    assert list(queries.pairs) == [pair_of[p] for p in queries.products]
    assert queries.record()["views"] == 5
    # Each view is its shop picture transformed, not the picture itself.
    for view, image in zip(queries.views, queries.images):
        shop = fit_to_square(decode_image((demo.images_dir / image).read_bytes(), max_pixels=10**7, name=image), 48)
        assert np.abs(view.astype(int) - shop.astype(int)).mean() > 5
    # The same seed picks the same products; without pair ids, each view's pair is its product.
    unpaired = synthesise_queries(items.drop(columns=["pair_id"]), source, products=5, size=48, seed=3)
    assert unpaired.pair_column == "product_id" and list(unpaired.pairs) == list(unpaired.products) == list(queries.products)


def test_weights_fitted_on_synthesised_pairs_from_shop_pictures_only(catalogue, tmp_path, capsys):
    from street2shop.cli import main

    root, demo = catalogue
    report = embed_catalogue(
        manifest=demo.catalog, images=demo.images_dir, output=LocalOutputDir(tmp_path / "index"),
        models=[root / "whole"], descriptors=32, fit_synthesised=16, batch_size=8,
    )
    info = json.loads((tmp_path / "index" / "index.json").read_text())
    fusion = info["fusion"]
    assert fusion["pairs"] == "synthesised" and report.info["fusion"] == fusion
    assert fusion["validation"]["queries"] == 16 and fusion["synthesis"]["pair_column"] == "pair_id"
    assert [part["weight"] for part in info["layout"]] == pytest.approx(fusion["model_weights"])
    assert "fallback_reason" not in fusion
    # fit-weights: synthesised pairs only as the fallback for user photos that cannot be used.
    args = ["fit-weights", "--index", tmp_path / "index", "--images", demo.images_dir, "--queries", demo.queries, "--split", "nope"]
    capsys.readouterr()
    assert main([str(a) for a in args]) == 2
    assert main([str(a) for a in [*args, "--synthesised", 4]]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["pairs"] == "synthesised" and printed["validation"]["queries"] == 4 and "nope" in printed["fallback_reason"]
    with pytest.raises(InvalidParameter, match="at least 2 products"):
        embed_catalogue(manifest=demo.catalog, images=demo.images_dir, output=LocalOutputDir(tmp_path / "bad"),
                        models=[root / "whole"], descriptors=32, fit_synthesised=1)
