"""Embedding, index folder, search and evaluation together, on small synthetic catalogues."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from street2shop.models.embedder import Embedder
from street2shop.errors import FingerprintMismatch, IndexFormatError, InvalidParameter, ManifestError
from street2shop.evaluation.retrieval import evaluate_retrieval
from street2shop.index.build import build_index
from street2shop.index.search import SearchIndex
from street2shop.storage.local import LocalImageStore
from street2shop.storage.publish import LocalOutputDir
from street2shop.storage.stores import ImageSource
from tiny_models import coloured_picture, tiny_encoder, write_catalogue


@pytest.fixture(scope="module")
def encoder():
    return tiny_encoder()


@pytest.fixture()
def catalogue(tmp_path):
    images, catalog, queries = write_catalogue(tmp_path, n_products=6)
    return images, pd.read_csv(catalog, dtype=str), pd.read_csv(queries, dtype=str)


def build(catalogue, encoder, out, **kwargs):
    images, catalog, _ = catalogue
    return build_index(catalog, ImageSource(LocalImageStore(images)), Embedder([encoder]), LocalOutputDir(out), **kwargs)


def test_embed_source_keeps_order_and_reports_bad_rows(tmp_path, encoder):
    from street2shop.images.decode import encode_jpeg, encode_png

    (tmp_path / "a.jpg").write_bytes(encode_jpeg(coloured_picture((200, 10, 10))))
    (tmp_path / "b.png").write_bytes(encode_png(coloured_picture((10, 200, 10))))
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_bytes(b"hello, not a picture")
    names = ["a.jpg", "empty.jpg", "missing.jpg", "b.png", "text.jpg", "a.jpg"]
    embedder = Embedder([encoder])
    result = embedder.embed_source(ImageSource(LocalImageStore(tmp_path)), names, batch_size=2)
    assert result.rows.tolist() == [0, 3, 5]
    assert result.errors["row"].tolist() == [1, 2, 4]
    reasons = dict(zip(result.errors["image"], result.errors["reason"]))
    assert "empty" in reasons["empty.jpg"] and "missing" in reasons["missing.jpg"] and "not an image" in reasons["text.jpg"]
    np.testing.assert_allclose(result.vectors[0], result.vectors[2], atol=1e-6)
    direct = embedder.embed_arrays([coloured_picture((200, 10, 10))])
    assert float(direct[0] @ result.vectors[0]) > 0.99  # JPEG loss only


def test_two_encoders_are_normalised_weighted_and_concatenated(encoder):
    other = tiny_encoder("other", size=40, dim=8, seed=5)
    pictures = [coloured_picture((30, 60, 90)), coloured_picture((90, 60, 30))]
    both = Embedder([(encoder, 1.0), (other, 3.0)]).embed_arrays(pictures)
    first = Embedder([encoder]).embed_arrays(pictures)
    second = Embedder([other]).embed_arrays(pictures)
    expected = np.concatenate([first, 3.0 * second], axis=1) / np.sqrt(10.0)
    np.testing.assert_allclose(both, expected, atol=1e-5)
    layout = Embedder([(encoder, 1.0), (other, 3.0)]).layout()
    assert [(p["start"], p["dim"], p["weight"]) for p in layout] == [(0, 16, 1.0), (16, 8, 3.0)]


def test_index_folder_is_self_sufficient_and_searchable(tmp_path, catalogue, encoder):
    report = build(catalogue, encoder, tmp_path / "index")
    assert report.indexed == 6 and report.errors.empty
    files = {p.name for p in (tmp_path / "index").iterdir()}
    assert {"index.json", "vectors.faiss", "items.parquet", "encoders"} <= files
    info = json.loads((tmp_path / "index" / "index.json").read_text())
    assert info["layout"][0]["fingerprint"] == encoder.fingerprint
    assert set(info["label_columns"]) == {"type", "colours"}
    index = SearchIndex.load(tmp_path / "index")
    images, catalog, _ = catalogue
    hits = index.search_bytes((images / catalog.iloc[2]["image"]).read_bytes(), k=3)
    assert hits[0]["product_id"] == catalog.iloc[2]["product_id"] and hits[0]["score"] > 0.99
    assert set(hits[0]) == {"product_id", "score", "image", "labels"}
    assert hits[0]["labels"]["type"] == catalog.iloc[2]["type"]


def test_filters_restrict_results_and_unknown_columns_are_named(tmp_path, catalogue, encoder):
    build(catalogue, encoder, tmp_path / "index")
    index = SearchIndex.load(tmp_path / "index")
    picture = coloured_picture((120, 120, 120))
    dresses = index.search_pixels([picture], k=10, filters={"type": ["Dresses"]})[0]
    assert dresses and all(hit["labels"]["type"] == "dresses" for hit in dresses)
    multi = index.search_pixels([picture], k=10, filters={"colours": "blue"})[0]
    assert multi and all("blue" in hit["labels"]["colours"].split("|") for hit in multi)
    types = set(index.items["type"])
    either = index.search_pixels([picture], k=50, filters={"type": sorted(types)[:2]})[0]
    assert {hit["labels"]["type"] for hit in either} == set(sorted(types)[:2])
    both = index.search_pixels([picture], k=50, filters={"type": "dresses", "colours": ["blue"]})[0]
    assert {hit["product_id"] for hit in both} == {hit["product_id"] for hit in dresses} & {hit["product_id"] for hit in multi}
    assert index.search_pixels([picture], k=5, filters={"type": ["no such type"]})[0] == []
    with pytest.raises(InvalidParameter, match="unknown filter column 'brand'"):
        index.search_pixels([picture], k=3, filters={"brand": ["x"]})


def test_results_are_products_not_views(tmp_path, encoder):
    images, catalog_path, _ = write_catalogue(tmp_path, n_products=3)
    catalog = pd.read_csv(catalog_path, dtype=str)
    second_views = catalog.assign(image=catalog["image"].str.replace("shop/", "user/"), view="2")
    both = pd.concat([catalog.assign(view="1"), second_views], ignore_index=True)
    build_index(both, ImageSource(LocalImageStore(images)), Embedder([encoder]), LocalOutputDir(tmp_path / "index"))
    hits = SearchIndex.load(tmp_path / "index").search_pixels([coloured_picture((1, 2, 3))], k=3)[0]
    assert sorted(hit["product_id"] for hit in hits) == ["p0", "p1", "p2"]


def test_search_with_another_model_fails_clearly(tmp_path, catalogue, encoder):
    build(catalogue, encoder, tmp_path / "index")
    with pytest.raises(FingerprintMismatch, match="rebuild the index"):
        SearchIndex.load(tmp_path / "index", encoders=[tiny_encoder(seed=42)])
    assert len(SearchIndex.load(tmp_path / "index", encoders=[encoder])) == 6


def test_interrupted_embed_leaves_the_previous_index_intact(tmp_path, catalogue, encoder, monkeypatch):
    build(catalogue, encoder, tmp_path / "index")
    before = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "index").rglob("*") if p.is_file()}

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(Embedder, "encode_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build(catalogue, tiny_encoder(seed=3), tmp_path / "index")
    after = {p.relative_to(tmp_path): p.read_bytes() for p in (tmp_path / "index").rglob("*") if p.is_file()}
    assert after == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["catalog.csv", "images", "index", "queries.csv"]


def test_manifest_with_no_readable_image_is_an_error(tmp_path, encoder):
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    manifest = pd.DataFrame({"image": ["bad.jpg"], "product_id": ["p1"]})
    with pytest.raises(ManifestError, match="bad.jpg"):
        build_index(manifest, ImageSource(LocalImageStore(tmp_path)), Embedder([encoder]), LocalOutputDir(tmp_path / "i"))
    assert not (tmp_path / "i").exists()


def test_not_an_index_is_named(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(IndexFormatError, match="index.json"):
        SearchIndex.load(tmp_path / "x")


def test_evaluation_counts_hits_by_pair_id(tmp_path, catalogue, encoder):
    build(catalogue, encoder, tmp_path / "index")
    index = SearchIndex.load(tmp_path / "index")
    images, _, queries = catalogue
    # A query whose pair is not in the gallery is skipped; an unreadable one is a miss.
    extra = pd.DataFrame(
        [
            {"image": "shop/p0.jpg", "product_id": "zz", "source": "user", "pair_id": "not-in-gallery"},
            {"image": "user/missing.jpg", "product_id": "p1", "source": "user", "pair_id": "pair1"},
            {"image": "shop/p1.jpg", "product_id": "p1", "source": "shop", "pair_id": "pair1"},
        ]
    )
    result = evaluate_retrieval(index, pd.concat([queries, extra], ignore_index=True), ImageSource(LocalImageStore(images)))
    assert result.queries == 7 and result.gallery == 6 and result.skipped == 1
    assert list(result.top_k) == ["1", "5", "10", "20"]
    ranks = result.per_query["rank"].to_numpy()
    expected = {k: round(float(np.mean((ranks > 0) & (ranks <= int(k)))), 4) for k in result.top_k}
    assert result.top_k == expected
    assert result.top_k["20"] == pytest.approx(6 / 7, abs=1e-4)  # 6 products: all found within 20, the missing photo never
    assert result.errors["image"].tolist() == ["user/missing.jpg"]
    frame = result.metrics_frame()
    assert frame["k"].tolist() == [1, 5, 10, 20]


def test_answer_times_each_stage_and_matches_search_bytes(tmp_path, catalogue, encoder):
    build(catalogue, encoder, tmp_path / "index")
    index = SearchIndex.load(tmp_path / "index")
    images, catalog, _ = catalogue
    data = (images / catalog.iloc[1]["image"]).read_bytes()
    answer = index.answer(data, k=3, filters={"type": "dresses"})
    assert answer.results == index.search_bytes(data, k=3, filters={"type": "dresses"})
    assert set(answer.timing_ms) == {"decode", "segment", "embed", "search"}
    assert all(ms >= 0 for ms in answer.timing_ms.values()) and answer.segmented is False
    with pytest.raises(InvalidParameter, match="unknown filter column"):
        index.answer(b"not even decoded", filters={"nope": "x"})
