"""What to extract from a site: load and validate the JSON site spec, with errors naming the field at fault."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from street2shop.scraping.css_selectors import UnsupportedSelector, compile_selector
from street2shop.scraping.errors import SiteSpecError
from street2shop.scraping.settings import setting_names
from street2shop.scraping.urls import url_allowed
from street2shop.scraping.vocabulary import LABEL_VOCABULARY

#: Product fields a spec may describe; ``images`` is required.
FIELD_NAMES = ("id", "title", "brand", "price", "currency", "gender", "type", "colours", "size", "condition", "images")

#: Fields that keep every match by default (``"all": true``); the others keep the first.
MULTI_MATCH_FIELDS = frozenset({"colours", "gender", "images"})

_FIELD_KEYS = {"selector", "source", "attr", "regex", "all", "split"}
_CATEGORY_KEYS = {"name", "start_urls", "product_links", "next_page", "defaults"}
_TOP_KEYS = {"name", "description", "allowed_hosts", "currency", "max_images", "headers", "politeness",
             "listing", "fields", "categories", "vocabulary"}
_CATEGORY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_HOST_PATTERN = re.compile(r"^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$")
_FORBIDDEN_HEADERS = {"host", "user-agent", "content-length", "transfer-encoding", "connection"}


@dataclass(frozen=True)
class FieldRule:
    """How one product field is read: a CSS selector (or the page URL), an optional attribute and regex.

    Attributes:
        selector: CSS selector on the product page; None when ``source`` is ``"url"``.
        source: ``"page"`` (the default) or ``"url"`` (the field is read from the product URL, e.g. its id).
        attr: read this attribute of the matched elements instead of their text.
        regex: keep the first group (or the whole match) of this pattern; values it does not match are dropped.
        all: keep every match (True) or the first one.
        split: split each value on this separator (e.g. ``","`` for "blue, navy").
    """

    selector: str | None
    source: str = "page"
    attr: str | None = None
    regex: re.Pattern | None = None
    all: bool = False
    split: str | None = None


@dataclass(frozen=True)
class CategorySpec:
    """One category of the site: where its listing starts and how to walk it."""

    name: str
    start_urls: tuple[str, ...]
    product_links: str
    next_page: str | None
    defaults: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class SiteSpec:
    """A marketplace, described so that crawling it needs no code. See docs/scraping.md."""

    name: str
    allowed_hosts: tuple[str, ...]
    categories: tuple[CategorySpec, ...]
    fields: dict[str, FieldRule]
    vocabulary: dict[str, dict[str, str | None]]
    currency: str | None = None
    max_images: int = 1
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    politeness: dict[str, Any] = field(default_factory=dict)
    source: str = "site spec"

    def category(self, name: str) -> CategorySpec:
        """The category called ``name``.

        Raises:
            SiteSpecError: no such category; the message lists the known ones.
        """
        for category in self.categories:
            if category.name == name:
                return category
        raise SiteSpecError(f"{self.source}: no category {name!r}; categories: {[c.name for c in self.categories]}")

    def allows(self, url: str) -> bool:
        """Whether ``url`` is http(s) on one of the allowed hosts."""
        return url_allowed(url, self.allowed_hosts)


def load_site_spec(path: str | Path) -> SiteSpec:
    """Read and validate a site spec JSON file.

    Raises:
        SiteSpecError: unreadable file, invalid JSON, or a bad field (the message names it).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise SiteSpecError(f"{path}: cannot read the site spec: {err.strerror or err}") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise SiteSpecError(f"{path}: not valid JSON: {err.msg} at line {err.lineno} column {err.colno}") from err
    return parse_site_spec(data, source=str(path))


