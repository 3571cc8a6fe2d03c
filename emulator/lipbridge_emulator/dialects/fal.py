"""fal.ai's queue API (queue.fal.run) as an emulator dialect.

Written from fal's documentation (the queue, result and cancel references, the model
and request error references, and the lip-sync model pages; each page is cited in
``lipbridge_fal/cassettes/fal``), not from the plugin:

* ``Authorization: Key <key>``. ``POST /{owner}/{app}[/{path}]`` with the model's input
  as the body -> 200 ``{"status": "IN_QUEUE", "request_id", "response_url",
  "status_url", "cancel_url", "queue_position"}``, the URLs under the owner and app only
  ("The status, result, and cancel URLs use only the owner and the app").
* ``GET .../requests/{id}/status[?logs=1]``: 202 ``IN_QUEUE`` with ``queue_position``,
  202 ``IN_PROGRESS`` with ``logs`` (``[{"message", "level", "source", "timestamp"}]``,
  only with ``logs=1``: "Logs are disabled by default"), 200 ``COMPLETED`` with
  ``metrics.inference_time``. There is no failed status.
* ``GET .../requests/{id}``: the model's answer, ``{"video": File}``, or its error: "If
  the model returned an error, this operation returns the same error". A job whose
  input could not be fetched is 422 ``{"detail": [{"loc", "msg", "type":
  "file_download_error", ...}]}`` (the Error Reference's example); a cancelled one 499
  ``client_cancelled`` (request-errors table, with ``X-Fal-Error-Type``).
* ``PUT .../requests/{id}/cancel``: 202 ``{"status": "CANCELLATION_REQUESTED"}`` before
  the job ends, 400 ``{"status": "ALREADY_COMPLETED"}`` after.
* Errors: 401 ``{"detail": "No user found for Key ID and Secret"}``, 403 ``User is
  locked. Reason: Exhausted balance ...`` (both quoted in fal's issue threads), request
  errors ``{"detail", "error_type"}`` with ``X-Fal-Error-Type`` for 5xx.

The emulator's choices where the docs are silent:

* Models: ``fal-ai/sync-lipsync/v2`` (``sync_mode`` of the five, default ``cut_off``;
  ``model`` lipsync-2 or lipsync-2-pro) and ``/v2/pro``, ``fal-ai/latentsync``
  (``loop_mode`` pingpong or loop; without one the output follows the video, assumed)
  and ``fal-ai/kling-video/lipsync/audio-to-video`` (no mode; the video's length,
  assumed). Another path is 404. A body that is not an object, a missing or non-URL
  ``video_url``/``audio_url`` or an unknown mode is 422 at once (fal's synchronous
  validation; the queue's is not documented).
* A cancel is taken at once: the request reads COMPLETED and its result 499, whatever
  its state (fal: "The model app decides how to stop the work").
* ``queue_position`` counts the requests accepted before this one that this dialect has
  not yet seen leave the queue (a dialect sees a job only when it renders it).
* Charges follow the model pages, in USD per output second (Kling's per input second
  is taken as the output's). The result's expiry (1 hour) is not emulated.
* Webhooks (``?fal_webhook=<url>`` on the submit): once the request ends, ``{"request_id",
  "gateway_request_id", "status": "OK", "payload": <the result>}``, or ``"status":
  "ERROR"`` with ``"error": "Invalid status code: <n>"`` and the error as the payload
  (a cancelled request's 499 too, assumed), signed as fal signs them: ED25519 over
  ``request_id``, user id, timestamp and the body's SHA-256 hex joined by newlines, in
  ``X-Fal-Webhook-*`` headers. The key is the emulator's own (derived from a fixed text,
  for tests only, never fal's), its public half served as a JWKS at
  ``/.well-known/jwks.json`` under the mount, where a base URL pointed at the emulator
  makes lipbridge fetch it. "It will retry 10 times in the span of 2 hours": ten retries
  spaced to about two hours (the spacing is assumed), 10 s per attempt (assumed).
* Also under the mount: the platform API's request listing (``fal_listing``) and the
  storage API's signed upload (``fal_storage``), which a base URL pointed at the emulator
  reaches as lipbridge sends every declared fal API there.
* The result route and the status route name the same job, and a dialect's ``status``
  sees only the job: ``route`` notes, per handler thread, which of the two (and whether
  logs were asked for) the request it routed is.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import math
import re
import threading
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from lipbridge.models import SyncMode
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
from lipbridge_emulator.dialects import fal_storage
from lipbridge_emulator.dialects.fal_listing import LISTING_PATH, Listing

FIVE = {m.value: m for m in SyncMode}
# Endpoint id -> (the mode field, its words, the mode without one, USD per output second).
MODELS: dict[str, tuple[str | None, Mapping[str, SyncMode], SyncMode, Decimal]] = {
    "fal-ai/sync-lipsync/v2": ("sync_mode", FIVE, SyncMode.CUT_OFF, Decimal("0.05")),
    "fal-ai/sync-lipsync/v2/pro": ("sync_mode", FIVE, SyncMode.CUT_OFF, Decimal("0.0835")),
    "fal-ai/latentsync": (
        "loop_mode",
        {"pingpong": SyncMode.BOUNCE, "loop": SyncMode.LOOP},
        SyncMode.CUT_OFF,
        Decimal("0.005"),
    ),
    "fal-ai/kling-video/lipsync/audio-to-video": (None, {}, SyncMode.CUT_OFF, Decimal("0.014")),
}
PRO_FACTOR = Decimal("1.67")  # "lipsync-2-pro will cost roughly 1.67 times as much"
LATENTSYNC_MINIMUM = Decimal("0.2")  # "$0.2 for videos up to 40 seconds"
KLING_STEP = 5  # "rolling up to closest 5 second increment"
REQUEST_PATH = re.compile(r"/([^/]+/[^/]+)/requests/([^/]+)(/status|/cancel)?")

UNAUTHORIZED = "No user found for Key ID and Secret"
EXHAUSTED = (
    "User is locked. Reason: Exhausted balance. Top up your balance at fal.ai/dashboard/billing"
)
CANCELLED = {"detail": "The request was cancelled by the client", "error_type": "client_cancelled"}
# The engine's failure codes as the model errors fal's Error Reference lists.
FAILURE_TYPES = {"fetch_failed": "file_download_error", "bad_media": "unsupported_video_format"}
SERVER_ERRORS = {
    500: "internal_error",
    502: "runner_incomplete_response",
    503: "runner_scheduling_failure",
    504: "request_timeout",
}


# The emulator's webhook signing key: derived from this text, so its key set is the same
# in every run; a test key, published here, never one of fal's.
SIGNING_SEED = b"lipbridge emulator: fal webhook signing key, for tests only (not fal's)"
WEBHOOK_USER = "lipbridge-emulator"
JWKS_PATH = "/.well-known/jwks.json"


def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(hashlib.sha256(SIGNING_SEED).digest())


def key_set(key: Ed25519PrivateKey) -> dict[str, Any]:
    """``key``'s public half as fal publishes its keys: OKP, Ed25519, ``x`` base64url."""
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    return {
        "keys": [
            {
                "kty": "OKP",
                "crv": "Ed25519",
                "x": x,
                "kid": "lipbridge-emulator",
                "use": "sig",
                "alg": "EdDSA",
            }
        ]
    }


