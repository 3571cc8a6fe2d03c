"""The standard scenarios and what each one stands for, written down once.

A standard scenario's name is a promise: ``rate_limited`` is a 429 with a Retry-After
that must raise ``RateLimited``. The checks (which error, which capability makes it
required), the live recorder (which key) and the emulator recorder (how the emulator is
set up) read that promise from here, so no two of them can disagree about a name.
"""

from __future__ import annotations

from attrs import frozen

from lipbridge import (
    AuthenticationError,
    InsufficientCredits,
    JobFailed,
    JobNotFound,
    LipbridgeError,
    ProviderUnavailable,
    RateLimited,
    RequestRejected,
)


@frozen(kw_only=True)
class EmulatorStage:
    """How the emulator is set up so that a recording from it shows the scenario."""

    credits: int | None = None  # the provider's credit, when not the emulator's default
    faults: str | None = None  # a fault spec, as ``lipbridge emulator --faults`` takes
    # Keep the script's inputs: the emulator fetches only its own files, so it accepts the
    # job and fails it, as a provider fails a job whose inputs it cannot download.
    script_inputs: bool = False
    # Submit the script's request once before recording, outside the cassette: a job the
    # provider accepted but whose answer never reached the client, for a lookup to find.
    submitted: bool = False


@frozen(kw_only=True)
class StandardScenario:
    name: str
    error: type[LipbridgeError] | None = None  # what its replay must raise, or a subclass
    capability: str | None = None  # a model capability without which it must not exist
    hook: str | None = None  # an optional hook: required with it, not replayed without it
    finds: bool | None = None  # its find step must return some job (True) or none (False)
    retry_after: bool = False  # its sidecar must give the recorded retry_after
    invalid_key: bool = False  # recorded with a key the provider must refuse (spends nothing)
    stage: EmulatorStage = EmulatorStage()

    @property
    def required_by(self) -> str:
        """What needs it, for a missing scenario's message."""
        if self.hook:
            return f"the {self.hook} hook"
        return self.capability or "the core lifecycle"


SUCCESS = StandardScenario(name="success")
JOB_FAILED = StandardScenario(
    name="job_failed", error=JobFailed, stage=EmulatorStage(script_inputs=True)
)
AUTH_INVALID = StandardScenario(name="auth_invalid", error=AuthenticationError, invalid_key=True)
INSUFFICIENT_CREDITS = StandardScenario(
    name="insufficient_credits", error=InsufficientCredits, stage=EmulatorStage(credits=0)
)
RATE_LIMITED = StandardScenario(
    name="rate_limited",
    error=RateLimited,
    retry_after=True,
    stage=EmulatorStage(faults="submit:429=1@30"),
)
INVALID_REQUEST = StandardScenario(name="invalid_request", error=RequestRejected)
JOB_NOT_FOUND = StandardScenario(name="job_not_found", error=JobNotFound)
PROVIDER_UNAVAILABLE = StandardScenario(name="provider_unavailable", error=ProviderUnavailable)
CANCEL_RUNNING = StandardScenario(name="cancel_running", capability="cancel")
CANCEL_AFTER_COMPLETE = StandardScenario(name="cancel_after_complete", capability="cancel")
FIND_HOOK = "lipbridge_find_jobs"
FIND_JOBS = StandardScenario(
    name="find_jobs", hook=FIND_HOOK, finds=True, stage=EmulatorStage(submitted=True)
)
FIND_JOBS_NO_MATCH = StandardScenario(name="find_jobs_no_match", hook=FIND_HOOK, finds=False)
UPLOAD_HOOK = "lipbridge_upload"
UPLOAD = StandardScenario(name="upload", hook=UPLOAD_HOOK)
CALLBACK_HOOK = "lipbridge_parse_callback"
CALLBACK = StandardScenario(name="callback", hook=CALLBACK_HOOK)
# The optional hook each first step calls: a scenario starting with one is replayed only
# when the plugin implements it.
STEP_HOOKS = {"find": FIND_HOOK, "upload": UPLOAD_HOOK, "callback": CALLBACK_HOOK}

CATALOGUE = (
    SUCCESS,
    JOB_FAILED,
    AUTH_INVALID,
    INSUFFICIENT_CREDITS,
    RATE_LIMITED,
    INVALID_REQUEST,
    JOB_NOT_FOUND,
    PROVIDER_UNAVAILABLE,
    CANCEL_RUNNING,
    CANCEL_AFTER_COMPLETE,
    FIND_JOBS,
    FIND_JOBS_NO_MATCH,
    UPLOAD,
    CALLBACK,
)
STANDARD_SCENARIOS = tuple(s.name for s in CATALOGUE)
_BY_NAME = {s.name: s for s in CATALOGUE}


def meaning(name: str) -> StandardScenario:
    """What the scenario ``name`` stands for: a standard one's entry; for a provider's own
    scenario, nothing beyond its sidecar (no error, capability, hook, key or stage of its
    own)."""
    return _BY_NAME.get(name) or StandardScenario(name=name)
