"""The ``recommend`` request: a JSON body with a base64 picture -> products, checked and bounded.

One function serves every front: the DSS API-node endpoint, the local server and the webapp
backend all call :meth:`Recommender.handle` and map :class:`ApiError` to their own HTTP error.
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from street2shop.errors import BadImage, InvalidParameter, Street2ShopError
from street2shop.manifest import split_labels

logger = logging.getLogger(__name__)

#: The fields a request body may hold.
REQUEST_FIELDS = ("image", "k", "filters")
#: Label columns the web page offers as filters, when the index has them.
PAGE_FILTER_COLUMNS = ("type", "gender")

_DATA_URL = re.compile(r"^data:[\w.+-]+/[\w.+-]+;base64,", re.IGNORECASE)
_BASE64_CHARS = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
_MAX_FILTER_VALUES = 100
_MAX_FILTER_TEXT = 200


class ApiError(Street2ShopError):
    """A request the endpoint refuses (4xx) or could not answer (5xx); ``status`` is the HTTP status."""

    def __init__(self, message: str, status: int = 400, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.status = int(status)
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class Limits:
    """What one request may ask for.

    Args:
        max_image_bytes: largest picture accepted, after base64 decoding.
        max_k: most products one request may ask for.
        default_k: products returned when the request says nothing.
        max_pixels: largest picture accepted, in pixels (checked before decoding).
        pixel_budget: most pixels decoded and held at once by all requests together
            (:mod:`street2shop.serving.admission`); a picture larger than the budget waits for all of it.
        queue_ms: how long a request waits for room in the budget before a 503 with ``Retry-After``.
    """

    max_image_bytes: int = 8 * 1024 * 1024
    max_k: int = 100
    default_k: int = 10
    max_pixels: int = 50_000_000
    pixel_budget: int = 100_000_000
    queue_ms: int = 10_000

    def __post_init__(self) -> None:
        for name in ("max_image_bytes", "max_k", "default_k", "max_pixels", "pixel_budget", "queue_ms"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidParameter(f"limit {name} must be a positive integer, got {value!r}")
        if self.default_k > self.max_k:
            raise InvalidParameter(f"default_k ({self.default_k}) cannot exceed max_k ({self.max_k})")

    @property
    def max_body_bytes(self) -> int:
        """Largest request body worth reading: the picture in base64 plus room for the other fields."""
        return (self.max_image_bytes + 2) // 3 * 4 + 64 * 1024

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> Limits:
        """Limits from a mapping (unknown keys refused, missing ones defaulted)."""
        values = dict(values or {})
        unknown = sorted(set(values) - set(cls.__dataclass_fields__))
        if unknown:
            raise InvalidParameter(f"unknown limit(s) {', '.join(unknown)}")
        return cls(**{key: int(value) if isinstance(value, float) and value.is_integer() else value for key, value in values.items()})


@dataclass(frozen=True)
class Query:
    """A checked request."""

    image: bytes
    k: int
    filters: dict[str, list[str]]


def parse_request(data: Any, limits: Limits) -> Query:
    """Check a request body (the decoded JSON object) and decode its picture.

    Raises:
        ApiError: 400 for a malformed field, 413 for a picture over the size limit.
    """
    if not isinstance(data, Mapping):
        raise ApiError(f"the request body must be a JSON object with {', '.join(REQUEST_FIELDS)}, not {_kind(data)}")
    unknown = sorted(str(key) for key in data if key not in REQUEST_FIELDS)
    if unknown:
        raise ApiError(f"unknown field(s) {', '.join(map(repr, unknown))}; the body takes {', '.join(REQUEST_FIELDS)}")
    return Query(image=decode_base64_image(data.get("image"), limits), k=_parse_k(data.get("k"), limits), filters=_parse_filters(data.get("filters")))


def decode_base64_image(value: Any, limits: Limits) -> bytes:
    """The picture bytes of the ``image`` field: base64 (standard or URL-safe, padding optional, or a data: URL)."""
    if value is None or value == "":
        raise ApiError("missing field 'image': the picture, base64-encoded (JPEG, PNG or WebP)")
    if not isinstance(value, str):
        raise ApiError(f"field 'image' must be a base64 string, not {_kind(value)}")
    text = _DATA_URL.sub("", value.strip(), count=1)
    text = "".join(text.split())  # encoders may wrap lines
    # Refuse before decoding anything larger than the limit allows.
    if len(text) * 3 // 4 > limits.max_image_bytes + 2:
        raise ApiError(
            f"the picture is about {len(text) * 3 // 4} bytes; the limit is {limits.max_image_bytes} bytes", 413
        )
    text = text.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    if not _BASE64_CHARS.match(text):
        raise ApiError("field 'image' is not valid base64 (characters outside the base64 alphabet)")
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ApiError(f"field 'image' is not valid base64: {err}") from None
    if not data:
        raise ApiError("field 'image' is empty")
    if len(data) > limits.max_image_bytes:
        raise ApiError(f"the picture is {len(data)} bytes; the limit is {limits.max_image_bytes} bytes", 413)
    return data


def _parse_k(value: Any, limits: Limits) -> int:
    if value is None:
        return limits.default_k
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(f"field 'k' must be an integer, not {_kind(value)}")
    if not 1 <= value <= limits.max_k:
        shown = str(value) if len(str(value)) <= 12 else f"a number of {len(str(abs(value)))} digits"
        raise ApiError(f"field 'k' must be between 1 and {limits.max_k}, got {shown}")
    return value


def _parse_filters(value: Any) -> dict[str, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ApiError(f"field 'filters' must be an object like {{\"type\": [\"dresses\"]}}, not {_kind(value)}")
    filters: dict[str, list[str]] = {}
    for column, wanted in value.items():
        values = [wanted] if isinstance(wanted, str) else wanted
        if (
            not isinstance(values, list)
            or not values
            or len(values) > _MAX_FILTER_VALUES
            or not all(isinstance(v, str) and 0 < len(v) <= _MAX_FILTER_TEXT for v in values)
        ):
            raise ApiError(
                f"filter {str(column)[:_MAX_FILTER_TEXT]!r} must be a string or a list of 1 to {_MAX_FILTER_VALUES} "
                f"non-empty strings"
            )
        filters[str(column)] = values
    return filters


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )


class Recommender:
    """Answers ``recommend`` requests on one loaded index.

    Args:
        index: a loaded :class:`~street2shop.index.search.SearchIndex`.
        limits: what one request may ask for.
        warm_up: run one blank picture through the model now, so the first request is not slow.

    Example:
        >>> recommender = Recommender(SearchIndex.load("index"))
        >>> recommender.handle({"image": base64_text, "k": 5, "filters": {"type": ["dresses"]}})
    """

    def __init__(self, index: Any, limits: Limits | None = None, *, warm_up: bool = True, person_model: Any = None):
        from street2shop.serving.admission import PixelBudget

        self.index = index
        self.person_model = person_model  # a ``segmentation.person.PersonModel``: answers per garment worn
        self.limits = limits or Limits()
        self.budget = PixelBudget(self.limits.pixel_budget, wait_s=self.limits.queue_ms / 1000)
        if warm_up:
            self._warm_up()

    def _warm_up(self) -> None:
        from street2shop.images.decode import encode_png

        started = time.perf_counter()
        self.index.answer(encode_png(np.full((64, 64, 3), 255, np.uint8)), k=1, max_pixels=self.limits.max_pixels, person_model=self.person_model)
        logger.info("recommender ready: %d items, warm-up %.0f ms", len(self.index), (time.perf_counter() - started) * 1000)

    def handle(self, data: Any) -> dict[str, Any]:
        """Answer one request body (the decoded JSON object).

        Returns:
            ``{"results": [{product_id, score, image, labels}], "query": {"attributes", "segmented"},
            "timing_ms": {parse, decode, segment, embed, search, total}}``; with a person model that
            finds someone, also ``query.person`` (``box``, ``score``), ``garments`` (one
            ``{part, box, results, attributes}`` per garment) and ``timing_ms.person`` / ``garments``.

        Raises:
            ApiError: 4xx for a bad request (the message says what is wrong), 500 for a failure of
                ours (logged with its traceback; the message gives no detail).
        """
        started = time.perf_counter()
        from street2shop.images.decode import decoded_pixels
        from street2shop.serving.admission import BudgetExhausted

        query = parse_request(data, self.limits)
        parsed = time.perf_counter()
        try:
            self.index.allowed_mask(query.filters or None)  # a bad filter fails before any picture is read
            min_side = None if self.person_model is not None else self.index.embedder.sizes[-1]  # as ``answer`` decodes it
            pixels = decoded_pixels(query.image, max_pixels=self.limits.max_pixels, name="query", min_side=min_side)
            with self.budget.hold(pixels):
                answer = self.index.answer(
                    query.image, k=query.k, filters=query.filters or None, max_pixels=self.limits.max_pixels, person_model=self.person_model
                )
        except BudgetExhausted:
            retry = max(1, round(self.limits.queue_ms / 1000))
            raise ApiError(f"the server is decoding its limit of pictures ({self.limits.pixel_budget} pixels); retry in {retry} s", 503, {"Retry-After": str(retry)}) from None
        except BadImage as err:
            status = 413 if "too large" in err.reason else 400
            raise ApiError(f"the picture cannot be used: {err.reason}", status) from None
        except InvalidParameter as err:
            raise ApiError(str(err)) from None
        except Exception as err:  # noqa: BLE001 - one failed request must never take the server down
            logger.exception("recommend failed")
            raise ApiError(f"internal error ({type(err).__name__}); see the server log", 500) from None
        from street2shop.index.outfit import outfit_fields

        timing = {"parse": round((parsed - started) * 1000, 3), **answer.timing_ms}
        timing["total"] = round((time.perf_counter() - started) * 1000, 3)
        garments, person = outfit_fields(answer.outfit)
        return {
            "results": answer.results,
            "query": {"attributes": answer.attributes, "segmented": bool(answer.segmented), **person},
            **garments,
            "timing_ms": timing,
        }

    def page_config(self) -> dict[str, Any]:
        """What the web page needs: filterable columns with their values, and the limits."""
        items = self.index.items
        filters = {}
        for column in PAGE_FILTER_COLUMNS:
            if column in self.index.label_columns and column in items:
                values = {label for cell in items[column] for label in split_labels(cell)}
                filters[column] = sorted(values, key=str.lower)
        return {
            "count": len(self.index),
            "label_columns": list(self.index.label_columns),
            "filters": filters,
            "max_image_bytes": self.limits.max_image_bytes,
            "max_k": self.limits.max_k,
            "default_k": self.limits.default_k,
        }
