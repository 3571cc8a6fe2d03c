"""AI/ML API's ``pixverse/lip-sync`` (https://docs.aimlapi.com) as an emulator dialect.

Documented and followed: ``Authorization: Bearer``; ``POST /v2/video/generations``
creates, ``GET /v2/video/generations?generation_id=`` polls; the audio-or-TTS rule and
the 15 voices; the status words queued, generating, completed and error; the error
envelope ``{message, path, requestId, statusCode, timestamp}`` with its documented
messages (403 for no credits); and the ``x-inference-id`` / ``x-aimlapi-credits-used``
/ ``x-aimlapi-usd-spent`` headers. The shapes are those of ``lipbridge_aimlapi/cassettes/aimlapi``.

Assumed, because the docs are silent:

* price: AI/ML API publishes none, so the emulator bills PixVerse's own native price
  ($0.04 per started second; TTS adds $0.04 per started 15 UTF-8 bytes) in AI/ML API
  credits at 2,000,000 credits per USD (implied by the cost page's 2480 = $0.00124);
* output length: PixVerse has no sync mode and says nothing about mismatched inputs;
  the output follows the speech (``SyncMode.LOOP``), PixVerse billing the external
  audio per second;
* ``video.url`` lives 24 hours; a failed generation's ``error.name`` is
  ``GenerationError``; polls answer with zero cost headers, as the cassettes assume;
* plain http ``video_url`` is refused ("A HTTPS URL ... or a data URI"), except on the
  emulator's own host, which serves its files over http; ``audio_url`` may be http;
* inline media is limited to PixVerse's 50 MB (read as MiB, the plugin's limit);
  durations are the engine's to measure.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from decimal import ROUND_CEILING, Decimal
from typing import Any, ClassVar
from urllib.parse import urlsplit

from lipbridge.models import SyncMode
from lipbridge.validation import data_uri_size
from lipbridge_emulator.dialect import (
    Dialect,
    Endpoint,
    JobSpec,
    JobView,
    Problem,
    Reply,
    Request,
    Route,
    State,
)

MODEL = "pixverse/lip-sync"
GENERATIONS = "/v2/video/generations"
VOICES = (
    "Harper", "Ava", "Isabella", "Sophia", "Emily", "Chloe", "Julia",
    "Mason", "Jack", "Liam", "James", "Oliver", "Adrian", "Ethan", "Auto",
)  # fmt: skip
SUCCESS_WORDS = ("completed", "succeeded")  # the schema's word, the sample run's word
EITHER_OR = (
    "Use either audio_url or (lip_sync_tts_speaker together with lip_sync_tts_content), "
    "but not both"
)  # the docs' own sentence

CREDITS_PER_USD = Decimal(2_000_000)
PIXVERSE_CREDITS_PER_USD = 100
# PixVerse bills 4 of its credits per started second of external audio, and 4 per
# started 15 UTF-8 bytes of TTS text: $0.04 each, 80,000 AI/ML API credits.
CREDITS_PER_SECOND = 4 * CREDITS_PER_USD / PIXVERSE_CREDITS_PER_USD
TTS_BYTES_PER_STEP = 15
CREDITS_PER_TTS_STEP = 4 * CREDITS_PER_USD / PIXVERSE_CREDITS_PER_USD
MAX_INLINE_BYTES = 50 * 1024 * 1024
OUTPUT_FOLLOWS = SyncMode.LOOP
FAILURE_NAME = "GenerationError"
CREDITS_HEADER = "x-aimlapi-credits-used"
USD_HEADER = "x-aimlapi-usd-spent"

_STATUS = {
    Problem.UNAUTHORIZED: 401,
    Problem.INSUFFICIENT_CREDITS: 403,
    Problem.NOT_FOUND: 404,
    Problem.UNSUPPORTED: 404,  # a route the API lacks: no such endpoint
    Problem.RATE_LIMITED: 429,
    Problem.SERVER_ERROR: 500,
}
NOT_FOUND = "Generation not found"  # the docs show no 404 message; the cassette's wording
_DOCUMENTED = {  # the 4xx and 5xx pages' messages; 404 and 502 have none
    401: "This request requires a valid API key. You can create a new API key on the "
    "Billing page: https://aimlapi.com/app/keys",
    403: "You've run out of credits. Please top up your balance or update your payment "
    "method to continue: https://aimlapi.com/app/billing/",
    429: "Too Many Requests",
    500: "Internal server error",
    503: "Service unavailable",
    504: "Generation timeout",
}


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _new_request_id() -> str:
    return str(uuid.uuid4())


class AimlapiDialect(Dialect):
    """AI/ML API's wire format; ``success_word="succeeded"`` emulates the docs' sample run."""

    provider: ClassVar[str] = "aimlapi"
    url_lifetime: ClassVar[dt.timedelta] = dt.timedelta(hours=24)
    accepts_data_uris: ClassVar[bool] = True

    def __init__(
        self,
        *,
        success_word: str = "completed",
        now: Callable[[], dt.datetime] = _utc_now,
        request_id: Callable[[], str] = _new_request_id,
    ) -> None:
        # An error body's requestId and timestamp are the only values not derived from
        # the arguments; they are injected so tests can pin them.
        if success_word not in SUCCESS_WORDS:
            raise ValueError(f"success_word must be one of {SUCCESS_WORDS}")
        self.success_word = success_word
        self._now = now
        self._request_id = request_id

    def job_id(self, created: dt.datetime, token: str) -> str:
        """A UUID, the form of the schema's example id (60ac7c34-3224-...)."""
        return str(uuid.UUID(hex=token))

    def api_key(self, request: Request) -> str | None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return key.strip() or None

    def route(self, request: Request) -> Route | None:
        if request.path.rstrip("/") != GENERATIONS:
            return None
        if request.method == "POST":
            return Route(Endpoint.SUBMIT)
        if request.method == "GET":
            # A missing generation_id can only be an unknown one here: the engine answers
            # NOT_FOUND (the Route interface has no way to refuse with a 400).
            return Route(Endpoint.POLL, request.query.get("generation_id", ""))
        return None

    def parse_submit(self, request: Request) -> JobSpec | Reply:
        try:
            body = request.json()
        except ValueError:
            return self._refusal(request, ["Invalid JSON at the request body"])
        if not isinstance(body, dict):
            return self._refusal(request, [f"Expected object, received {_kind(body)}"])
        issues = _validate(body, http_host=urlsplit(request.base_url).netloc)
        if issues:
            return self._refusal(request, issues)
        return JobSpec(
            model=MODEL,
            video=body["video_url"],
            audio=body.get("audio_url"),
            tts_text=body.get("lip_sync_tts_content"),
            tts_voice=body.get("lip_sync_tts_speaker"),
            sync_mode=OUTPUT_FOLLOWS,
        )

    def charge(self, spec: JobSpec, output_seconds: float) -> Decimal:
        """Credits: every started second, plus every started 15 bytes of TTS text."""
        seconds = Decimal(str(output_seconds)).to_integral_value(rounding=ROUND_CEILING)
        credits = seconds * CREDITS_PER_SECOND
        if spec.tts_text is not None:
            steps = -(-len(spec.tts_text.encode("utf-8")) // TTS_BYTES_PER_STEP)
            credits += steps * CREDITS_PER_TTS_STEP
        return credits

    def accepted(self, job: JobView) -> Reply:
        body = {"id": job.id, "status": self._word(job), "meta": _usage(job.charge)}
        return Reply.json(200, body, _cost_headers(job.id, job.charge))

    def status(self, job: JobView) -> Reply:
        done = job.state is State.SUCCEEDED and job.output_url is not None
        body = {
            "id": job.id,
            "status": self._word(job),
            "video": {"url": job.output_url} if done else None,
            "error": _error_object(job),
            "meta": _usage(job.charge) if done else None,
        }
        # The charge is recorded once the generation completes, not on a poll.
        return Reply.json(200, body, _cost_headers(job.id, Decimal(0)))

    def problem(self, problem: Problem, message: str, status: int | None = None) -> Reply:
        code = status if problem is Problem.SERVER_ERROR and status else _STATUS[problem]
        if problem is Problem.NOT_FOUND:
            message = NOT_FOUND
        # Both routes share one path, so an error names it without seeing the request.
        return self._error(code, _DOCUMENTED.get(code, message), GENERATIONS)

    def _word(self, job: JobView) -> str:
        if job.state is State.QUEUED:
            return "queued"
        if job.state is State.FAILED:
            return "error"
        if job.state is State.SUCCEEDED and job.output_url is not None:
            return self.success_word
        return "generating"

    def _refusal(self, request: Request, issues: list[str]) -> Reply:
        """400 with the NestJS list message: the headline, then one line per issue."""
        return self._error(400, ["Body validation error!", *issues], request.path)

    def _error(self, status: int, message: str | list[str], path: str) -> Reply:
        stamp = self._now().astimezone(dt.timezone.utc).isoformat(timespec="milliseconds")
        body = {
            "message": message,
            "path": path,
            "requestId": self._request_id(),
            "statusCode": str(status),  # a string, as in the documented example
            "timestamp": stamp.replace("+00:00", "Z"),
        }
        return Reply.json(status, body)


def _validate(body: Mapping[str, Any], *, http_host: str) -> list[str]:
    """Every issue with a create body, in field order, as the API lists them."""
    issues: list[str] = []
    model = body.get("model")
    if model is None:
        issues.append('Required at "model"')
    elif model != MODEL:
        issues.append(_enum_issue("model", model, (MODEL,)))
    issues += _media_issues("video_url", body.get("video_url"), http_host=http_host)
    audio = body.get("audio_url")
    text = body.get("lip_sync_tts_content")
    voice = body.get("lip_sync_tts_speaker")
    if audio is not None:
        issues += _media_issues("audio_url", audio, http_host=None)
    if text is not None and not isinstance(text, str):
        issues.append(_type_issue("lip_sync_tts_content", text))
    elif text == "":
        issues.append('Too small at "lip_sync_tts_content". Expected a non-empty string')
    if voice is not None and voice not in VOICES:
        issues.append(_enum_issue("lip_sync_tts_speaker", voice, VOICES))
    if audio is not None and (text is not None or voice is not None):
        issues.append(f'Invalid input at "audio_url". {EITHER_OR}')
    elif audio is None and text is None and voice is None:
        issues.append(f'Required at "audio_url". {EITHER_OR}')
    elif audio is None and voice is None:
        issues.append(
            'Required at "lip_sync_tts_speaker". Required together with lip_sync_tts_content'
        )
    elif audio is None and text is None:
        issues.append(
            'Required at "lip_sync_tts_content". Required together with lip_sync_tts_speaker'
        )
    return issues


def _media_issues(field: str, value: object, *, http_host: str | None) -> list[str]:
    """A video or audio reference: a URL or a data URI of at most 50 MiB.

    ``http_host`` None allows any http(s) URL; a host allows https, and plain http only
    to that host (the emulator itself).
    """
    if value is None:
        return [f'Required at "{field}"']
    if not isinstance(value, str):
        return [_type_issue(field, value)]
    if value[:5].lower() == "data:":
        size = data_uri_size(value)
        if size is None:
            return [_url_issue(field, value, http_host)]
        if size > MAX_INLINE_BYTES:
            return [
                f'Too big at "{field}". Expected a data URI of at most {MAX_INLINE_BYTES} '
                f"bytes, received {size} bytes"
            ]
        return []
    parts = urlsplit(value)
    allowed = parts.scheme == "https" or (
        parts.scheme == "http" and http_host in (None, parts.netloc)
    )
    return [] if allowed and parts.netloc else [_url_issue(field, value, http_host)]


def _url_issue(field: str, value: str, http_host: str | None) -> str:
    expected = "a URL" if http_host is None else "a HTTPS URL"
    return (
        f"Invalid url at \"{field}\". Expected {expected} or a data URI, received '{_clip(value)}'"
    )


def _enum_issue(field: str, value: object, allowed: tuple[str, ...]) -> str:
    options = " | ".join(f"'{option}'" for option in allowed)
    return f"Invalid enum value at \"{field}\". Expected {options}, received '{_clip(value)}'"


def _type_issue(field: str, value: object) -> str:
    return f'Invalid type at "{field}". Expected string, received {_kind(value)}'


def _kind(value: object) -> str:
    """A JSON value's type in the validator's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "string"


def _clip(value: object, limit: int = 200) -> str:
    """A received value as quoted back: a data URI may be megabytes long."""
    text = str(value)
    return text if len(text) <= limit else f"{text[:limit]}..."


def _error_object(job: JobView) -> dict[str, str] | None:
    if job.state is not State.FAILED:
        return None
    message = job.failure.message if job.failure else "Generation failed"
    return {"name": FAILURE_NAME, "message": message}


def _usage(charge: Decimal) -> dict[str, Any]:
    return {"usage": {"credits_used": int(charge)}}


def _cost_headers(job_id: str, credits: Decimal) -> dict[str, str]:
    """The generation id as inference id; whole credits and the same in USD."""
    usd = (credits / CREDITS_PER_USD).quantize(Decimal("0.000000001"))
    return {"x-inference-id": job_id, CREDITS_HEADER: str(int(credits)), USD_HEADER: f"{usd:f}"}
