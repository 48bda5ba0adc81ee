"""The scraper's extraction as it was with BeautifulSoup (lxml parser, soupsieve selectors): the reference
that ``street2shop.scraping.extract`` (lxml + cssselect) must match, and the old rate in bench/scrape_rate.py.

Only parsing, selecting and reading text differ; what follows (regex, split, assembling the product) is the
scraper's own code, so a difference the parity test finds is one of parsing."""

from __future__ import annotations

import warnings

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning
from bs4.element import Tag

from street2shop.scraping.extract import ProductPage, field_values, product_page, resolve_link
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
    return field_values(texts, rule)


def _element_value(element: Tag, attr: str | None) -> str | None:
    if attr is None:
        return element.get_text(" ", strip=True)
    value = element.get(attr)
    if isinstance(value, list):  # multi-valued attributes such as class
        return " ".join(value)
    return value


def soup_extract_product(soup: BeautifulSoup, page_url: str, spec: SiteSpec, category: CategorySpec) -> ProductPage:
    """Read a product page: the fields' values as BeautifulSoup selects them, assembled by the scraper's own code."""
    return product_page(page_url, spec, category, lambda rule: soup_extract_values(soup, page_url, rule))
