"""The Example Lipsync API's JSON, to and from lipbridge's canonical types.

Everything read from a response goes through ``dig`` and a type check, so no body,
however broken, raises anything but a lipbridge error. A field the plugin cannot do
without (job id, status word, result URL) is a ``ProviderProtocolError``; an optional
field of the wrong type (progress, duration, expiry, credits) is left out.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from lipbridge import (
    BilledUsage,
    CallContext,
    InvalidRequest,
    JobError,
    JobRequest,
    JobResult,
    JobState,
    JobStatus,
    ProviderProtocolError,
    Response,
    StatusMap,
    dig,
    error_for_status,
)

NAME = "example"
JOBS = "/v1/lipsync"
USD_PER_CREDIT = Decimal("0.01")

STATUSES = StatusMap(
    {
        "pending": JobState.QUEUED,
        "processing": JobState.RUNNING,
        "completed": JobState.SUCCEEDED,
        "failed": JobState.FAILED,
        "cancelled": JobState.CANCELLED,
    }
)


def job_path(job_id: str, action: str = "") -> str:
    """``/v1/lipsync/{id}{action}``; the id is escaped, so a stored handle cannot steer it."""
    return f"{JOBS}/{quote(job_id, safe='')}{action}"


def submit_body(request: JobRequest) -> dict[str, Any]:
    """The create body: only the fields that are set, then the provider-native options."""
    fields = {
        "model": request.model,
        "video_url": request.video,
        "audio_url": request.audio,
        "sync_mode": request.sync_mode.value if request.sync_mode else None,
        "temperature": request.temperature,
        "webhook_url": request.callback_url,
    }
    clash = sorted(fields.keys() & request.options.keys())
    if clash:
        raise InvalidRequest(
            f"options may not set {', '.join(clash)}, which come from the JobRequest "
            "fields; allowed: other provider fields",
            field="options",
        )
    return {**{k: v for k, v in fields.items() if v is not None}, **request.options}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: object, top: float = math.inf) -> float | None:
    """A finite JSON number in [0, top], as sent; anything else (booleans too) is None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        ok = math.isfinite(value) and 0 <= value <= top
    except OverflowError:  # an integer too large for a float
        return None
    return value if ok else None


def _when(value: object) -> dt.datetime | None:
    """An ISO 8601 timestamp (``Z`` allowed, UTC when no offset is given), else None."""
    if not isinstance(value, str):
        return None
    try:
        when = dt.datetime.fromisoformat(value[:-1] + "+00:00" if value[-1:] == "Z" else value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


def malformed(response: Response, what: str, job_id: str | None = None) -> ProviderProtocolError:
    return ProviderProtocolError(
        f"{response.method} {response.url} answered HTTP {response.status} {what}",
        provider=NAME,
        http_status=response.status,
        job_id=job_id,
        body_excerpt=response.excerpt(),
    )


def read(response: Response, ctx: CallContext, job_id: str | None = None) -> Mapping[str, Any]:
    """The JSON object of a 2xx response; any other status raises the matching error."""
    if not response.ok:
        try:
            envelope = response.json(NAME)
        except ProviderProtocolError:  # an HTML error page: the status alone decides
            envelope = None
        raise error_for_status(
            response,
            provider=NAME,
            clock=ctx.clock,
            message=_text(dig(envelope, "error", "message")),
            code=_text(dig(envelope, "error", "code")),
            job_id=job_id,
        )
    data = response.json(NAME)
    if not isinstance(data, Mapping):
        raise malformed(response, "with JSON that is not an object", job_id)
    return data


def job_id_of(response: Response, data: Mapping[str, Any]) -> str:
    job_id = _text(data.get("id"))
    if job_id is None:
        raise malformed(response, "without a job id")
    return job_id


def _result(response: Response, data: Mapping[str, Any], job_id: str) -> JobResult:
    url = _text(dig(data, "result", "video_url"))
    if url is None:
        raise malformed(response, "with a completed job but no result.video_url", job_id)
    credits = _number(dig(data, "usage", "credits"))
    billed = None
    if credits is not None:
        amount = Decimal(str(credits))
        billed = BilledUsage(amount=amount, unit="credits", usd=amount * USD_PER_CREDIT)
    return JobResult(
        video_url=url,
        duration_seconds=_number(dig(data, "result", "duration")),
        expires_at=_when(dig(data, "result", "expires_at")),
        billed=billed,
    )


def status_of(response: Response, data: Mapping[str, Any], job_id: str) -> JobStatus:
    """A job body as a status; a ``completed`` body that carries an error has failed."""
    raw = _text(data.get("status"))
    if raw is None:
        raise malformed(response, "without a status word", job_id)
    state = STATUSES.state(raw)
    problem = data.get("error")
    if state is JobState.SUCCEEDED and problem:
        state = JobState.FAILED
    error = None
    if state is JobState.FAILED or (state is JobState.CANCELLED and problem):
        error = JobError(
            message=_text(dig(problem, "message")) or f"the job ended {raw} with no message",
            code=_text(dig(problem, "code")),
        )
    return JobStatus(
        state=state,
        raw_status=raw,
        progress=_number(data.get("progress"), top=100),
        result=_result(response, data, job_id) if state is JobState.SUCCEEDED else None,
        error=error,
    )
