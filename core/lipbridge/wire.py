"""Small helpers for plugins' wire mapping: reading responses, typed lookups, status words.

Everything here turns a provider's untrusted JSON into typed values or a lipbridge
error, so that no body, however broken, makes a plugin raise ``KeyError`` or
``TypeError``: required fields raise :class:`ProviderProtocolError`, optional fields of
the wrong type read as None.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from lipbridge.errors import REQUEST_FIELDS, InvalidRequest, ProviderError, ProviderProtocolError
from lipbridge.models import JobState

if TYPE_CHECKING:
    from lipbridge.context import Clock
    from lipbridge.transport import Response

log = logging.getLogger("lipbridge.wire")


def dig(data: Any, *path: str | int) -> Any:
    """``data[p0][p1]...`` or None when any step is missing or of the wrong type."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(data, list) or not -len(data) <= step < len(data):
                return None
        elif not isinstance(data, Mapping) or step not in data:
            return None
        data = data[step]
    return data


def text(value: object) -> str | None:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def message_text(value: object) -> str | None:
    """An error message sent as a string or as a list of strings (NestJS validation style)."""
    if isinstance(value, list):
        return "; ".join(item for item in value if isinstance(item, str) and item) or None
    return text(value)


def number(value: object, top: float = math.inf) -> float | None:
    """A finite JSON number in ``[0, top]`` as sent; anything else (booleans too) is None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        ok = math.isfinite(value) and 0 <= value <= top
    except OverflowError:  # an integer too large for a float
        return None
    return value if ok else None


def whole_number(value: object) -> int | None:
    """A whole JSON number >= 0 (``3`` or ``3.0``), such as a queue position, else None."""
    found = number(value)
    return int(found) if found is not None and found == int(found) else None


def log_lines(value: object, *, key: str = "message") -> tuple[str, ...]:
    """A provider's log as lines: a string (Replicate's ``logs``) split at its line breaks,
    or a list of strings or of objects holding the line under ``key`` (fal.ai's
    ``[{"message", "level", "timestamp"}]``); anything else reads as no lines.
    ``JobStatus`` keeps the newest and scrubs them."""
    if isinstance(value, str):
        return tuple(value.splitlines())
    if not isinstance(value, list):
        return ()
    found = (item if isinstance(item, str) else text(dig(item, key)) for item in value)
    return tuple(line for line in found if line)


def timestamp(value: object) -> dt.datetime | None:
    """An ISO 8601 time (``Z`` allowed; UTC when no offset is given), else None."""
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value[:-1] + "+00:00" if value[-1:] == "Z" else value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def malformed(
    response: Response, what: str, *, provider: str, job_id: str | None = None
) -> ProviderProtocolError:
    """The error for a response lacking something the plugin cannot do without."""
    return ProviderProtocolError(
        f"{response.method} {response.url} answered HTTP {response.status} {what}",
        provider=provider,
        http_status=response.status,
        job_id=job_id,
        body_excerpt=response.excerpt(),
    )


def required_text(
    response: Response, data: Any, *path: str | int, provider: str, job_id: str | None = None
) -> str:
    """``text(dig(data, *path))`` for a field the plugin cannot do without (a job id, a
    status word, a result URL); missing or not a string is :func:`malformed`."""
    value = text(dig(data, *path))
    if value is None:
        where = ".".join(str(step) for step in path)
        raise malformed(response, f"without {where}", provider=provider, job_id=job_id)
    return value


def read_object(
    response: Response,
    *,
    provider: str,
    clock: Clock,
    job_id: str | None = None,
    message: tuple[str | int, ...] = ("error", "message"),
    code: tuple[str | int, ...] | list[tuple[str | int, ...]] = ("error", "code"),
    overrides: Mapping[int, type[ProviderError]] | None = None,
) -> Mapping[str, Any]:
    """The JSON object of a 2xx response; any other status raises its mapped error.

    ``message`` and ``code`` locate the provider's error envelope fields; ``code`` may
    be a list of paths, the first one present wins (``[]``: the API sends no code). An
    error page that is not JSON still raises by its status.
    """
    if not response.ok:
        paths = code if isinstance(code, list) else [code]
        envelope = None
        if response.body.lstrip()[:1] in (b"{", b"["):
            try:
                envelope = response.json(provider)
            except ProviderProtocolError:  # truncated JSON: the status alone decides
                envelope = None
        from lipbridge.http import error_for_status  # the HTTP stack, only on an error

        raise error_for_status(
            response,
            provider=provider,
            clock=clock,
            message=message_text(dig(envelope, *message)),
            code=next(
                (found for path in paths if (found := _code(dig(envelope, *path)))), None
            ),
            job_id=job_id,
            overrides=overrides,
        )
    data = response.json(provider)
    if not isinstance(data, Mapping):
        raise malformed(response, "with JSON that is not an object", provider=provider,
                        job_id=job_id)
    return data


def request_body(
    fields: Mapping[str, Any], options: Mapping[str, Any], *, open_fields: Collection[str] = ()
) -> dict[str, Any]:
    """A submit body: the wire fields that are set, then the request's provider options.

    An option may not set a key that a ``JobRequest`` field maps to, so options cannot
    slip past validation (temperature on a model without it). Keys in ``open_fields``
    are the exception while the request leaves them unset: the provider accepts native
    values there that no canonical field expresses.
    """
    clash = sorted(
        key for key in fields.keys() & options.keys()
        if key not in open_fields or fields[key] is not None
    )
    if clash:
        raise InvalidRequest(
            f"options may not set {', '.join(clash)}; allowed: other provider fields",
            field="options",
            hint=("those come from ", REQUEST_FIELDS),
        )
    return {**{k: v for k, v in fields.items() if v is not None}, **options}


def _code(value: object) -> str | None:
    """Error codes arrive as strings or numbers; both read as text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return text(value)


def _lower_keys(states: Mapping[str, JobState]) -> dict[str, JobState]:
    return {str(word).lower(): state for word, state in states.items()}


@frozen
class StatusMap:
    """A provider's status words, case-insensitively mapped to canonical states.

    Policy for a word the plugin does not know: treat it as ``running`` (the job is not
    declared finished on a guess) and log a warning naming the word. ``wait`` then goes
    on polling until a known terminal word or its deadline.
    """

    states: Mapping[str, JobState] = field(converter=_lower_keys, hash=False)

    def state(self, raw: object) -> JobState:
        word = str(raw).lower()
        known = self.states.get(word)
        if known is None:
            log.warning("unknown provider status %r; treating it as running", raw)
            return JobState.RUNNING
        return known
