"""JoggAI lip sync (seed 002) as an emulator dialect.

Wire facts are from docs.jogg.ai (providers.md section 3) and match the cassettes in
``lipbridge_jogg/cassettes/jogg``. Every answer is the envelope ``{"code", "msg",
"data"}``; a non-zero ``code`` is the error. The docs give no HTTP status for business
errors, so they are sent under HTTP 200 like the documentation-derived cassettes
(``auth_invalid`` included; its 401 twin is only an alternative the plugin also
accepts). Only a rate limit is HTTP 429 (as ``rate_limited``) and a server fault its own
5xx.

Where the docs are silent, the emulator assumes:

* ``playback_type`` only applies when the video is shorter than the audio. ``normal``
  ("play the source video normally"; "use it when the durations already match") does
  not extend the video, so it is rendered as ``cut_off``. Both reverse types ("alternate
  forward and reverse playback to extend the video", "extend playback dynamically based
  on source audio duration") are rendered as ``bounce``.
* Result URLs live 24 hours: JoggAI documents no lifetime, and a short one is the safe
  assumption for a client (FoxAPI and AIHubMax document 24 h).
* An unknown route gets the not-found envelope (code 10104) under HTTP 404.

The lookup ``GET {prefix}/lip_sync_video`` is documented only by JoggAI's own lip-sync
skill (JoggAI-Tech/jogg-skills, ``skills/jogg-lip-sync/SKILL.md``, "Endpoints" and
"Decision Rules"): it "returns the latest matching task under the current authenticated
user and space", and the skill queries it before every create to reuse a task made from
the same normalized inputs, ``playback_type`` defaulting to ``normal``. Its parameters
and answer are not shown, so the emulator assumes: the query parameters are the create
body's inputs (``video_url``, ``audio_url``, ``playback_type``, ``normal`` when absent),
all of which must equal the task's; the answer is the task's GET envelope for the latest
task made from them; and no match is the not-found envelope (code 10104, HTTP 200, like
an unknown task id).

The asset upload ``POST {prefix}/upload/asset`` (UploadAsset page) takes ``{"filename",
"content_type", "file_size"?}`` (``file_size`` at least 1) and answers ``data:
{"sign_url", "asset_url"}``. The Asset Introduction page's second step PUTs the bytes to
``sign_url`` "with the same Content-Type", after which ``asset_url`` serves them; "Assets
are stored permanently". The emulator's choices where the pages are silent: the signed
URL lives one hour (S3's usual presign lifetime) and takes any number of PUTs until then,
as a presigned PUT does; a missing or wrong field is code 40000; the declared
``file_size`` is not compared with the bytes PUT. The stray multipart example on the
UploadAsset page, which contradicts its JSON schema, is not taken.

The engine routes a request to one job, and a dialect sees no job it is not given, so
this dialect remembers the inputs of each task it accepted (``accepted`` is called for
every task created, whether or not its answer reached the client) and routes a lookup to
the latest match as a poll of that task. That memory is the one state a dialect keeps:
each emulator builds its own ``JoggDialect``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import uuid
from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal
from typing import Any
from urllib.parse import unquote, urlsplit

from attrs import frozen

from lipbridge.models import SyncMode
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
    UploadSpec,
    UploadView,
)

# The rendered API pages use /open/v2, the OpenAPI files and JoggAI's own client /v2.
PREFIXES = ("/v2", "/open/v2")
CREATE = "/create_lip_sync_video"
UPLOAD = "/upload/asset"
SIGNED_FOR = dt.timedelta(hours=1)  # how long a sign_url takes the PUT: not documented
LOOKUP = "/lip_sync_video"
TASK = LOOKUP + "/"
INPUTS = ("video_url", "audio_url", "playback_type")  # what a lookup matches on
NO_MATCH = ""  # the task id a lookup without a match is routed to: no task has it

MODEL = "lipsync"  # JoggAI names no model; the plugin calls its one endpoint this
PLAYBACK_MODES: Mapping[str, SyncMode] = {
    "normal": SyncMode.CUT_OFF,
    "normal_reverse": SyncMode.BOUNCE,
    "normal_reverse_by_audio": SyncMode.BOUNCE,
}
DEFAULT_PLAYBACK = "normal"

STATUS_WORDS: Mapping[State, str] = {
    State.QUEUED: "pending",
    State.RUNNING: "processing",
    State.SUCCEEDED: "success",
    State.FAILED: "failed",
}

SECONDS_PER_CREDIT = Decimal(125)  # "1 credit per 125 seconds" of output
CENT = Decimal("0.01")  # "round up and keep 2 decimal places"

# HTTP status, business code and the ErrorHandling page's message for each problem.
PROBLEMS: Mapping[Problem, tuple[int, int, str]] = {
    Problem.UNAUTHORIZED: (200, 10105, "Invalid API key"),
    Problem.NOT_FOUND: (200, 10104, "Record not found"),
    Problem.INSUFFICIENT_CREDITS: (200, 18020, "Insufficient credit"),
    Problem.RATE_LIMITED: (429, 429, "Rate limit exceeded. Please try again later."),
    Problem.SERVER_ERROR: (500, 50000, "System error"),
    Problem.UNSUPPORTED: (404, 10104, "Record not found"),
}


def envelope(status: int, code: int, msg: str, data: Any = None) -> Reply:
    return Reply.json(status, {"code": code, "msg": msg, "data": data})


def refusal(detail: str) -> Reply:
    """Code 40000, worded like the docs' example ("Parameter error: avatar_id is required")."""
    return envelope(200, 40000, f"Parameter error: {detail}")


