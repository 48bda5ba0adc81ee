"""The search page in headless Chromium against the local server, and the same page's DSS webapp backend."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from dss_harness import DSSProject
from serving_support import b64
from street2shop.serving.server import BackgroundServer, build_app
from webdriver import Browser, find_browser

SCREENSHOT = Path("/tmp/street2shop-visual-search.png")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """A small demo catalogue (garments with type and gender labels) indexed with a tiny encoder."""
    from street2shop.demo.catalogue import make_demo_catalog
    from street2shop.models.embedder import Embedder
    from street2shop.index.build import build_index
    from street2shop.storage.local import LocalImageStore
    from street2shop.storage.publish import LocalOutputDir
    from street2shop.storage.stores import ImageSource
    from tiny_models import tiny_encoder

    root = tmp_path_factory.mktemp("demo")
    catalog = make_demo_catalog(root / "catalog", n_products=12, user_photos_per_product=1, image_size=160)
    shop = pd.read_csv(catalog.catalog, dtype=str, keep_default_na=False)
    build_index(shop, ImageSource(LocalImageStore(catalog.images_dir)), Embedder([tiny_encoder()]), LocalOutputDir(root / "index"))
    return root / "index", catalog, shop


def test_page_in_chromium_uploads_a_photo_and_shows_result_cards(demo):
    tools = find_browser()
    assert tools is not None, "install Debian's chromium and chromium-driver (see tests/support/webdriver.py)"
    index_dir, catalog, shop = demo
    queries = pd.read_csv(catalog.queries, dtype=str, keep_default_na=False)
    photo = catalog.images_dir / queries.iloc[0]["image"]
    products = shop["product_id"].nunique()
    with BackgroundServer(build_app(index_dir, images=catalog.images_dir)) as server, Browser(*tools) as browser:
        browser.get(server.url + "/")
        browser.wait_for("return document.querySelectorAll('select.s2s-filter').length === 2")
        assert "Add a photo" in browser.text(browser.find("#s2s-status"))
        browser.send_keys(browser.find("#s2s-file"), str(photo))
        browser.wait_for(f"return document.querySelectorAll('.s2s-card').length === {min(12, products)}")
        browser.wait_for("return Array.from(document.querySelectorAll('.s2s-card-picture')).every(i => i.complete && i.naturalWidth > 0)")
        cards = browser.find_all(".s2s-card")
        first = browser.text(cards[0])
        assert any(pid in first for pid in shop["product_id"]) and "type:" in first and "gender:" in first
        scores = [float(s) for s in browser.script("return Array.from(document.querySelectorAll('.s2s-score')).map(e => e.textContent)")]
        assert scores == sorted(scores, reverse=True) and all(0 < s <= 1 for s in scores)
        assert "products, answered in" in browser.text(browser.find("#s2s-status"))
        assert browser.script("return document.getElementById('s2s-preview').hidden") is False
        browser.screenshot(SCREENSHOT)
        # A filter re-runs the search on the same photo.
        gender = sorted(set(shop["gender"].str.split("|").explode()))[0]
        browser.script(
            "const s = document.querySelector('select.s2s-filter[data-column=gender]'); s.value = arguments[0];"
            "s.dispatchEvent(new Event('change'));",
            gender,
        )
        expected = int(shop["gender"].str.split("|").apply(lambda g: gender in g).groupby(shop["product_id"]).any().sum())
        browser.wait_for(f"return document.querySelectorAll('.s2s-card').length === {min(12, expected)} && "
                         "document.getElementById('s2s-status').textContent.includes('answered')")
        labels = browser.script("return Array.from(document.querySelectorAll('.s2s-card')).map(c => c.textContent)")
        assert all("gender: " in text and gender in text.split("gender:")[1] for text in labels)
        # A file that is no picture: the server's message is shown.
        bad = Path(str(SCREENSHOT) + ".txt")
        bad.write_text("not a picture")
        browser.send_keys(browser.find("#s2s-file"), str(bad))
        browser.wait_for("return document.getElementById('s2s-status').classList.contains('s2s-error')")
        assert "not an image" in browser.text(browser.find("#s2s-status"))
    assert SCREENSHOT.stat().st_size > 10_000


def test_webapp_backend_serves_the_page_routes_from_managed_folders(demo, tmp_path):
    index_dir, catalog, shop = demo
    project = DSSProject(tmp_path / "dss")
    project.add_folder("index", name="search_index", source_dir=index_dir)
    project.add_folder("pictures", name="pictures", source_dir=catalog.images_dir)
    client = project.webapp_client("street2shop-visual-search", config={"index_folder": "index", "pictures_folder": "pictures", "max_k": 5})
    config = client.get("/config").get_json()
    assert config["count"] == len(shop) and set(config["filters"]) == {"type", "gender"} and config["thumbnails"] is True
    photo = (catalog.images_dir / shop.iloc[0]["image"]).read_bytes()
    answer = client.post("/recommend", data=json.dumps({"image": b64(photo), "k": 3}), content_type="application/json")
    assert answer.status_code == 200 and answer.get_json()["results"][0]["product_id"] == shop.iloc[0]["product_id"]
    assert client.post("/recommend", data=json.dumps({"image": b64(photo), "k": 6}), content_type="application/json").status_code == 400
    thumbnail = client.get("/thumbnail", query_string={"image": shop.iloc[0]["image"]})
    assert thumbnail.status_code == 200 and thumbnail.data[:2] == b"\xff\xd8"
    assert client.get("/thumbnail", query_string={"image": "../index/index.json"}).status_code == 404
    broken = project.webapp_client("street2shop-visual-search", config={"index_folder": "pictures"})
    reply = broken.get("/config")
    assert reply.status_code == 503 and "not a street2shop index" in reply.get_json()["error"]
