"""JoggAI's lip-sync JSON, to and from lipbridge's canonical types.

Every answer is an envelope ``{"code", "msg", "data"}``. A non-zero ``code`` is an error
even under HTTP 200: the docs say "code > 0 = Error" and never tie codes to HTTP
statuses, and JoggAI's own client checks only ``code``. So the business code picks the
error class first; only an answer without a known code falls back to its HTTP status.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from lipbridge import (
    AuthenticationError,
    ConfigurationError,
    InsufficientCredits,
    InvalidRequest,
    JobError,
    JobHandle,
    JobNotFound,
    JobRequest,
    JobResult,
    JobState,
    JobStatus,
    ProviderError,
    ProviderProtocolError,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
    SyncMode,
)
from lipbridge.plugin import (
    CallContext,
    LocalMedia,
    Response,
    StatusMap,
    dig,
    env_var,
    malformed,
    message_text,
    number,
    request_body,
    shown,
    text,
)

NAME = "jogg"

# The docs give both route prefixes: /open/v2 on the rendered API pages, /v2 in the
# OpenAPI files ("Production: https://api.jogg.ai/v2") and JoggAI's own client. The
# first is the default.
PATH_PREFIXES = ("/v2", "/open/v2")

STATUSES = StatusMap(
    {
        "pending": JobState.QUEUED,
        "processing": JobState.RUNNING,
        "success": JobState.SUCCEEDED,
        "failed": JobState.FAILED,
    }
)

PLAYBACK_TYPES = ("normal", "normal_reverse", "normal_reverse_by_audio")
DEFAULT_PLAYBACK = "normal"  # the create body's documented default
# Only bounce means what a playback type documents: normal_reverse "alternates forward
# and reverse playback to extend the video". The other two are described too vaguely
# to equal any canonical mode, so they stay native (options={"playback_type": ...}).
PLAYBACK = {SyncMode.BOUNCE: "normal_reverse"}

# Business codes from the docs' code table; 18025 ("no permission to call APIs") is a
# key that works but whose account may not use the API, so it is an auth failure too.
CODE_ERRORS: Mapping[int, type[ProviderError]] = {
    429: RateLimited,
    10104: JobNotFound,
    10105: AuthenticationError,
    18020: InsufficientCredits,
    18025: AuthenticationError,
    40000: RequestRejected,
    50000: ProviderUnavailable,
}
NO_RECORD = 10104  # "record not found": for the lookup, no task matches

# The last second a datetime can hold (9999-12-31T23:59:59Z): a larger created_at is junk.
LAST_SECOND = 253402300799


def path_prefix(settings: Mapping[str, str]) -> str:
    """The ``path_prefix`` setting, refused before any request unless JoggAI documents it."""
    value = settings.get("path_prefix", PATH_PREFIXES[0])
    if value not in PATH_PREFIXES:
        raise ConfigurationError(
            f"{NAME} setting path_prefix={shown(value)} is not a JoggAI route prefix; "
            f"allowed: {', '.join(PATH_PREFIXES)} (set {env_var(NAME, 'PATH_PREFIX')} or "
            "Client(settings={'jogg': {'path_prefix': ...}}))"
        )
    return value


def create_path(settings: Mapping[str, str]) -> str:
    return f"{path_prefix(settings)}/create_lip_sync_video"


def lookup_path(settings: Mapping[str, str]) -> str:
    """The lookup of the latest task made from given inputs (no task id)."""
    return f"{path_prefix(settings)}/lip_sync_video"


def upload_path(settings: Mapping[str, str]) -> str:
    """The asset upload's first step, which hands out a signed URL for the bytes."""
    return f"{path_prefix(settings)}/upload/asset"


def task_path(settings: Mapping[str, str], task_id: str) -> str:
    """The task's URL path; the id is escaped, so a stored handle cannot steer it."""
    return f"{lookup_path(settings)}/{quote(task_id, safe='')}"


def submit_body(request: JobRequest) -> dict[str, Any]:
    """The create body. A native ``options.playback_type`` is allowed when no sync mode
    is set, and checked here so a typo fails before a job (and its credits) exists."""
    body = request_body(
        {
            "video_url": request.video,
            "audio_url": request.audio,
            "playback_type": PLAYBACK[request.sync_mode] if request.sync_mode else None,
        },
        request.options,
        open_fields=("playback_type",),
    )
    native = request.options.get("playback_type")
    if "playback_type" in request.options and native not in PLAYBACK_TYPES:
        raise InvalidRequest(
            f"options.playback_type={shown(native)} is not a JoggAI playback type; "
            f"allowed: {', '.join(PLAYBACK_TYPES)}",
            field="options.playback_type",
        )
    return body


def upload_request(media: LocalMedia) -> dict[str, Any]:
    """``{filename, content_type, file_size}``; the signed PUT must carry the same
    Content-Type. ``file_size`` is optional and at least 1, so an empty file leaves it out."""
    body: dict[str, Any] = {"filename": media.path.name, "content_type": media.media_type}
    if media.size >= 1:
        body["file_size"] = media.size
    return body


