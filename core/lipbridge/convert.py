"""One cattrs converter for every core model, JSON-safe in both directions.

Rules live here, not on the models (cattrs' separation principle). Decimals travel as
strings so money never passes through a float; datetimes as ISO 8601 with offset.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar

import cattrs
from cattrs.errors import ClassValidationError

from lipbridge.errors import InvalidRequest, LipbridgeError

T = TypeVar("T")


def _structure_datetime(value: Any, _: type) -> dt.datetime:
    if isinstance(value, dt.datetime):
        parsed = value
    else:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"datetime {value!r} has no UTC offset")
    return parsed


def _structure_decimal(value: Any, _: type) -> Decimal:
    if isinstance(value, float):
        raise ValueError("money must be given as a string or integer, not a float")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a decimal number") from None


def _structure_str(value: Any, cls: type[str]) -> str:
    # cattrs' default would turn null or 5 into "None" or "5". Also used for str enums.
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {value!r}")
    return value if cls is str else cls(value)


def make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook(str, _structure_str)
    # Stored in UTC: any offset round-trips as the same instant.
    conv.register_unstructure_hook(dt.datetime, lambda v: v.astimezone(dt.timezone.utc).isoformat())
    conv.register_structure_hook(dt.datetime, _structure_datetime)
    conv.register_unstructure_hook(dt.date, lambda v: v.isoformat())
    conv.register_structure_hook(dt.date, lambda v, _: dt.date.fromisoformat(str(v)))
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, _structure_decimal)
    conv.register_unstructure_hook_func(
        lambda t: getattr(t, "__origin__", t) is frozenset,
        lambda v: sorted(conv.unstructure(x) for x in v),
    )
    return conv


converter = make_converter()


def unstructure(obj: Any) -> Any:
    return converter.unstructure(obj)


def structure(data: Any, cls: type[T]) -> T:
    """Build ``cls`` from plain data; any failure becomes an :class:`InvalidRequest`."""
    try:
        return converter.structure(data, cls)
    except LipbridgeError:
        raise
    except ClassValidationError as exc:
        own = [e for e in exc.exceptions if isinstance(e, LipbridgeError)]
        if own:
            raise own[0] from None
        details = "; ".join(cattrs.transform_error(exc))
        raise InvalidRequest(f"invalid {cls.__name__} data: {details}") from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidRequest(f"invalid {cls.__name__} data: {exc}") from None


def dumps(obj: Any) -> str:
    return json.dumps(unstructure(obj), sort_keys=True)


def loads(text: str | bytes, cls: type[T]) -> T:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidRequest(f"invalid {cls.__name__} JSON: {exc}") from None
    return structure(data, cls)
