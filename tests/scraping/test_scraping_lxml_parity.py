"""lxml + cssselect extraction gives what BeautifulSoup + soupsieve gave: on every test marketplace page and on held-out
pages (broken markup, encodings, scripts, comments, templates); selectors are compiled once, at spec load."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest

from marketplace_fixture import EXAMPLE_BASE, EXAMPLE_SPEC, Marketplace
from soup_reference import soup_extract_links, soup_extract_product, soup_extract_values, soup_parse_html
from street2shop.scraping.css_selectors import compile_selector
from street2shop.scraping.errors import SiteSpecError
from street2shop.scraping.extract import extract_links, extract_product, extract_values, parse_html
from street2shop.scraping.site_spec import FieldRule, parse_site_spec


def _market_pages():
    market = Marketplace(extra_per_category=4)  # its pages, without serving them
    spec = parse_site_spec(json.loads(EXAMPLE_SPEC.read_text(encoding="utf-8")))
    listings, products = [], []
    for name in market.catalogue:
        for page in range(1, len(market.listing_pages(name)) + 1):
            listings.append((name, market.listing_html(name, page).encode("utf-8")))
    for product in market.products.values():
        products.append((product, market.product_html(product).encode("utf-8")))
    return spec, listings, products


SPEC, LISTINGS, PRODUCTS = _market_pages()


def test_the_fixture_has_malformed_pages_among_those_compared():
    assert any(product.malformed for product, _ in PRODUCTS) and len(PRODUCTS) >= 20


@pytest.mark.parametrize(("category", "body"), LISTINGS, ids=[f"{c}-{i}" for i, (c, _) in enumerate(LISTINGS)])
def test_listing_pages_give_the_same_links(category, body):
    spec_category = SPEC.category(category) if category in {c.name for c in SPEC.categories} else SPEC.categories[0]
    base = f"{EXAMPLE_BASE}/catalog/{category}?page=1"
    new, old = parse_html(body), soup_parse_html(body)
    for selector in (spec_category.product_links, spec_category.next_page):
        if selector is not None:
            assert extract_links(new, selector, base) == soup_extract_links(old, selector, base)
    assert extract_links(new, spec_category.product_links, base)  # not vacuous: the page has product links


@pytest.mark.parametrize(("product", "body"), PRODUCTS, ids=[p.product_id for p, _ in PRODUCTS])
def test_product_pages_give_the_same_rows(product, body):
    category = SPEC.categories[0]
    url = f"{EXAMPLE_BASE}/item/{product.product_id}"
    new = extract_product(parse_html(body), url, SPEC, category)
    old = soup_extract_product(soup_parse_html(body), url, SPEC, category)
    assert dataclasses.asdict(new) == dataclasses.asdict(old)
    assert new.title == product.title and len(new.image_urls) == len(product.images)  # and it read the page


HELD_OUT = {
    "unclosed and stray tags": b"<html><body><div class=product><h1 class=title>Veste</h1></span><dl><dd class=colours>noir, "
                               b"gris</dd></table><dd class=size>M</dd><p>unclosed<img class=photo src=/a.jpg></div></span>",
    "comments, scripts, styles and templates inside": (
        b"<html><head><style>.x{}</style></head><body><div class=product><h1>Robe<!-- hidden -->longue <b>bleue</b>"
        b"<script>var t = 'no';</script></h1><template><p class=t>in template</p></template>"
        b"<ruby>\xe6\xbc\xa2<rt>kan</rt></ruby><p class=t>visible</p></div></body></html>"),
    "entities and no-break spaces": b"<p class=price>1&nbsp;234,50&#8239;&euro;</p><p class=t>caf&eacute; &amp; th&eacute;</p>",
    "windows-1252 declared in a meta": b'<html><head><meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
                                       b"</head><body><h1 class=t>Cr\xe8me br\xfbl\xe9e \x80 12</h1></body></html>",
    "utf-8 byte-order mark": b"\xef\xbb\xbf<html><body><h1 class=t>\xc3\xa9t\xc3\xa9</h1></body></html>",
    "xml declaration": b'<?xml version="1.0" encoding="utf-8"?><html><body><h1 class=t>\xc3\xa9</h1><a class=item href=/i/1>x</a></body></html>',
    "empty page": b"",
    "blank page": b"  \n ",
    "deep nesting": b"<html><body>" + b"<div class=d>" * 3000 + b"<p class=t>deep</p>" + b"</div>" * 10 + b"</body></html>",
    "upper-case names and odd class spacing": b'<HTML><BODY><DIV CLASS="product\tmain  big"><A HREF="/item/9" Class=item>nine</A>'
                                              b'<IMG SRC="/p.jpg" DATA-SRC="/z.jpg" class="photo"></DIV></BODY></HTML>',
    "links without href and nested links": b'<ul class=catalog><li class=item><span><a>none</a><a href="  /item/2 ">two</a></span></li>'
                                           b'<li class=item><a href="">empty</a></li><li class=item><a href="mailto:x@y">m</a></li></ul>',
}
SELECTORS = ["h1", ".t", "p.t", "div.product", ".product.main", "dd.colours", "dd.size", "img.photo", "a.item", "li.item",
             "p.price", "ul.catalog .item", "div > h1", "h1 + p", "p:nth-child(2)", "li:first-child", "a[href^='/item']",
             "[class~=photo]", "img[data-src]", "h1, p.t", "p:-soup-contains('visible')", "h1:-soup-contains('longue')",
             "p:-soup-contains-own('deep')", "li:has(> a)", ":is(h1, dd)", "p:not(.t)", "div.d div.d p", "ruby", "script",
             "template", "rt",
             # first steps of each kind the engine starts from: a tag, a class, the whole page (no tag, no class)
             ".product h1", ".d .t", "body .t", ".product > h1 + p", "div.product img", "[class] > a", "* .photo",
             ":not(div) > .t", "dd.size, .t, [href]", ".product :-soup-contains('longue')", "li:nth-child(2) a"]


@pytest.mark.parametrize("name", sorted(HELD_OUT))
def test_held_out_pages_give_the_same_values(name):
    body = HELD_OUT[name]
    new, old = parse_html(body), soup_parse_html(body)
    compared = 0
    for selector in SELECTORS:
        for rule in (FieldRule(selector=selector, all=True), FieldRule(selector=selector),
                     FieldRule(selector=selector, attr="src", all=True), FieldRule(selector=selector, attr="class", all=True),
                     FieldRule(selector=selector, regex=re.compile(r"(\d[\d\s,.]*)"), all=True)):
            got = extract_values(new, "https://shop.example/item/1", rule)
            assert got == soup_extract_values(old, "https://shop.example/item/1", rule), (selector, rule)
            compared += bool(got)
        assert extract_links(new, selector, "https://shop.example/c/") == soup_extract_links(old, selector, "https://shop.example/c/")
    assert compared > 0 or not body.strip()


def test_undeclared_bytes_that_are_not_utf8_are_read_as_windows_1252():
    # The one deliberate difference: BeautifulSoup's guess (chardet) read these bytes as CJK.
    body = b"<html><body><h1 class=t>Pull \xe9t\xe9 \x80</h1></body></html>"
    assert extract_values(parse_html(body), "u", FieldRule(selector=".t")) == ["Pull été €"]


def test_the_declared_charset_and_the_http_one_decode_the_page():
    body = HELD_OUT["windows-1252 declared in a meta"]
    assert extract_values(parse_html(body), "u", FieldRule(selector=".t")) == ["Crème brûlée € 12"]
    body = "<p class=t>Crème</p>".encode("iso-8859-15")
    assert extract_values(parse_html(body, "iso-8859-15"), "u", FieldRule(selector=".t")) == ["Crème"]


def _spec_with(selector: str) -> dict:
    return {"allowed_hosts": ["shop.example"], "fields": {"images": {"selector": selector, "attr": "src"}},
            "listing": {"product_links": "a.item"}, "categories": [{"name": "c", "start_urls": ["https://shop.example/c"]}]}


@pytest.mark.parametrize(("selector", "reason"), [
    ("img:-soup-contains('a', 'b')", "one selector per text"),
    ("img:not(.a, .b)", "Expected ')'"),
    ("img:-soup-unknown(x)", "unknown"),
    ("img[", "Expected"),
])
def test_selectors_lxml_cannot_run_are_refused_at_spec_load(selector, reason):
    with pytest.raises(SiteSpecError, match=r"fields\.images\.selector: CSS selector .* not supported") as err:
        parse_site_spec(_spec_with(selector))
    assert reason in str(err.value) and "\n" not in str(err.value)


def test_selectors_are_compiled_once_at_spec_load():
    spec = parse_site_spec(_spec_with("img.unique-for-this-test"))
    misses = compile_selector.cache_info().misses
    page = parse_html(b"<img class=unique-for-this-test src=/a.jpg><a class=item href=/i/1>i</a>")
    for _ in range(3):
        assert extract_product(page, "https://shop.example/i/1", spec, spec.categories[0]).image_urls == ["https://shop.example/a.jpg"]
        assert extract_links(page, spec.categories[0].product_links, "https://shop.example/") == ["https://shop.example/i/1"]
    assert compile_selector.cache_info().misses == misses
