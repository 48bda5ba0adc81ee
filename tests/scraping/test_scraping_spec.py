"""Tests of the site spec: the documented example loads, and every mistake is named by its field."""

from __future__ import annotations

import copy
import json

import pytest
from marketplace_fixture import EXAMPLE_SPEC

from street2shop.errors import InvalidParameter
from street2shop.scraping.errors import SiteSpecError
from street2shop.scraping.settings import CrawlSettings
from street2shop.scraping.site_spec import load_site_spec, parse_site_spec
from street2shop.scraping.urls import url_allowed


@pytest.fixture()
def example() -> dict:
    return json.loads(EXAMPLE_SPEC.read_text(encoding="utf-8"))


def test_documented_example_loads(example):
    spec = load_site_spec(EXAMPLE_SPEC)
    assert [c.name for c in spec.categories] == ["robes", "costumes-and-blazers"]
    assert spec.fields["colours"].all and spec.fields["colours"].split == ","
    assert spec.fields["id"].source == "url" and spec.fields["id"].selector is None
    assert not spec.fields["title"].all
    assert spec.category("costumes-and-blazers").defaults == {"type": ("costumes-and-blazers",)}
    assert spec.category("robes").next_page == "nav.pagination a[rel=next]"
    assert spec.vocabulary["colours"]["multicolore"] is None
    assert spec.max_images == 2 and spec.currency == "EUR"
    CrawlSettings().with_overrides(**spec.politeness).validated()


@pytest.mark.parametrize(("edit", "where"), [
    (lambda s: s["fields"]["colours"].update(selector="dd[class="), "fields.colours.selector"),
    (lambda s: s["fields"]["price"].update(regex="([0-9"), "fields.price.regex"),
    (lambda s: s["fields"]["brand"].update(atr="content"), "fields.brand.atr"),
    (lambda s: s["fields"].pop("images"), "fields: must describe 'images'"),
    (lambda s: s["fields"].update(material={"selector": "p"}), "fields.material"),
    (lambda s: s["vocabulary"]["colours"].update(marine="navy"), "vocabulary.colours.marine"),
    (lambda s: s["vocabulary"].update(material={}), "vocabulary.material"),
    (lambda s: s["categories"][0].update(start_urls=["http://evil.example/x"]), "categories[0].start_urls[0]"),
    (lambda s: s["categories"][0].update(start_urls=["ftp://127.0.0.1/x"]), "categories[0].start_urls[0]"),
    (lambda s: s["categories"][1].update(name="robes"), "categories[1].name"),
    (lambda s: s["categories"][0].update(name="a/b"), "categories[0].name"),
    (lambda s: s["categories"][0].update(defaults={"images": "x"}), "categories[0].defaults.images"),
    (lambda s: s.update(allowed_hosts=["not a host"]), "allowed_hosts[0]"),
    (lambda s: s.update(allowed_hosts=[]), "allowed_hosts"),
    (lambda s: s["politeness"].update(delay=3), "politeness.delay"),
    (lambda s: s.update(max_images=0), "max_images"),
    (lambda s: s.update(headers={"User-Agent": "x"}), "headers.User-Agent"),
    (lambda s: s.update(headers={"Cookie": {"env": "S2S_TEST_UNSET_VARIABLE"}}), "headers.Cookie"),
    (lambda s: s.pop("listing"), "categories[0].product_links"),
    (lambda s: s["fields"]["id"].update(selector="h1"), "fields.id.selector"),
])
def test_errors_name_the_field(example, edit, where):
    spec = copy.deepcopy(example)
    edit(spec)
    with pytest.raises(SiteSpecError) as info:
        parse_site_spec(spec, source="site.json", environ={})
    assert str(info.value).startswith("site.json: ")
    assert where in str(info.value)


def test_invalid_json_names_line(tmp_path):
    path = tmp_path / "site.json"
    path.write_text('{"name": "x",\n "allowed_hosts": [,]}', encoding="utf-8")
    with pytest.raises(SiteSpecError, match=r"site.json: not valid JSON: .* line 2"):
        load_site_spec(path)


def test_header_from_environment_is_read_but_not_shown(example):
    spec = copy.deepcopy(example)
    spec["headers"] = {"Cookie": {"env": "SITE_COOKIE"}}
    parsed = parse_site_spec(spec, environ={"SITE_COOKIE": "session=s3cr3t"})
    assert parsed.headers == {"Cookie": "session=s3cr3t"}
    assert "s3cr3t" not in repr(parsed)


@pytest.mark.parametrize(("url", "allowed"), [
    ("http://shop.example/a", True),
    ("https://shop.example:8443/a", True),
    ("https://img.cdn.example/a.jpg", True),
    ("https://cdn.example/a.jpg", True),
    ("http://evil.example/a", False),
    ("http://shop.example.evil.example/a", False),
    ("ftp://shop.example/a", False),
    ("file:///etc/passwd", False),
    ("http://api.example:8080/x", True),
    ("http://api.example:9090/x", False),
    ("http://shop.example:bad/x", False),
])
def test_allowed_hosts(url, allowed):
    assert url_allowed(url, ["shop.example", "*.cdn.example", "api.example:8080"]) is allowed


def test_settings_are_polite_by_default_and_checked():
    settings = CrawlSettings()
    assert settings.delay_s >= 1.0 and settings.obey_robots and settings.max_retries > 0
    assert settings.read_timeout_s > 0 and "street2shop" in settings.user_agent
    assert settings.with_overrides(parallel_crawls=4).request_interval_s == 4 * settings.delay_s
    with pytest.raises(InvalidParameter, match="max_retries"):
        CrawlSettings(max_retries=-1).validated()
    with pytest.raises(InvalidParameter, match="unknown crawl setting"):
        CrawlSettings().with_overrides(dealy_s=1)
