"""The task-unified gateway's JSON, to and from lipbridge's canonical types.

One wire format serves every reseller of the gateway (FoxAPI, AIHubMax, EvoLink):

* ``POST /v1/videos/generations`` ``{"model", "video_url", "audio_url", "sync_mode"?,
  "temperature"?, "active_speaker"?, "callback_url"?}`` -> ``{"id", "status", "created",
  "usage": {"credits_reserved"}}`` (or ``"task_info"`` instead of ``"usage"``);
* ``GET /v1/tasks/{id}`` -> ``{"id", "status", "progress", "created", "results": [{"url"}]
  | null, "error": {"code", "message", "type"} | null, "usage": {"credits_reserved"}}``;
  an older revision puts the video at ``output.url``;
* ``POST /v1/files/upload/stream``, ``multipart/form-data`` with the file in part
  ``file`` (and optional ``file_name``, ``auto_cleanup``) -> ``{"id", "filename", "url",
  "size", "created"}``; ``url`` is what a submit takes;
* errors: ``{"error": {"message", "type", "code"?}}`` with the usual HTTP statuses.

Everything read from a response goes through lipbridge's wire readers, so no body,
however broken, raises anything but a lipbridge error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from lipbridge import (
    BilledUsage,
    Clock,
    ConfigurationError,
    InsufficientCredits,
    JobError,
    JobRequest,
    JobResult,
    JobState,
    JobStatus,
    ProviderError,
    RequestRejected,
)
from lipbridge.plugin import (
    CallContext,
    FileBody,
    LocalMedia,
    Response,
    StatusMap,
    dig,
    env_var,
    number,
    request_body,
    shown,
    text,
)

SUBMIT = "/v1/videos/generations"
TASKS = "/v1/tasks"
UPLOAD = "/v1/files/upload/stream"  # of the three upload routes, the one that streams the file
URL_TTL_SECONDS = 86_400  # "All url links are valid for 24 hours. Please save them promptly."
# AIHubMax's upload pages: "文件会在 72 小时后过期" (files expire after 72 hours). FoxAPI's
# stored pages state no lifetime for the same routes; assumed the same, as one gateway.
UPLOAD_TTL = dt.timedelta(hours=72)
BILLED_UNIT = "reserved credits"  # credits are reserved at submit; no final charge is reported
_URL_TTL = dt.timedelta(seconds=URL_TTL_SECONDS)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_LAST_CREATED = 253_402_214_399  # 9999-12-30T23:59:59Z: a later `created` has no expiry date

STATUSES = StatusMap(
    {
        "pending": JobState.QUEUED,
        "processing": JobState.RUNNING,
        "completed": JobState.SUCCEEDED,
        "failed": JobState.FAILED,
        "cancelled": JobState.CANCELLED,  # listed only by an older revision of the task page
    }
)

# The provider setting ``request_fields`` names the documented revision of the media fields.
SETTING = "request_fields"
REQUEST_FIELDS: Mapping[str, tuple[str, str]] = {
    "video_url": ("video_url", "audio_url"),  # rev B: the current reseller pages
    "video": ("video", "audio"),  # rev A: FoxAPI's original page
}
_MEDIA_KEYS = ("video_url", "audio_url", "video", "audio")

# Where an error's code is, for ``ctx.read``: ``error.code`` where the envelope has one
# (task and channel errors), else ``error.type``, the only code the general envelope carries.
ERROR_CODES: list[tuple[str | int, ...]] = [("error", "code"), ("error", "type")]

# How an upload's refusals differ from the common mapping. 403 is the documented answer
# when storage is full and auto_cleanup is false: the account has no room, not a bad key,
# and another provider (or later, once uploads expire) may work. 413: the file is too
# large for this provider (a reseller client's hint; no page states the limit).
UPLOAD_ERRORS: Mapping[int, type[ProviderError]] = {
    403: InsufficientCredits,
    413: RequestRejected,
}


def media_fields(ctx: CallContext, default: str) -> tuple[str, str]:
    """The (video, audio) field names chosen by the ``request_fields`` setting."""
    choice = ctx.settings.get(SETTING, default)
    fields = REQUEST_FIELDS.get(choice)
    if fields is None:
        raise ConfigurationError(
            f"{ctx.provider} setting {SETTING}={shown(choice)} "
            f"({env_var(ctx.provider, SETTING.upper())}) is not a documented "
            f"field revision; allowed: {', '.join(REQUEST_FIELDS)}"
        )
    return fields


def task_path(job_id: str) -> str:
    """``/v1/tasks/{id}``; the id is escaped, so a stored handle cannot steer the path."""
    return f"{TASKS}/{quote(job_id, safe='')}"


def submit_body(request: JobRequest, media: tuple[str, str]) -> dict[str, Any]:
    """The create body: only the fields that are set, then the provider-native options.

    Both revisions' media names are listed, so options can set neither.
    """
    video, audio = media
    fields = {
        "model": request.model,
        **dict.fromkeys(_MEDIA_KEYS),
        video: request.video,
        audio: request.audio,
        "sync_mode": request.sync_mode.value if request.sync_mode else None,
        "temperature": request.temperature,
        "active_speaker": request.active_speaker,
        "callback_url": request.callback_url,
    }
    return request_body(fields, request.options)


def video_url(data: Mapping[str, Any]) -> str | None:
    """``results[0].url``, else the older revision's ``output.url``."""
    return text(dig(data, "results", 0, "url")) or text(dig(data, "output", "url"))


