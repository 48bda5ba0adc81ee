"""The one reader of component configs (the dicts DSS hands a recipe, step, macro or webapp); pure, no ``dataiku``.

Every reader takes the config and a parameter's name, and raises :class:`InvalidParameter`
naming that parameter. An absent value, ``None`` and ``""`` mean "not set": the reader returns
its default. Text is stripped, and empty text is not set either: :func:`text` returns ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from street2shop.errors import InvalidParameter

_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_VARIABLE_PREFIX = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")

Config = Mapping[str, Any]
D = TypeVar("D")  # a default of another type than the value (e.g. None: "no limit")


def _unset(value: Any) -> bool:
    return value is None or value == ""


def text(config: Config, name: str) -> str | None:
    """A text parameter, stripped; ``None`` when absent or blank."""
    value = config.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidParameter(f"parameter {name!r} must be text, got {value!r}")
    return value.strip() or None


def required(config: Config, name: str) -> str:
    """A text parameter that must be set (a folder, a dataset, a deployment...)."""
    value = text(config, name)
    if value is None:
        raise InvalidParameter(f"parameter {name!r} is required")
    return value


def identifier(config: Config, name: str, default: str | None) -> str | None:
    """A DSS id (service, endpoint, package version): letters, digits, ``_`` and ``-`` only; ``default`` when unset."""
    value = text(config, name) or default
    if value is not None and not _ID.match(value):
        raise InvalidParameter(f"parameter {name!r}: {value!r} may only use A-Za-z0-9_-")
    return value


def variable_prefix(config: Config, name: str, default: str) -> str:
    """The start of scenario variables' names."""
    prefix = text(config, name) or default
    if not _VARIABLE_PREFIX.match(prefix):
        raise InvalidParameter(f"parameter {name!r}: {prefix!r} is not a valid variable name start")
    return prefix


def boolean(config: Config, name: str, default: bool) -> bool:
    """A BOOLEAN parameter."""
    value = config.get(name)
    if _unset(value):
        return default
    if not isinstance(value, bool):
        raise InvalidParameter(f"parameter {name!r} must be true or false, got {value!r}")
    return value


def _check_bounds(name: str, value: int | float, minimum: float | None, maximum: float | None) -> None:
    if (minimum is None or value >= minimum) and (maximum is None or value <= maximum):
        return
    if minimum is not None and maximum is not None:
        raise InvalidParameter(f"parameter {name!r} must be between {minimum:g} and {maximum:g}, got {value!r}")
    if minimum is not None:
        raise InvalidParameter(f"parameter {name!r} must be at least {minimum:g}, got {value!r}")
    raise InvalidParameter(f"parameter {name!r} must be at most {maximum:g}, got {value!r}")


def number(config: Config, name: str, default: D, *, minimum: float | None = None, maximum: float | None = None) -> float | D:
    """A DOUBLE (or INT) parameter, as a float."""
    value = config.get(name)
    if _unset(value):
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidParameter(f"parameter {name!r} must be a number, got {value!r}")
    _check_bounds(name, value, minimum, maximum)
    return float(value)


def integer(config: Config, name: str, default: D, *, minimum: int | None = None, maximum: int | None = None) -> int | D:
    """An INT parameter."""
    value = config.get(name)
    if _unset(value):
        return default
    # DSS may hand an INT parameter over as a float (e.g. 32.0).
    if isinstance(value, bool) or not isinstance(value, (int, float)) or float(value) != int(value):
        raise InvalidParameter(f"parameter {name!r} must be an integer, got {value!r}")
    _check_bounds(name, int(value), minimum, maximum)
    return int(value)


def choice(config: Config, name: str, choices: tuple[str, ...], default: str) -> str:
    """A SELECT parameter: one of ``choices``."""
    value = config.get(name)
    if _unset(value):
        return default
    if str(value) not in choices:
        raise InvalidParameter(f"parameter {name!r}: {value!r} is not one of {', '.join(choices)}")
    return str(value)


def strings(config: Config, name: str) -> list[str]:
    """A STRINGS or MULTISELECT parameter (or comma-separated text), stripped, blanks dropped."""
    value = config.get(name)
    if _unset(value):
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidParameter(f"parameter {name!r} must be a list of texts, got {value!r}")
    return [v.strip() for v in value if v.strip()]


def mapping(config: Config, name: str) -> dict[str, Any]:
    """A MAP parameter, keys stripped, blank keys dropped."""
    value = config.get(name)
    if _unset(value):
        return {}
    if not isinstance(value, dict):
        raise InvalidParameter(f"parameter {name!r} must be a map of key -> value, got {value!r}")
    return {str(k).strip(): v for k, v in value.items() if str(k).strip()}


def number_map(config: Config, name: str) -> dict[str, float]:
    """A MAP parameter of positive numbers (numbers may arrive as text)."""
    numbers = {}
    for key, value in mapping(config, name).items():
        try:
            numbers[key] = float(value)
        except (TypeError, ValueError) as err:
            raise InvalidParameter(f"parameter {name!r}: the weight of {key!r} must be a number, got {value!r}") from err
        if numbers[key] <= 0:
            raise InvalidParameter(f"parameter {name!r}: the weight of {key!r} must be positive, got {value!r}")
    return numbers
