"""The one exception hierarchy every lipbridge call raises.

Each class says whether retrying the same call could succeed (``retryable``), so
callers and the client's own loops decide without parsing messages. Messages
never contain credentials: the transport redacts keys from responses before an error
is built from them, and every error scrubs its own message (and ``details``,
``body_excerpt``) again, whoever built it, so ``str``, ``repr`` and ``args`` are clean.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from attrs import frozen

from lipbridge.redact import redact_message, scrub, scrub_data

if TYPE_CHECKING:
    from lipbridge.models import JobHandle, JobStatus

EXCERPT_LIMIT = 500


def excerpt(body: bytes | str, limit: int = EXCERPT_LIMIT) -> str:
    """A short, printable slice of a response body for error messages."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    text = " ".join(scrub(text).split())  # scrubbed whole: a cut must not halve a key
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more chars]"


@frozen
class Term:
    """A name in a hint that the Python API and the ``lipbridge`` command spell differently.

    ``name`` says what it is (``drop_unsupported``, ``Client.staging``, ``JobRequest``);
    ``python`` is how the API spells it. The CLI words every term in one table
    (:mod:`lipbridge.cli.report`), so a hint never tells a shell user to pass a keyword.
    """

    name: str
    python: str


# What to do about an error: text, and terms each reader spells in their own words.
Hint: TypeAlias = tuple["str | Term", ...]

DROP_UNSUPPORTED = Term("drop_unsupported", "pass drop_unsupported=True")
REQUEST_FIELDS = Term("JobRequest", "the JobRequest fields")
# Alternatives to an environment variable that only Python has: the CLI leaves them out.
STAGING_ARG = Term("Client.staging", " or pass Client(staging=...)")
PRIVATE_HOSTS_ARG = Term("Client.allow_private_hosts", " or Client(allow_private_hosts=True)")
# The lengths estimate_cost takes in place of measuring a file.
VIDEO_SECONDS = Term("video_seconds", "video_seconds")
AUDIO_SECONDS = Term("audio_seconds", "audio_seconds")
TERMS = (
    DROP_UNSUPPORTED, REQUEST_FIELDS, STAGING_ARG, PRIVATE_HOSTS_ARG, VIDEO_SECONDS, AUDIO_SECONDS
)
# A request or a download reached a private address, which only an opt-in allows.
PRIVATE_HOSTS_HINT: Hint = (
    "set LIPBRIDGE_ALLOW_PRIVATE_HOSTS=1",
    PRIVATE_HOSTS_ARG,
    " if this address is meant",
)


def spell(hint: Hint, word: Callable[[Term], str] | None = None) -> str:
    """The hint as text, each term in ``word``'s spelling (default: the Python API's)."""
    return "".join(
        part if isinstance(part, str) else (word(part) if word else part.python) for part in hint
    )


class LipbridgeError(Exception):
    """Base class of every error lipbridge raises.

    ``summary`` is what went wrong; ``hint`` (optional) what to do about it, kept apart so
    the CLI can word it in its own options. ``message`` (and ``str``) is both, as Python
    callers read them.
    """

    retryable: bool = False

    def __init__(self, message: str, *, hint: Hint = ()) -> None:
        self.summary = redact_message(message)
        self.hint = hint
        message = f"{self.summary}; {spell(hint)}" if hint else self.summary
        super().__init__(message)
        self.message = message


# --- configuration and plugins ------------------------------------------------------------


class ConfigurationError(LipbridgeError):
    """Something in the local setup is missing or wrong (a key, a base URL, an extra)."""


class UnknownProvider(LipbridgeError):
    """No installed, enabled plugin provides this name."""

    def __init__(self, name: str, known: Sequence[str], reason: str = "") -> None:
        listed = ", ".join(sorted(known)) or "none installed"
        why = f" ({reason})" if reason else ""
        super().__init__(f"unknown provider {name!r}{why}; known providers: {listed}")
        self.name = name
        self.known = tuple(sorted(known))


class ProviderConflict(LipbridgeError):
    """Two distributions claim the same provider name; neither is picked silently."""

    def __init__(self, name: str, distributions: Sequence[str]) -> None:
        super().__init__(
            f"provider {name!r} is claimed by more than one distribution: "
            f"{' and '.join(sorted(distributions))}; uninstall one of them"
        )
        self.name = name
        self.distributions = tuple(sorted(distributions))


class PluginLoadError(LipbridgeError):
    """A provider plugin failed to import or failed load-time validation."""

    def __init__(self, name: str, distribution: str, reason: str) -> None:
        super().__init__(f"provider plugin {name!r} from {distribution} cannot be used: {reason}")
        self.name = name
        self.distribution = distribution
        self.reason = reason


class PluginContractError(LipbridgeError):
    """A loaded plugin broke the hook contract at call time (wrong return type, crash)."""


# --- requests -------------------------------------------------------------------------------


class InvalidRequest(LipbridgeError):
    """The request is malformed; nothing was sent. ``field`` names the culprit."""

    def __init__(self, message: str, *, field: str | None = None, hint: Hint = ()) -> None:
        super().__init__(message, hint=hint)
        self.field = field


