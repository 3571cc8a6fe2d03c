"""Typed, frozen data passed between users, the core and plugins.

Values are checked where they are built, so a bad temperature or callback URL fails
in the caller's own line, before any plugin or network is involved. Checks that need
a provider's capabilities live in :mod:`lipbridge.validation`.
"""

from __future__ import annotations

import datetime as dt
import enum
import ipaddress
import math
import os
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

import attrs
from attrs import field, frozen

from lipbridge.errors import InvalidRequest, UnsupportedOption
from lipbridge.estimates import CostEstimate as CostEstimate
from lipbridge.estimates import PriceSource as PriceSource
from lipbridge.options import OPTION_MAX_DEPTH as OPTION_MAX_DEPTH
from lipbridge.options import check_options, option_names
from lipbridge.statuses import bounded_logs, check_queue_position

if TYPE_CHECKING:
    from lipbridge.wire import StatusMap

CALLBACK_URL_MAX_LENGTH = 2048
# A published model version, as ``model@version`` names it: safe in a URL path or query.
VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,127}")


def shown(value: object, limit: int = 80) -> str:
    """A value quoted for an error message, cut short so long URLs stay readable."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


class SyncMode(str, enum.Enum):
    """How the output is fitted when the video and audio lengths differ."""

    BOUNCE = "bounce"
    LOOP = "loop"
    CUT_OFF = "cut_off"
    SILENCE = "silence"
    REMAP = "remap"


class JobState(str, enum.Enum):
    """The canonical job states every provider's status words map onto."""

    QUEUED = "queued"
    RUNNING = "running"
    # The provider accepted a cancel and confirms it later; the job may still finish.
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


def _sync_mode(value: SyncMode | str | None) -> SyncMode | None:
    if value is None or isinstance(value, SyncMode):
        return value
    try:
        return SyncMode(value)
    except ValueError:
        allowed = ", ".join(m.value for m in SyncMode)
        raise InvalidRequest(
            f"sync_mode={shown(value)} is not a sync mode; allowed: {allowed}",
            field="sync_mode",
        ) from None


def _check_temperature(_: object, __: object, value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidRequest(
            f"temperature={shown(value)} is not a number; allowed: 0.0 to 1.0", field="temperature"
        )
    if not 0.0 <= value <= 1.0:
        raise InvalidRequest(
            f"temperature={value!r} is out of range; allowed: 0.0 to 1.0", field="temperature"
        )


def is_loopback(host: str | None) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1): reachable only from here."""
    if host is None:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_callback_url(url: str, max_length: int = CALLBACK_URL_MAX_LENGTH) -> None:
    """Providers only call back over https; a long or credential-bearing URL is refused.

    Plain http is let through for loopback hosts, which only a local emulator can reach;
    the client refuses such a URL for a provider whose base URL is not local too.
    """
    from lipbridge.urls import parse_url  # urls builds on this module

    if isinstance(url, str) and len(url) > max_length:
        raise InvalidRequest(
            f"callback_url is {len(url)} characters long; allowed: at most {max_length}",
            field="callback_url",
        )
    parts = parse_url(url, field="callback_url", local_http_only=True)
    if parts.username or parts.password:
        raise InvalidRequest(
            "callback_url must not contain user:password credentials", field="callback_url"
        )


def _check_callback(_: object, __: object, value: str | None) -> None:
    if value is not None:
        check_callback_url(value)


def _media_ref(value: object) -> str | None:
    """Media given as a string, or as a path object, which is kept as its string."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)  # type: ignore[no-any-return]
    return value  # type: ignore[return-value]  # the validator reports the wrong type


