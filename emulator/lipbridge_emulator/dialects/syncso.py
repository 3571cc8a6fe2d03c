"""sync.so's own API (api.sync.so, v2) as an emulator dialect.

Written from sync.so's documentation (sync.so/docs: the API reference, the idempotency,
webhooks, asset-uploads, error-handling and rate-limits guides; each page is cited in
``lipbridge_syncso/cassettes/syncso``), not from the plugin:

* ``POST /v2/generate`` (Create Generation), ``x-api-key``, JSON ``{"model", "input":
  [{"type": "video"|"audio", "url"|"assetId"}], "options"?, "webhookUrl"?,
  "outputFileName"?}`` -> 201, the Generation. ``input`` must hold "one video input item
  and at least one audio input item"; ``outputFileName`` takes "only alphanumeric
  characters, underscores, and hyphens ..., up to 255 characters"; options a model does
  not support are ignored ("If you include an unsupported option in your request, it
  will be ignored"), but a ``sync_mode`` outside the five, or a ``temperature`` outside
  0-1, is refused.
* ``GET /v2/generate/{id}``: PENDING -> PROCESSING -> COMPLETED (``outputUrl`` and
  ``outputMediaUrl``, the same URL, with ``outputDuration``) or FAILED (``error``,
  ``error_code``); 404 for an unknown id.
* ``Idempotency-Key`` (idempotency guide): "1-128 characters matching
  ``[A-Za-z0-9._~-]+``"; a malformed one is 400 ``INVALID_IDEMPOTENCY_KEY``. "Reusing the
  same key and inputs prevents another generation", also when "two copies arrive
  concurrently". The guide's later sections (replay answer, payload conflicts,
  retention) were not in the stored copies, so the emulator chooses: the same key with
  the same body (as JSON values) is answered with the first create's answer, replayed
  (its 201 and the Generation as it was then); the same key with another body is 409
  ``IDEMPOTENCY_KEY_REUSED`` and creates nothing; a copy arriving while the first is
  still being created is 503 ``IDEMPOTENCY_OUTCOME_UNKNOWN`` (the documented answer for
  "keyed uncertain outcomes"), so the client retries under the same key; a create the
  emulator refuses (a bad body, no credit) frees its key; keys are kept for the life of
  the emulator.
* Uploads (asset-uploads guide): ``POST /v2/assets/upload`` ``{"fileName", "contentType",
  "size"}`` (all required; "Single uploads are capped at 5GB") -> 201 ``{"uploadUrl",
  "url", "expiresIn": 3600}``; the bytes are PUT to ``uploadUrl`` under the same
  Content-Type, without the key; ``POST /v2/assets`` ``{"url", "type": AUDIO|VIDEO|IMAGE,
  "name"?}`` -> 201 Asset, whose ``id`` a generation takes as ``input[].assetId``.
* Errors: ``{"statusCode", "errorCode"?, "message", "error"}``, the rate-limits guide's
  429 example's shape, with the error-handling guide's messages. A 429 is
  ``rate_limit_exceeded`` (an injected rate limit) or ``concurrency_limit_reached``.
* Webhooks (webhooks guide): a generation with a ``webhookUrl`` is POSTed there when it
  completes or fails, the Generation as the body, signed ``Sync-Signature:
  t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" keyed by the signing secret>``,
  the body compact ASCII JSON, so it equals what the guide's verifiers re-serialise
  (``JSON.stringify``; Python ``json.dumps(payload, separators=(",", ":"))``).

The emulator's choices where the docs are silent or it must differ:

* No default ``sync_mode`` is documented; ``bounce`` is rendered when none is sent (the
  default of the resellers that pass sync.so's options through, Runware and Scenario).
* Models: lipsync-2, lipsync-2-pro, sync-3, lipsync-1.9.0-beta and react-1 (the current
  overview's five); any other is 400. TTS inputs (``type: "text"``), images, several
  audio items (``segments``) and the multipart create are not emulated: 400 saying so.
* ``webhookUrl`` must be https ("your webhook URL must be configured to accept and process
  HTTPS POST requests"), or http to loopback, the only place the emulator delivers to.
  One attempt, 10 s: retries are not documented ("poll the generation status endpoint as
  a fallback"). The secret is ``SyncsoDialect(webhook_secret=...)``, by default
  :data:`DEFAULT_WEBHOOK_SECRET`.
* Concurrency ("Free and Hobbyist 1, Creator 3, Growth 6, Scale 15"): no limit unless
  ``SyncsoDialect(concurrency=N)``; then a create while N generations are in flight is
  429 ``concurrency_limit_reached``. A dialect sees a job only when it renders it, so a
  generation counts as in flight until a poll or its webhook shows it ended.
* Registration takes only URLs this dialect presigned (registering an already-public URL
  is documented, but the emulator fetches only its own files) and cannot see whether the
  PUT happened: a generation from an asset whose file never arrived fails as an input
  it cannot download. An unknown ``assetId`` is 400.
* Result URLs live 24 hours (undocumented: "Signed result URL"); the charge is the list
  rate per output second at 25 fps frames (billing page; $0.025 for lipsync-1.9.0-beta
  from an older revision, and react-1, unpriced, at sync-3's rate). No answer shows it.
* Injected 5xx are generic ``{"statusCode", "message", "error"}``, except one failing the
  answer to a keyed create whose generation was made (the engine's 5xx after the work):
  that is 503 ``IDEMPOTENCY_OUTCOME_UNKNOWN`` with the ``generationId``, as documented.
  ``?wait=`` and ``?include=progress`` on GET are ignored.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import math
import re
import threading
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlsplit

from attrs import define, frozen

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

GENERATE = "/v2/generate"
PRESIGN = "/v2/assets/upload"
ASSETS = "/v2/assets"
MODELS = ("lipsync-2", "lipsync-2-pro", "sync-3", "lipsync-1.9.0-beta", "react-1")
DEFAULT_SYNC_MODE = SyncMode.BOUNCE  # not documented: see the module docstring
DEFAULT_WEBHOOK_SECRET = "whsec_lipbridge_emulator"
KEY_FORM = re.compile(r"[A-Za-z0-9._~-]{1,128}")
OUTCOME_UNKNOWN = "IDEMPOTENCY_OUTCOME_UNKNOWN"
FILE_NAME = re.compile(r"[A-Za-z0-9_-]{1,255}")
PRESIGNED_FOR = dt.timedelta(seconds=3600)  # the guide's example expiresIn
MAX_UPLOAD = 5 * 1024**3
ASSET_TYPES = ("AUDIO", "VIDEO", "IMAGE")
FPS = 25  # "Usage is calculated per output frame, with per-second rates (at 25 fps)"
RATES: Mapping[str, Decimal] = {  # USD per output second, the list (lower plans') rate
    "lipsync-2": Decimal("0.05"),
    "lipsync-2-pro": Decimal("0.083"),
    "sync-3": Decimal("0.133"),
    "lipsync-1.9.0-beta": Decimal("0.025"),
    "react-1": Decimal("0.133"),
}
WORDS: Mapping[State, str] = {
    State.QUEUED: "PENDING",
    State.RUNNING: "PROCESSING",
    State.SUCCEEDED: "COMPLETED",
    State.FAILED: "FAILED",
}
# The engine's failures as the error-handling guide's generation codes.
FAILURE_CODES: Mapping[str, str] = {
    "fetch_failed": "generation_input_validation_failed",
    "bad_media": "generation_input_validation_failed",
}
REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
# (status, errorCode, message) of the problems the engine decides on.
PROBLEMS: Mapping[Problem, tuple[int, str | None, str]] = {
    Problem.UNAUTHORIZED: (401, None, "Invalid or missing API key"),
    Problem.NOT_FOUND: (404, None, "Generation not found"),
    Problem.INSUFFICIENT_CREDITS: (402, None, "Insufficient credits or plan limits exceeded"),
    Problem.RATE_LIMITED: (
        429, "rate_limit_exceeded", "Rate limit exceeded. Please try again later."
    ),
    Problem.UNSUPPORTED: (404, None, "Not supported by the lipbridge emulator"),
}


def error(status: int, message: str | list[str], code: str | None = None, **more: Any) -> Reply:
    """sync.so's error envelope; ``errorCode`` only where one is documented."""
    body: dict[str, Any] = {"statusCode": status, "message": message, "error": REASONS[status]}
    if code is not None:
        body["errorCode"] = code
    return Reply.json(status, {**body, **more})


