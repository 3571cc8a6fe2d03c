"""sync.so's JSON, to and from lipbridge's canonical types.

Errors are NestJS envelopes, ``{"statusCode", "errorCode"?, "message", "error"}``, where
``message`` may be a list of validation messages and ``error`` is the HTTP reason phrase
(the 429 example of the Concurrency & Rate Limits guide). The HTTP status picks the
class, as the error-handling guide's table does; two codes need more than their status:

* ``concurrency_limit_reached`` (429): the plan's generations in flight are all taken,
  which waiting a minute does not fix, so the message says so ("Inspect the error body
  instead of treating every 429 as the same limit");
* ``IDEMPOTENCY_OUTCOME_UNKNOWN`` (503, a keyed create only): the generation may exist,
  so it is :class:`SubmitOutcomeUnknown`, not "unavailable". The guide: it "does not
  authorize a fresh key or an unkeyed retry. An unknown response may include
  ``generationId``; poll it when available."
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from lipbridge import (
    JobError,
    JobHandle,
    JobRequest,
    JobResult,
    JobState,
    JobStatus,
    ProviderProtocolError,
    SubmitOutcomeUnknown,
)
from lipbridge.plugin import (
    CallContext,
    CallKind,
    LocalMedia,
    Response,
    StatusMap,
    dig,
    malformed,
    message_text,
    number,
    request_body,
    text,
)

NAME = "syncso"
GENERATE = "/v2/generate"
PRESIGN = "/v2/assets/upload"  # step 1 of an upload: a presigned URL for the bytes
ASSETS = "/v2/assets"  # step 3: register the uploaded URL as an asset

# The Generation's statuses (Python SDK 0.2.7). CANCELED is in the TypeScript SDK's enum
# and TIMED_OUT on the oldest API page; no route makes either, but both are terminal.
STATUSES = StatusMap(
    {
        "PENDING": JobState.QUEUED,
        "PROCESSING": JobState.RUNNING,
        "COMPLETED": JobState.SUCCEEDED,
        "FAILED": JobState.FAILED,
        "REJECTED": JobState.FAILED,
        "CANCELED": JobState.CANCELLED,
        "TIMED_OUT": JobState.FAILED,
    }
)

MESSAGE = ("message",)
CODE: list[tuple[str | int, ...]] = [("errorCode",)]
CONCURRENCY_LIMIT = "concurrency_limit_reached"
OUTCOME_UNKNOWN = "IDEMPOTENCY_OUTCOME_UNKNOWN"
# The plans' concurrent generations (Concurrency & Rate Limits; support FAQ, April 2026).
CONCURRENCY_PLANS = "Free and Hobbyist 1, Creator 3, Growth 6, Scale 15"

# Create-body fields that sit beside ``input``; any other provider option goes into the
# body's ``options`` object (sync_mode's siblings: occlusion_detection_enabled,
# model_mode, prompt, active_speaker_detection's frame_number/coordinates, ...). The first
# four are what lipbridge's own fields fill, so an option naming one is refused.
TOP_LEVEL = frozenset(
    {
        "model",
        "input",
        "options",
        "webhookUrl",
        "outputFileName",
        "segments",
        "projectId",
        "dubParams",
        "dialogueEdit",
    }
)


def generation_path(generation_id: str) -> str:
    """``/v2/generate/{id}``; the id is escaped, so a stored handle cannot steer the path."""
    return f"{GENERATE}/{quote(generation_id, safe='')}"


def media_input(kind: str, ref: str) -> dict[str, str]:
    """One ``input[]`` item: an http(s) URL by ``url``, else by ``assetId``. Validation lets
    only URLs and local files through, and the core puts the upload's reference, an asset
    id, in place of a local file before the submit."""
    scheme = urlsplit(ref).scheme.lower()
    return {"type": kind, "url" if scheme in ("http", "https") else "assetId": ref}


def submit_body(request: JobRequest) -> dict[str, Any]:
    """The create body. Provider options fill ``options`` unless :data:`TOP_LEVEL` names
    them; ``active_speaker_detection`` is theirs to set in full while the request leaves
    ``active_speaker`` unset (a frame number, coordinates, bounding boxes)."""
    native = {k: v for k, v in request.options.items() if k not in TOP_LEVEL}
    beside = {k: v for k, v in request.options.items() if k in TOP_LEVEL}
    speaker = None if request.active_speaker is None else {"auto_detect": request.active_speaker}
    options = request_body(
        {
            "sync_mode": request.sync_mode.value if request.sync_mode else None,
            "temperature": request.temperature,
            "active_speaker_detection": speaker,
        },
        native,
        open_fields=("active_speaker_detection",),
    )
    media = (("video", request.video), ("audio", request.audio))
    return request_body(
        {
            "model": request.model,
            "input": [media_input(kind, ref) for kind, ref in media if ref is not None],
            "options": options or None,
            "webhookUrl": request.callback_url,
        },
        beside,
    )


def _envelope(response: Response) -> Any:
    """An answer's JSON, or None when it is not JSON (an error page from a proxy)."""
    try:
        return response.json(NAME)
    except ProviderProtocolError:
        return None


