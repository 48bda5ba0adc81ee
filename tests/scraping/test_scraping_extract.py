"""Tests of extraction (selectors, attributes, regexes, prices, links) and of the vocabulary mapping."""

from __future__ import annotations

import re

import pytest

from street2shop.scraping.extract import (
    extract_links,
    extract_next_page,
    extract_product,
    extract_values,
    link_product_id,
    parse_html,
    parse_price,
)
from street2shop.scraping.site_spec import FieldRule, parse_site_spec
from street2shop.scraping.vocabulary import LABEL_VOCABULARY, VocabularyMapper, normalise

PAGE = b"""<html><head><meta charset="utf-8"><meta itemprop="priceCurrency" content="GBP"></head><body>
<ul class="catalog">
  <li><a class="item" href="/item/1-red-dress#reviews">Red dress</a></li>
  <li><a class="item" href="item/2">Coat</a></li>
  <li><a class="item" href="/item/1-red-dress">Red dress again</a></li>
  <li><a class="item" href="javascript:void(0)">JS</a></li>
  <li class="item"><span><a href="https://shop.example/item/3">nested link</a></span></li>
</ul>
<a class="next" rel="next" href="?page=2">next</a>
<div class="product"><h1>  Robe   d'\xc3\xa9t\xc3\xa9 </h1>
<dl><dd class="colours">Bleu, marine ,</dd><dd class="colours">cr\xc3\xa8me</dd></dl>
<span class="ref">Ref: AB-1234</span>
<img class="photo" src="/img/1.jpg"><img class="photo" data-src="/img/2.jpg" src="/img/1.jpg"></div>
<script>document.write('<a class="item" href="/item/666">x</a>')</script>
</body></html>"""
BASE = "https://shop.example/catalog/dresses?page=1"


@pytest.fixture(scope="module")
def soup():
    return parse_html(PAGE)


def test_links_are_absolute_unique_in_order_and_never_from_scripts(soup):
    links = extract_links(soup, "ul.catalog .item", BASE)
    assert links == ["https://shop.example/item/1-red-dress", "https://shop.example/catalog/item/2",
                     "https://shop.example/item/3"]
    assert extract_next_page(soup, "a[rel=next]", BASE) == "https://shop.example/catalog/dresses?page=2"
    assert extract_next_page(soup, "a.missing", BASE) is None
    assert extract_next_page(soup, None, BASE) is None


def test_values_by_text_attribute_regex_and_split(soup):
    def values(**rule):
        return extract_values(soup, BASE, FieldRule(**rule))

    assert values(selector="h1") == ["Robe d'été"]
    assert values(selector="dd.colours", split=",") == ["Bleu", "marine"]
    assert values(selector="dd.colours", split=",", all=True) == ["Bleu", "marine", "crème"]
    assert values(selector="span.ref", regex=re.compile(r"Ref:\s*([A-Z]+-\d+)")) == ["AB-1234"]
    assert values(selector="span.ref", regex=re.compile(r"\d+")) == ["1234"]
    assert values(selector="span.ref", regex=re.compile(r"EAN (\d+)")) == []
    assert values(selector="img.photo", attr="src", all=True) == ["/img/1.jpg", "/img/1.jpg"]
    assert values(selector="img.photo", attr="data-src", all=True) == ["/img/2.jpg"]
    assert values(selector="p.absent") == []
    assert values(selector=None, source="url", regex=re.compile(r"page=(\d+)")) == ["1"]


@pytest.mark.parametrize(("text", "amount", "currency"), [
    ("50,00€", 50.0, "EUR"),
    ("34,99 €", 34.99, "EUR"),
    ("€1,234.50", 1234.5, "EUR"),
    ("1 234,50 EUR", 1234.5, "EUR"),
    ("1.234,5 €", 1234.5, "EUR"),
    ("£12", 12.0, "GBP"),
    ("$ 9.99", 9.99, "USD"),
    ("CHF 1'200.00", 1200.0, "CHF"),
    ("1,234", 1234.0, "SEK"),
    ("Prix : 15", 15.0, "SEK"),
    ("gratuit", None, None),
    ("", None, None),
])
def test_prices(text, amount, currency):
    got_amount, got_currency = parse_price(text, default_currency="SEK")
    assert got_amount == pytest.approx(amount) if amount is not None else got_amount is None
    assert got_currency == currency


