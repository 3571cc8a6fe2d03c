"""fal.ai's queue JSON, to and from lipbridge's canonical types.

Errors come in two documented shapes (Error Reference): a model's validation error,
``{"detail": [{"loc", "msg", "type", "url"?, "ctx"?, "input"?}]}`` (422), and a request
error, ``{"detail": "<text>", "error_type": "<category>"}`` with the category also in the
``X-Fal-Error-Type`` header. "Some APIs might not strictly follow the error structure", so
any ``detail`` that is a string or a list is read. The queue never answers a FAILED
status: a finished request is COMPLETED, and its result answers the model's error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from lipbridge import (
    InsufficientCredits,
    JobError,
    JobNotFound,
    JobRequest,
    JobResult,
    JobState,
    JobStatus,
    ProviderError,
    ProviderProtocolError,
)
from lipbridge.plugin import (
    CallContext,
    Response,
    StatusMap,
    dig,
    error_for_status,
    log_lines,
    request_body,
    text,
    whole_number,
)

NAME = "fal"
QUEUE = "https://queue.fal.run"
BACKUP = "https://queue.falrun.com"  # "The backup host is https://queue.falrun.com"

# The queue's status words (queue docs); CANCELLATION_REQUESTED and OK only answer a cancel
# (OK: "If the request is in the queue, fal removes it"), confirmed by a later poll.
STATUSES = StatusMap(
    {
        "IN_QUEUE": JobState.QUEUED,
        "IN_PROGRESS": JobState.RUNNING,
        "COMPLETED": JobState.SUCCEEDED,
        "CANCELLATION_REQUESTED": JobState.CANCELLING,
        "OK": JobState.CANCELLING,
    }
)
ALREADY_COMPLETED = "ALREADY_COMPLETED"
CANCELLED_TYPE = "client_cancelled"  # 499, "The request was cancelled by the client"
EXHAUSTED = "exhausted balance"  # 403 "User is locked. Reason: Exhausted balance. ..."
# A result's answers that are not the job's outcome: the account's (key, lock, rate)
# and a result fal no longer keeps ("fal keeps the result for 1 hour after the request
# completes. If the result is 10 KB or larger, fal keeps it for 6 minutes").
ACCOUNT = frozenset({401, 403, 429})
EXPIRED = frozenset({404, 410})
RETENTION = (
    "fal keeps a result for 1 hour after the request completes "
    "(6 minutes when it is 10 KB or larger)"
)

# URL fields of the submit's answer, kept in the handle: "Do not build these URLs
# yourself. Use the status_url, response_url, and cancel_url fields".
URLS = ("status_url", "response_url", "cancel_url")


def submit_body(request: JobRequest, mode_field: str | None, modes: Mapping[str, str]) -> Any:
    """The model's input itself (the queue has no envelope): the media URLs, the sync mode
    under the model's own field and spelling, then the provider options."""
    mode = modes.get(request.sync_mode.value) if request.sync_mode and mode_field else None
    fields: dict[str, Any] = {"video_url": request.video, "audio_url": request.audio}
    if mode_field:
        fields[mode_field] = mode
    return request_body(fields, request.options)


def request_urls(native_id: str, job_id: str) -> dict[str, str]:
    """The follow-up URLs for a handle without them (a job id given on the command line):
    "The status, result, and cancel URLs use only the owner and the app", as fal's own
    clients build them."""
    owner_app = "/".join(native_id.split("/")[:2])
    base = f"{QUEUE}/{owner_app}/requests/{quote(job_id, safe='')}"
    return {"status_url": f"{base}/status", "response_url": base, "cancel_url": f"{base}/cancel"}


def _json(response: Response) -> Any:
    """An answer's JSON, or None when it is not JSON (an error page from a proxy)."""
    try:
        return response.json(NAME)
    except ProviderProtocolError:
        return None


def _detail(response: Response) -> Any:
    """The answer's ``detail``: a model error's list, a request error's text, or None."""
    return dig(_json(response), "detail")


