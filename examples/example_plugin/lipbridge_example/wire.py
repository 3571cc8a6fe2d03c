"""The Example Lipsync API's JSON, to and from lipbridge's canonical types.

Everything read from a response goes through lipbridge's readers (``ctx.read``,
``ctx.require``, ``dig``, ``text``, ``number``, ``timestamp``), so no body, however
broken, raises anything but a lipbridge error. A field the plugin cannot do without
(job id, status word, result URL) is a ``ProviderProtocolError``; an optional field of
the wrong type (progress, duration, expiry, credits) is left out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from lipbridge import (
    BilledUsage,
    JobError,
    JobHandle,
    JobRequest,
    JobResult,
    JobState,
    JobStatus,
)
from lipbridge.plugin import (
    CallContext,
    Response,
    StatusMap,
    dig,
    malformed,
    number,
    request_body,
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
    """The create body: only the fields that are set, then the provider-native options
    (which may not set a field the request already maps: ``request_body`` refuses that)."""
    fields = {
        "model": request.model,
        "video_url": request.video,
        "audio_url": request.audio,
        "sync_mode": request.sync_mode.value if request.sync_mode else None,
        "temperature": request.temperature,
        "webhook_url": request.callback_url,
    }
    return request_body(fields, request.options)


def _result(
    response: Response, data: Mapping[str, Any], ctx: CallContext, job_id: str
) -> JobResult:
    url = ctx.require(response, data, "result", "video_url", job_id=job_id)
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


def status_of(
    response: Response, data: Mapping[str, Any], ctx: CallContext, job_id: str
) -> JobStatus:
    """A job body as a status; a ``completed`` body that carries an error has failed."""
    raw = ctx.require(response, data, "status", job_id=job_id)
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
        result=_result(response, data, ctx, job_id) if state is JobState.SUCCEEDED else None,
        error=error,
    )


def listing_query(request: JobRequest, since: dt.datetime) -> dict[str, str]:
    """The listing's filters: the inputs the job was made from, and ``created_after``
    (whole seconds, rounded down, so a job made in ``since``'s own second is listed)."""
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.timezone.utc)
    query = {
        "model": request.model,
        "video_url": request.video,
        "audio_url": request.audio,
        "created_after": since.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return {name: value for name, value in query.items() if value}


def found_jobs(
    response: Response,
    data: Mapping[str, Any],
    ctx: CallContext,
    request: JobRequest,
    since: dt.datetime,
) -> list[JobHandle]:
    """The listed jobs as handles, newest first as listed, none created before ``since``
    (the API filters by ``created_after`` already; the plugin does not rely on it). A
    job it cannot read fails the whole lookup: skipping it could hide the one match."""
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.timezone.utc)
    # The API reports whole seconds: a job made in since's own second reads as its start.
    since = since.replace(microsecond=0)
    jobs = data.get("data")
    if not isinstance(jobs, list):
        raise malformed(response, "without a data list", provider=ctx.provider)
    found = []
    for n, job in enumerate(jobs):
        job_id = ctx.require(response, data, "data", n, "id")
        created = timestamp(dig(job, "created_at"))
        if created is None:
            raise malformed(
                response, f"without data.{n}.created_at", provider=ctx.provider, job_id=job_id
            )
        if created >= since:
            found.append(
                JobHandle(provider=ctx.provider, job_id=job_id, created_at=created,
                          model=request.model)
            )
    return found