def json_object(request: Request) -> dict[str, Any] | Reply:
    """The body as a JSON object, or the parameter error refusing it."""
    try:
        body = request.json()
    except ValueError:
        return refusal("the body is not JSON")
    return body if isinstance(body, dict) else refusal("the body must be a JSON object")


def is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


@frozen
class Made:
    """A task this dialect accepted, as a lookup matches it."""

    task_id: str
    inputs: tuple[str, ...]  # the values of INPUTS, normalized
    created: dt.datetime
    order: int  # acceptance order: the later of two tasks made in the same instant wins


def unix(moment: dt.datetime | None) -> int:
    """Unix seconds, and 0 for "not yet" (the zero value the cassettes assume)."""
    return int(moment.timestamp()) if moment is not None else 0


class JoggDialect(Dialect):
    provider = "jogg"
    url_lifetime = dt.timedelta(hours=24)

    def __init__(self) -> None:
        self._made: list[Made] = []
        self._lock = threading.Lock()
        self._order = itertools.count()

    def api_key(self, request: Request) -> str | None:
        return request.headers.get("x-api-key") or None

    def route(self, request: Request) -> Route | None:
        for prefix in PREFIXES:
            if request.path.startswith(prefix + "/"):
                rest = request.path[len(prefix) :]
                if request.method == "GET" and rest == LOOKUP:
                    return Route(Endpoint.POLL, self.latest(request.query))
                return self._route(request.method, rest)
        return None

    def latest(self, query: Mapping[str, str]) -> str:
        """The id of the latest task made from the query's inputs, or NO_MATCH."""
        wanted = self._inputs(query)
        with self._lock:
            matches = [made for made in self._made if made.inputs == wanted]
        if not matches:
            return NO_MATCH
        return max(matches, key=lambda made: (made.created, made.order)).task_id

    def parse_submit(self, request: Request) -> JobSpec | Reply:
        body = json_object(request)
        if isinstance(body, Reply):
            return body
        for name in ("video_url", "audio_url"):
            if body.get(name) in (None, ""):
                return refusal(f"{name} is required")
            if not is_http_url(body[name]):
                return refusal(f"{name} must be an http or https URL")
        playback = body.get("playback_type", DEFAULT_PLAYBACK)
        if not isinstance(playback, str) or playback not in PLAYBACK_MODES:
            return refusal("playback_type must be one of " + ", ".join(PLAYBACK_MODES))
        return JobSpec(
            model=MODEL,
            video=body["video_url"],
            audio=body["audio_url"],
            sync_mode=PLAYBACK_MODES[playback],
            echo={"playback_type": playback},
        )

    def parse_upload(self, request: Request) -> UploadSpec | Reply:
        body = json_object(request)
        if isinstance(body, Reply):
            return body
        for name in ("filename", "content_type"):
            if not isinstance(body.get(name), str) or not body[name].strip():
                return refusal(f"{name} is required")
        size = body.get("file_size")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            return refusal("file_size must be an integer of at least 1")
        name = body["filename"].replace("\\", "/").rsplit("/", 1)[-1] or "asset"
        return UploadSpec(name=name, content_type=body["content_type"], put_within=SIGNED_FOR)

    def uploaded(self, upload: UploadView) -> Reply:
        return envelope(
            200, 0, "Success", {"sign_url": upload.put_url, "asset_url": upload.url}
        )

    def job_id(self, created: dt.datetime, token: str) -> str:
        """A UUID like the docs' task ids; ``token`` is 32 hex digits from the engine
        (ValueError otherwise). ``created`` plays no part: JoggAI's ids carry no time."""
        return str(uuid.UUID(hex=token, version=4))

    def charge(self, spec: JobSpec, output_seconds: float) -> Decimal:
        """Credits for the output's length, rounded up to the cent as JoggAI displays them."""
        credits = Decimal(str(output_seconds)) / SECONDS_PER_CREDIT
        return credits.quantize(CENT, rounding=ROUND_CEILING)

    def accepted(self, job: JobView) -> Reply:
        """The create answer; the task is remembered for lookups."""
        fields = {
            "video_url": job.spec.video,
            "audio_url": job.spec.audio or "",
            "playback_type": str(job.spec.echo.get("playback_type", DEFAULT_PLAYBACK)),
        }
        made = Made(
            task_id=job.id, inputs=self._inputs(fields), created=job.created,
            order=next(self._order),
        )
        with self._lock:
            self._made.append(made)
        task = {"task_id": job.id, "status": self._word(job)}
        return envelope(200, 0, "Success", task)

    def status(self, job: JobView) -> Reply:
        """Every field in every state, with zero values until they apply, as the
        cassettes assume; ``error`` is only filled for a failed task."""
        word = self._word(job)
        result: dict[str, Any] = {"result_url": "", "cover_url": "", "duration_seconds": 0}
        if word == "success":
            result = {
                "result_url": job.output_url,
                "cover_url": job.cover_url or "",
                "duration_seconds": job.output_seconds or 0,
            }
        failure = job.failure.message if word == "failed" and job.failure is not None else ""
        task = {
            "task_id": job.id,
            "status": word,
            "created_at": unix(job.created),
            "completed_at": unix(job.completed) if word in ("success", "failed") else 0,
            "data": result,
            "error": {"message": failure},
        }
        return envelope(200, 0, "Success", task)

    def problem(self, problem: Problem, message: str, status: int | None = None) -> Reply:
        """The documented message for each code; only an unsupported route says more,
        since "Record not found" alone would not tell a developer what is missing."""
        http, code, msg = PROBLEMS[problem]
        if problem is Problem.SERVER_ERROR and status is not None:
            http = status
        if problem is Problem.UNSUPPORTED:
            msg = f"{msg}: {message}"
        return envelope(http, code, msg)

    @staticmethod
    def _inputs(fields: Mapping[str, str]) -> tuple[str, ...]:
        """The values a lookup matches on, ``playback_type`` at its default when absent."""
        defaults = {"playback_type": DEFAULT_PLAYBACK}
        return tuple(fields.get(name) or defaults.get(name, "") for name in INPUTS)

    @staticmethod
    def _route(method: str, rest: str) -> Route | None:
        """The route for a path below one of the prefixes."""
        if method == "POST" and rest == CREATE:
            return Route(Endpoint.SUBMIT)
        if method == "POST" and rest == UPLOAD:
            return Route(Endpoint.UPLOAD)
        task_id = rest.removeprefix(TASK)
        if method == "GET" and rest.startswith(TASK) and task_id and "/" not in task_id:
            return Route(Endpoint.POLL, unquote(task_id))
        return None

    @staticmethod
    def _word(job: JobView) -> str:
        """The status word; JoggAI documents no success without ``result_url``, so a
        job whose output is not attached yet still reads as processing."""
        if job.state is State.SUCCEEDED and job.output_url is None:
            return STATUS_WORDS[State.RUNNING]
        return STATUS_WORDS[job.state]