def read(response: Response, ctx: CallContext, job_id: str | None = None) -> Mapping[str, Any]:
    """The JSON object of a 2xx answer; any other raises its mapped error."""
    envelope = _envelope(response)
    if response.status == 429 and dig(envelope, "errorCode") == CONCURRENCY_LIMIT:
        from lipbridge.plugin import error_for_status  # the HTTP stack, only on an error

        said = message_text(dig(envelope, "message")) or "concurrency limit reached"
        raise error_for_status(
            response,
            provider=ctx.provider,
            clock=ctx.clock,
            message=f"{said} (sync.so's concurrency limit: every generation the plan may run "
            f"at once is still running, and this one can start when one of them ends; "
            f"plans allow {CONCURRENCY_PLANS})",
            code=CONCURRENCY_LIMIT,
            job_id=job_id,
        )
    return ctx.read(response, job_id, message=MESSAGE, code=CODE)


def submitted(response: Response, ctx: CallContext, request: JobRequest) -> JobHandle:
    """The create's answer as a handle. A keyed create whose outcome sync.so cannot tell
    (503 ``IDEMPOTENCY_OUTCOME_UNKNOWN``, after the core's retries under the same key) is
    :class:`SubmitOutcomeUnknown`: the generation may exist."""
    envelope = _envelope(response)
    if response.status == 503 and dig(envelope, "errorCode") == OUTCOME_UNKNOWN:
        raise outcome_unknown(response, ctx, envelope)
    data = read(response, ctx)
    return ctx.new_handle(ctx.require(response, data, "id"), model=request.model)


def outcome_unknown(response: Response, ctx: CallContext, envelope: Any) -> SubmitOutcomeUnknown:
    """sync.so's word that a keyed create may or may not have made its generation. The
    job ledger settles it by sending the create again under the same key ("does not
    authorize a fresh key"); a ``generationId`` the answer names ("poll it when
    available") is the error's ``job_id``, and the message says how to adopt it."""
    said = message_text(dig(envelope, "message")) or "no message"
    generation = text(dig(envelope, "generationId"))
    named = (
        f"; sync.so named generation {generation}: `lipbridge jobs reconcile LOCAL_ID "
        f"--provider-job {generation}` follows it"
        if generation
        else ""
    )
    creates = [e for e in ctx.http.exchanges if e.kind is CallKind.SUBMIT]
    return SubmitOutcomeUnknown(
        f"HTTP 503 {OUTCOME_UNKNOWN}: {said}; the generation may exist and be billed. Resume "
        f"the job (lipbridge jobs resume), which sends the same Idempotency-Key again, never a "
        f"new one{named}",
        details={
            "provider": ctx.provider,
            "method": response.method,
            "url": response.url,
            "request_fingerprint": creates[-1].fingerprint if creates else None,
            "idempotency_key": ctx.http.idempotency_key,
            "at": ctx.clock.now().isoformat(),
            "http_status": response.status,
            "body_excerpt": response.excerpt(),
            "generation_id": generation,
        },
        provider=ctx.provider,
        http_status=response.status,
        code=OUTCOME_UNKNOWN,
        job_id=generation,
    )


def status_of(
    response: Response, data: Mapping[str, Any], ctx: CallContext, job_id: str
) -> JobStatus:
    """A Generation as a status. The result is ``outputMediaUrl``, else ``outputUrl`` (its
    deprecated alias); a failure's code is ``error_code`` (``errorCode`` in newer tools)."""
    raw = ctx.require(response, data, "status", job_id=job_id)
    state = STATUSES.state(raw)
    result = error = None
    if state is JobState.SUCCEEDED:
        url = text(data.get("outputMediaUrl")) or text(data.get("outputUrl"))
        if url is None:  # not documented; the job is paid for, so look again, not fail
            state = JobState.RUNNING
        else:
            result = JobResult(video_url=url, duration_seconds=number(data.get("outputDuration")))
    elif state is JobState.FAILED:
        said = message_text(data.get("error"))
        error = JobError(
            message=said or f"the generation ended {raw} with no message",
            code=text(data.get("error_code")) or text(data.get("errorCode")),
        )
    return JobStatus(state=state, raw_status=raw, result=result, error=error)


def presign_body(media: LocalMedia) -> dict[str, Any]:
    """Step 1's body; all three fields are required, and the PUT must carry this type."""
    return {"fileName": media.path.name, "contentType": media.media_type, "size": media.size}


def presigned(response: Response, ctx: CallContext) -> tuple[str, str, float | None]:
    """``(uploadUrl, url, expiresIn)`` of step 1. The bytes go to ``uploadUrl`` whatever its
    host, so it must be an absolute http(s) URL; ``url`` is what step 3 registers."""
    data = read(response, ctx)
    upload_url = ctx.require(response, data, "uploadUrl")
    parts = urlsplit(upload_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise malformed(response, "whose uploadUrl is not an http(s) URL", provider=ctx.provider)
    return upload_url, ctx.require(response, data, "url"), number(data.get("expiresIn"))


def register_body(url: str, media: LocalMedia) -> dict[str, str]:
    """Step 3's body: the uploaded URL, its asset type and the file's name for Studio."""
    return {"url": url, "type": media.kind.upper(), "name": media.path.name}
