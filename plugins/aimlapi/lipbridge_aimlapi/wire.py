"""AI/ML API's JSON for ``pixverse/lip-sync``, to and from lipbridge's canonical types.

Everything read from a response goes through lipbridge's wire readers, so no body or
header, however broken, raises anything but a lipbridge error: a missing id or status
word is a ``ProviderProtocolError``; a garbled cost header or ``meta.usage`` is ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from lipbridge import (
    BilledUsage,
    InsufficientCredits,
    JobError,
    JobHandle,
    JobRequest,
    JobResult,
    JobState,
    JobStatus,
    ProviderError,
)
from lipbridge.plugin import (
    CallContext,
    InputLimits,
    Response,
    StatusMap,
    dig,
    number,
    request_body,
    text,
)

NAME = "aimlapi"
MODEL = "pixverse/lip-sync"
GENERATIONS = "/v2/video/generations"  # POST creates, GET ?generation_id= polls
VOICES = (
    "Harper", "Ava", "Isabella", "Sophia", "Emily", "Chloe", "Julia",
    "Mason", "Jack", "Liam", "James", "Oliver", "Adrian", "Ethan", "Auto",
)  # fmt: skip
CREDITS_HEADER = "x-aimlapi-credits-used"
USD_HEADER = "x-aimlapi-usd-spent"

# Errors, for ``ctx.read``: ``{"message", "path", "requestId", "statusCode", "timestamp"}``;
# the message may be a list, there is no error-code field (``code=[]``), and 403 means the
# account is out of credits, not a bad key.
ERROR_MESSAGE = ("message",)
ERROR_OVERRIDES: Mapping[int, type[ProviderError]] = {403: InsufficientCredits}

# The schema lists queued, generating, completed and error. The documented sample run ends
# "succeeded" and the official JS sample also waits on "waiting", so the docs disagree with
# their schema; "failed", the counterpart of "succeeded", is mapped too, so a run reporting
# it ends instead of polling to the deadline as an unknown word would.
STATUSES = StatusMap(
    {
        "queued": JobState.QUEUED,
        "waiting": JobState.QUEUED,
        "generating": JobState.RUNNING,
        "completed": JobState.SUCCEEDED,
        "succeeded": JobState.SUCCEEDED,
        "error": JobState.FAILED,
        "failed": JobState.FAILED,
    }
)


def submit_body(request: JobRequest, limits: InputLimits) -> dict[str, Any]:
    """The create body; local files go inline as data URIs, which the API accepts."""
    from lipbridge.plugin import inline_local  # file reading: imported when a job is sent

    tts = request.tts
    fields = {
        "model": request.model,
        "video_url": inline_local(request.video, field="video", max_bytes=limits.max_video_bytes),
        "audio_url": None
        if request.audio is None
        else inline_local(request.audio, field="audio", max_bytes=limits.max_audio_bytes),
        "lip_sync_tts_content": tts.text if tts else None,
        "lip_sync_tts_speaker": tts.voice if tts else None,
    }
    return request_body(fields, request.options)


def _amount(value: object) -> Decimal | None:
    """A non-negative amount from a header or resume string, or from a JSON number."""
    if isinstance(value, str):
        try:
            amount = Decimal(value.strip())
        except InvalidOperation:
            return None
    else:
        found = number(value)
        if found is None:
            return None
        amount = Decimal(str(found))
    return amount if amount.is_finite() and amount >= 0 else None


def _usage(credits: Decimal | None, usd: Decimal | None = None) -> dict[str, str]:
    """A charge as handle-resume strings; a zero or missing charge says nothing: ``{}``."""
    if not credits:
        return {}
    return {"credits_used": str(credits)} | ({} if usd is None else {"usd_spent": str(usd)})


def header_usage(response: Response) -> dict[str, str]:
    """The cost headers: credits and the same amount in USD, recorded for the generation."""
    return _usage(_amount(response.header(CREDITS_HEADER)), _amount(response.header(USD_HEADER)))


def body_usage(data: Mapping[str, Any]) -> dict[str, str]:
    """``meta.usage.credits_used``: credits only, the fallback when no header says more."""
    return _usage(_amount(dig(data, "meta", "usage", "credits_used")))


def _billed(usage: Mapping[str, str]) -> BilledUsage | None:
    credits = _amount(usage.get("credits_used"))
    if credits is None:
        return None
    return BilledUsage(amount=credits, unit="credits", usd=_amount(usage.get("usd_spent")))


def status_of(
    response: Response, data: Mapping[str, Any], ctx: CallContext, handle: JobHandle
) -> JobStatus:
    """A generation body as a status.

    The bill is the poll's own cost headers when they name a charge, else what the submit
    said (kept in the handle), else this body's ``meta.usage``.
    """
    raw = ctx.require(response, data, "status", job_id=handle.job_id)
    state = STATUSES.state(raw)
    if state is JobState.FAILED:
        message = text(dig(data, "error", "message")) or f"the generation ended {raw!r}"
        error = JobError(message=message, code=text(dig(data, "error", "name")))
        return JobStatus(state=state, raw_status=raw, error=error)
    if state is not JobState.SUCCEEDED:
        return JobStatus(state=state, raw_status=raw)
    url = text(dig(data, "video", "url"))
    if url is None:  # a success word before video.url is filled in: not done yet
        return JobStatus(state=JobState.RUNNING, raw_status=raw)
    billed = _billed(header_usage(response) or handle.resume or body_usage(data))
    return JobStatus(state=state, raw_status=raw, result=JobResult(video_url=url, billed=billed))