def _check_audio(_: object, __: object, value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise InvalidRequest(
            f"audio={shown(value)} must be a non-empty URL or file path", field="audio"
        )


def _check_bool(_: object, attribute: Any, value: object) -> None:
    if value is not None and not isinstance(value, bool):
        raise InvalidRequest(
            f"{attribute.name}={shown(value)} is not a boolean; allowed: true or false",
            field=attribute.name,
        )


def _non_empty(instance: object, attribute: Any, value: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidRequest(
            f"{attribute.name}={shown(value)} must be a non-empty string", field=attribute.name
        )


@frozen(kw_only=True)
class TextToSpeech:
    """Speech the provider synthesises instead of an uploaded audio track."""

    text: str = field(validator=_non_empty)
    voice: str = field(validator=_non_empty)


def _check_tts(_: object, __: object, value: TextToSpeech | None) -> None:
    if value is not None and not isinstance(value, TextToSpeech):
        raise InvalidRequest(
            f"tts={shown(value)} is not a TextToSpeech; allowed: TextToSpeech(text=..., voice=...)",
            field="tts",
        )


@frozen(kw_only=True)
class JobRequest:
    """What the user asks for, in canonical terms; plugins translate it to the wire."""

    video: str = field(converter=_media_ref, validator=_non_empty)
    audio: str | None = field(default=None, converter=_media_ref, validator=_check_audio)
    tts: TextToSpeech | None = field(default=None, validator=_check_tts)
    model: str | None = None
    sync_mode: SyncMode | None = field(default=None, converter=_sync_mode)
    temperature: float | None = field(default=None, validator=_check_temperature)
    active_speaker: bool | None = field(default=None, validator=_check_bool)
    callback_url: str | None = field(default=None, validator=_check_callback)
    # Provider-native fields, sent as they are. Not part of the hash: dicts are unhashable.
    options: Mapping[str, Any] = field(factory=dict, hash=False, validator=check_options)

    def __attrs_post_init__(self) -> None:
        if (self.audio is None) == (self.tts is None):
            given = "both audio and tts" if self.audio is not None else "neither audio nor tts"
            raise InvalidRequest(
                f"{given} given; allowed: exactly one of audio (a URL or file) or "
                "tts (text plus voice)",
                field="audio",
            )


@frozen(kw_only=True)
class JobHandle:
    """Everything needed to find a job again, in this process or another.

    ``resume`` carries provider-specific data (for example a status URL); plugins put
    there whatever their poll needs beyond the job id. ``local_id`` is the job's id in
    the client's job ledger, set by the client (plugins leave it out).
    """

    provider: str
    job_id: str
    created_at: dt.datetime
    model: str | None = None
    resume: Mapping[str, str] = field(factory=dict, hash=False)
    idempotency_key: str | None = None
    local_id: str | None = None

    def to_json(self) -> str:
        from lipbridge.convert import dumps

        return dumps(self)

    @classmethod
    def from_json(cls, text: str | bytes) -> JobHandle:
        from lipbridge.convert import loads

        return loads(text, cls)


@frozen(kw_only=True)
class BilledUsage:
    """What the provider says it charged, in its own unit, plus USD when it says so."""

    amount: Decimal
    unit: str
    usd: Decimal | None = None


@frozen(kw_only=True)
class JobResult:
    video_url: str
    cover_url: str | None = None
    duration_seconds: float | None = None
    expires_at: dt.datetime | None = None
    billed: BilledUsage | None = None


@frozen(kw_only=True)
class JobError:
    """Why a job failed. ``phase="result"``: its status said it finished, and fetching the
    result failed (fal.ai answers COMPLETED, then 422 for the result, or 499 for a job
    that was cancelled)."""

    message: str
    code: str | None = None
    phase: Literal["job", "result"] = field(
        default="job", validator=attrs.validators.in_(("job", "result"))
    )


@frozen(kw_only=True)
class JobStatus:
    """One observation of a job. ``raw_status`` is the provider's own word."""

    state: JobState
    raw_status: str
    progress: float | None = None  # percent, 0..100, when the provider reports it
    result: JobResult | None = None
    error: JobError | None = None
    poll_after: float | None = None  # seconds the provider suggests before the next poll
    # Jobs ahead of this one at the provider (0: next), and its newest log lines (bounded,
    # scrubbed): for people watching, never written to the ledger at each poll.
    queue_position: int | None = field(default=None, validator=check_queue_position)
    logs: tuple[str, ...] = field(default=(), converter=bounded_logs)

    def __attrs_post_init__(self) -> None:
        if self.state is JobState.SUCCEEDED and self.result is None:
            raise ValueError("a succeeded status needs a result")
        if self.failed_via_result and self.state not in (JobState.FAILED, JobState.CANCELLED):
            raise ValueError("an error in the result phase belongs to a failed or cancelled status")

    @property
    def failed_via_result(self) -> bool:
        return self.error is not None and self.error.phase == "result"

    def agrees_with(self, declared: JobState) -> bool:
        """Whether this status may carry a word its plugin declares as ``declared``.

        Besides the declared state: a success word reads as running while the result is
        not ready, as failed (the result failed, or older plugins' word with an error),
        or as cancelled when the result says so (``failed_via_result``); any unfinished
        word reads as cancelling in a cancel's answer (accepted while the job still ran).
        """
        if self.state is declared:
            return True
        if declared is JobState.SUCCEEDED:
            return self.state in (JobState.RUNNING, JobState.FAILED) or (
                self.state is JobState.CANCELLED and self.failed_via_result
            )
        return self.state is JobState.CANCELLING and not declared.terminal


@frozen(kw_only=True)
class MediaDurations:
    """Input and output lengths in seconds, as given or probed; None when not known."""

    video_seconds: float | None = None
    audio_seconds: float | None = None
    output_seconds: float | None = None


def _check_least(
    limits: InputLimits, attribute: attrs.Attribute[float | None], value: float | None
) -> None:
    """A least length is a number of seconds >= 0, not above the model's most."""
    if value is None:
        return
    field_ = attribute.name.removeprefix("min_").removesuffix("_seconds")
    most = getattr(limits, f"max_{field_}_seconds")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < math.inf:
        raise ValueError(f"{attribute.name}={value!r}: a number of seconds >= 0")
    if most is not None and value > most:
        raise ValueError(f"{attribute.name}={value!r} is above max_{field_}_seconds={most!r}")


@frozen(kw_only=True)
class InputLimits:
    """What a model's inputs may be: lengths in seconds and sizes in bytes, None for no
    limit. A local file, or a length given for an estimate, outside them is refused
    before anything is sent. The minimums came last: None, their default, is no least
    length, so a model that declares none is checked as before."""

    max_video_seconds: float | None = None
    max_audio_seconds: float | None = None
    max_video_bytes: int | None = None
    max_audio_bytes: int | None = None
    min_video_seconds: float | None = field(default=None, validator=_check_least)
    min_audio_seconds: float | None = field(default=None, validator=_check_least)


def _check_version(_: object, __: object, value: str | None) -> None:
    if value is not None and (not isinstance(value, str) or not VERSION.fullmatch(value)):
        raise InvalidRequest(
            f"version={shown(value)} is not a model version; allowed: letters, digits and "
            "._+- (at most 128)",
            field="model",
        )


@frozen(kw_only=True)
class ModelCapabilities:
    """What one model accepts; validation and the contract suite both read this."""

    name: str
    sync_modes: frozenset[SyncMode] = frozenset()
    default_sync_mode: SyncMode | None = None
    temperature: bool = False
    active_speaker: bool = False
    audio_input: bool = True
    tts_voices: tuple[str, ...] = ()
    callback: bool = False
    cancel: bool = False
    cost_estimate: bool = False
    local_files: bool = False  # accepts local files (sent inline, e.g. as data URIs)
    video_formats: tuple[str, ...] = ("mp4",)
    audio_formats: tuple[str, ...] = ("mp3", "wav")
    limits: InputLimits = InputLimits()
    output_url_ttl_seconds: float | None = None
    # Appended to the refusal of a sync mode: where the API offers modes of its own that
    # no canonical mode means, say how to ask for them (a provider option).
    sync_mode_hint: str = ""
    # Contract 1.4: the provider's own id for the model where it differs from ``name``;
    # the published version the plugin runs, which a user may replace (``name@version``);
    # options sent in the request's envelope rather than the model's input.
    native_id: str | None = None
    version: str | None = field(default=None, validator=_check_version)
    envelope_options: frozenset[str] = field(default=frozenset(), converter=option_names)


@frozen(kw_only=True)
class AuthScheme:
    """How the API key travels: ``header: prefix + key``."""

    header: str = "Authorization"
    prefix: str = "Bearer "


def _status_words(words: StatusMap | Mapping[str, JobState]) -> Mapping[str, JobState]:
    """A plugin's :class:`StatusMap` as its words; a plain mapping as given."""
    return words if isinstance(words, Mapping) else words.states


def _check_concurrency(_: object, __: object, value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"max_concurrent_jobs={value!r}; allowed: None or a whole number >= 1")


@frozen(kw_only=True)
class ProviderInfo:
    """A provider's self-description, returned by ``lipbridge_provider_info``."""

    name: str
    display_name: str
    docs_url: str
    contract_version: str
    default_base_url: str
    models: tuple[ModelCapabilities, ...]
    default_model: str
    auth: AuthScheme = AuthScheme()
    api_key_env: tuple[str, ...] = ()  # conventional variables, after LIPBRIDGE_<NAME>_API_KEY
    secret_headers: tuple[str, ...] = ()  # more headers to redact and strip on redirect
    idempotency_header: str | None = None  # set when submit may be retried with a key
    # Beyond 500/502/504: answers to a keyed submit that may come after the job was made,
    # as status -> a text its body then holds (sync.so: {503: "IDEMPOTENCY_OUTCOME_UNKNOWN"}).
    # After one, no later refusal of the same submit proves nothing was made (contract 1.4).
    maybe_created: Mapping[int, str] = field(factory=dict, hash=False)
    # Every status word the API documents, with its canonical state; the contract suite
    # checks each word seen in a cassette is declared here and mapped the same way.
    status_words: Mapping[str, JobState] = field(
        factory=dict, hash=False, converter=_status_words
    )
    # Jobs in flight at once that the provider allows (or that suit it), where its docs
    # say: a batch's default cap for this provider (contract 1.2).
    max_concurrent_jobs: int | None = field(default=None, validator=_check_concurrency)
    # A job whose status says it finished may fail when its result is fetched, with no
    # status word for failed (fal.ai): a poll then returns JobError(phase="result").
    fails_through_result: bool = False
    # Where the provider publishes the public keys (a JWKS) that sign its callbacks
    # (fal.ai's ED25519 keys). The core fetches and caches the set, since a callback hook
    # may do no I/O, and passes its keys as ``ctx.webhook_keys`` (contract 1.4, optional).
    webhook_jwks_url: str | None = None
    # Base URLs of the provider's other APIs that take the same key (fal.ai's platform API
    # https://api.fal.ai, its storage API https://rest.fal.ai); reached only through
    # lipbridge.hosts.api_http, never by an absolute URL in ctx.http (contract 1.4, optional).
    api_base_urls: tuple[str, ...] = ()

    def reports(self, state: JobState) -> bool:
        """Whether the plugin can report ``state``: a status word means it, or (failed)
        failures arrive through the result."""
        return state in self.status_words.values() or (
            state is JobState.FAILED and self.fails_through_result
        )

    def model(self, name: str | None) -> ModelCapabilities:
        """``name``'s capabilities (the default model's for None). ``base@version`` picks
        another published version of a model that declares a ``version``: its
        capabilities, named so, with ``version`` the pick and ``native_id`` set."""
        wanted = name or self.default_model
        for caps in self.models:
            if caps.name == wanted:
                return caps
        base, _, version = wanted.rpartition("@")
        for caps in self.models:
            if caps.name == base and caps.version is not None:
                return attrs.evolve(
                    caps, name=wanted, version=version, native_id=caps.native_id or base
                )
        allowed = [m.name for m in self.models]
        if base in allowed:
            raise UnsupportedOption(
                f"model={wanted!r}: {self.name}/{base} declares no version to choose; "
                f"allowed: {base}",
                field="model",
                allowed=[base],
            )
        raise UnsupportedOption(
            f"model={wanted!r} is not offered by {self.name}; allowed: {', '.join(allowed)}",
            field="model",
            allowed=allowed,
        )
