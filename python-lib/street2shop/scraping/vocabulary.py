"""The label vocabulary (the report's classes) and the mapping from a site's words to it, counting what is unmapped."""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping

#: The report's attribute classes; scraped labels must use these words so the manifest trains as is.
LABEL_VOCABULARY: dict[str, tuple[str, ...]] = {
    "colours": ("orange", "yellow", "white", "green", "grey", "red", "brown", "beige", "blue", "black", "pink"),
    "type": ("sweaters", "t-shirts", "jackets/coats", "trousers", "skirts", "jeans", "sets", "shirts", "shorts",
             "down jackets", "cardigans", "dresses", "blouses", "polos", "leggings"),
    "gender": ("men", "women", "kids", "girl", "boy", "baby"),
}

#: Label fields that hold several values (joined with '|' in the manifest); ``type`` holds one.
MULTI_VALUED = frozenset({"colours", "gender"})


def normalise(word: str) -> str:
    """The form site words are compared in: accents dropped, case folded, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", word)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(bare.casefold().split())


class VocabularyMapper:
    """Maps raw site values to label words, per label field, and counts the values it could not map.

    A raw value maps through the spec's table (compared after :func:`normalise`); a raw value that
    already is a label word maps to itself; a table entry mapped to ``None`` drops the value on
    purpose (e.g. 'multicolour') without counting it as unmapped.

    Args:
        tables: ``{label field: {site word: label word or None}}``, already validated.
    """

    def __init__(self, tables: Mapping[str, Mapping[str, str | None]]):
        self._tables: dict[str, dict[str, str | None]] = {}
        for field, words in LABEL_VOCABULARY.items():
            table = {normalise(w): w for w in words}
            table.update({normalise(k): v for k, v in tables.get(field, {}).items()})
            self._tables[field] = table
        self.unmapped: dict[str, Counter] = {field: Counter() for field in LABEL_VOCABULARY}

    def map(self, field: str, raw_values: Iterable[str]) -> list[str]:
        """The label words for ``raw_values`` of ``field``, in order, without repeats."""
        table = self._tables[field]
        labels: list[str] = []
        for raw in raw_values:
            key = normalise(raw)
            if not key:
                continue
            if key not in table:
                self.unmapped[field][key] += 1
                continue
            label = table[key]
            if label is not None and label not in labels:
                labels.append(label)
        return labels

    def unmapped_report(self) -> dict[str, dict[str, int]]:
        """``{field: {normalised raw value: count}}``, most frequent first, fields with none left out."""
        return {field: dict(counts.most_common()) for field, counts in self.unmapped.items() if counts}
