"""What a provider dialect is: one API's wire format over the emulator's shared engine.

The engine owns everything that is the same for every provider: the HTTP server, jobs
and their timing, media, faults, billing balances, the ledger and callbacks. A dialect
only translates: it routes a request to an endpoint, parses and validates a submit the
way the provider documents, and renders jobs and errors in the provider's shapes. Every
method is a pure function of its arguments, so dialects are tested without a server.
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from attrs import field, frozen

from lipbridge.models import SyncMode

# The dialect API this emulator speaks, versioned apart from lipbridge's plugin contract:
# a dialect written for MAJOR.MINOR works here when the majors are equal and its minor is
# not newer. Minor versions only add (optional attributes, methods with defaults).
# 1.1: uploads (Endpoint.UPLOAD, parse_upload, uploaded, UploadSpec, UploadView,
# Problem.STORAGE_FULL). 1.2: callback_request (a callback's bytes and headers: signed
# callbacks). 1.3: public (a document served to anyone: a webhook key set); listing
# (Endpoint.LIST, a page of the provider's jobs).
DIALECT_VERSION = "1.3"


@frozen(kw_only=True)
class Request:
    """An HTTP request as a dialect sees it, below the provider's mount point."""

    method: str
    path: str  # below the mount, e.g. "/v1/tasks/abc" (no query string)
    query: Mapping[str, str] = field(factory=dict)  # first value of each parameter
    headers: Mapping[str, str] = field(factory=dict)  # names in lower case
    body: bytes = b""
    base_url: str = ""  # the provider's mount, e.g. "http://127.0.0.1:8123/foxapi"

    def json(self) -> Any:
        """The body as JSON; ValueError when it is not JSON."""
        return json.loads(self.body.decode("utf-8"))


@frozen(kw_only=True)
class Reply:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, headers: Mapping[str, str] | None = None) -> Reply:
        return cls(
            status=status,
            body=json.dumps(data).encode(),
            headers={"Content-Type": "application/json", **(headers or {})},
        )


class Endpoint(str, enum.Enum):
    """What a request is for; faults and the ledger are kept per endpoint."""

    SUBMIT = "submit"
    POLL = "poll"
    CANCEL = "cancel"
    UPLOAD = "upload"  # a file into the provider's own storage (the request carries it, or
    # asks for a presigned URL to PUT it to)
    LIST = "list"  # the provider's jobs, as its job listing shows them


@frozen
class Route:
    endpoint: Endpoint
    job_id: str | None = None  # None for submit


class Problem(str, enum.Enum):
    """Errors the engine decides on; the dialect renders each in the provider's shape."""

    UNAUTHORIZED = "unauthorized"  # missing or wrong key
    NOT_FOUND = "not_found"  # unknown job id
    INSUFFICIENT_CREDITS = "insufficient_credits"
    RATE_LIMITED = "rate_limited"  # the reply gets a Retry-After header from the engine
    SERVER_ERROR = "server_error"  # status 500, 502, 503 or 504 (a fault)
    UNSUPPORTED = "unsupported"  # a route the provider has but the emulator does not
    STORAGE_FULL = "storage_full"  # an upload carrying its file that does not fit the storage


@frozen(kw_only=True)
class JobSpec:
    """A validated submit: what the engine needs to run the job."""

    model: str
    video: str  # an http(s) URL or a data: URI
    audio: str | None = None  # None when the speech comes from TTS
    tts_text: str | None = None
    tts_voice: str | None = None
    sync_mode: SyncMode = SyncMode.LOOP
    callback_url: str | None = None
    echo: Mapping[str, Any] = field(factory=dict)  # fields the dialect shows back later


@frozen(kw_only=True)
class UploadSpec:
    """A validated upload: the file the request carries, or, without ``data``, a presigned
    URL the client PUTs the file to (under exactly ``content_type``) within ``put_within``."""

    name: str  # the file's name: the last segment of its URL
    content_type: str
    data: bytes | None = None
    put_within: dt.timedelta = dt.timedelta(hours=1)  # presigned only
    lifetime: dt.timedelta | None = None  # how long the provider keeps the file; None: kept
    evict_oldest: bool = False  # storage full: drop the provider's oldest uploads, not refuse


@frozen(kw_only=True)
class UploadView:
    """An accepted upload, as the dialect answers it. ``url`` serves the file (from the
    moment it is stored: a presigned one once it is PUT) and is accepted as a job input."""

    id: str  # 32 lowercase hex chars from the engine, the same in every run with one seed
    spec: UploadSpec
    url: str
    created: dt.datetime
    expires: dt.datetime | None = None  # when ``url`` stops working (at the earliest, for a
    # presigned file: its lifetime counts from the PUT)
    size: int | None = None  # bytes stored; None until a presigned file is PUT
    put_url: str | None = None  # presigned only: where to PUT the file (``spec.put_within``)


