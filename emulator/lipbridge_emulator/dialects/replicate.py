"""Replicate's predictions API (api.replicate.com/v1) as an emulator dialect.

Written from Replicate's documentation (the HTTP API reference and the clients generated
from its OpenAPI spec, the webhooks, rate-limits and pricing pages, the changelog; each
cited in ``lipbridge_replicate/cassettes/replicate``), not from the plugin:

* ``POST /v1/models/{owner}/{name}/predictions`` ``{"input", "webhook"?,
  "webhook_events_filter"?}`` runs an official model; ``POST /v1/predictions``
  ``{"version", "input", ...}`` a version, given as ``{owner}/{name}:{64 hex}``, ``{64
  hex}`` or, for an official model, ``{owner}/{name}`` -> 201, the prediction,
  ``starting``. ``Authorization: Bearer <token>`` (the files examples use ``Token``).
* ``GET /v1/predictions/{id}``: starting -> processing (``logs`` growing) -> succeeded
  (``output`` a URL string, ``metrics.predict_time``) or failed (``error``, a string);
  ``canceled`` after a cancel. 404 for an unknown id.
* ``POST /v1/predictions/{id}/cancel`` -> 200, the prediction: ``canceled`` at once for
  one still starting; for one processing, still ``processing`` (the model is asked to
  stop) and ``canceled`` from then on; a finished one unchanged.
* ``GET /v1/predictions?created_after=&created_before=&cursor=`` -> a page of the
  predictions, newest first (see :mod:`.replicate_listing`).
* ``POST /v1/files`` multipart (``content``, ``filename``?, ``type``?) -> 201 the file
  ``{id, checksums, content_type, created_at, expires_at, metadata, size, urls.get}``.
* Errors: problem details ``{"title", "detail", "status"}`` as ``application/problem+json``:
  401 "Unauthenticated", 402 "Insufficient credit", 404, 422 "Input validation failed"
  with ``invalid_fields`` and 422 "Invalid version or not permitted", 429 "Request was
  throttled" (the engine adds ``Retry-After``).
* Webhooks: the prediction POSTed to ``webhook`` when it completes (``completed`` is
  always sent when filtered for), signed by Standard Webhooks: ``webhook-id``,
  ``webhook-timestamp`` (unix seconds), ``webhook-signature: v1,<base64 HMAC-SHA256 of
  "<id>.<timestamp>.<body>">`` keyed by the base64 after ``whsec_``.

The emulator's choices where the docs are silent or it must differ:

* Models: ``sync/lipsync-2`` and ``sync/lipsync-2-pro`` (official; inputs ``video``,
  ``audio``, ``sync_mode`` default ``loop``, ``temperature`` 0-1, ``active_speaker``,
  ``occlusion_detection``, ``text``) and ``bytedance/latentsync`` version ``637ce191...``
  (``video``, ``audio``, ``guidance_scale``, ``seed``); other input fields are ignored.
* Only the final webhook is sent (``start``, ``output`` and ``logs`` events are not
  emulated; a filter without ``completed`` sends none); 10 s per attempt, retried for
  about a minute ("about 1 minute" of retries for the final webhook). The secret is
  ``ReplicateDialect(webhook_secret=...)``, by default :data:`DEFAULT_WEBHOOK_SECRET`.
* Outputs are removed an hour after completion: the engine's file URL stops serving then
  (``url_lifetime``); the prediction's ``output`` keeps the URL, since a dialect does not
  see the time of a poll.
* ``metrics.predict_time`` is 15 s plus 2.5 s per output second. An official model costs
  sync.so's list rate per output second ($0.05, $0.083; Replicate's is not published), a
  community one its ``predict_time`` on an L40S at $0.000975/s. No answer shows a charge.
* ``Prefer: wait`` is ignored (the prediction is answered ``starting``); ``Cancel-After``
  is not emulated; files live 24 hours.
"""

from __future__ import annotations

import base64
import datetime as dt
import email.message
import email.parser
import email.policy
import hashlib
import hmac
import json
import re
import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlsplit

