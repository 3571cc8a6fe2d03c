"""The white-label "task-unified" gateway as the emulator speaks it: FoxAPI and AIHubMax.

Both resellers run one gateway (research/providers.md §1), so one class holds the wire
format and each reseller only names what differs: the provider, the documented media
field revisions it takes, its 422 validation type and whether it has callbacks.

* ``POST /v1/videos/generations``, ``Authorization: Bearer <key>``. Rev B fields
  (``video_url``/``audio_url``) on both; FoxAPI also takes Rev A's ``video``/``audio``
  (its original page). The error-codes page orders the checks: a body that is not JSON
  (or a wrong Content-Type) is 400; missing or invalid parameters are 422; only then does
  "channel matching" refuse with 422 and an ``error.code``: ``model_not_found`` for a
  model outside lipsync-2, lipsync-2-pro, sync-3 and ``unsupported_advanced_options``
  for ``temperature``/``active_speaker`` on sync-3, which the model page says it lacks.
* ``GET /v1/tasks/{id}``: pending -> processing -> completed | failed, with the documented
  race where ``completed`` comes first with ``results: null`` and progress below 100.
* ``POST /v1/files/upload/stream``, ``multipart/form-data``: part ``file`` (required; its
  filename is the default ``file_name``), ``file_name`` (an override) and ``auto_cleanup``
  (default ``true``: a full storage "evicts the earliest uploaded file"; ``false``: it
  answers 403 at once). Other parts, such as an older revision's ``purpose``, are
  ignored. 200 ``{"id", "filename", "url", "size", "created"}``; the file "expires after
  72 hours" (AIHubMax's pages; FoxAPI's say nothing, so the same is assumed).
* Errors: ``{"error": {"code"?, "message", "type"}}``; messages start with the
  error-codes page's wording.

Where the docs are silent or the emulator must differ (each choice is the emulator's):

* FoxAPI documents ``callback_url`` as HTTPS only, at most 2048 characters. The emulator
  can deliver callbacks only to loopback, so it also accepts ``http://`` to
  127.0.0.0/8, ``::1`` and ``localhost``. Retries wait 1 s, 2 s, 4 s: FoxAPI says only
  "maximum 3 retries"; the delays are the sibling pages' (AIHubMax, EvoLink).
* AIHubMax's lip-sync schema has no ``callback_url`` (other AIHubMax models have one, so
  the real gateway may take it; undocumented). The emulator treats it as any unknown
  field: accepted, ignored, never called back. lipbridge never sends it (callback=False).
* Unknown fields are ignored, as the gateway (built on New API) is thought to pass them
  on; FoxAPI's Chinese page adds an ``advanced`` object. A JSON ``null`` is an absent field.
* No per-second price is published: the emulator bills ``CREDITS_PER_SECOND`` (1 credit
  per output second, rounded up to a whole credit) as ``usage.credits_reserved``.
* The submit answer carries both documented shapes, ``usage`` (seed page, live AIHubMax)
  and ``task_info`` (current pages). ``task_info.can_cancel`` is false: there is no cancel
  endpoint. ``estimated_time`` is null unless the engine knows the job's finish time.
* 502 and 504 are undocumented: they get type ``server_error`` like 500.
* Uploads: the storage holds what ``Emulator(storage=...)`` says (no limit by default: no
  size is documented). The 403 of a full storage has type ``storage_full`` and the
  emulator's wording (no page shows its body). A multipart body that cannot be read, or
  without a ``file`` part, is 400. Not modelled: the base64 and url upload routes
  (404 as unsupported) and a 413 for a large file (no limit is documented; the server
  takes bodies up to 200 MiB).
"""

from __future__ import annotations

import datetime as dt
import email.message
import email.parser
import email.policy
import math
from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal
from typing import Any, ClassVar
from urllib.parse import SplitResult, unquote, urlsplit

from lipbridge.models import SyncMode, is_loopback
from lipbridge_emulator.dialect import (
    CallbackPolicy,
    Dialect,
    Endpoint,
    Failure,
    JobSpec,
    JobView,
    Problem,
    Reply,
    Request,
    Route,
    State,
    UploadSpec,
    UploadView,
)

__all__ = [
    "AIHUBMAX",
    "CREDITS_PER_SECOND",
    "FOXAPI",
    "AiHubMaxDialect",
    "FoxApiDialect",
    "GatewayDialect",
]

