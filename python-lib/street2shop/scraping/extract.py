"""What to extract: product links, the next page and product fields from HTML, by the spec's selectors."""

from __future__ import annotations

import codecs
import hashlib
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin, urldefrag

from lxml import etree

from street2shop.scraping.css_selectors import StartElements, compile_selector, compile_selectors
from street2shop.scraping.site_spec import CategorySpec, FieldRule, SiteSpec

#: A parsed page: the root element of lxml's HTML tree.
Document = etree._Element

#: Currency symbols and words read in prices, to ISO 4217 codes.
CURRENCY_SYMBOLS = {"€": "EUR", "eur": "EUR", "euro": "EUR", "euros": "EUR", "$": "USD", "us$": "USD", "usd": "USD",
                    "£": "GBP", "gbp": "GBP", "chf": "CHF", "¥": "JPY", "jpy": "JPY", "zł": "PLN", "pln": "PLN",
                    "kr": "SEK", "sek": "SEK", "dkk": "DKK", "nok": "NOK", "cad": "CAD", "aud": "AUD"}
_NUMBER = re.compile(r"\d[\d\s.,'\u00a0\u202f]*")
_ISO_CODE = re.compile(r"\b[A-Z]{3}\b")
_SKIPPED_SCHEMES = ("javascript:", "mailto:", "tel:", "data:")
_META_CHARSET = re.compile(rb"""<\s*meta[^>]+charset\s*=\s*["']?([^>]*?)[ /;'">]""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
#: Tags whose text is not the page's text (scripts, styles, templates, ruby annotations): the
#: text inside counts only for the tag itself, as BeautifulSoup's get_text did.
_OWN_TEXT_TAGS = frozenset({"script", "style", "template", "rt", "rp"})
_parsers = threading.local()  # lxml parsers are not shared between threads


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


def parse_html(body: bytes, charset: str | None = None) -> Document:
    """Parse HTML bytes with lxml (tolerant of broken markup; scripts are never run).

    The text is decoded first: the HTTP ``charset`` if it decodes the page, else a byte-order
    mark, the page's own ``<meta charset>`` (or XML declaration), UTF-8, and Windows-1252.
    """
    data = _utf8(body, charset)
    parser = getattr(_parsers, "html", None)
    if parser is None:
        parser = _parsers.html = etree.HTMLParser(encoding="utf-8", no_network=True, huge_tree=True)
    root = _parse(data, parser)
    last = parser.error_log.last_error
    if last is not None and last.type_name == "ERR_RESOURCE_LIMIT":
        # Nested deeper than libxml2's tree allows (2048: thousands of unclosed tags): building the
        # tree from the parser's events has no such limit, as BeautifulSoup's builder had none.
        root = _parse(data, etree.HTMLParser(encoding="utf-8", no_network=True, target=etree.TreeBuilder()))
    return root if root is not None else etree.fromstring(b"<html></html>", parser)


def _parse(data: bytes, parser: etree.HTMLParser) -> Document | None:
    try:
        return etree.fromstring(data, parser) if data.strip() else None
    except etree.XMLSyntaxError:
        return None


def _utf8(body: bytes, charset: str | None) -> bytes:
    """The page as UTF-8 bytes: ``body`` itself when it decoded as UTF-8 (the usual case: no copy), else re-encoded."""
    text, encoding = _decode(body, charset)
    return body if encoding in ("utf-8", "utf8") else text.encode("utf-8")


def decode_html(body: bytes, charset: str | None = None) -> str:
    """The page's text, with the first of these encodings that decodes it: ``charset``, its BOM, its declaration, UTF-8, Windows-1252."""
    return _decode(body, charset)[0]


def _decode(body: bytes, charset: str | None) -> tuple[str, str]:
    for encoding in (charset, _bom_encoding(body), _declared_encoding(body), "utf-8"):
        if not encoding:
            continue
        encoding = encoding.strip().lower()
        try:
            return body.decode(encoding), encoding
        except (LookupError, UnicodeDecodeError, ValueError):
            continue
    return body.decode("windows-1252", errors="replace"), "windows-1252"


def _bom_encoding(body: bytes) -> str | None:
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                      (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if body.startswith(bom):
            return name
    return None


def _declared_encoding(body: bytes) -> str | None:
    match = _XML_ENCODING.search(body, 0, 1024) or _META_CHARSET.search(body, 0, max(2048, len(body) // 20))
    return match.group(1).decode("ascii", errors="ignore") if match else None


def resolve_link(base_url: str, href: str | None) -> str | None:
    """``href`` made absolute against ``base_url``, without fragment; None for non-web links."""
    if href is None:
        return None
    href = href.strip()
    if not href or href.lower().startswith(_SKIPPED_SCHEMES):
        return None
    return urldefrag(urljoin(base_url, href))[0]


def extract_links(document: Document, selector: str, base_url: str) -> list[str]:
    """Absolute URLs of the elements ``selector`` matches (their ``href``, or their first link's), in page order, once each."""
    links: list[str] = []
    for element in compile_selector(selector)(document):
        href = element.get("href")
        if href is None:
            href = next((a.get("href") for a in element.iterdescendants("a") if a.get("href") is not None), None)
        url = resolve_link(base_url, href)
        if url is not None and url not in links:
            links.append(url)
    return links


def extract_next_page(document: Document, selector: str | None, base_url: str) -> str | None:
    """The next listing page's URL, or None on the last page."""
    if selector is None:
        return None
    links = extract_links(document, selector, base_url)
    return links[0] if links else None


def extract_values(document: Document | None, page_url: str, rule: FieldRule, starts: StartElements | None = None) -> list[str]:
    """The values of one field: matched elements' text or attribute, through the regex, split; blanks dropped.

    ``starts``: the page's start elements gathered for several fields at once (see :func:`extract_product`).
    """
    if rule.source == "url":
        texts = [page_url]
    elif document is None:
        return []
    else:
        elements = compile_selector(rule.selector)(document, starts)
        texts = [_element_value(el, rule.attr) for el in (elements if rule.all else elements[:1])]
    return field_values(texts, rule)


def field_values(texts: Sequence[str | None], rule: FieldRule) -> list[str]:
    """A field's values from the texts its selector matched: whitespace collapsed, through the regex, split; blanks dropped."""
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


def _element_value(element: etree._Element, attr: str | None) -> str | None:
    if attr is None:
        return element_text(element)
    return element.get(attr)


def element_text(element: etree._Element) -> str:
    """The element's text, its descendants' included, pieces joined by a space.

    Comments never count; the text inside ``script``, ``style``, ``template``, ``rt`` and ``rp``
    counts only when the element is (or sits in) that very tag, as with BeautifulSoup.
    """
    want = element.tag if element.tag in _OWN_TEXT_TAGS else None
    start = want or next((a.tag for a in element.iterancestors() if a.tag in _OWN_TEXT_TAGS), None)
    parts: list[str] = []
    stack: list[tuple[object, str | None]] = [(element, start)]
    while stack:  # depth-first in document order, without recursion (broken pages nest deeply)
        node, where = stack.pop()
        if isinstance(node, str):
            if where == want:
                parts.append(node)
            continue
        if node.text and where == want:
            parts.append(node.text)
        for child in reversed(node):
            if child.tail:
                stack.append((child.tail, where))
            if isinstance(child.tag, str):
                stack.append((child, child.tag if child.tag in _OWN_TEXT_TAGS else where))
    return " ".join(" ".join(parts).split())


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


def extract_product(document: Document, page_url: str, spec: SiteSpec, category: CategorySpec) -> ProductPage:
    """Read a product page: scalar fields, raw label values (category defaults fill gaps), picture URLs."""
    selectors = compile_selectors(rule.selector for rule in spec.fields.values() if rule.selector is not None)
    starts = StartElements(document, selectors)  # one walk of the page serves every field
    return product_page(page_url, spec, category, lambda rule: extract_values(document, page_url, rule, starts))


def product_page(page_url: str, spec: SiteSpec, category: CategorySpec, read: Callable[[FieldRule], list[str]]) -> ProductPage:
    """A product page's record from its fields' values, each read by ``read`` (whatever parsed the page)."""

    def values(name: str) -> list[str]:
        rule = spec.fields.get(name)
        found = read(rule) if rule is not None else []
        return found or list(category.defaults.get(name, ()))

    def scalar(name: str) -> str | None:
        found = values(name)
        return ", ".join(found) if found else None

    if "id" in spec.fields:
        ids = read(spec.fields["id"])
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