def signed_urls(response: Response, ctx: CallContext) -> tuple[str, str]:
    """``(sign_url, asset_url)`` of the upload's first answer. The PUT goes to
    ``sign_url`` whatever its host, so it must be an absolute http(s) URL."""
    envelope = read(response, ctx)
    sign_url = ctx.require(response, envelope, "data", "sign_url")
    try:
        parts = urlsplit(sign_url)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        usable = False
    if not usable:
        raise malformed(response, "whose data.sign_url is not an http(s) URL", provider=NAME)
    return sign_url, ctx.require(response, envelope, "data", "asset_url")


def _business(response: Response) -> tuple[int | None, str | None]:
    """The envelope's ``code`` and ``msg``, or None for what is missing or unreadable."""
    try:
        envelope = response.json(NAME)
    except ProviderProtocolError:
        return None, None
    code = dig(envelope, "code")
    if isinstance(code, bool) or not isinstance(code, int):
        code = None
    return code, message_text(dig(envelope, "msg"))


def read(response: Response, ctx: CallContext, job_id: str | None = None) -> Mapping[str, Any]:
    """The envelope of an answer with code 0; anything else raises its mapped error."""
    code, message = _business(response)
    if code:
        cls = CODE_ERRORS.get(code)
        if cls is not None or response.ok:
            # The code picks the class; error_for_status words it and reads Retry-After.
            from lipbridge.plugin import error_for_status  # the HTTP stack, only on an error

            raise error_for_status(
                response,
                provider=ctx.provider,
                clock=ctx.clock,
                message=message,
                code=str(code),
                job_id=job_id,
                overrides={response.status: cls or ProviderError},
            )
    envelope = ctx.read(response, job_id, message=("msg",), code=("code",))
    if code != 0:
        raise malformed(response, "without business code 0", provider=ctx.provider, job_id=job_id)
    return envelope


def status_of(
    response: Response, envelope: Mapping[str, Any], ctx: CallContext, job_id: str
) -> JobStatus:
    """A task as a status. ``error`` is read only for failed tasks: the documented
    success example carries one too, and the status table says to read it on failure."""
    task = dig(envelope, "data")
    raw = ctx.require(response, envelope, "data", "status", job_id=job_id)
    state = STATUSES.state(raw)
    url = text(dig(task, "data", "result_url"))
    result = None
    if state is JobState.SUCCEEDED:
        if url is None:
            state = JobState.RUNNING  # success reported before the result is attached
        else:
            result = JobResult(
                video_url=url,
                cover_url=text(dig(task, "data", "cover_url")),
                duration_seconds=number(dig(task, "data", "duration_seconds")),
            )
    error = None
    if state is JobState.FAILED:
        error = JobError(
            message=text(dig(task, "error", "message")) or f"the task ended {raw} with no message"
        )
    return JobStatus(state=state, raw_status=raw, result=result, error=error)


def lookup_query(request: JobRequest) -> dict[str, str]:
    """The lookup's query: the create body's inputs, with ``playback_type`` at its
    documented default when the create body leaves it out, so a task made with the
    default matches. Built from :func:`submit_body`, so what submit refuses is refused
    here too, before anything is sent."""
    body = submit_body(request)
    return {
        "video_url": str(body["video_url"]),
        "audio_url": str(body["audio_url"]),
        "playback_type": str(body.get("playback_type", DEFAULT_PLAYBACK)),
    }


def found_tasks(
    response: Response, ctx: CallContext, request: JobRequest, since: dt.datetime
) -> list[JobHandle]:
    """The lookup's answer as handles: none for "record not found" (code 10104 under a
    2xx, as JoggAI sends business errors) or an empty ``data``; else the one task, unless
    it was created before ``since`` (to the second, JoggAI's resolution). A 10104 under
    an error status still raises: a failed lookup must not read as "no job", which would
    invite a paid resubmit."""
    try:
        envelope = read(response, ctx)
    except JobNotFound as exc:
        if response.ok and exc.code == str(NO_RECORD):
            return []
        raise
    task = dig(envelope, "data")
    if task is None or task == {}:
        return []
    task_id = ctx.require(response, envelope, "data", "task_id")
    seconds = number(dig(task, "created_at"), top=LAST_SECOND)
    if not seconds:  # JoggAI's zero value means "not set"; a task always has a creation time
        raise malformed(
            response, "without a readable data.created_at", provider=ctx.provider, job_id=task_id
        )
    created = dt.datetime.fromtimestamp(seconds, tz=dt.timezone.utc)
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.timezone.utc)
    # JoggAI reports whole seconds: a task made in since's own second reads as its start.
    if created < since.replace(microsecond=0):
        return []
    handle = JobHandle(
        provider=ctx.provider, job_id=task_id, created_at=created, model=request.model
    )
    return [handle]