class State(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@frozen(kw_only=True)
class Failure:
    code: str  # the engine's reason: "fetch_failed", "bad_media" or "insufficient_credits"
    message: str


@frozen(kw_only=True)
class JobView:
    """A job as it stands when a request arrives (or when its callback is sent)."""

    id: str
    spec: JobSpec
    created: dt.datetime
    state: State
    progress: int  # 0..100
    # Set once the output is ready. A dialect whose provider reports "completed" before
    # the results (``status_before_results``) sees SUCCEEDED with output_url None first.
    output_url: str | None = None
    cover_url: str | None = None
    output_seconds: float | None = None
    completed: dt.datetime | None = None
    expires: dt.datetime | None = None  # when output_url stops working
    failure: Failure | None = None
    charge: Decimal = Decimal(0)  # what the dialect's ``charge`` billed for this job


@frozen(kw_only=True)
class CallbackPolicy:
    """How the provider documents delivering callbacks."""

    timeout: float  # seconds per attempt
    retry_delays: tuple[float, ...]  # waits before each retry after the first attempt


class Dialect:
    """Base class: override the class attributes and the methods marked as required."""

    provider: ClassVar[str]  # the provider (plugin entry-point) name it emulates
    api_version: ClassVar[str] = "1.0"  # the DIALECT_VERSION this dialect was written for
    url_lifetime: ClassVar[dt.timedelta]  # documented result-URL lifetime
    accepts_data_uris: ClassVar[bool] = False  # may video/audio be data: URIs?
    status_before_results: ClassVar[bool] = False  # FoxAPI's documented race
    callbacks: ClassVar[CallbackPolicy | None] = None  # None: the provider has none

    def job_id(self, created: dt.datetime, token: str) -> str:
        """The provider's id format; ``token`` is 32 lowercase hex chars from the engine."""
        return token

    def api_key(self, request: Request) -> str | None:  # required
        """The key the request carries, read the way the provider documents."""
        raise NotImplementedError

    def route(self, request: Request) -> Route | None:  # required
        """Which endpoint this is, or None for a path the provider does not have."""
        raise NotImplementedError

    def parse_submit(self, request: Request) -> JobSpec | Reply:  # required
        """Validate the submit as the provider does; a Reply is the provider's refusal."""
        raise NotImplementedError

    def charge(self, spec: JobSpec, output_seconds: float) -> Decimal:  # required
        """What the provider bills (in its own unit) for a job of this length."""
        raise NotImplementedError

    def accepted(self, job: JobView) -> Reply:  # required
        """The submit's success reply."""
        raise NotImplementedError

    def status(self, job: JobView) -> Reply:  # required
        """The poll reply for a job."""
        raise NotImplementedError

    def problem(self, problem: Problem, message: str, status: int | None = None) -> Reply:
        """An error in the provider's documented shape (required). ``status`` is set for
        SERVER_ERROR only."""
        raise NotImplementedError

    def cancel(self, job: JobView) -> Reply:
        """The cancel reply; providers without cancel keep this default."""
        return self.problem(Problem.UNSUPPORTED, "this provider has no cancel endpoint")

    def callback_body(self, job: JobView) -> Any:
        """The JSON body of the callback for a finished job (providers with callbacks)."""
        raise NotImplementedError

    def callback_request(self, body: Any, sent: dt.datetime) -> tuple[bytes, Mapping[str, str]]:
        """One attempt of a callback with ``callback_body``'s ``body``, sent at ``sent``: its
        bytes, and its headers besides Content-Type. JSON and none by default; a provider
        that signs its callbacks signs here."""
        return json.dumps(body).encode(), {}

    def public(self, request: Request) -> Reply | None:
        """A document the provider serves to anyone, with no key and no faults (fal's
        webhook key set), or None for every other request (the default)."""
        return None

    def parse_upload(self, request: Request) -> UploadSpec | Reply:
        """Validate an upload as the provider does (a route to ``Endpoint.UPLOAD``); a Reply
        is the provider's refusal. Providers without an upload API keep this default."""
        return self.problem(Problem.UNSUPPORTED, "this provider has no upload endpoint")

    def uploaded(self, upload: UploadView) -> Reply:
        """The upload's success reply (required with ``parse_upload``)."""
        raise NotImplementedError

    def listing(self, request: Request, jobs: list[JobView]) -> Reply:
        """The reply to a route to ``Endpoint.LIST``: ``jobs`` (every job of this provider,
        in creation order) as the provider's listing shows them. Providers without a
        listing keep this default."""
        return self.problem(Problem.UNSUPPORTED, "this provider has no job listing")


def version_problem(dialect: Dialect) -> str | None:
    """Why ``dialect`` cannot run on this emulator, or None when it can."""
    try:
        major, minor = (int(part) for part in dialect.api_version.split("."))
        ours_major, ours_minor = (int(part) for part in DIALECT_VERSION.split("."))
    except ValueError:
        return f"api_version {dialect.api_version!r} is not of the form MAJOR.MINOR"
    if major != ours_major or minor > ours_minor:
        return (
            f"it was written for dialect API {dialect.api_version}, but this emulator "
            f"speaks {DIALECT_VERSION}; install versions that match"
        )
    return None
