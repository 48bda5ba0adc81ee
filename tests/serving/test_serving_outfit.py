"""Serving with the person model: the API answers per garment on a photo of someone, and the page draws
the boxes and lets the shopper pick one (real HTTP server, headless Chromium, opencv-doc photos)."""

from __future__ import annotations

import pytest
import requests

from real_photos import photo_path
from serving_support import b64, build_tiny_index
from street2shop.segmentation.person import PersonModel
from street2shop.serving.server import BackgroundServer, api_path, build_app
from webdriver import Browser, find_browser

#: The fields of today's answer (docs/serving.md): a photo without a person gets exactly these.
SINGLE_ANSWER = {"results", "query", "timing_ms"}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("outfit-serving")
    index_dir, images, _ = build_tiny_index(root, n_products=6)
    with BackgroundServer(build_app(index_dir, images=images, person_model=PersonModel())) as server:
        yield server


def _ask(server, photo: str, k: int = 3) -> dict:
    reply = requests.post(server.url + api_path(), json={"image": b64(photo_path(photo).read_bytes()), "k": k}, timeout=120)
    assert reply.status_code == 200, reply.text
    return reply.json()["response"]  # the API node's envelope


def test_the_api_answers_per_garment_with_boxes_on_a_photo_of_someone(served):
    answer = _ask(served, "basketball1.png")
    assert set(answer) == SINGLE_ANSWER | {"garments"}
    assert len(answer["results"]) == 3  # the whole photo's answer is kept
    person = answer["query"]["person"]
    px0, py0, px1, py1 = person["box"]
    assert 0.5 <= person["score"] <= 1 and px1 < 200  # the man on the left
    assert [g["part"] for g in answer["garments"]] == ["top", "bottom", "full"]
    for garment in answer["garments"]:
        x0, y0, x1, y1 = garment["box"]
        assert px0 <= x0 < x1 <= px1 and py0 <= y0 < y1 <= py1
        assert len(garment["results"]) == 3 and set(garment) == {"part", "box", "results", "attributes"}
    assert answer["timing_ms"]["person"] > 0 and answer["timing_ms"]["garments"] > 0
    assert answer["timing_ms"]["total"] >= answer["timing_ms"]["person"] + answer["timing_ms"]["garments"]


def test_a_photo_without_a_person_keeps_todays_answer(served):
    answer = _ask(served, "apple.jpg")
    assert set(answer) == SINGLE_ANSWER
    assert set(answer["query"]) == {"attributes", "segmented"}
    assert len(answer["results"]) == 3


def test_page_draws_the_garment_boxes_and_the_shopper_picks_one(served):
    tools = find_browser()
    assert tools is not None, "install Debian's chromium and chromium-driver (see tests/support/webdriver.py)"
    with Browser(*tools) as browser:
        browser.get(served.url + "/")
        browser.wait_for("return document.getElementById('s2s-status').textContent.includes('Add a photo')")
        browser.send_keys(browser.find("#s2s-file"), str(photo_path("basketball1.png")))
        browser.wait_for("return document.querySelectorAll('.s2s-box').length === 3")
        parts = browser.script("return Array.from(document.querySelectorAll('.s2s-garment')).map(b => b.textContent)")
        assert parts == ["Top", "Bottom", "Full outfit", "Whole photo"]
        # The first garment is chosen: its button pressed, its box highlighted, its products shown.
        assert browser.script("return document.querySelector('.s2s-garment[aria-pressed=true]').dataset.part") == "top"
        assert browser.script("return document.querySelector('.s2s-box-selected').dataset.part") == "top"
        assert "for the top" in browser.text(browser.find("#s2s-status"))
        # The boxes sit over the man on the left, the top above the bottom.
        boxes = browser.script(
            "const p = document.getElementById('s2s-preview').getBoundingClientRect();"
            "return Array.from(document.querySelectorAll('.s2s-box')).map(b => { const r = b.getBoundingClientRect();"
            "return [b.dataset.part, (r.left - p.left) / p.width, (r.top - p.top) / p.height, (r.right - p.left) / p.width, (r.bottom - p.top) / p.height]; })"
        )
        by_part = {row[0]: row[1:] for row in boxes}
        assert all(0 <= box[0] < box[2] <= 0.35 for box in by_part.values())
        assert by_part["top"][1] < by_part["bottom"][1]
        # A click in the middle of the bottom's box (what a shopper's click there hits) picks the bottom.
        browser.script(
            "const r = document.querySelector('.s2s-box[data-part=bottom]').getBoundingClientRect();"
            "document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2).click()"
        )
        browser.wait_for("return document.getElementById('s2s-status').textContent.includes('for the bottom')")
        assert browser.script("return document.querySelector('.s2s-garment[aria-pressed=true]').dataset.part") == "bottom"
        # "Whole photo" shows the single answer; the boxes stay, none highlighted.
        browser.script("document.querySelector('.s2s-garment[data-part=\"\"]').click()")
        browser.wait_for("return document.querySelectorAll('.s2s-box-selected').length === 0")
        assert "garments found on the person" in browser.text(browser.find("#s2s-status"))
        # A photo without a person: no boxes, no garment buttons, today's page.
        browser.send_keys(browser.find("#s2s-file"), str(photo_path("apple.jpg")))
        browser.wait_for("return document.querySelectorAll('.s2s-box').length === 0 && document.getElementById('s2s-garments').hidden"
                         " && document.getElementById('s2s-status').textContent.includes('answered')")
        assert len(browser.find_all(".s2s-card")) == 6


def test_the_api_node_endpoint_answers_per_garment_when_the_files_are_installed(tmp_path, monkeypatch, caplog):
    from street2shop.segmentation.person_files import ENV_VAR
    from street2shop.serving.endpoint import load_endpoint

    index_dir, _, _ = build_tiny_index(tmp_path, n_products=4)
    body = {"image": b64(photo_path("basketball2.png").read_bytes()), "k": 2}
    assert [g["part"] for g in load_endpoint([str(index_dir)])(body)["garments"]] == ["top", "bottom", "full"]
    # A code env whose resources init script did not run: one answer per picture, and a warning naming the set-up.
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "no-resources"))
    answer = load_endpoint([str(index_dir)])(body)
    assert set(answer) == SINGLE_ANSWER
    assert "make person-models" in caplog.text