def parse_site_spec(data: Any, *, source: str = "site spec", environ: dict[str, str] | None = None) -> SiteSpec:
    """Validate a site spec already parsed from JSON.

    Args:
        data: the spec, as a dict.
        source: what to call the spec in error messages (its path).
        environ: where ``{"env": NAME}`` header values are looked up (default: ``os.environ``).

    Raises:
        SiteSpecError: naming the field at fault, e.g. ``fields.colours.regex``.
    """
    check = _Checker(source)
    root = check.mapping(data, "")
    check.known_keys(root, _TOP_KEYS, "")
    name = check.string(root.get("name", "site"), "name")
    hosts = tuple(check.host(h, f"allowed_hosts[{i}]") for i, h in enumerate(check.list(root.get("allowed_hosts"), "allowed_hosts")))
    if not hosts:
        check.fail("allowed_hosts", "must list at least one host (e.g. \"www.example.com\")")
    currency = root.get("currency")
    if currency is not None:
        currency = check.string(currency, "currency").upper()
    max_images = check.integer(root.get("max_images", 1), "max_images", minimum=1)
    headers = _headers(check, root.get("headers", {}), os.environ if environ is None else environ)
    politeness = check.mapping(root.get("politeness", {}), "politeness")
    check.known_keys(politeness, set(setting_names()), "politeness")

    listing = check.mapping(root.get("listing", {}), "listing")
    check.known_keys(listing, {"product_links", "next_page"}, "listing")
    fields_ = _fields(check, root.get("fields"))
    categories = _categories(check, root.get("categories"), listing, hosts)
    vocabulary = _vocabulary(check, root.get("vocabulary", {}))
    return SiteSpec(name=name, allowed_hosts=hosts, categories=categories, fields=fields_, vocabulary=vocabulary,
                    currency=currency, max_images=max_images, headers=headers, politeness=dict(politeness),
                    source=source)


def _headers(check: _Checker, value: Any, environ: dict[str, str]) -> dict[str, str]:
    headers = {}
    for key, raw in check.mapping(value, "headers").items():
        where = f"headers.{key}"
        if key.lower() in _FORBIDDEN_HEADERS:
            check.fail(where, "cannot be set here (use the user_agent setting for User-Agent)")
        if isinstance(raw, dict):
            check.known_keys(raw, {"env"}, where)
            variable = check.string(raw.get("env"), f"{where}.env")
            if variable not in environ:
                check.fail(where, f"environment variable {variable} is not set")
            raw = environ[variable]
        text = check.string(raw, where)
        if any(ch in text for ch in "\r\n"):
            check.fail(where, "must be one line")
        headers[key] = text
    return headers


def _fields(check: _Checker, value: Any) -> dict[str, FieldRule]:
    rules = {}
    mapping = check.mapping(value, "fields")
    check.known_keys(mapping, set(FIELD_NAMES), "fields")
    if "images" not in mapping:
        check.fail("fields", "must describe 'images' (the pictures are what is scraped)")
    for name, spec in mapping.items():
        where = f"fields.{name}"
        spec = check.mapping(spec, where)
        check.known_keys(spec, _FIELD_KEYS, where)
        source = spec.get("source", "page")
        if source not in ("page", "url"):
            check.fail(f"{where}.source", f"must be 'page' or 'url', got {source!r}")
        selector = spec.get("selector")
        if source == "page":
            selector = check.selector(selector, f"{where}.selector")
        elif selector is not None:
            check.fail(f"{where}.selector", "must be left out when source is 'url'")
        attr = spec.get("attr")
        if attr is not None:
            attr = check.string(attr, f"{where}.attr")
            if source == "url":
                check.fail(f"{where}.attr", "must be left out when source is 'url'")
        regex = spec.get("regex")
        if regex is not None:
            regex = check.regex(regex, f"{where}.regex")
        all_ = spec.get("all", name in MULTI_MATCH_FIELDS)
        if not isinstance(all_, bool):
            check.fail(f"{where}.all", f"must be true or false, got {all_!r}")
        split = spec.get("split")
        if split is not None:
            split = check.string(split, f"{where}.split")
        rules[name] = FieldRule(selector=selector, source=source, attr=attr, regex=regex, all=all_, split=split)
    return rules


