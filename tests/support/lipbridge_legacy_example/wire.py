"""The Example Lipsync API's JSON, to and from lipbridge's canonical types.

Everything read from a response goes through lipbridge's wire readers (``read_object``,
``dig``, ``text``, ``number``, ``timestamp``), so no body, however broken, raises
anything but a lipbridge error. A field the plugin cannot do
without (job id, status word, result URL) is a ``ProviderProtocolError``; an optional
field of the wrong type (progress, duration, expiry, credits) is left out.
"""

from __future__ import annotations

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
    Response,
    StatusMap,
    dig,
    number,
    read_object,
    required_text,
    text,
    timestamp,
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


def read(response: Response, ctx: CallContext, job_id: str | None = None) -> Mapping[str, Any]:
    """The JSON object of a 2xx response; any other status raises the matching error."""
    return read_object(response, provider=NAME, clock=ctx.clock, job_id=job_id)


def job_id_of(response: Response, data: Mapping[str, Any]) -> str:
    return required_text(response, data, "id", provider=NAME)


def _result(response: Response, data: Mapping[str, Any], job_id: str) -> JobResult:
    url = required_text(response, data, "result", "video_url", provider=NAME, job_id=job_id)
    credits = number(dig(data, "usage", "credits"))
    billed = None
    if credits is not None:
        amount = Decimal(str(credits))
        billed = BilledUsage(amount=amount, unit="credits", usd=amount * USD_PER_CREDIT)
    return JobResult(
        video_url=url,
        duration_seconds=number(dig(data, "result", "duration")),
        expires_at=timestamp(dig(data, "result", "expires_at")),
        billed=billed,
    )


def status_of(response: Response, data: Mapping[str, Any], job_id: str) -> JobStatus:
    """A job body as a status; a ``completed`` body that carries an error has failed."""
    raw = required_text(response, data, "status", provider=NAME, job_id=job_id)
    state = STATUSES.state(raw)
    problem = data.get("error")
    if state is JobState.SUCCEEDED and problem:
        state = JobState.FAILED
    error = None
    if state is JobState.FAILED or (state is JobState.CANCELLED and problem):
        error = JobError(
            message=text(dig(problem, "message")) or f"the job ended {raw} with no message",
            code=text(dig(problem, "code")),
        )
    return JobStatus(
        state=state,
        raw_status=raw,
        progress=number(data.get("progress"), top=100),
        result=_result(response, data, job_id) if state is JobState.SUCCEEDED else None,
        error=error,
    )
