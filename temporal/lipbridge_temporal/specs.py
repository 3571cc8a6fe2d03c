"""What workflows and activities hand each other. Plain dataclasses of strings and
numbers (Temporal's JSON converter), and never a secret: provider keys and webhook
secrets stay in each worker's environment. Pure: imported inside the sandbox."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class JobSpec:
    """One job as a workflow runs it: the local id names the workflow and is the
    idempotency key where the provider takes one."""

    local_id: str
    provider: str
    request_json: str  # lipbridge.convert.dumps(JobRequest): URLs and options, no key
    output: str | None = None  # where the worker saves the video, if anywhere
    cap: int | None = None  # jobs in flight at the provider across all workers
    timeout: float = 1800.0  # seconds from the submit until the job must have ended
    line: int | None = None  # the batch manifest line, when part of a batch
    callbacks: bool = False  # submitted with a callback URL: polls are the fallback
    keyed: bool = False  # the provider takes an idempotency key: a submit may be re-sent
    liveness: float = 30.0  # seconds without a heartbeat before a worker counts as dead
    first_poll: float = 1.5  # seconds from the submit to the first poll


@dataclass(frozen=True)
class Submitted:
    """A submit's answer: the handle as the ledger keeps it (scrubbed), nothing more."""

    handle_json: str
    how: str = "submitted"  # or how reconciliation found the job


@dataclass(frozen=True)
class Billed:
    """What the provider says it charged (decimals as strings), in its unit and in USD."""

    amount: str
    unit: str
    usd: str | None = None


@dataclass(frozen=True)
class Polled:
    """One poll: where the job stands and when to look again. The result URL stays in
    the worker's ledger (a signed URL is a credential of its own)."""

    state: str  # lipbridge JobState value
    raw_status: str
    terminal: bool
    delay: float  # seconds until the next poll
    error: str | None = None
    billed: Billed | None = None
    result_url: str | None = None  # masked: scheme, host and path, never the query


@dataclass(frozen=True)
class Saved:
    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Callback:
    """A callback a receiver verified (or not), sent to the job's workflow as a signal.
    Only the word and whether it was signed: the workflow polls to learn the rest."""

    raw_status: str
    verified: bool
    terminal: bool


@dataclass(frozen=True)
class Outcome:
    """How a job ended, as its workflow returns it (and a batch reports it)."""

    local_id: str
    provider: str
    state: str  # a batch RowState value: done, failed, rejected, unknown, waiting, pending
    provider_job_id: str | None = None
    output: str | None = None
    size: int | None = None
    sha256: str | None = None
    billed: Billed | None = None
    result_url: str | None = None  # masked (its query, a signature, is left out)
    error: str | None = None
    line: int | None = None


@dataclass
class BatchInput:
    """A batch workflow's rows still to start, those in flight and what ended so far
    (carried across continue-as-new, so its history stays small)."""

    batch_id: str
    jobs: list[JobSpec]  # not started yet
    ended: list[Outcome] = field(default_factory=list)
    in_flight: dict[int, str] = field(default_factory=dict)  # line -> provider, started
    ids: dict[int, str] = field(default_factory=dict)  # line -> local id, of those in flight
    window: int = 256  # children in flight at once
    continue_after: int = 500  # children a run starts before it continues as new
    stopped: bool = False  # told to start no more rows (until told to resume)
    # While jobs are in flight, every this many seconds those whose workflow ended without
    # telling the batch (terminated, cancelled, failed, timed out) end their rows.
    check_every: float = 60.0


@dataclass
class BatchProgress:
    """What the batch query answers: the lines in flight and every ended row."""

    total: int
    in_flight: dict[int, str]  # line -> provider
    ended: list[Outcome]
    stopped: bool = False  # starts no more rows: those not started wait for a resume