from attrs import frozen

from lipbridge.models import SyncMode, is_loopback
from lipbridge_emulator.dialect import (
    CallbackPolicy,
    Dialect,
    Endpoint,
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
from lipbridge_emulator.dialects import replicate_listing

PREDICTIONS = "/v1/predictions"
FILES = "/v1/files"
OFFICIAL = re.compile(r"/v1/models/([^/]+)/([^/]+)/predictions")
VERSION = re.compile(r"(?:([^/:]+/[^/:]+):)?([0-9a-f]{64})")
DEFAULT_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"lipbridge emulator replicate").decode()
EVENTS = ("start", "output", "logs", "completed")
FILE_LIFETIME = dt.timedelta(hours=24)
L40S = Decimal("0.000975")  # USD per second (the pricing page)


@frozen(kw_only=True)
class Model:
    """A model this dialect runs: its inputs and how it is billed."""

    id: str  # owner/name
    version: str
    official: bool
    rate: Decimal  # USD per output second (official) or per GPU-second (community)
    sync: bool  # takes sync_mode, temperature, active_speaker


MODELS = (
    Model(
        id="sync/lipsync-2",
        version="a058221e3f190a7dca4d527e65ee0f227291f521c11df0a488a832c4d36993de",
        official=True,
        rate=Decimal("0.05"),
        sync=True,
    ),
    Model(
        id="sync/lipsync-2-pro",
        version="eaad6bceea4938d05f5d984b22897e5a7d389d4fff9a70888af5718502b57d39",
        official=True,
        rate=Decimal("0.083"),
        sync=True,
    ),
    Model(
        id="bytedance/latentsync",
        version="637ce1919f807ca20da3a448ddc2743535d2853649574cd52a933120e9b9e293",
        official=False,
        rate=L40S,
        sync=False,
    ),
)
BY_ID = {m.id: m for m in MODELS}
BY_VERSION = {m.version: m for m in MODELS}
WORDS: Mapping[State, str] = {
    State.QUEUED: "starting",
    State.RUNNING: "processing",
    State.SUCCEEDED: "succeeded",
    State.FAILED: "failed",
}
# (status, title, detail) of the problems the engine decides on.
PROBLEMS: Mapping[Problem, tuple[int, str, str]] = {
    Problem.UNAUTHORIZED: (401, "Unauthenticated", "You did not pass a valid authentication token"),
    Problem.NOT_FOUND: (404, "Not found", "Not found."),
    Problem.INSUFFICIENT_CREDITS: (
        402,
        "Insufficient credit",
        "You have insufficient credit to run this model. Go to "
        "https://replicate.com/account/billing#billing to purchase credit.",
    ),
    Problem.RATE_LIMITED: (429, "Too many requests", "Request was throttled."),
    Problem.UNSUPPORTED: (404, "Not found", "Not supported by the lipbridge emulator"),
    Problem.STORAGE_FULL: (413, "File too large", "The file does not fit the storage."),
}


def problem_reply(status: int, title: str, detail: str, **more: Any) -> Reply:
    """A problem-details answer."""
    body = {"title": title, "detail": detail, "status": status, **more}
    return Reply(
        status=status,
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/problem+json"},
    )


def invalid_input(field: str, description: str, kind: str = "invalid_type") -> Reply:
    """422 Input validation failed, the field in ``invalid_fields``."""
    return problem_reply(
        422,
        "Input validation failed",
        f"- input.{field}: {description}\n",
        invalid_fields=[{"type": kind, "field": f"input.{field}", "description": description}],
    )


def iso(moment: dt.datetime) -> str:
    """``2023-09-08T16:19:34.765994Z``, as the reference's examples show."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def predict_time(output_seconds: float | None) -> float:
    """The emulator's compute time for a job (see the module docstring)."""
    return round(15 + 2.5 * (output_seconds or 0.0), 3)