def invalid(message: str) -> Reply:
    """A validation refusal: 400 with the message as a list, as class-validator words it."""
    return error(400, [message])


def json_object(request: Request) -> dict[str, Any] | Reply:
    """The body as a JSON object, or the 400 for one that is not."""
    try:
        body = request.json()
    except ValueError:
        return invalid("the body must be JSON")
    return body if isinstance(body, dict) else invalid("the body must be a JSON object")


def signature(secret: str, payload: bytes, sent: dt.datetime) -> str:
    """The ``Sync-Signature`` value: ``t=<unix s>,v1=<hex HMAC-SHA256(secret, "t.body")>``,
    keyed by the secret as it is, ``whsec_`` prefix included (the guide's verifiers)."""
    t = int(sent.timestamp())
    digest = hmac.new(secret.encode(), f"{t}.".encode() + payload, hashlib.sha256)
    return f"t={t},v1={digest.hexdigest()}"


def compact(data: Any) -> bytes:
    """JSON as the guide's verifiers re-serialise it: no spaces, ASCII only."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=True).encode()


def canonical(data: Any) -> str:
    """A body as a value, so the same create sent with other spacing or key order is the
    same request."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def iso(moment: dt.datetime) -> str:
    """``2026-01-22T09:46:10.602Z``: UTC, milliseconds, as the docs' examples show."""
    utc = moment.astimezone(dt.timezone.utc) if moment.tzinfo else moment
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


