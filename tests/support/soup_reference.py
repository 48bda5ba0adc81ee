"""The scraper's extraction as it was with BeautifulSoup (lxml parser, soupsieve selectors): the reference
that ``street2shop.scraping.extract`` (lxml + cssselect) must match, and the old rate in bench/scrape_rate.py."""

from __future__ import annotations

import warnings

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning
from bs4.element import Tag

from street2shop.scraping.extract import ProductPage, _currency_code, parse_price, resolve_link, url_product_id
from street2shop.scraping.site_spec import CategorySpec, FieldRule, SiteSpec


def soup_parse_html(body: bytes, charset: str | None = None) -> BeautifulSoup:
    """Parse HTML bytes with lxml (tolerant of broken markup; scripts are never run)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        return BeautifulSoup(body, "lxml", from_encoding=charset)


def soup_extract_links(soup: BeautifulSoup, selector: str, base_url: str) -> list[str]:
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


def soup_extract_next_page(soup: BeautifulSoup, selector: str | None, base_url: str) -> str | None:
    """The next listing page's URL, or None on the last page."""
    if selector is None:
        return None
    links = soup_extract_links(soup, selector, base_url)
    return links[0] if links else None


def soup_extract_values(soup: BeautifulSoup | None, page_url: str, rule: FieldRule) -> list[str]:
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


def soup_extract_product(soup: BeautifulSoup, page_url: str, spec: SiteSpec, category: CategorySpec) -> ProductPage:
    """Read a product page: scalar fields, raw label values (category defaults fill gaps), picture URLs."""

    def values(name: str) -> list[str]:
        rule = spec.fields.get(name)
        found = soup_extract_values(soup, page_url, rule) if rule is not None else []
        return found or list(category.defaults.get(name, ()))

    def scalar(name: str) -> str | None:
        found = values(name)
        return ", ".join(found) if found else None

    if "id" in spec.fields:
        ids = soup_extract_values(soup, page_url, spec.fields["id"])
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