def _item(item: object) -> str | None:
    """One validation error: ``<field>: <msg>`` (the field is ``loc`` after ``body``)."""
    said = text(dig(item, "msg"))
    if said is None:
        return text(item)
    loc = dig(item, "loc")
    where = [str(p) for p in loc if p != "body"] if isinstance(loc, list) else []
    return f"{'.'.join(where)}: {said}" if where else said


def said(response: Response) -> tuple[str | None, str | None]:
    """``(message, code)`` of an error answer: ``detail`` as text or a list of errors, and
    the error type from the header, the body, or the first validation error."""
    body = _json(response)
    detail = _detail(response)
    if isinstance(detail, list):
        parts = [p for p in map(_item, detail) if p]
        message = "; ".join(parts) or None
    else:
        message = text(detail)
    code = (
        text(response.header("x-fal-error-type"))
        or text(dig(body, "error_type"))
        or text(dig(detail, 0, "type"))
    )
    return message, code


def refusal(
    response: Response, ctx: CallContext, job_id: str | None = None, *, gone: bool = False
) -> ProviderError:
    """The error for an answer that is not a 2xx. A 403 that says the balance is exhausted
    is out of credit (fal locks the account), any other 403 an authentication error;
    ``gone``: a result past its retention, which the message says."""
    message, code = said(response)
    if gone:
        message = f"the result is gone ({message or 'no message'}): {RETENTION}"
    overrides: dict[int, type[ProviderError]] = {410: JobNotFound}
    if response.status == 403 and EXHAUSTED in (message or "").lower():
        overrides[403] = InsufficientCredits
    return error_for_status(
        response,
        provider=ctx.provider,
        clock=ctx.clock,
        message=message,
        code=code,
        job_id=job_id,
        overrides=overrides,
    )


def read(response: Response, ctx: CallContext, job_id: str | None = None) -> Mapping[str, Any]:
    """The JSON object of a 2xx answer; any other raises its mapped error."""
    if not response.ok:
        raise refusal(response, ctx, job_id)
    return ctx.read(response, job_id)


def queued(data: Mapping[str, Any], raw: str) -> JobStatus:
    """A status answer before COMPLETED: its position (IN_QUEUE) and log (IN_PROGRESS)."""
    return JobStatus(
        state=STATUSES.state(raw),
        raw_status=raw,
        queue_position=whole_number(data.get("queue_position")),
        logs=log_lines(data.get("logs")),
    )


def finished(
    response: Response, ctx: CallContext, raw: str, logs: tuple[str, ...], job_id: str
) -> JobStatus:
    """A COMPLETED request, decided by its result: ``{"video": File}`` succeeded; an error
    answer is the job's failure ("If the model returned an error, this operation returns
    the same error"), or its cancel for ``client_cancelled``. A refused key, lock or rate,
    a result past its retention, and a 5xx that is no model error raise instead: they say
    nothing of the job."""
    if response.ok:
        url = ctx.require(response, read(response, ctx, job_id), "video", "url", job_id=job_id)
        return JobStatus(
            state=JobState.SUCCEEDED, raw_status=raw, logs=logs, result=JobResult(video_url=url)
        )
    if response.status in ACCOUNT | EXPIRED:
        raise refusal(response, ctx, job_id, gone=response.status in EXPIRED)
    cancelled = response.status == 499 or said(response)[1] == CANCELLED_TYPE
    if response.status >= 500 and not cancelled and not isinstance(_detail(response), list):
        # A request error (flat detail, error_type) or a proxy's page is about this GET,
        # not the model's answer: raised as unavailable, so the wait polls again.
        raise refusal(response, ctx, job_id)
    return failure(response, raw, logs, "for the result")


def failure(response: Response, raw: str, logs: tuple[str, ...], where: str) -> JobStatus:
    """The job's end from the model's error answer: cancelled for ``client_cancelled``
    (499), else failed with fal's message and error type."""
    message, code = said(response)
    error = JobError(
        message=f"HTTP {response.status} {where}: {message or 'no message'}",
        code=code or str(response.status),
        phase="result",
    )
    cancelled = response.status == 499 or code == CANCELLED_TYPE
    state = JobState.CANCELLED if cancelled else JobState.FAILED
    return JobStatus(state=state, raw_status=raw, logs=logs, error=error)