def _categories(check: _Checker, value: Any, listing: dict, hosts: tuple[str, ...]) -> tuple[CategorySpec, ...]:
    categories = []
    seen = set()
    items = check.list(value, "categories")
    if not items:
        check.fail("categories", "must list at least one category")
    for i, item in enumerate(items):
        where = f"categories[{i}]"
        item = check.mapping(item, where)
        check.known_keys(item, _CATEGORY_KEYS, where)
        name = check.string(item.get("name"), f"{where}.name")
        if not _CATEGORY_NAME.match(name):
            check.fail(f"{where}.name", f"{name!r} must be letters, digits, '_', '.' or '-' (it names a partition)")
        if name in seen:
            check.fail(f"{where}.name", f"{name!r} is listed twice")
        seen.add(name)
        start_urls = check.list(item.get("start_urls"), f"{where}.start_urls")
        if not start_urls:
            check.fail(f"{where}.start_urls", "must list at least one URL")
        for j, url in enumerate(start_urls):
            url = check.string(url, f"{where}.start_urls[{j}]")
            if not url_allowed(url, hosts):
                check.fail(f"{where}.start_urls[{j}]", f"{url!r} is not an http(s) URL on the allowed_hosts {list(hosts)}")
        product_links = item.get("product_links", listing.get("product_links"))
        if product_links is None:
            check.fail(f"{where}.product_links", "no selector for product links (set listing.product_links or this)")
        product_links = check.selector(product_links, f"{where}.product_links")
        next_page = item.get("next_page", listing.get("next_page"))
        if next_page is not None:
            next_page = check.selector(next_page, f"{where}.next_page")
        defaults = {}
        for key, raw in check.mapping(item.get("defaults", {}), f"{where}.defaults").items():
            if key not in FIELD_NAMES or key in ("id", "images"):
                check.fail(f"{where}.defaults.{key}", "is not a field that can have a default")
            values = raw if isinstance(raw, list) else [raw]
            defaults[key] = tuple(check.string(v, f"{where}.defaults.{key}") for v in values)
        categories.append(CategorySpec(name=name, start_urls=tuple(start_urls), product_links=product_links,
                                       next_page=next_page, defaults=defaults))
    return tuple(categories)


def _vocabulary(check: _Checker, value: Any) -> dict[str, dict[str, str | None]]:
    tables: dict[str, dict[str, str | None]] = {}
    mapping = check.mapping(value, "vocabulary")
    check.known_keys(mapping, set(LABEL_VOCABULARY), "vocabulary")
    for label_field, table in mapping.items():
        words = LABEL_VOCABULARY[label_field]
        tables[label_field] = {}
        for raw, label in check.mapping(table, f"vocabulary.{label_field}").items():
            if label is not None and label not in words:
                check.fail(f"vocabulary.{label_field}.{raw}", f"{label!r} is not a {label_field} label; labels: {list(words)}")
            tables[label_field][raw] = label
    return tables


class _Checker:
    """Small typed readers that raise SiteSpecError naming the spec and the field."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, message: str) -> None:
        raise SiteSpecError(f"{self.source}: {where or 'the spec'}: {message}")

    def mapping(self, value: Any, where: str) -> dict:
        if not isinstance(value, dict):
            self.fail(where, f"must be a JSON object, got {type(value).__name__}")
        return value

    def list(self, value: Any, where: str) -> list:
        if not isinstance(value, list):
            self.fail(where, f"must be a JSON list, got {type(value).__name__}")
        return value

    def string(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(where, f"must be a non-empty string, got {value!r}")
        return value.strip()

    def integer(self, value: Any, where: str, *, minimum: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(where, f"must be a whole number >= {minimum}, got {value!r}")
        return value

    def known_keys(self, mapping: dict, known: set, where: str) -> None:
        unknown = sorted(set(mapping) - known)
        if unknown:
            self.fail(f"{where}.{unknown[0]}" if where else unknown[0], f"unknown key; known keys: {sorted(known)}")

    def selector(self, value: Any, where: str) -> str:
        text = self.string(value, where)
        try:
            compile_selector(text)  # compiled once, here; extraction reuses the compiled form
        except UnsupportedSelector as err:
            self.fail(where, f"CSS selector {text!r} is invalid or not supported (lxml/cssselect): {str(err).splitlines()[0]}")
        return text

    def regex(self, value: Any, where: str) -> re.Pattern:
        text = self.string(value, where)
        try:
            return re.compile(text)
        except re.error as err:
            self.fail(where, f"invalid regular expression {text!r}: {err}")
            raise  # unreachable: fail() raised

    def host(self, value: Any, where: str) -> str:
        text = self.string(value, where).lower().rstrip(".")
        if not _HOST_PATTERN.match(text):
            self.fail(where, f"{value!r} is not a host name (like 'www.example.com', '*.example.com' or 'example.com:8080')")
        return text