def signature(secret: str, webhook_id: str, stamp: int, payload: bytes) -> str:
    """Standard Webhooks' ``v1,<base64 HMAC-SHA256>`` of ``<id>.<timestamp>.<body>``."""
    key = base64.b64decode(secret.rsplit("_", 1)[-1])
    digest = hmac.new(key, f"{webhook_id}.{stamp}.".encode() + payload, hashlib.sha256)
    return "v1," + base64.b64encode(digest.digest()).decode()


def _url_ok(value: object, *, https_only: bool = False) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    if not parts.hostname or parts.scheme not in ("http", "https"):
        return False
    return not https_only or parts.scheme == "https" or is_loopback(parts.hostname)


class ReplicateDialect(Dialect):
    provider = "replicate"
    api_version = "1.3"  # listing
    url_lifetime = dt.timedelta(hours=1)
    callbacks = CallbackPolicy(timeout=10.0, retry_delays=(5.0, 15.0, 40.0))

    def __init__(self, *, webhook_secret: str = DEFAULT_WEBHOOK_SECRET) -> None:
        self.webhook_secret = webhook_secret
        self._cancelled: dict[str, State] = {}  # job id -> the state it was cancelled in
        self._lock = threading.Lock()

    def api_key(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return token.strip() or None if scheme in ("Bearer", "Token") else None

    def route(self, request: Request) -> Route | None:
        method, path = request.method.upper(), request.path
        if method == "POST" and (path == PREDICTIONS or OFFICIAL.fullmatch(path)):
            return Route(Endpoint.SUBMIT)
        if method == "POST" and path == FILES:
            return Route(Endpoint.UPLOAD)
        if method == "GET" and path == PREDICTIONS:
            return Route(Endpoint.LIST)
        rest = path.removeprefix(PREDICTIONS + "/")
        if rest == path or not rest:
            return None
        if method == "GET" and "/" not in rest:
            return Route(Endpoint.POLL, unquote(rest))
        job, _, action = rest.partition("/")
        if method == "POST" and action == "cancel" and job:
            return Route(Endpoint.CANCEL, unquote(job))
        return None

    def job_id(self, created: dt.datetime, token: str) -> str:
        """26 lowercase base32 characters, as Replicate's ids look."""
        return base64.b32encode(bytes.fromhex(token)).decode().rstrip("=").lower()

    # -- creating a prediction ---------------------------------------------------------------

    def parse_submit(self, request: Request) -> JobSpec | Reply:
        try:
            body = request.json()
        except ValueError:
            return problem_reply(400, "Bad request", "The request body is not valid JSON")
        if not isinstance(body, dict):
            return problem_reply(400, "Bad request", "The request body must be a JSON object")
        official = OFFICIAL.fullmatch(request.path)
        model = (
            BY_ID.get(f"{official[1]}/{official[2]}")
            if official
            else self._version(body.get("version"))
        )
        if model is None or (official and not model.official):
            return problem_reply(
                422 if not official else 404,
                "Invalid version or not permitted",
                "The specified version does not exist (or perhaps you don't have permission "
                "to use it?)",
            )
        inputs = body.get("input")
        if not isinstance(inputs, dict):
            return invalid_input("", "Invalid type. Expected: object", "required")
        refused = self._check_inputs(inputs, model)
        if refused is not None:
            return refused
        webhook = body.get("webhook")
        if webhook is not None and not _url_ok(webhook, https_only=True):
            return problem_reply(
                422,
                "Invalid webhook",
                "webhook must be an HTTPS URL (the lipbridge emulator "
                "also takes http:// to loopback)",
            )
        events = body.get("webhook_events_filter", list(EVENTS))
        if not (isinstance(events, list) and all(e in EVENTS for e in events)):
            return problem_reply(
                422, "Invalid webhook_events_filter", f"events must be among {', '.join(EVENTS)}"
            )
        mode = inputs.get("sync_mode", SyncMode.LOOP.value) if model.sync else SyncMode.LOOP.value
        return JobSpec(
            model=model.id,
            video=inputs["video"],
            audio=inputs["audio"],
            sync_mode=SyncMode(mode),
            callback_url=webhook if "completed" in events else None,
            echo={"input": inputs, "webhook": webhook, "events": events, "base": request.base_url},
        )

    @staticmethod
    def _version(value: object) -> Model | None:
        if not isinstance(value, str):
            return None
        if value in BY_ID and BY_ID[value].official:
            return BY_ID[value]
        found = VERSION.fullmatch(value)
        model = BY_VERSION.get(found[2]) if found else None
        return model if model is not None and found and found[1] in (None, model.id) else None

    @staticmethod
    def _check_inputs(inputs: Mapping[str, Any], model: Model) -> Reply | None:
        for name in ("video", "audio"):
            if name not in inputs:
                return invalid_input(name, f"{name} is required", "required")
            if not _url_ok(inputs[name]):
                return invalid_input(name, "Does not match format 'uri'", "format")
        if not model.sync:
            return None
        mode = inputs.get("sync_mode", SyncMode.LOOP.value)
        if mode not in {m.value for m in SyncMode}:
            allowed = ", ".join(m.value for m in SyncMode)
            return invalid_input("sync_mode", f"must be one of the following: {allowed}", "enum")
        temperature = inputs.get("temperature", 0.5)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
            return invalid_input("temperature", "Invalid type. Expected: number")
        if not 0 <= temperature <= 1:
            return invalid_input("temperature", "Must be between 0 and 1", "number_range")
        return None

    def charge(self, spec: JobSpec, output_seconds: float) -> Decimal:
        """Official: per output second; community: its compute time on an L40S."""
        model = BY_ID[spec.model]
        if model.official:
            return Decimal(str(output_seconds)) * model.rate
        return Decimal(str(predict_time(output_seconds))) * model.rate

    def accepted(self, job: JobView) -> Reply:
        return Reply.json(201, self._prediction(job))

    # -- reading and cancelling ------------------------------------------------------------

    def status(self, job: JobView) -> Reply:
        return Reply.json(200, self._prediction(job))

    def cancel(self, job: JobView) -> Reply:
        """A starting prediction is canceled at once; a processing one answers processing
        (asked to stop) and is canceled from then on; a finished one, or one canceled
        before, is unchanged."""
        if job.state in (State.QUEUED, State.RUNNING):
            with self._lock:
                again = job.id in self._cancelled
                self._cancelled.setdefault(job.id, job.state)
            if job.state is State.RUNNING and not again:
                return Reply.json(200, self._prediction(job, word="processing"))
        return Reply.json(200, self._prediction(job))

    def listing(self, request: Request, jobs: list[JobView]) -> Reply:
        def refuse(detail: str) -> Reply:
            return problem_reply(400, "Bad request", detail)

        return replicate_listing.listing(request, jobs, PREDICTIONS, self._prediction, refuse)

    def callback_body(self, job: JobView) -> Any:
        """The webhook's body is the prediction."""
        return self._prediction(job)

    def callback_request(self, body: Any, sent: dt.datetime) -> tuple[bytes, Mapping[str, str]]:
        payload = json.dumps(body, separators=(",", ":")).encode()
        webhook_id = f"msg_{body.get('id', '')}"
        stamp = int(sent.timestamp())
        return payload, {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": signature(self.webhook_secret, webhook_id, stamp, payload),
        }

    def _prediction(self, job: JobView, word: str | None = None) -> dict[str, Any]:
        model = BY_ID[job.spec.model]
        with self._lock:
            cancelled_in = self._cancelled.get(job.id)
        state = job.state
        if state is State.SUCCEEDED and job.output_url is None:
            state = State.RUNNING
        if word is None:
            word = "canceled" if cancelled_in is not None else WORDS[state]
        done = word in ("succeeded", "failed", "canceled")
        ran = cancelled_in is State.RUNNING or (cancelled_in is None and state is not State.QUEUED)
        failed = word == "failed"
        base = job.spec.echo.get("base", "")
        data: dict[str, Any] = {
            "id": job.id,
            "model": model.id,
            "version": model.version,
            "input": job.spec.echo.get("input", {}),
            "logs": self._logs(job, WORDS[cancelled_in] if cancelled_in else word),
            "output": job.output_url if word == "succeeded" else None,
            "data_removed": False,
            "error": (job.failure.message if job.failure else "prediction failed")
            if failed
            else None,
            "status": word,
            "created_at": iso(job.created),
            "urls": {
                "get": f"{base}{PREDICTIONS}/{job.id}",
                "cancel": f"{base}{PREDICTIONS}/{job.id}/cancel",
                "web": f"https://replicate.com/p/{job.id}",
            },
        }
        if ran:
            data["started_at"] = iso(job.created)
        if done:
            data["completed_at"] = iso(job.completed or job.created)
            seconds = predict_time(job.output_seconds) if ran else 0.0
            data["metrics"] = {"predict_time": seconds, "total_time": round(seconds + 1.5, 3)}
        if job.spec.echo.get("webhook"):
            data["webhook"] = job.spec.echo["webhook"]
            data["webhook_events_filter"] = job.spec.echo.get("events")
        return data

    @staticmethod
    def _logs(job: JobView, word: str) -> str:
        """Cog's log: a line as the inputs are read, then a progress bar line per quarter."""
        if word == "starting":
            return ""
        lines = ["Downloading inputs...", f"Running {job.spec.model} ({job.spec.sync_mode.value})"]
        reached = 100 if word == "succeeded" else job.progress
        lines += [f"{p:3d}%|{'#' * (p // 10):<10}|" for p in (25, 50, 75, 100) if p <= reached]
        return "\n".join(lines) + "\n"

    # -- uploads -------------------------------------------------------------------------------

    def parse_upload(self, request: Request) -> UploadSpec | Reply:
        content_type = request.headers.get("content-type", "")
        if content_type.partition(";")[0].strip().lower() != "multipart/form-data":
            return problem_reply(400, "Bad request", "Send the file as multipart/form-data")
        head = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
        if not message.is_multipart() or message.defects:
            return problem_reply(400, "Bad request", "The multipart/form-data body cannot be read")
        parts: dict[str, email.message.MIMEPart] = {
            str(part.get_param("name", header="content-disposition")): part
            for part in message.iter_parts()
        }
        content = parts.get("content")
        if content is None:
            return problem_reply(422, "Invalid file", "content is required")
        data = content.get_payload(decode=True)
        name = _field(parts, "filename") or content.get_filename() or "file"
        kind = _field(parts, "type") or content.get_content_type() or "application/octet-stream"
        return UploadSpec(
            name=name.replace("\\", "/").rsplit("/", 1)[-1] or "file",
            content_type=kind,
            data=data if isinstance(data, bytes) else b"",
            lifetime=FILE_LIFETIME,
        )

    def uploaded(self, upload: UploadView) -> Reply:
        """The file; ``urls.get`` is the URL a prediction's input takes."""
        data = upload.spec.data or b""
        expires = upload.expires or upload.created + FILE_LIFETIME
        return Reply.json(
            201,
            {
                "id": upload.id,
                "checksums": {"sha256": hashlib.sha256(data).hexdigest()},
                "content_type": upload.spec.content_type,
                "created_at": iso(upload.created),
                "expires_at": iso(expires),
                "metadata": {},
                "size": upload.size if upload.size is not None else len(data),
                "urls": {"get": upload.url},
            },
        )

    # -- errors --------------------------------------------------------------------------------

    def problem(self, problem: Problem, message: str, status: int | None = None) -> Reply:
        if problem is Problem.SERVER_ERROR:
            code = status or 500
            return problem_reply(code, "Internal server error", "Internal server error")
        code, title, detail = PROBLEMS[problem]
        if problem is Problem.UNSUPPORTED:
            detail = f"{detail} ({message})"
        return problem_reply(code, title, detail)


def _field(parts: Mapping[str, email.message.MIMEPart], name: str) -> str | None:
    """A text part's value, or None."""
    part = parts.get(name)
    payload = part.get_payload(decode=True) if part is not None else None
    if not isinstance(payload, bytes):
        return None
    return payload.decode("utf-8", "replace").strip() or None