SUBMIT_PATH = "/v1/videos/generations"
TASKS_PATH = "/v1/tasks/"
UPLOAD_PATH = "/v1/files/upload/stream"
UPLOAD_LIFETIME = dt.timedelta(hours=72)
CREDITS_PER_SECOND = Decimal(1)  # the emulator's assumption: no lip-sync price is published
MAX_CALLBACK_URL = 2048  # characters, FoxAPI's documented limit
DEFAULT_MODEL = "lipsync-2"
_OBJECT = "video.generation.task"
_ADVANCED = ("temperature", "active_speaker")  # the lipsync-2 family's extra controls
_EXPRESSIVE = frozenset({"lipsync-2", "lipsync-2-pro"})
_DIGITS36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_BASE36 = len(_DIGITS36)
_MILLISECOND = Decimal("0.001")
_STATUS_WORDS: Mapping[State, str] = {
    State.QUEUED: "pending",
    State.RUNNING: "processing",
    State.SUCCEEDED: "completed",
    State.FAILED: "failed",
}
# (status, type, the error-codes page's wording) of the errors the engine decides on
_PROBLEMS: Mapping[Problem, tuple[int, str, str]] = {
    Problem.UNAUTHORIZED: (401, "authentication_error", "API Key is invalid, expired, or missing"),
    Problem.NOT_FOUND: (404, "not_found", "Task ID does not exist"),
    Problem.INSUFFICIENT_CREDITS: (
        402,
        "insufficient_quota",
        "Insufficient account balance, please top up and retry",
    ),
    Problem.RATE_LIMITED: (429, "rate_limit_error", "Rate limit exceeded, please retry later"),
    Problem.UNSUPPORTED: (404, "not_found", "Not supported by the lipbridge emulator"),
    Problem.STORAGE_FULL: (403, "storage_full", "Insufficient storage space for this upload"),
}
_SERVER_ERROR = ("server_error", "Server-side unknown error, please retry later")
_UNAVAILABLE = (
    "service_unavailable_error",
    "No available channels for the current model or upstream service error, please retry later",
)


