"""The spec's CSS selectors, compiled once to lxml XPath (``cssselect``), with soupsieve's ``:-soup-contains()``.

``cssselect`` covers CSS 3 (plus ``:is``, ``:where``, ``:has``); of soupsieve's own pseudo-classes
``:-soup-contains("text")`` and ``:-soup-contains-own("text")`` (one text each) are translated here,
and anything else neither understands is refused when the spec is loaded, with the reason. As with
soupsieve, nothing inside a ``<template>`` is matched.

Why selecting is not one ``descendant-or-self::`` XPath per selector: libxml2 walks the whole page
for each one and evaluates the first compound's predicates (a class test costs an attribute
node-set and a string per element) on every element, which on a 230 KB page is most of the time
spent. Instead, the elements a selector can start from are gathered once per page for all the
spec's selectors (:class:`StartElements`): those of a tag in one C-level ``iter()`` walk, those
whose class attribute holds a class name in one pass; each selector's XPath then starts from
that short list (``$s0/self::div[...]/descendant::...``) with the same steps and predicates as
the plain translation, so it matches the same elements.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from cssselect import HTMLTranslator, SelectorError, parse
from cssselect.parser import CombinedSelector, Element
from cssselect.xpath import ExpressionError, XPathExpr
from lxml import etree

#: An element is skipped when inside one of these (HTML's rule for template content, and soupsieve's).
_OUTSIDE_TEMPLATES = "not(ancestor::template)"
_SAFE_TAG = re.compile(r"^[a-z_][a-z0-9_.-]*$")
_NO_SPACE = re.compile(r"^[^ \t\r\n\f]+$")


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


@dataclass(frozen=True)
class Start:
    """Where one selector of a group starts: the elements of a tag, those with a class name, or the whole page."""

    kind: str  # "tag", "class" or "page"
    name: str = ""


@dataclass(frozen=True, eq=False)
class CompiledSelector:
    """A selector group compiled once: call it on a parsed page for the matches, in document order, once each.

    Attributes:
        text: the CSS as written in the spec.
        starts: per selector of the group, where its first step starts (``$s0``, ``$s1``… in the XPath).
    """

    text: str
    starts: tuple[Start, ...]
    xpath: etree.XPath

    def __call__(self, root: etree._Element, starts: StartElements | None = None) -> list[etree._Element]:
        """The elements of ``root``'s subtree that the selector matches; ``starts`` gathered for it (or for several)."""
        if starts is None:
            starts = StartElements(root, (self,))
        return self.xpath(root, **{f"s{i}": starts.elements(start) for i, start in enumerate(self.starts)
                                   if start.kind != "page"})


class StartElements:
    """The elements of one page where a set of selectors may start, gathered in at most two walks.

    Every element of a start's tag is there (``iter()`` over the page, in C), and every element
    whose ``class`` attribute contains a start's class name as a substring (a necessary
    condition of cssselect's class test, which each selector's XPath then applies exactly).
    """

    def __init__(self, root: etree._Element, selectors: Iterable[CompiledSelector]):
        tags, names, others = _plan(tuple(selectors))
        self._found: dict[Start, list[etree._Element]] = {s: [] for s in others}
        if tags:
            for element in root.iter(*tags):
                self._found[Start("tag", element.tag)].append(element)
        if names:
            self._gather_classes(root, names)

    def _gather_classes(self, root: etree._Element, names: tuple[str, ...]) -> None:
        any_name = _any_of(names)
        lists = [(name, self._found[Start("class", name)]) for name in names]
        for element in root.iter(etree.Element):
            classes = element.get("class")
            if classes and any_name(classes):
                for name, found in lists:
                    if name in classes:
                        found.append(element)

    def elements(self, start: Start) -> list[etree._Element]:
        """The gathered elements of ``start``, in document order."""
        return self._found[start]


@lru_cache(maxsize=256)
def _plan(selectors: tuple[CompiledSelector, ...]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[Start, ...]]:
    """The tags and class names ``selectors`` start from, and all their non-page starts (worked out once per set)."""
    starts = {start for selector in selectors for start in selector.starts if start.kind != "page"}
    tags = tuple(sorted(s.name for s in starts if s.kind == "tag"))
    names = tuple(sorted(s.name for s in starts if s.kind == "class"))
    return tags, names, tuple(starts)


@lru_cache(maxsize=256)
def _any_of(names: tuple[str, ...]):
    return re.compile("|".join(re.escape(name) for name in names)).search


@lru_cache(maxsize=1024)
def compile_selector(selector: str) -> CompiledSelector:
    """``selector`` compiled (once per text: the result is cached).

    Raises:
        UnsupportedSelector: the selector is invalid, or uses what cssselect does not implement
            (e.g. ``:-soup-contains()`` with several texts, ``:not()`` of a list).
    """
    try:
        branches, starts = [], []
        for parsed in parse(selector):
            if parsed.pseudo_element:
                raise ExpressionError("Pseudo-elements are not supported.")
            start, step = _start_of(parsed.parsed_tree)
            full = str(_TRANSLATOR.xpath(parsed.parsed_tree))
            if start.kind == "page" or not full.startswith(step):
                branches.append(f"descendant-or-self::{full}")
            else:
                branches.append(f"$s{len(starts)}/self::{full}")
                starts.append(start)
        xpath = etree.XPath(f"({' | '.join(branches)})[{_OUTSIDE_TEMPLATES}]", smart_strings=False)
    except SelectorError as err:  # SelectorSyntaxError and ExpressionError
        hint = ""
        if ":-soup-contains" in selector or ":contains" in selector:
            hint = "; for several texts write one selector per text, separated by commas"
        raise UnsupportedSelector(f"{err}{hint}") from err
    except etree.XPathSyntaxError as err:  # a translation lxml cannot compile (should not happen)
        raise UnsupportedSelector(f"cannot be compiled to XPath: {err}") from err
    return CompiledSelector(text=selector, starts=tuple(starts), xpath=xpath)


def _start_of(tree) -> tuple[Start, str]:
    """Where the selector ``tree`` can start, and its first step as translated."""
    first = tree
    while isinstance(first, CombinedSelector):
        first = first.selector
    step = _TRANSLATOR.xpath(first)
    text = str(step)
    if step.path or "position()" in text or "last()" in text:
        # Positions differ on a self:: step (a "*/" path, :scope): such a selector starts from the page.
        return Start("page"), text
    classes = []
    node = first
    while not isinstance(node, Element):
        if type(node).__name__ == "Class" and _NO_SPACE.match(node.class_name):
            classes.append(node.class_name)
        node = node.selector
    if step.element != "*" and _SAFE_TAG.match(step.element):
        return Start("tag", step.element), text
    if classes:
        return Start("class", max(classes, key=len)), text
    return Start("page"), text


def compile_selectors(selectors: Iterable[str]) -> tuple[CompiledSelector, ...]:
    """Several selectors compiled (each cached), e.g. a spec's field selectors, for one :class:`StartElements`."""
    return tuple(compile_selector(s) for s in selectors)
