"""What to extract: product links, the next page and product fields from HTML, by the spec's selectors."""

from __future__ import annotations

import hashlib
import re
import warnings
from dataclasses import dataclass, field
from urllib.parse import urljoin, urldefrag

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning
from bs4.element import Tag

from street2shop.scraping.site_spec import CategorySpec, FieldRule, SiteSpec

#: Currency symbols and words read in prices, to ISO 4217 codes.
CURRENCY_SYMBOLS = {"€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR", "$": "USD", "us$": "USD", "usd": "USD",
                    "£": "GBP", "gbp": "GBP", "chf": "CHF", "¥": "JPY", "jpy": "JPY", "zł": "PLN", "pln": "PLN",
                    "kr": "SEK", "sek": "SEK", "dkk": "DKK", "nok": "NOK", "cad": "CAD", "aud": "AUD"}
_NUMBER = re.compile(r"\d[\d\s.,'\u00a0\u202f]*")
_ISO_CODE = re.compile(r"\b[A-Z]{3}\b")
_SKIPPED_SCHEMES = ("javascript:", "mailto:", "tel:", "data:")


@dataclass
class ProductPage:
    """The fields read from one product page, as the site words them (before vocabulary mapping)."""

    url: str
    product_id: str | None
    title: str | None = None
    brand: str | None = None
    price_amount: float | None = None
    price_currency: str | None = None
    size: str | None = None
    condition: str | None = None
    raw_labels: dict[str, list[str]] = field(default_factory=dict)
    image_urls: list[str] = field(default_factory=list)


def parse_html(body: bytes, charset: str | None = None) -> BeautifulSoup:
    """Parse HTML bytes with lxml (tolerant of broken markup; scripts are never run)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        return BeautifulSoup(body, "lxml", from_encoding=charset)


def resolve_link(base_url: str, href: str | None) -> str | None:
    """``href`` made absolute against ``base_url``, without fragment; None for non-web links."""
    if href is None:
        return None
    href = href.strip()
    if not href or href.lower().startswith(_SKIPPED_SCHEMES):
        return None
    return urldefrag(urljoin(base_url, href))[0]


def extract_links(soup: BeautifulSoup, selector: str, base_url: str) -> list[str]:
    """Absolute URLs of the elements ``selector`` matches (their ``href``, or their first link's), in page order, once each."""
    links: list[str] = []
    for element in soup.select(selector):
        href = element.get("href")
        if href is None:
            inner = element.find("a", href=True)
            href = inner.get("href") if inner is not None else None
        url = resolve_link(base_url, href if isinstance(href, str) else None)
        if url is not None and url not in links:
            links.append(url)
    return links


def extract_next_page(soup: BeautifulSoup, selector: str | None, base_url: str) -> str | None:
    """The next listing page's URL, or None on the last page."""
    if selector is None:
        return None
    links = extract_links(soup, selector, base_url)
    return links[0] if links else None


def extract_values(soup: BeautifulSoup | None, page_url: str, rule: FieldRule) -> list[str]:
    """The values of one field: matched elements' text or attribute, through the regex, split; blanks dropped."""
    if rule.source == "url":
        texts = [page_url]
    elif soup is None:
        return []
    else:
        elements = soup.select(rule.selector) if rule.all else [soup.select_one(rule.selector)]
        texts = [_element_value(el, rule.attr) for el in elements if el is not None]
    values: list[str] = []
    for text in texts:
        if text is None:
            continue
        text = " ".join(text.split())
        if rule.regex is not None:
            match = rule.regex.search(text)
            if match is None:
                continue
            groups = [g for g in match.groups() if g is not None]
            text = groups[0] if groups else match.group(0)
        for part in text.split(rule.split) if rule.split else [text]:
            part = part.strip()
            if part:
                values.append(part)
    return values


def _element_value(element: Tag, attr: str | None) -> str | None:
    if attr is None:
        return element.get_text(" ", strip=True)
    value = element.get(attr)
    if isinstance(value, list):  # multi-valued attributes such as class
        return " ".join(value)
    return value


def url_product_id(url: str) -> str:
    """A stable id for a product whose page gives none: the first 16 hex digits of the URL's SHA-1."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()[:16]


def link_product_id(url: str, spec: SiteSpec) -> str | None:
    """The product id known from a product link alone, or None when the id is read on the page."""
    rule = spec.fields.get("id")
    if rule is None:
        return url_product_id(url)
    if rule.source == "url":
        values = extract_values(None, url, rule)
        return values[0] if values else None
    return None


def extract_product(soup: BeautifulSoup, page_url: str, spec: SiteSpec, category: CategorySpec) -> ProductPage:
    """Read a product page: scalar fields, raw label values (category defaults fill gaps), picture URLs."""

    def values(name: str) -> list[str]:
        rule = spec.fields.get(name)
        found = extract_values(soup, page_url, rule) if rule is not None else []
        return found or list(category.defaults.get(name, ()))

    def scalar(name: str) -> str | None:
        found = values(name)
        return ", ".join(found) if found else None

    if "id" in spec.fields:
        ids = extract_values(soup, page_url, spec.fields["id"])
        product_id = ids[0] if ids else None
    else:
        product_id = url_product_id(page_url)
    amount, currency = parse_price(scalar("price"), default_currency=spec.currency)
    declared = scalar("currency")
    if declared:
        currency = _currency_code(declared) or currency
    images = []
    for raw in values("images"):
        url = resolve_link(page_url, raw)
        if url is not None and url not in images:
            images.append(url)
    return ProductPage(
        url=page_url, product_id=product_id, title=scalar("title"), brand=scalar("brand"), price_amount=amount,
        price_currency=currency, size=scalar("size"), condition=scalar("condition"),
        raw_labels={name: values(name) for name in ("type", "colours", "gender")}, image_urls=images,
    )


def parse_price(text: str | None, *, default_currency: str | None = None) -> tuple[float | None, str | None]:
    """Amount and ISO currency of a price as sites write it: '50,00€', '34,99 €', '€1,234.50', '1 234,50 EUR'.

    A lone separator followed by one or two digits is the decimal one; with both '.' and ',' the
    rightmost is. Returns ``(None, None)`` when there is no number.
    """
    if not text:
        return None, None
    match = _NUMBER.search(text)
    if match is None:
        return None, None
    number = re.sub(r"[\s'\u00a0\u202f]", "", match.group(0)).rstrip(".,")
    if "," in number and "." in number:
        decimal = "," if number.rfind(",") > number.rfind(".") else "."
    elif "," in number or "." in number:
        sep = "," if "," in number else "."
        head, _, tail = number.rpartition(sep)
        decimal = sep if number.count(sep) == 1 and len(tail) in (1, 2) else None
    else:
        decimal = None
    thousands = {",", "."} - {decimal}
    for sep in thousands:
        number = number.replace(sep, "")
    if decimal == ",":
        number = number.replace(",", ".")
    try:
        amount = float(number)
    except ValueError:
        return None, None
    rest = text[: match.start()] + " " + text[match.end():]
    return amount, _currency_code(rest) or default_currency


def _currency_code(text: str) -> str | None:
    for symbol in ("€", "£", "¥", "zł"):
        if symbol in text:
            return CURRENCY_SYMBOLS[symbol]
    iso = _ISO_CODE.search(text)
    if iso is not None:
        return iso.group(0)
    for word in re.findall(r"[^\W\d_]+", text.lower()):
        if word in CURRENCY_SYMBOLS:
            return CURRENCY_SYMBOLS[word]
    # '$' last: 'CAD $' or 'AUD$' name their dollar before this.
    return "USD" if "$" in text else None