@frozen
class Asset:
    """An asset registered from a presigned upload: what a generation's assetId means."""

    id: str
    url: str
    type: str
    name: str
    created: dt.datetime


@define
class Keyed:
    """An Idempotency-Key: the body it came with, and the first answer once there is one."""

    body: str
    reply: Reply | None = None


@define
class Pending:
    """What a create on this handler thread holds between ``parse_submit`` and the engine's
    answer: ``accepted`` (the generation exists) or ``problem`` (refused, e.g. no credit).
    The engine tells a dialect nothing else about a create it refuses after parsing, and
    calls all three on the request's own thread, so the hold is kept per thread."""

    key: str | None = None
    slot: bool = False


class SyncsoDialect(Dialect):
    provider = "syncso"
    api_version = "1.2"  # callback_request
    url_lifetime = dt.timedelta(hours=24)
    callbacks = CallbackPolicy(timeout=10.0, retry_delays=())

    def __init__(
        self, *, webhook_secret: str = DEFAULT_WEBHOOK_SECRET, concurrency: int | None = None
    ) -> None:
        self.webhook_secret = webhook_secret
        self.concurrency = concurrency
        self._keys: dict[str, Keyed] = {}
        self._running: set[str] = set()  # generations in flight, as far as renders showed
        self._slots = 0  # creates between parse_submit and accepted holding a slot
        self._uploads: dict[str, UploadView] = {}  # presigned, by the url to register
        self._assets: dict[str, Asset] = {}
        self._lock = threading.Lock()
        self._pending = threading.local()

    # -- routes and auth -------------------------------------------------------------------

    def api_key(self, request: Request) -> str | None:
        return request.headers.get("x-api-key") or None

    def route(self, request: Request) -> Route | None:
        """The engine routes each request first, on its handler thread: what the thread's
        last create held is over by then (see :class:`Pending`)."""
        self._release()
        self._pending.made = None
        method, path = request.method.upper(), request.path
        if method == "POST" and path == GENERATE:
            return Route(Endpoint.SUBMIT)
        if method == "POST" and path in (PRESIGN, ASSETS):
            return Route(Endpoint.UPLOAD)
        rest = path.removeprefix(GENERATE + "/")
        if method == "GET" and rest != path and rest and "/" not in rest:
            return Route(Endpoint.POLL, unquote(rest))
        return None

    def job_id(self, created: dt.datetime, token: str) -> str:
        """A UUID, as the generation ids sync.so shows (``token``: 32 hex digits)."""
        return str(uuid.UUID(hex=token, version=4))

    # -- creating a generation ---------------------------------------------------------------

    def parse_submit(self, request: Request) -> JobSpec | Reply:
        key = request.headers.get("idempotency-key")
        if key is not None and not KEY_FORM.fullmatch(key):
            return error(
                400,
                "Idempotency-Key must be 1-128 characters of A-Z a-z 0-9 . _ ~ -",
                "INVALID_IDEMPOTENCY_KEY",
            )
        if request.headers.get("content-type", "").startswith("multipart/"):
            return invalid("the lipbridge emulator takes JSON creates only (Create Generation "
                           "with Files is not emulated)")
        body = json_object(request)
        if isinstance(body, Reply):
            return body
        spec = self._spec(body)
        if isinstance(spec, Reply):
            return spec
        return self._admit(spec, key, canonical(body))

    def _admit(self, spec: JobSpec, key: str | None, body: str) -> JobSpec | Reply:
        """Replay, refuse or let through a valid create by its key, then by concurrency;
        what it lets through is held for this thread until the engine answers."""
        pending = Pending()
        with self._lock:
            if key is not None:
                keyed = self._keys.get(key)
                if keyed is not None and keyed.body != body:
                    return error(
                        409,
                        "This Idempotency-Key was used with another request body",
                        "IDEMPOTENCY_KEY_REUSED",
                    )
                if keyed is not None and keyed.reply is not None:
                    return keyed.reply
                if keyed is not None:
                    return error(
                        503,
                        "A request with this Idempotency-Key is still being processed",
                        "IDEMPOTENCY_OUTCOME_UNKNOWN",
                    )
            if self.concurrency is not None:
                if len(self._running) + self._slots >= self.concurrency:
                    return error(
                        429,
                        f"Concurrency limit reached: {self.concurrency} generation(s) "
                        "in flight",
                        "concurrency_limit_reached",
                    )
                self._slots += 1
                pending.slot = True
            if key is not None:
                self._keys[key] = Keyed(body=body)
                pending.key = key
        self._pending.held = pending
        return spec

    def _release(self) -> None:
        """Free what this thread's last create held: the engine refused it after
        ``parse_submit`` (it calls ``problem``), so no generation exists."""
        pending: Pending | None = getattr(self._pending, "held", None)
        self._pending.held = None
        if pending is None:
            return
        with self._lock:
            if pending.slot:
                self._slots -= 1
            if pending.key is not None:
                self._keys.pop(pending.key, None)

    def _spec(self, body: Mapping[str, Any]) -> JobSpec | Reply:
        model = body.get("model")
        if model not in MODELS:
            return invalid(f"model must be one of the following values: {', '.join(MODELS)}")
        inputs = body.get("input")
        if not isinstance(inputs, list) or not all(isinstance(i, dict) for i in inputs):
            return invalid("input must be an array of input objects")
        kinds = [item.get("type") for item in inputs]
        unsupported = [k for k in kinds if k not in ("video", "audio")]
        if unsupported or kinds.count("audio") > 1:
            return invalid(
                "the lipbridge emulator takes one video and one audio input (text-to-speech, "
                "image inputs and segments are not emulated)"
            )
        if kinds.count("video") != 1 or kinds.count("audio") != 1:
            return invalid("input must include one video input item and at least one audio "
                           "input item")
        media: dict[str, str] = {}
        for n, item in enumerate(inputs):
            found = self._media(item, n)
            if isinstance(found, Reply):
                return found
            media[str(item["type"])] = found
        options = body.get("options", {})
        if not isinstance(options, dict):
            return invalid("options must be an object")
        mode = options.get("sync_mode", DEFAULT_SYNC_MODE.value)
        if mode not in {m.value for m in SyncMode}:
            return invalid("options.sync_mode must be one of the following values: "
                           + ", ".join(m.value for m in SyncMode))
        temperature = options.get("temperature")
        number = isinstance(temperature, (int, float)) and not isinstance(temperature, bool)
        if temperature is not None and not (number and 0 <= temperature <= 1):
            return invalid("options.temperature must be a number from 0 to 1")
        name = body.get("outputFileName")
        if name is not None and not (isinstance(name, str) and FILE_NAME.fullmatch(name)):
            return invalid("outputFileName may contain only alphanumeric characters, "
                           "underscores, and hyphens, up to 255 characters")
        webhook = body.get("webhookUrl")
        if webhook is not None and not self._webhook_ok(webhook):
            return invalid("webhookUrl must be an HTTPS URL (the lipbridge emulator also takes "
                           "http:// to loopback)")
        return JobSpec(
            model=str(model),
            video=media["video"],
            audio=media["audio"],
            sync_mode=SyncMode(mode),
            callback_url=webhook,
            echo={"input": inputs, "options": options},
        )

    def _media(self, item: Mapping[str, Any], n: int) -> str | Reply:
        """The URL the engine fetches for one input: its ``url``, or its asset's."""
        url, asset_id = item.get("url"), item.get("assetId")
        if (url is None) == (asset_id is None):
            return invalid(f"input[{n}] must have either url or assetId")
        if url is not None:
            return url if is_http_url(url) else invalid(f"input[{n}].url must be a URL")
        with self._lock:
            asset = self._assets.get(asset_id) if isinstance(asset_id, str) else None
        if asset is None:
            return invalid(f"input[{n}].assetId {asset_id!r} is not an asset of this account")
        return asset.url

    @staticmethod
    def _webhook_ok(value: object) -> bool:
        if not is_http_url(value):
            return False
        parts = urlsplit(str(value))
        return parts.scheme == "https" or is_loopback(parts.hostname)

    def charge(self, spec: JobSpec, output_seconds: float) -> Decimal:
        """Whole output frames at 25 fps, each at the per-second rate / 25."""
        frames = math.ceil(round(output_seconds * FPS, 6))
        return Decimal(frames) * RATES[spec.model] / FPS

    def accepted(self, job: JobView) -> Reply:
        """The create's 201; its key now replays it, and it holds its slot until it ends."""
        reply = Reply.json(201, self._generation(job))
        pending: Pending | None = getattr(self._pending, "held", None)
        self._pending.held = None
        # A keyed generation the engine may yet fail to answer (see ``problem``).
        self._pending.made = job.id if pending is not None and pending.key else None
        with self._lock:
            if pending is not None and pending.slot:
                self._slots -= 1
            if self.concurrency is not None:
                self._running.add(job.id)
            if pending is not None and pending.key is not None:
                self._keys[pending.key].reply = reply
        return reply

    # -- reading a generation ----------------------------------------------------------------

    def status(self, job: JobView) -> Reply:
        return Reply.json(200, self._generation(job))

    def callback_body(self, job: JobView) -> Any:
        """The webhook's body is the Generation, as a GET shows it."""
        return self._generation(job)

    def callback_request(self, body: Any, sent: dt.datetime) -> tuple[bytes, Mapping[str, str]]:
        payload = compact(body)
        return payload, {"Sync-Signature": signature(self.webhook_secret, payload, sent)}

    def _generation(self, job: JobView) -> dict[str, Any]:
        word = WORDS[job.state]
        if job.state is State.SUCCEEDED and job.output_url is None:
            word = WORDS[State.RUNNING]
        if word in ("COMPLETED", "FAILED"):
            with self._lock:
                self._running.discard(job.id)
        failure = job.failure if word == "FAILED" else None
        if word == "FAILED" and failure is None:
            failure = Failure(code="generation_unhandled_error", message="generation failed")
        output = job.output_url if word == "COMPLETED" else None
        return {
            "id": job.id,
            "createdAt": iso(job.created),
            "status": word,
            "model": job.spec.model,
            "input": job.spec.echo.get("input", []),
            "options": job.spec.echo.get("options", {}),
            "webhookUrl": job.spec.callback_url,
            "outputUrl": output,
            "outputMediaUrl": output,
            "outputDuration": job.output_seconds if output else None,
            "segmentOutputUrl": None,
            "error": failure.message if failure else None,
            "error_code": FAILURE_CODES.get(failure.code, failure.code) if failure else None,
        }

    # -- uploads -------------------------------------------------------------------------------

    def parse_upload(self, request: Request) -> UploadSpec | Reply:
        body = json_object(request)
        if isinstance(body, Reply):
            return body
        if request.path == ASSETS:
            return self._register(body)
        name, content_type, size = body.get("fileName"), body.get("contentType"), body.get("size")
        for field, value in (("fileName", name), ("contentType", content_type)):
            if not isinstance(value, str) or not value.strip():
                return invalid(f"{field} is required")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            return invalid("size must be the file's size in bytes")
        if size > MAX_UPLOAD:
            return invalid("size exceeds the 5GB cap on a single upload")
        base = str(name).replace("\\", "/").rsplit("/", 1)[-1] or "upload"
        return UploadSpec(name=base, content_type=str(content_type), put_within=PRESIGNED_FOR)

    def uploaded(self, upload: UploadView) -> Reply:
        """Step 1's answer; the url is remembered for step 3."""
        with self._lock:
            self._uploads[upload.url] = upload
        seconds = int(upload.spec.put_within.total_seconds())
        return Reply.json(
            201, {"uploadUrl": upload.put_url, "url": upload.url, "expiresIn": seconds}
        )

    def _register(self, body: Mapping[str, Any]) -> Reply:
        """Step 3, answered here: the engine knows no registration, only uploads."""
        url, kind = body.get("url"), body.get("type")
        if kind not in ASSET_TYPES:
            return invalid(f"type must be one of the following values: {', '.join(ASSET_TYPES)}")
        with self._lock:
            upload = self._uploads.get(url) if isinstance(url, str) else None
            if upload is None:
                return invalid(
                    "the lipbridge emulator registers only urls from POST /v2/assets/upload"
                )
            name = body.get("name")
            asset = Asset(
                id=str(uuid.UUID(hex=upload.id, version=4)),
                url=upload.url,
                type=str(kind),
                name=name if isinstance(name, str) and name else upload.spec.name,
                created=upload.created,
            )
            self._assets[asset.id] = asset
        return Reply.json(201, {
            "id": asset.id,
            "createdAt": iso(asset.created),
            "updatedAt": iso(asset.created),
            "type": asset.type,
            "visibility": "USER",
            "name": asset.name,
            "url": asset.url,
            "format": asset.url.rsplit(".", 1)[-1] if "." in asset.url else None,
            "inputType": "UPLOAD",
            "projectId": None,
        })

    # -- errors --------------------------------------------------------------------------------

    def problem(self, problem: Problem, message: str, status: int | None = None) -> Reply:
        """The engine's problems in sync.so's envelope. A create refused after
        ``parse_submit`` (no credit) gets here on its own thread: its key is freed. A server
        error right after a keyed create made its generation (the engine failing the answer,
        not the work) is what sync.so documents for it: "Keyed uncertain outcomes return 503
        IDEMPOTENCY_OUTCOME_UNKNOWN", naming the generation ("An unknown response may
        include generationId")."""
        self._release()
        made: str | None = getattr(self._pending, "made", None)
        self._pending.made = None
        if problem is Problem.SERVER_ERROR and made is not None:
            return error(
                503,
                "The outcome of the request with this Idempotency-Key is unknown; retry with "
                "the same key",
                OUTCOME_UNKNOWN,
                generationId=made,
            )
        if problem is Problem.SERVER_ERROR:
            code = status or 500
            return error(code, REASONS[code])
        code, error_code, wording = PROBLEMS[problem]
        said = f"{wording} ({message})" if problem is Problem.UNSUPPORTED else wording
        return error(code, said, error_code)