class _Refused(Exception):
    """A submit the gateway refuses; ``parse_submit`` renders it."""

    def __init__(self, message: str, *, status: int = 422, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


class GatewayDialect(Dialect):
    """The gateway's wire format; a subclass names one reseller."""

    # (video, audio) field names of each documented revision the reseller takes, current first
    revisions: ClassVar[tuple[tuple[str, str], ...]]
    validation_type: ClassVar[str] = "invalid_request_error"  # the type of a 422 refusal
    models: ClassVar[frozenset[str]] = frozenset({"lipsync-2", "lipsync-2-pro", "sync-3"})
    url_lifetime = dt.timedelta(hours=24)  # "valid for 24 hours, please save them promptly"
    status_before_results = True

    def job_id(self, created: dt.datetime, token: str) -> str:
        """``task-unified-<unix>-<8 chars>``, the documented form. The engine's hex token
        (ValueError otherwise) is folded into 8 base-36 characters, the alphabet of the
        docs' ids: 41 bits, so jobs created in the same second do not collide."""
        number, tail = int(token, 16) % _BASE36**8, ""
        for _ in range(8):
            number, digit = divmod(number, _BASE36)
            tail = _DIGITS36[digit] + tail
        return f"task-unified-{_unix(created)}-{tail}"

    def api_key(self, request: Request) -> str | None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        key = key.strip()
        return key if scheme.lower() == "bearer" and key else None

    def route(self, request: Request) -> Route | None:
        method, path = request.method.upper(), request.path
        if method == "POST" and path == SUBMIT_PATH:
            return Route(Endpoint.SUBMIT)
        if method == "POST" and path == UPLOAD_PATH:
            return Route(Endpoint.UPLOAD)
        if method == "GET" and path.startswith(TASKS_PATH):
            segment = path[len(TASKS_PATH) :]
            if segment and "/" not in segment:
                return Route(Endpoint.POLL, unquote(segment))
        return None

    def parse_submit(self, request: Request) -> JobSpec | Reply:
        try:
            return self._spec(request)
        except _Refused as refused:
            generic = refused.status == 400 or refused.code is not None
            kind = "invalid_request_error" if generic else self.validation_type
            return _error(refused.status, refused.message, kind, refused.code)

    def parse_upload(self, request: Request) -> UploadSpec | Reply:
        try:
            form = _form(request)
            part = form.get("file")
            if part is None or part.get_filename() is None:
                raise _Refused("file is required: a file part named file", status=400)
            cleanup = _text(form, "auto_cleanup", "true").lower()
            if cleanup not in ("true", "false"):
                raise _Refused("auto_cleanup must be true or false", status=400)
        except _Refused as refused:
            return _error(refused.status, refused.message, "invalid_request_error")
        return UploadSpec(
            name=_text(form, "file_name", "") or str(part.get_filename()),
            content_type=part.get_content_type(),
            data=_bytes(part),
            lifetime=UPLOAD_LIFETIME,
            evict_oldest=cleanup == "true",
        )

    def uploaded(self, upload: UploadView) -> Reply:
        created = _unix(upload.created)
        return Reply.json(
            200,
            {
                "id": f"file-{created}-{upload.id[:6]}",
                "filename": upload.spec.name,
                "url": upload.url,
                "size": upload.size,
                "created": created,
            },
        )

    def charge(self, spec: JobSpec, output_seconds: float) -> Decimal:
        """The emulator's assumed rate per output second, measured to the millisecond
        (so float noise such as 12.0000001 s does not add a credit), rounded up."""
        seconds = Decimal(str(output_seconds)).quantize(_MILLISECOND)
        return (seconds * CREDITS_PER_SECOND).to_integral_value(rounding=ROUND_CEILING)

    def accepted(self, job: JobView) -> Reply:
        return Reply.json(
            200,
            {
                "created": _unix(job.created),
                "id": job.id,
                "model": job.spec.model,
                "object": _OBJECT,
                "progress": 0,
                "status": "pending",
                "task_info": {"can_cancel": False, "estimated_time": _estimate(job)},
                "type": "video",
                "usage": _usage(job.charge),
            },
        )

    def status(self, job: JobView) -> Reply:
        return Reply.json(200, self._task(job))

    def callback_body(self, job: JobView) -> Any:
        """The task-query format: the same JSON as a poll."""
        return self._task(job)

    def problem(self, problem: Problem, message: str, status: int | None = None) -> Reply:
        if problem is Problem.SERVER_ERROR:
            code = status or 500
            kind, wording = _UNAVAILABLE if code == 503 else _SERVER_ERROR
        else:
            code, kind, wording = _PROBLEMS[problem]
        return _error(code, f"{wording} ({message})" if message else wording, kind)

    def _task(self, job: JobView) -> dict[str, Any]:
        progress, results, error = job.progress, None, None
        if job.state is State.SUCCEEDED:
            if job.output_url is None:  # "completed" before the results are written
                progress = min(progress, 99)
            else:
                progress, results = 100, [{"url": job.output_url}]
        elif job.state is State.FAILED:
            error = _task_error(job.failure)
        return {
            "id": job.id,
            "object": _OBJECT,
            "type": "video",
            "model": job.spec.model,
            "status": _STATUS_WORDS[job.state],
            "progress": progress,
            "created": _unix(job.created),
            "results": results,
            "error": error,
            "usage": _usage(job.charge),
        }

    def _spec(self, request: Request) -> JobSpec:
        body = _json_object(request)
        model = body.get("model", DEFAULT_MODEL)
        if model is None:
            model = DEFAULT_MODEL
        if not isinstance(model, str):
            raise _Refused("model must be a string")
        video_field, audio_field = self._media_fields(body)
        spec = JobSpec(
            model=model,
            video=_media(body, video_field),
            audio=_media(body, audio_field),
            sync_mode=_sync_mode(body.get("sync_mode")),
            callback_url=self._callback(body.get("callback_url")),
        )
        _check_advanced(body)
        # Channel matching comes after parameter validation (the error-codes page).
        if model not in self.models:
            raise _Refused(
                f"Model {model} does not exist or is not enabled for the group of this key",
                code="model_not_found",
            )
        advanced = [name for name in _ADVANCED if body.get(name) is not None]
        if advanced and model not in _EXPRESSIVE:
            raise _Refused(
                "No available channels currently support the advanced parameters in the "
                f"request: {', '.join(advanced)} (not supported by {model})",
                code="unsupported_advanced_options",
            )
        return spec

    def _media_fields(self, body: Mapping[str, Any]) -> tuple[str, str]:
        """The first revision the body uses a field of; else the current one, to name it."""
        for fields in self.revisions:
            if any(body.get(name) is not None for name in fields):
                return fields
        return self.revisions[0]

    def _callback(self, value: Any) -> str | None:
        if value is None or self.callbacks is None:  # no callbacks: an ignored unknown field
            return None
        if not isinstance(value, str):
            raise _Refused("callback_url must be a string")
        if len(value) > MAX_CALLBACK_URL:
            raise _Refused(f"callback_url must not exceed {MAX_CALLBACK_URL} characters")
        parts = _split(value)
        host = parts.hostname if parts else None
        secure = parts is not None and parts.scheme == "https"
        local = parts is not None and parts.scheme == "http" and is_loopback(host)
        if not host or not (secure or local):
            raise _Refused(
                "callback_url must be an HTTPS URL (the emulator also takes http:// to loopback)"
            )
        return value


class FoxApiDialect(GatewayDialect):
    """FoxAPI: both field revisions, and ``callback_url`` with 10 s attempts, 3 retries."""

    provider = "foxapi"
    revisions = (("video_url", "audio_url"), ("video", "audio"))
    callbacks = CallbackPolicy(timeout=10.0, retry_delays=(1.0, 2.0, 4.0))


class AiHubMaxDialect(GatewayDialect):
    """AIHubMax: Rev B fields only, 422 ``validation_error``, no callbacks for lip-sync."""

    provider = "aihubmax"
    revisions = (("video_url", "audio_url"),)
    validation_type = "validation_error"


FOXAPI = FoxApiDialect()
AIHUBMAX = AiHubMaxDialect()


def _unix(moment: dt.datetime) -> int:
    """Unix seconds; a naive time is taken as UTC, the engine's zone."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return int(moment.timestamp())


def _estimate(job: JobView) -> int | None:
    if job.completed is None:
        return None
    return max(0, math.ceil((job.completed - job.created).total_seconds()))


def _usage(charge: Decimal) -> dict[str, Any]:
    credits: int | float = int(charge) if charge == charge.to_integral_value() else float(charge)
    return {"credits_reserved": credits, "user_group": "default"}


def _task_error(failure: Failure | None) -> dict[str, str]:
    """The task's error; a failure without a reason gets the gateway's generic code."""
    if failure is None:
        failure = Failure(code="generation_failed", message="Video generation failed")
    return {"code": failure.code, "message": failure.message, "type": "task_error"}


def _error(status: int, message: str, kind: str, code: str | None = None) -> Reply:
    detail = {"code": code} if code else {}
    return Reply.json(status, {"error": {**detail, "message": message, "type": kind}})


def _json_object(request: Request) -> Mapping[str, Any]:
    content_type = request.headers.get("content-type")
    if content_type is not None and content_type.partition(";")[0].strip().lower() != (
        "application/json"
    ):
        raise _Refused("Incorrect Content-Type: send application/json", status=400)
    try:
        body = request.json()
    except ValueError:
        raise _Refused("Invalid JSON format", status=400) from None
    if not isinstance(body, dict):
        raise _Refused("Invalid JSON format: the body must be a JSON object", status=400)
    return body


def _form(request: Request) -> dict[str, email.message.MIMEPart]:
    """A ``multipart/form-data`` body's parts by name (the last of a repeated name)."""
    content_type = request.headers.get("content-type", "")
    if content_type.partition(";")[0].strip().lower() != "multipart/form-data":
        raise _Refused("Incorrect Content-Type: send multipart/form-data", status=400)
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    if not message.is_multipart() or message.defects:
        raise _Refused("the multipart/form-data body cannot be read", status=400)
    return {
        str(part.get_param("name", header="content-disposition")): part
        for part in message.iter_parts()
    }


def _bytes(part: email.message.MIMEPart) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def _text(form: Mapping[str, email.message.MIMEPart], name: str, default: str) -> str:
    """A text part's value, or ``default`` when the form has none."""
    part = form.get(name)
    return default if part is None else _bytes(part).decode("utf-8", "replace").strip()


def _split(value: str) -> SplitResult | None:
    try:
        return urlsplit(value)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return None


def _media(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if value is None:
        raise _Refused(f"{name} is required")
    parts = _split(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise _Refused(f"{name} must be a publicly accessible http(s) URL")
    return str(value)


def _sync_mode(value: Any) -> SyncMode:
    if value is None:
        return SyncMode.LOOP  # the documented default
    if isinstance(value, str) and value in {mode.value for mode in SyncMode}:
        return SyncMode(value)
    raise _Refused(f"sync_mode must be one of {', '.join(mode.value for mode in SyncMode)}")


def _check_advanced(body: Mapping[str, Any]) -> None:
    temperature = body.get("temperature")
    number = isinstance(temperature, (int, float)) and not isinstance(temperature, bool)
    if temperature is not None and not (number and 0 <= temperature <= 1):
        raise _Refused("temperature must be a number from 0 to 1")
    speaker = body.get("active_speaker")
    if speaker is not None and not isinstance(speaker, bool):
        raise _Refused("active_speaker must be a boolean")