class UnsupportedOption(InvalidRequest):
    """The request is well formed but this provider or model does not support an option."""

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        allowed: Sequence[str] = (),
        hint: Hint = (),
    ) -> None:
        super().__init__(message, field=field, hint=hint)
        self.allowed = tuple(allowed)


class UnsupportedCapability(LipbridgeError):
    """The provider cannot do this operation at all (for example cancel)."""


# --- provider responses ----------------------------------------------------------------------


class ProviderError(LipbridgeError):
    """The provider answered with an error, or did not answer usefully."""

    def __init__(
        self,
        message: str,
        *,
        provider: str = "",
        http_status: int | None = None,
        code: str | None = None,
        job_id: str | None = None,
        hint: Hint = (),
    ) -> None:
        prefix = f"{provider}: " if provider else ""
        super().__init__(prefix + message, hint=hint)
        self.provider = provider
        self.http_status = http_status
        self.code = code
        self.job_id = job_id


class RequestRejected(ProviderError, InvalidRequest):
    """The provider refused the request as invalid (HTTP 400/422). Nothing was created."""


class AuthenticationError(ProviderError):
    """The API key was refused."""


class InsufficientCredits(ProviderError):
    """The account cannot pay for this job."""


class RateLimited(ProviderError):
    """Too many requests; ``retry_after`` is the provider's hint in seconds, if any."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class JobNotFound(ProviderError):
    """The provider does not know this job id (or the resource is gone)."""


class ProviderUnavailable(ProviderError):
    """The provider failed on its side (5xx, connection trouble); trying later may work.

    ``retry_after`` is the provider's hint in seconds, when it sent one.
    """

    retryable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ProviderProtocolError(ProviderError):
    """The response was malformed or unexpected. Carries a truncated body excerpt.

    ``retryable`` is set where asking again is safe and may help (an oversized poll answer).
    """

    def __init__(
        self, message: str, *, body_excerpt: str = "", retryable: bool = False, **kw: Any
    ) -> None:
        body_excerpt = redact_message(body_excerpt)
        tail = f" (body: {body_excerpt})" if body_excerpt else ""
        super().__init__(message + tail, **kw)
        self.body_excerpt = body_excerpt
        self.retryable = retryable


class JobFailed(ProviderError):
    """The job reached the provider's failed state. ``code``/``reason`` are the provider's."""

    def __init__(self, message: str, *, status: JobStatus | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.status = status


class JobCancelled(JobFailed):
    """The job ended cancelled, by the user or by the provider."""


class SubmitOutcomeUnknown(ProviderError):
    """The submit may have been accepted (and billed); reconcile before resubmitting.

    ``details`` holds everything known: the request fingerprint, the idempotency key if
    one was sent, the HTTP status and a body excerpt if a response arrived.
    """

    def __init__(self, message: str, *, details: Mapping[str, Any], **kw: Any) -> None:
        super().__init__(message, **kw)
        self.details: dict[str, Any] = scrub_data(dict(details))


class DownloadFailed(LipbridgeError):
    """The result file could not be fetched (expired URL, short read, HTTP error)."""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        hint: Hint = (),
    ):
        super().__init__(message, hint=hint)
        self.http_status = http_status
        self.retryable = retryable
        self.retry_after = retry_after


class CallbackRejected(LipbridgeError):
    """A callback was refused: its signature is missing, wrong or stale, it is not JSON a
    provider sends, or it is unsigned and the user did not opt in for its provider.
    Nothing was recorded; a receiver answers it with HTTP 400."""


class StagingUnavailable(LipbridgeError):
    """The staging object storage could not be reached or was busy; trying later may work.
    Nothing was sent to the provider."""

    retryable = True


class OutputError(LipbridgeError):
    """The finished video could not be saved locally (a folder, a missing directory, no
    permission). The job and its result URL are untouched: fetch it again."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


# --- waiting ---------------------------------------------------------------------------------


class WaitTimeout(LipbridgeError):
    """The deadline passed before the job finished. The job is not lost: see ``handle``."""

    retryable = True

    def __init__(self, message: str, *, handle: JobHandle, last_status: JobStatus | None):
        super().__init__(message)
        self.handle = handle
        self.last_status = last_status


class OptionDropped(UserWarning):
    """An unsupported optional option was left out because the caller asked for that."""


# --- the job ledger ----------------------------------------------------------------------


class LedgerError(LipbridgeError):
    """The job ledger cannot be read or written: corrupt, from a newer lipbridge,
    read-only, or on a full disk. Raised before anything is sent; the file is never
    deleted or recreated."""

    def __init__(self, message: str, *, path: str) -> None:
        super().__init__(message)
        self.path = path


class JobBusy(LipbridgeError):
    """Another process (or thread) is driving this job; its lease has not lapsed."""

    retryable = True

    def __init__(self, message: str, *, local_id: str, owner: str) -> None:
        super().__init__(message)
        self.local_id = local_id
        self.owner = owner