def _spec(**fields):
    return parse_site_spec({
        "allowed_hosts": ["shop.example"], "currency": "EUR", "fields": fields,
        "listing": {"product_links": "a.item"},
        "categories": [{"name": "dresses", "start_urls": ["https://shop.example/c"], "defaults": {"type": "robes", "gender": ["femmes"]}}],
    })


def test_product_fields_with_category_defaults(soup):
    spec = _spec(id={"selector": "span.ref", "regex": r"([A-Z]+-\d+)"}, title={"selector": "h1"},
                 currency={"selector": "meta[itemprop=priceCurrency]", "attr": "content"},
                 price={"selector": "h1"}, colours={"selector": "dd.colours", "split": ","},
                 images={"selector": "img.photo", "attr": "src"})
    product = extract_product(soup, "https://shop.example/item/1", spec, spec.category("dresses"))
    assert product.product_id == "AB-1234"
    assert product.title == "Robe d'été" and product.brand is None and product.price_amount is None
    assert product.price_currency == "GBP"
    assert product.raw_labels == {"type": ["robes"], "colours": ["Bleu", "marine", "crème"], "gender": ["femmes"]}
    assert product.image_urls == ["https://shop.example/img/1.jpg"]


def test_product_id_from_link_only_when_the_spec_reads_it_from_the_url():
    from_url = _spec(id={"source": "url", "regex": r"/item/(\d+)"}, images={"selector": "img"})
    assert link_product_id("https://shop.example/item/42-coat", from_url) == "42"
    from_page = _spec(id={"selector": "span.ref"}, images={"selector": "img"})
    assert link_product_id("https://shop.example/item/42-coat", from_page) is None
    no_id = _spec(images={"selector": "img"})
    first = link_product_id("https://shop.example/item/42-coat", no_id)
    assert first == link_product_id("https://shop.example/item/42-coat", no_id) and len(first) == 16
    assert first != link_product_id("https://shop.example/item/43-coat", no_id)


def test_malformed_html_is_recovered():
    soup = parse_html(b"<html><body><div class=product><h1 class=title>Veste</h1></span><dl><dd class=colours>noir, "
                      b"gris</dd></table><dd class=size>M</dd><p>unclosed<img class=photo src=/a.jpg></div></span>")
    assert extract_values(soup, BASE, FieldRule(selector="dd.colours", split=",")) == ["noir", "gris"]
    assert extract_values(soup, BASE, FieldRule(selector="dd.size")) == ["M"]
    assert extract_values(soup, BASE, FieldRule(selector="img.photo", attr="src")) == ["/a.jpg"]


def test_vocabulary_mapping_counts_unmapped():
    mapper = VocabularyMapper({"colours": {"marine": "blue", "Crème": "beige", "multicolore": None},
                               "type": {"costumes-and-blazers": "jackets/coats"}})
    assert mapper.map("colours", ["Bleu marine", "MARINE", " creme ", "blue", "Multicolore", "moutarde"]) == ["blue", "beige"]
    assert mapper.map("colours", ["moutarde", "kaki", ""]) == []
    assert mapper.map("type", ["Costumes-and-Blazers"]) == ["jackets/coats"]
    assert mapper.map("gender", ["women", "Hommes"]) == ["women"]
    assert mapper.unmapped_report() == {"colours": {"moutarde": 2, "bleu marine": 1, "kaki": 1}, "gender": {"hommes": 1}}
    assert normalise("  Crème\u00a0Brûlée ") == "creme brulee"
    assert len(LABEL_VOCABULARY["colours"]) == 11 and len(LABEL_VOCABULARY["type"]) == 15
    assert len(LABEL_VOCABULARY["gender"]) == 6
