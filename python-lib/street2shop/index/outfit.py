"""One query, several garments: when the person model finds someone, each garment they wear is searched alone.

The person's ``top``, ``bottom`` and ``full`` boxes (:mod:`street2shop.segmentation.garment_parts`)
are cut out with GrabCut, and each cut-out, on white like a product shot, is embedded and searched
in one batch. A picture without a person has no outfit: the caller keeps its single answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from street2shop.segmentation.garment_parts import segment_parts
from street2shop.segmentation.person import PersonModel


@dataclass(frozen=True)
class GarmentAnswer:
    """The products for one garment of the outfit."""

    part: str
    box: tuple[int, int, int, int]
    results: list[dict[str, Any]]
    attributes: dict[str, list[dict[str, Any]]]

    def to_dict(self) -> dict[str, Any]:
        return {"part": self.part, "box": list(self.box), "results": self.results, "attributes": self.attributes}


@dataclass(frozen=True)
class OutfitAnswer:
    """A person found in the query, and the answer for each garment they wear (possibly none visible)."""

    person_box: tuple[int, int, int, int]
    person_score: float
    garments: list[GarmentAnswer]
    timing_ms: dict[str, float]  # person (the model), garments (GrabCut, embedding and search)


def answer_outfit(index: Any, pixels: np.ndarray, person_model: PersonModel, *, k: int = 10, filters: Any = None) -> OutfitAnswer | None:
    """Search each garment of the person in ``pixels`` (decoded RGB) in a loaded ``SearchIndex``; None without a person."""
    started = time.perf_counter()
    person = person_model.find(pixels)
    found = time.perf_counter()
    if person is None:
        return None
    parts = segment_parts(pixels, person)
    garments: list[GarmentAnswer] = []
    if parts:
        crops = [part.crop(pixels) for part in parts]
        # The cut-out is what a segmenting index's encoders expect: it is given as the transformed picture too.
        vectors, probabilities = index.embedder.embed_arrays_with_attributes(crops, cuts=crops)
        results = index.search_vectors(vectors, k=k, filters=filters)
        garments = [
            GarmentAnswer(part.part, part.box, rows, index.predicted_attributes(probabilities, row=row))
            for row, (part, rows) in enumerate(zip(parts, results))
        ]
    done = time.perf_counter()
    return OutfitAnswer(
        person_box=person.box,
        person_score=round(person.score, 4),
        garments=garments,
        timing_ms={"person": round((found - started) * 1000, 3), "garments": round((done - found) * 1000, 3)},
    )


def outfit_fields(outfit: OutfitAnswer | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """What an outfit adds to a JSON answer: ``({"garments": [...]}, {"person": {...}})`` for the top level
    and for ``query``; both empty without a person, so such an answer keeps its single-answer shape."""
    if outfit is None:
        return {}, {}
    person = {"box": list(outfit.person_box), "score": outfit.person_score}
    return {"garments": [garment.to_dict() for garment in outfit.garments]}, {"person": person}