class FalDialect(Dialect):
    """fal.ai's queue; see the module docstring for what is documented and what assumed."""

    provider: ClassVar[str] = "fal"
    api_version: ClassVar[str] = "1.3"  # public, for the webhook key set
    # "it will retry 10 times in the span of 2 hours"
    callbacks: ClassVar[CallbackPolicy | None] = CallbackPolicy(
        timeout=10.0,
        retry_delays=(15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1200.0, 1800.0, 2100.0),
    )
    url_lifetime: ClassVar[dt.timedelta] = dt.timedelta(days=7)  # CDN files: not documented

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._cancelled: set[str] = set()
        self._waiting: list[str] = []  # accepted and not yet seen out of the queue
        self._local = threading.local()  # what the request being answered asked for
        self._key = signing_key()
        self._listing = Listing()

    def job_id(self, created: dt.datetime, token: str) -> str:
        """A UUID, the form of the docs' request ids (80e732af-660e-...)."""
        return str(uuid.UUID(hex=token))

    def api_key(self, request: Request) -> str | None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        return key.strip() or None if scheme == "Key" else None

    def route(self, request: Request) -> Route | None:
        self._local.listing = None
        if request.path == fal_storage.INITIATE_PATH:
            return Route(Endpoint.UPLOAD) if request.method == "POST" else None
        if request.path == LISTING_PATH:  # before the queue's paths: it would match them
            if request.method != "GET":
                return None
            self._local.listing = request.query
            return Route(Endpoint.POLL, self._listing.route_id(request.query))
        found = REQUEST_PATH.fullmatch(request.path)
        if found is None:
            if request.method == "POST" and request.path.strip("/") in MODELS:
                return Route(Endpoint.SUBMIT)
            return None
        tail = found[3] or ""
        self._local.result = tail == ""
        self._local.logs = request.query.get("logs") == "1"
        wanted = {"/cancel": "PUT", "/status": "GET", "": "GET"}[tail]
        if request.method != wanted:
            return None
        return Route(Endpoint.CANCEL if tail == "/cancel" else Endpoint.POLL, found[2])

    def parse_submit(self, request: Request) -> JobSpec | Reply:
        model_id = request.path.strip("/")
        field, words, default, _ = MODELS[model_id]
        try:
            body = request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return _invalid("body", "value is not a valid dict", "type_error.dict")
        for name in ("video_url", "audio_url"):
            value = body.get(name)
            parts = urlsplit(value) if isinstance(value, str) else None
            if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
                return _invalid(
                    name,
                    "field required" if value is None else "invalid url",
                    "value_error.missing" if value is None else "value_error.url",
                )
        mode = default
        if field is not None and body.get(field) is not None:
            if body[field] not in words:
                allowed = ", ".join(f"'{w}'" for w in words)
                return _invalid(field, f"Input should be {allowed}", "enum")
            mode = words[body[field]]
        app = "/".join(model_id.split("/")[:2])
        return JobSpec(
            model=model_id,
            video=body["video_url"],
            audio=body["audio_url"],
            sync_mode=mode,
            callback_url=request.query.get("fal_webhook"),
            echo={
                "base": request.base_url,
                "app": app,
                "variant": body.get("model"),
                "input": body,
            },
        )

    def charge(self, spec: JobSpec, output_seconds: float) -> Decimal:
        """USD at the model page's rate: LatentSync at least $0.20, Kling in 5 s steps,
        lipsync-2-pro 1.67 times."""
        rate = MODELS[spec.model][3]
        seconds = Decimal(str(output_seconds))
        if spec.model.startswith("fal-ai/kling"):
            seconds = Decimal(math.ceil(output_seconds / KLING_STEP) * KLING_STEP)
        amount = seconds * rate * (PRO_FACTOR if spec.echo.get("variant") == "lipsync-2-pro" else 1)
        return max(amount, LATENTSYNC_MINIMUM) if spec.model == "fal-ai/latentsync" else amount

    def accepted(self, job: JobView) -> Reply:
        self._listing.remember(job)
        with self._lock:
            self._waiting.append(job.id)
            position = len(self._waiting) - 1
        body = {"status": "IN_QUEUE", **_urls(job), "queue_position": position}
        return Reply.json(200, body)

    def status(self, job: JobView) -> Reply:
        if getattr(self._local, "listing", None) is not None:
            return self._listing.page(self._local.listing, job)
        with self._lock:
            cancelled = job.id in self._cancelled
            if job.state is not State.QUEUED and job.id in self._waiting:
                self._waiting.remove(job.id)
            position = self._waiting.index(job.id) if job.id in self._waiting else 0
        done = cancelled or job.state is State.FAILED or job.output_url is not None
        if getattr(self._local, "result", False):
            return self._result(job, cancelled, done)
        if done:
            seconds = (job.completed - job.created).total_seconds() if job.completed else 0.0
            metrics = {"inference_time": seconds}
            return Reply.json(
                200, {"status": "COMPLETED", **_urls(job), **self._logs(job), "metrics": metrics}
            )
        if job.state is State.QUEUED:
            return Reply.json(202, {"status": "IN_QUEUE", **_urls(job), "queue_position": position})
        return Reply.json(202, {"status": "IN_PROGRESS", **_urls(job), **self._logs(job)})

    def cancel(self, job: JobView) -> Reply:
        if job.state is State.FAILED or job.output_url is not None:
            return Reply.json(400, {"status": "ALREADY_COMPLETED"})
        with self._lock:
            self._cancelled.add(job.id)
        return Reply.json(202, {"status": "CANCELLATION_REQUESTED"})

    def parse_upload(self, request: Request) -> UploadSpec | Reply:
        return fal_storage.parse_upload(request)

    def uploaded(self, upload: UploadView) -> Reply:
        return fal_storage.uploaded(upload)

    def public(self, request: Request) -> Reply | None:
        """The webhook key set, for anyone (fal serves its own at rest.alpha.fal.ai)."""
        if request.method == "GET" and request.path == JWKS_PATH:
            return Reply.json(200, key_set(self._key))
        return None

    def callback_body(self, job: JobView) -> Any:
        """The webhook: the result's body as the payload, OK for a 200, else ERROR."""
        with self._lock:
            cancelled = job.id in self._cancelled
        reply = self._result(job, cancelled, done=True)
        body: dict[str, Any] = {"request_id": job.id, "gateway_request_id": job.id}
        if reply.status == 200:
            body["status"] = "OK"
        else:
            body.update(status="ERROR", error=f"Invalid status code: {reply.status}")
        body["payload"] = json.loads(reply.body)
        return body

    def callback_request(self, body: Any, sent: dt.datetime) -> tuple[bytes, Mapping[str, str]]:
        payload = json.dumps(body).encode()
        stamp = str(int(sent.timestamp()))
        request_id = str(body["request_id"])
        message = "\n".join([request_id, WEBHOOK_USER, stamp, hashlib.sha256(payload).hexdigest()])
        return payload, {
            "X-Fal-Webhook-Request-Id": request_id,
            "X-Fal-Webhook-User-Id": WEBHOOK_USER,
            "X-Fal-Webhook-Timestamp": stamp,
            "X-Fal-Webhook-Signature": self._key.sign(message.encode()).hex(),
        }

    def problem(self, problem: Problem, message: str, status: int | None = None) -> Reply:
        listing = getattr(self._local, "listing", None)
        if problem is Problem.NOT_FOUND and listing is not None:  # nothing listed
            return self._listing.page(listing, None)
        if problem is Problem.UNAUTHORIZED:
            return Reply.json(401, {"detail": UNAUTHORIZED})
        if problem is Problem.INSUFFICIENT_CREDITS:
            return Reply.json(403, {"detail": EXHAUSTED})
        if problem in (Problem.NOT_FOUND, Problem.UNSUPPORTED):
            return Reply.json(
                404,
                {"detail": "Request not found" if problem is Problem.NOT_FOUND else "Not Found"},
            )
        if problem is Problem.RATE_LIMITED:
            return Reply.json(429, {"detail": message})
        code = status or 500
        kind = SERVER_ERRORS.get(code, "internal_error")
        return Reply.json(code, {"detail": message, "error_type": kind}, {"X-Fal-Error-Type": kind})

    def _result(self, job: JobView, cancelled: bool, done: bool) -> Reply:
        if cancelled:
            return Reply.json(499, CANCELLED, {"X-Fal-Error-Type": CANCELLED["error_type"]})
        if not done:  # not documented: the request's result is not there yet
            return Reply.json(400, {"detail": "Request is still in progress"})
        if job.failure is not None:
            kind = FAILURE_TYPES.get(job.failure.code, "internal_server_error")
            detail = [
                {
                    "loc": ["body", "video_url"],
                    "msg": job.failure.message,
                    "type": kind,
                    "url": f"https://docs.fal.ai/errors/#{kind}",
                    "input": job.spec.video,
                }
            ]
            return Reply.json(422, {"detail": detail}, {"X-Fal-Retryable": "false"})
        name = f"{job.id}.mp4"
        video = {"url": job.output_url, "content_type": "video/mp4", "file_name": name}
        return Reply.json(200, {"video": video})

    def _logs(self, job: JobView) -> dict[str, Any]:
        """The runner's log so far, with ``logs=1`` only; a line per stage reached."""
        if not getattr(self._local, "logs", False):
            return {}
        stamp = job.created.isoformat()
        lines = ["Downloading inputs"]  # a runner's log only grows
        lines += [f"Lip-syncing: {mark}% done" for mark in (25, 50, 75) if job.progress >= mark]
        if job.output_url is not None:
            lines.append("Uploading output")
        return {
            "logs": [
                {"message": line, "level": "INFO", "source": "user", "timestamp": stamp}
                for line in lines
            ]
        }


def _urls(job: JobView) -> dict[str, str]:
    """The request's id and its follow-up URLs, on the emulator's mount."""
    base = f"{job.spec.echo['base']}/{job.spec.echo['app']}/requests/{job.id}"
    return {
        "request_id": job.id,
        "response_url": base,
        "status_url": f"{base}/status",
        "cancel_url": f"{base}/cancel",
    }


def _invalid(field: str, message: str, kind: str) -> Reply:
    """A 422 in the model-error shape (``detail`` of ``{loc, msg, type}``)."""
    loc = ["body"] if field == "body" else ["body", field]
    return Reply.json(422, {"detail": [{"loc": loc, "msg": message, "type": kind}]})
