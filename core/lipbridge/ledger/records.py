"""What the ledger keeps: a job's local record, its events, its lifecycle states, and the
route each of its local input files took to the provider."""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from typing import Any, NamedTuple

from attrs import frozen

from lipbridge.models import CostEstimate, JobHandle, JobRequest, JobResult, JobState


class LocalState(str, enum.Enum):
    """Where a job stands as far as this machine knows; docs/jobs.md draws the machine."""

    SUBMITTING = "submitting"  # the intent is recorded; the submit may be on the wire
    UNKNOWN = "unknown"  # the submit may have been accepted (and billed): reconcile it
    NOT_SUBMITTED = "not_submitted"  # proven never accepted; resuming submits it
    REJECTED = "rejected"  # the provider refused the submit; nothing was billed
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # a result exists; downloaded when an output was asked for
    DOWNLOADED = "downloaded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @classmethod
    def of(cls, state: JobState) -> LocalState:
        """The ledger's state for a poll's: a cancel the provider accepted but has not
        confirmed is still running here (the job may finish anyway; its event keeps the
        provider's word)."""
        return LocalState.RUNNING if state is JobState.CANCELLING else cls(state.value)

    @property
    def accepted(self) -> bool:
        """The provider has the job (so it may be billed)."""
        return self in _ACCEPTED


_ACCEPTED = frozenset(
    {
        LocalState.QUEUED,
        LocalState.RUNNING,
        LocalState.SUCCEEDED,
        LocalState.DOWNLOADED,
        LocalState.FAILED,
        LocalState.CANCELLED,
    }
)
_ENDED = frozenset(
    {LocalState.REJECTED, LocalState.DOWNLOADED, LocalState.FAILED, LocalState.CANCELLED}
)


class EventKind(str, enum.Enum):
    INTENT = "intent"  # recorded before the submit is sent
    SUBMITTED = "submitted"  # the provider answered with a job id
    UNKNOWN = "unknown"  # the answer was lost or unreadable, or the process died
    REJECTED = "rejected"
    STATUS = "status"  # a poll saw a new state, word or progress
    ERROR = "error"  # a step failed without changing the state (timeout, download)
    DOWNLOADED = "downloaded"
    RECONCILED = "reconciled"
    CALLBACK = "callback"  # a signed callback's status, recorded as a poll's would be
    CALLBACK_HINT = "callback_hint"  # an unsigned callback: the job is polled to confirm it


def fingerprint(request: JobRequest) -> str:
    """The request's identity: sha256 of its canonical JSON, first 32 hex digits."""
    from lipbridge.convert import dumps  # cattrs: not for commands that only list

    return digest(dumps(request))


def digest(canonical_json: str) -> str:
    return hashlib.sha256(canonical_json.encode()).hexdigest()[:32]


class Route(str, enum.Enum):
    """How a local input file reaches the provider, in the order they are tried
    (docs/local-media.md)."""

    UPLOAD = "upload"  # the provider's own upload API (the plugin's lipbridge_upload)
    INLINE = "inline"  # inside the submit, as a data: URI
    STAGED = "staged"  # the user's object storage, a presigned URL sent


@frozen(kw_only=True)
class MediaRoute:
    """The way one local input of a job went: ``target`` is the provider that stored it
    (upload) or where it was staged; ``reference`` what the submit sent in place of the
    path, with any signature masked (the whole reference stays in the ledger, for
    reuse); ``reused`` an upload made before, still valid, sent again."""

    field: str  # "video" or "audio"
    path: str
    route: Route
    size: int
    sha256: str | None = None  # not computed for inline files
    target: str | None = None
    reference: str | None = None
    expires_at: dt.datetime | None = None
    reused: bool = False

    def describe(self) -> str:
        """One line for people: ``video face.mp4: uploaded to acme (expires ...)``."""
        name = f"{self.field} {self.path.rsplit('/', 1)[-1]}"
        until = (
            f"expires {self.expires_at.astimezone(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
            if self.expires_at is not None
            else "no expiry given"
        )
        if self.route is Route.INLINE:
            return f"{name}: inline data URI ({_megabytes(self.size)})"
        if self.route is Route.UPLOAD:
            how = "reused upload to" if self.reused else "uploaded to"
            return f"{name}: {how} {self.target} ({until})"
        how = "reused staged copy at" if self.reused else "staged to"
        return f"{name}: {how} {self.target} (URL {until})"


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size} bytes"


@frozen(kw_only=True)
class LedgerEvent:
    local_id: str
    at: dt.datetime
    kind: EventKind
    state: LocalState
    raw_status: str | None = None
    progress: float | None = None
    error: str | None = None


@frozen(kw_only=True)
class LedgerJob:
    """One job as the ledger has it. ``handle`` exists once the provider answered."""

    local_id: str
    provider: str
    model: str | None
    request: JobRequest
    fingerprint: str
    state: LocalState
    created_at: dt.datetime
    updated_at: dt.datetime
    estimate: CostEstimate | None = None
    handle: JobHandle | None = None
    result: JobResult | None = None
    output_path: str | None = None
    output_size: int | None = None
    output_sha256: str | None = None
    error_class: str | None = None
    error_message: str | None = None
    attempts: int = 1
    lease_owner: str | None = None
    lease_expires_at: dt.datetime | None = None
    batch_id: str | None = None  # the batch (and manifest line) this job is an attempt at
    batch_line: int | None = None
    routes: tuple[MediaRoute, ...] = ()  # how each local input reached the provider

    @property
    def provider_job_id(self) -> str | None:
        return self.handle.job_id if self.handle else None

    @property
    def finished(self) -> bool:
        """Nothing is left to do: it ended, or it succeeded and no file was asked for."""
        if self.state is LocalState.SUCCEEDED:
            return self.output_path is None
        return self.state in _ENDED


class JobSummary(NamedTuple):
    """A ledger row as ``jobs list`` shows it: a tuple, no JSON decoded, so that 100,000
    rows list in a fraction of a second."""

    local_id: str
    provider: str
    model: str | None
    state: LocalState
    provider_job_id: str | None
    created_at: str  # ISO 8601, UTC
    updated_at: str
    output_path: str | None
    error_class: str | None
    error_message: str | None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> JobSummary:
        return cls._make((*row[:3], _STATES[row[3]], *row[4:]))


_STATES = {state.value: state for state in LocalState}