def expires_at(
    data: Mapping[str, Any], clock: Clock, ttl: dt.timedelta = _URL_TTL
) -> dt.datetime:
    """``ttl`` after the task (or upload) was created, as its ``created`` unix time says:
    the URL cannot be older. Without a usable ``created``, ``ttl`` from now."""
    created = number(data.get("created"), top=_LAST_CREATED)
    start = clock.now() if created is None else _EPOCH + dt.timedelta(seconds=created)
    return start + ttl


def upload_body(media: LocalMedia) -> FileBody:
    """The stream upload's form: the file in part ``file`` under its own name (the
    documented default ``file_name``), after ``auto_cleanup=false``.

    The documented default, ``true``, makes a full storage "evict the earliest uploaded
    file" instead of answering 403. lipbridge reuses an upload for as long as it lives (one
    video into many languages is uploaded once, first, so it is the oldest), and an
    evicted input fails jobs that were already paid for. A 403 is explicit and costs
    nothing, so ``false`` is sent.
    """
    return FileBody.multipart(
        media.path,
        field_name="file",
        media_type=media.media_type,
        fields={"auto_cleanup": "false"},
    )


def billed(data: Mapping[str, Any]) -> BilledUsage | None:
    credits = number(dig(data, "usage", "credits_reserved"))
    return None if credits is None else BilledUsage(amount=Decimal(str(credits)), unit=BILLED_UNIT)


def job_error(problem: object, raw: str) -> JobError:
    return JobError(
        message=text(dig(problem, "message")) or f"the task ended {raw} with no message",
        code=text(dig(problem, "code")) or text(dig(problem, "type")),
    )


def status_of(
    response: Response, data: Mapping[str, Any], ctx: CallContext, job_id: str
) -> JobStatus:
    """A task body as a status.

    ``completed`` can arrive before the results are written (``results: null``); that
    task is still running, so ``wait`` polls again instead of failing to read a result.
    """
    raw = ctx.require(response, data, "status", job_id=job_id)
    state = STATUSES.state(raw)
    result = None
    if state is JobState.SUCCEEDED:
        url = video_url(data)
        if url is None:
            state = JobState.RUNNING
        else:
            result = JobResult(
                video_url=url, expires_at=expires_at(data, ctx.clock), billed=billed(data)
            )
    problem, error = data.get("error"), None
    if state is JobState.FAILED or (state is JobState.CANCELLED and problem):
        error = job_error(problem, raw)
    return JobStatus(
        state=state,
        raw_status=raw,
        progress=number(data.get("progress"), top=100),
        result=result,
        error=error,
    )
