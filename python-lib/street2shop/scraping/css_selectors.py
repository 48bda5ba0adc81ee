"""The spec's CSS selectors, compiled once to lxml XPath (``cssselect``), with soupsieve's ``:-soup-contains()``.

``cssselect`` covers CSS 3 (plus ``:is``, ``:where``, ``:has``); of soupsieve's own pseudo-classes
``:-soup-contains("text")`` and ``:-soup-contains-own("text")`` (one text each) are translated here,
and anything else neither understands is refused when the spec is loaded, with the reason. As with
soupsieve, nothing inside a ``<template>`` is matched.
"""

from __future__ import annotations

from functools import lru_cache

from cssselect import HTMLTranslator, SelectorError
from cssselect.xpath import ExpressionError, XPathExpr
from lxml import etree


class UnsupportedSelector(ValueError):
    """A selector that the lxml engine cannot run; the message says why."""


class _Translator(HTMLTranslator):
    """HTML rules (names case-insensitive) and soupsieve's text pseudo-classes."""

    def xpath__soup_contains_function(self, xpath: XPathExpr, function) -> XPathExpr:
        # soupsieve: the element's text, descendants included, contains the value (XPath's string value).
        return xpath.add_condition(f"contains(string(.), {self.xpath_literal(_one_text(function))})")

    def xpath__soup_contains_own_function(self, xpath: XPathExpr, function) -> XPathExpr:
        # soupsieve: one of the element's own text nodes contains the value.
        return xpath.add_condition(f"text()[contains(., {self.xpath_literal(_one_text(function))})]")


def _one_text(function) -> str:
    if function.argument_types() not in (["STRING"], ["IDENT"]):
        raise ExpressionError(f":{function.name}() takes one text here, got {function.arguments!r}")
    return function.arguments[0].value


_TRANSLATOR = _Translator()


@lru_cache(maxsize=1024)
def compile_selector(selector: str) -> etree.XPath:
    """The compiled XPath of ``selector``: call it on a parsed page for the matches, in document order.

    Raises:
        UnsupportedSelector: the selector is invalid, or uses what cssselect does not implement
            (e.g. ``:-soup-contains()`` with several texts, ``:not()`` of a list).
    """
    try:
        # A <template>'s content is not part of the page (HTML's rule, and soupsieve's): never matched.
        return etree.XPath(f"({_TRANSLATOR.css_to_xpath(selector)})[not(ancestor::template)]", smart_strings=False)
    except SelectorError as err:  # SelectorSyntaxError and ExpressionError
        hint = ""
        if ":-soup-contains" in selector or ":contains" in selector:
            hint = "; for several texts write one selector per text, separated by commas"
        raise UnsupportedSelector(f"{err}{hint}") from err
    except etree.XPathSyntaxError as err:  # a translation lxml cannot compile (should not happen)
        raise UnsupportedSelector(f"cannot be compiled to XPath: {err}") from err
