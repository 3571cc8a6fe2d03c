"""What a provider's cassette directory holds: scenarios, their sidecars, the suite config.

A directory ``<root>/<provider>/`` has one vcrpy cassette per scenario
(``<scenario>.yaml``), a sidecar beside it (``<scenario>.sidecar.yaml``) saying what the
replay must show and where the bodies came from, and an optional ``suite.yaml`` with the
plugin's cost tolerance and written bypass reasons. Everything is parsed here, once,
with errors that name the file and the field.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import attrs
import yaml
from attrs import field, frozen

from lipbridge import JobRequest, JobState, LipbridgeError, errors
from lipbridge.convert import structure
from lipbridge.plugin import LocalMedia, MediaDurations, timestamp
from lipbridge_contract.catalogue import STANDARD_SCENARIOS
from lipbridge_contract.testing import local_media

STEPS = ("submit", "poll", "wait", "cancel", "find", "upload", "callback")
# Steps that start a scenario from a request; ``upload`` starts (and is) one from a file,
# ``callback`` one from the provider's POST its cassette holds; the others act on a handle.
REQUEST_STEPS = ("submit", "find")
UPLOAD_STEP = "upload"
CALLBACK_STEP = "callback"
ALONE_STEPS = (UPLOAD_STEP, CALLBACK_STEP)  # each is its scenario's only step
MEDIA_KINDS = ("video", "audio")
MEDIA_BUDGET = 1024  # bytes of an upload's stand-in file: its cassette holds them
SIDECAR_SUFFIX = ".sidecar.yaml"
SUITE_FILE = "suite.yaml"
# Where a scenario's bodies may come from, and what its provenance must then say.
PROVENANCE_NEEDS = {
    "documentation": ("url",),
    "live": ("recorded_at", "plugin_version", "base_url"),
    "emulator": ("recorded_at", "plugin_version", "base_url", "emulator_version", "emulator_seed"),
}
SOURCES = tuple(PROVENANCE_NEEDS)
# Where a quoted body was found, when the documentation page does not show it.
QUOTE_KINDS = ("issue-thread", "docs")
# Capabilities whose scenario is any request using them, bypassed under these names;
# "price" excuses an unknown estimate for a job whose bill was recorded.
BYPASS_FEATURES = ("tts", "callback", "price")
# Checks no written reason can skip.
NEVER_BYPASSED = frozenset({"secrets-static", "secrets-canary", "hygiene"})
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class ScenarioError(Exception):
    """A cassette directory that cannot be used as written."""


def _error_class(name: object, where: str) -> type[LipbridgeError]:
    cls = getattr(errors, str(name), None)
    if not (isinstance(cls, type) and issubclass(cls, LipbridgeError)):
        raise ScenarioError(f"{where}: expect.error.class {name!r} is not a lipbridge error class")
    return cls


@frozen(kw_only=True)
class Assumption:
    """Part of a body the documentation does not show, written from a reasoned guess."""

    what: str  # which part, e.g. "the 402 body"
    why: str  # why it reads so, e.g. "the docs name the status and the error shape only"


@frozen(kw_only=True)
class Quote:
    """Where a body the documentation page does not show was quoted from."""

    url: str
    kind: str  # one of QUOTE_KINDS


@frozen(kw_only=True)
class Provenance:
    source: str  # one of SOURCES
    url: str | None = None  # the documentation page the bodies came from
    recorded_at: str | None = None  # recordings: when, with which plugin, against what
    plugin_version: str | None = None
    base_url: str | None = None
    emulator_version: str | None = None  # emulator recordings: which emulator, which seed,
    emulator_seed: str | None = None  # and whose dialect answered (built in or a plugin's)
    emulator_dialect: str | None = None
    note: str | None = None
    # Structured, so the report can list what a certification rests on besides the docs.
    assumed: tuple[Assumption, ...] = ()
    quoted_from: Quote | None = None

    def caveats(self) -> tuple[str, ...]:
        """What the bodies rest on besides the cited page, one line each."""
        lines = [f"assumed {a.what}: {a.why}" for a in self.assumed]
        if self.quoted_from is not None:
            lines.append(f"quoted from {self.quoted_from.kind} {self.quoted_from.url}")
        return tuple(lines)


@frozen(kw_only=True)
class ExpectedError:
    step: str
    cls: type[LipbridgeError]
    retryable: bool | None = None
    retry_after: float | None = None
    code: str | None = None
    # Text the raised error's message must hold, each piece as written: the provider's own
    # explanation, which a plugin that raises a bare class would lose. Empty: not checked.
    message_contains: tuple[str, ...] = ()


@frozen(kw_only=True)
class ExpectedJob:
    """A job the ``find`` step must return, in order."""

    job_id: str
    created_at: dt.datetime | None = None  # compared as an instant when given


@frozen(kw_only=True)
class ExpectedUpload:
    """What the ``upload`` step must return."""

    reference: str
    expires_at: dt.datetime | None = None  # compared as an instant; None: never expires


@frozen(kw_only=True)
class ExpectedCallback:
    """What the ``callback`` step must read from the provider's POST."""

    job_id: str
    state: JobState
    verified: bool  # True exactly when the sidecar gives the webhook_secret it is signed with


@frozen(kw_only=True)
class Expectation:
    states: tuple[JobState, ...]
    result: Mapping[str, Any] | None = field(default=None, hash=False)
    error: ExpectedError | None = None
    jobs: tuple[ExpectedJob, ...] | None = None  # what ``find`` returns; None: no find step
    uploaded: ExpectedUpload | None = None  # what ``upload`` returns; None: none returned
    callback: ExpectedCallback | None = None  # what ``callback`` reads; None: none read


@frozen(kw_only=True)
class MediaFile:
    """The local file an ``upload`` step sends: a few bytes of text standing in for the
    media. The upload hook gets it as the core hands over a probed file; nothing decodes
    it, and the cassette that records it stays small and readable."""

    kind: str  # one of MEDIA_KINDS: the request field it fills
    name: str  # its file name
    media_type: str
    content: bytes
    duration: float | None = None

    def write(self, folder: Path) -> LocalMedia:
        """Write it into ``folder``; the ``LocalMedia`` the core would hand the hook."""
        return local_media(
            folder / self.name, self.content, self.media_type, self.kind, self.duration
        )


@frozen(kw_only=True)
class Sidecar:
    description: str
    provenance: Provenance
    steps: tuple[str, ...]
    expect: Expectation
    request: JobRequest | None = None
    handle: Mapping[str, Any] | None = field(default=None, hash=False)
    durations: MediaDurations | None = None
    # Provider settings for this scenario (``ctx.settings``), e.g. a documented older
    # field layout the plugin can be switched to.
    settings: Mapping[str, str] = field(factory=dict, hash=False)
    since: dt.datetime | None = None  # the find step's ``since``
    media: MediaFile | None = None  # the upload step's file
    # A callback scenario's signature: the secret it is signed with (None: unsigned) and the
    # time it was signed at, when the signature carries one (the replay's clock stands there).
    webhook_secret: str | None = field(default=None, repr=False)
    signed_at: dt.datetime | None = None
    # Or, for a provider that signs with public keys, the test key set (JWKS JSON) the
    # callback verifies under, given to the client as LIPBRIDGE_<PROVIDER>_WEBHOOK_JWKS.
    webhook_jwks: str | None = None

    @property
    def finds(self) -> bool:
        """Whether the scenario starts by looking its request's job up (``find``)."""
        return self.steps[0] == "find"

    @property
    def uploads(self) -> bool:
        """Whether the scenario is an upload of its ``media`` (``upload``)."""
        return self.steps[0] == UPLOAD_STEP

    @property
    def callbacks(self) -> bool:
        """Whether the scenario is the provider's callback its cassette holds (``callback``)."""
        return self.steps[0] == CALLBACK_STEP


@frozen(kw_only=True)
class Scenario:
    name: str
    cassette: Path
    sidecar_path: Path
    sidecar: Sidecar

    @property
    def standard(self) -> bool:
        return self.name in STANDARD_SCENARIOS


@frozen(kw_only=True)
class SuiteConfig:
    """The plugin's own settings for its certification."""

    cost_tolerance: Decimal = Decimal(0)  # relative difference allowed, estimate vs billed
    bypass: Mapping[str, str] = field(factory=dict, hash=False)  # scenario -> written reason


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ScenarioError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ScenarioError(f"{path}: not readable as safe YAML: {exc}") from None


def _provenance(data: object, where: str) -> Provenance:
    data = _mapping(data, f"{where}: provenance")
    source = data.get("source")
    if source not in SOURCES:
        raise ScenarioError(f"{where}: provenance.source={source!r}; allowed: {SOURCES}")
    # Absent or empty; a seed of 0 is a value.
    absent = [name for name in PROVENANCE_NEEDS[source] if data.get(name) in (None, "")]
    if absent:
        raise ScenarioError(f"{where}: {source} provenance needs {', '.join(absent)}")
    known = {a.name for a in attrs.fields(Provenance)}
    extra = sorted(set(data) - known)
    if extra:
        raise ScenarioError(f"{where}: unknown provenance fields {extra}; allowed: {sorted(known)}")
    structured = {"assumed", "quoted_from"}
    return Provenance(
        **{k: str(v) for k, v in data.items() if k not in structured},
        assumed=_assumed(data.get("assumed"), where),
        quoted_from=_quote(data.get("quoted_from"), where),
    )


def _texts(data: object, names: tuple[str, ...], where: str) -> dict[str, str]:
    """A mapping of exactly ``names``, each to non-empty text."""
    data = _mapping(data, where)
    bad = [n for n in names if not isinstance(data.get(n), str) or not data[n].strip()]
    if bad:
        raise ScenarioError(f"{where}.{bad[0]} is required (non-empty text)")
    extra = sorted(set(data) - set(names))
    if extra:
        raise ScenarioError(f"{where}: unknown fields {extra}; allowed: {list(names)}")
    return {n: data[n] for n in names}


def _assumed(data: object, where: str) -> tuple[Assumption, ...]:
    if data is None:
        return ()
    if not isinstance(data, list) or not data:
        raise ScenarioError(
            f"{where}: provenance.assumed must be a list of {{what, why}} (omit it for none)"
        )
    return tuple(
        Assumption(**_texts(item, ("what", "why"), f"{where}: provenance.assumed[{n}]"))
        for n, item in enumerate(data)
    )


def _quote(data: object, where: str) -> Quote | None:
    if data is None:
        return None
    quote = Quote(**_texts(data, ("url", "kind"), f"{where}: provenance.quoted_from"))
    if quote.kind not in QUOTE_KINDS:
        raise ScenarioError(
            f"{where}: provenance.quoted_from.kind={quote.kind!r}; allowed: {QUOTE_KINDS}"
        )
    if not quote.url.startswith("https://"):
        raise ScenarioError(
            f"{where}: provenance.quoted_from.url={quote.url!r} is not an https URL"
        )
    return quote


def _instant(value: object, where: str) -> dt.datetime:
    """An ISO 8601 time, quoted or as YAML wrote it; UTC when it names no offset."""
    text = value.isoformat() if isinstance(value, dt.datetime) else value
    when = timestamp(text)
    if when is None:
        raise ScenarioError(f"{where}: {value!r} is not an ISO 8601 time")
    return when


def _jobs(data: object, where: str) -> tuple[ExpectedJob, ...]:
    if not isinstance(data, list):
        raise ScenarioError(f"{where}: expect.jobs must be a list (empty: nothing found)")
    jobs = []
    for n, item in enumerate(data):
        item = _mapping(item, f"{where}: expect.jobs[{n}]")
        if not isinstance(item.get("job_id"), str) or not item["job_id"]:
            raise ScenarioError(f"{where}: expect.jobs[{n}].job_id is required")
        created = item.get("created_at")
        jobs.append(ExpectedJob(
            job_id=item["job_id"],
            created_at=None if created is None else _instant(
                created, f"{where}: expect.jobs[{n}].created_at"
            ),
        ))
    return tuple(jobs)


def _expectation(
    data: object, steps: tuple[str, ...], signed: bool, where: str
) -> Expectation:
    data = _mapping(data, f"{where}: expect")
    try:
        states = tuple(JobState(s) for s in data.get("states") or ())
    except ValueError as exc:
        raise ScenarioError(f"{where}: expect.states: {exc}") from None
    error = None
    if data.get("error") is not None:
        raw = _mapping(data["error"], f"{where}: expect.error")
        if raw.get("step") not in steps:
            raise ScenarioError(
                f"{where}: expect.error.step={raw.get('step')!r} is not one of steps {steps}"
            )
        after = raw.get("retry_after")
        error = ExpectedError(
            step=raw["step"],
            cls=_error_class(raw.get("class"), where),
            retryable=raw.get("retryable"),
            retry_after=None if after is None else float(after),
            code=None if raw.get("code") is None else str(raw["code"]),
            message_contains=_pieces(raw.get("message_contains"), where),
        )
    result = data.get("result")
    finds = steps[0] == "find"
    if finds != ("jobs" in data):
        raise ScenarioError(
            f"{where}: expect.jobs is what a find step returns: "
            + ("a scenario that starts with find needs it" if finds else "there is no find step")
        )
    returns = steps[0] == UPLOAD_STEP and error is None  # what an upload gave back
    if "uploaded" in data and not returns:
        why = "this one raises" if steps[0] == UPLOAD_STEP else "there is no upload step"
        raise ScenarioError(f"{where}: expect.uploaded is what an upload step returns; {why}")
    if returns and "uploaded" not in data:
        raise ScenarioError(f"{where}: an upload that raises no error needs expect.uploaded")
    callback = None
    reads = steps[0] == CALLBACK_STEP and error is None  # what a callback step read
    if "callback" in data and not reads:
        why = "this one raises" if steps[0] == CALLBACK_STEP else "there is no callback step"
        raise ScenarioError(f"{where}: expect.callback is what a callback step reads; {why}")
    if reads:
        if "states" in data:
            raise ScenarioError(
                f"{where}: a callback scenario's state is expect.callback.state, not expect.states"
            )
        callback = _callback(data.get("callback"), signed, where)
        states = (callback.state,)
    return Expectation(
        states=states,
        result=None if result is None else _mapping(result, f"{where}: expect.result"),
        error=error,
        jobs=_jobs(data["jobs"], where) if finds else None,
        uploaded=_uploaded(data["uploaded"], where) if "uploaded" in data else None,
        callback=callback,
    )


def _pieces(value: object, where: str) -> tuple[str, ...]:
    """``expect.error.message_contains``: one piece of text or a list of them."""
    if value is None:
        return ()
    pieces = [value] if isinstance(value, str) else value if isinstance(value, list) else None
    if not pieces or any(not isinstance(p, str) or not p for p in pieces):
        raise ScenarioError(
            f"{where}: expect.error.message_contains must be text, or a list of text, none "
            f"of it empty; got {value!r}"
        )
    return tuple(pieces)


def _callback(data: object, signed: bool, where: str) -> ExpectedCallback:
    data = _mapping(data, f"{where}: expect.callback (needed by a callback that raises no error)")
    job_id, state, verified = data.get("job_id"), data.get("state"), data.get("verified")
    if not isinstance(job_id, str) or not job_id:
        raise ScenarioError(f"{where}: expect.callback.job_id is required (a string)")
    try:
        read = JobState(state)
    except ValueError:
        raise ScenarioError(
            f"{where}: expect.callback.state={state!r}; allowed: {[s.value for s in JobState]}"
        ) from None
    if verified is not signed:
        raise ScenarioError(
            f"{where}: expect.callback.verified must be {str(signed).lower()}: a callback is "
            "verified exactly when the sidecar gives the webhook_secret it is signed with"
        )
    return ExpectedCallback(job_id=job_id, state=read, verified=verified)


def _uploaded(data: object, where: str) -> ExpectedUpload:
    data = _mapping(data, f"{where}: expect.uploaded")
    reference = data.get("reference")
    if not isinstance(reference, str) or not reference:
        raise ScenarioError(f"{where}: expect.uploaded.reference is required (a string)")
    expires = data.get("expires_at")
    return ExpectedUpload(
        reference=reference,
        expires_at=None
        if expires is None
        else _instant(expires, f"{where}: expect.uploaded.expires_at"),
    )


def _media(data: object, where: str) -> MediaFile:
    data = _mapping(data, f"{where}: media (needed by an upload step)")
    kind, name, media_type = data.get("kind"), data.get("name"), data.get("media_type")
    content, duration = data.get("content"), data.get("duration")
    if kind not in MEDIA_KINDS:
        raise ScenarioError(f"{where}: media.kind={kind!r}; allowed: {MEDIA_KINDS}")
    if not isinstance(name, str) or not name or name in (".", "..") or "/" in name:
        raise ScenarioError(f"{where}: media.name must be a file name, not {name!r}")
    if not isinstance(media_type, str) or "/" not in media_type:
        raise ScenarioError(f"{where}: media.media_type must be a MIME type, not {media_type!r}")
    if not isinstance(content, str) or len(content.encode()) > MEDIA_BUDGET:
        raise ScenarioError(
            f"{where}: media.content must be text of at most {MEDIA_BUDGET} bytes, standing "
            "in for the file (cassettes record it)"
        )
    seconds = duration is None or (
        isinstance(duration, (int, float)) and not isinstance(duration, bool) and duration >= 0
    )
    if not seconds:
        raise ScenarioError(f"{where}: media.duration must be seconds, not {duration!r}")
    return MediaFile(
        kind=kind, name=name, media_type=media_type, content=content.encode(),
        duration=None if duration is None else float(duration),
    )


def parse_sidecar(path: Path) -> Sidecar:
    where = str(path)
    data = _mapping(_load_yaml(path), where)
    steps = tuple(data.get("steps") or ())
    bad = [s for s in steps if s not in STEPS]
    if not steps or bad:
        raise ScenarioError(f"{where}: steps={list(steps)}; each step is one of {STEPS}")
    late = [s for s in steps[1:] if s in REQUEST_STEPS]
    if late:
        raise ScenarioError(f"{where}: steps={list(steps)}; {late[0]} can only be the first step")
    alone = next((s for s in ALONE_STEPS if s in steps), None)
    if alone is not None and steps != (alone,):
        raise ScenarioError(f"{where}: steps={list(steps)}; {alone} is a scenario's only step")
    uploads, callbacks = alone == UPLOAD_STEP, alone == CALLBACK_STEP
    given = [name for name in ("request", "handle", "since") if data.get(name) is not None]
    if alone is not None and given:
        what = "an upload scenario sends its media" if uploads else (
            "a callback scenario reads the POST its cassette holds"
        )
        raise ScenarioError(f"{where}: {what}, not {given[0]}")
    if not uploads and data.get("media") is not None:
        raise ScenarioError(f"{where}: media is the upload step's; this scenario has none")
    secret, signed_at = _signature(data, callbacks, where)
    jwks = _key_set(data, callbacks, secret, where)
    request = handle = None
    since = None
    if steps[0] == "find":
        if data.get("since") is None:
            raise ScenarioError(f"{where}: a scenario that starts with find needs since")
        since = _instant(data["since"], f"{where}: since")
    elif data.get("since") is not None:
        raise ScenarioError(f"{where}: since is the find step's; this scenario has none first")
    if steps[0] in REQUEST_STEPS:
        if data.get("request") is None:
            raise ScenarioError(
                f"{where}: a scenario that starts with {steps[0]} needs a request"
            )
        try:
            request = structure(dict(_mapping(data["request"], f"{where}: request")), JobRequest)
        except LipbridgeError as exc:
            raise ScenarioError(f"{where}: request: {exc}") from None
    elif alone is None:
        handle = _mapping(data.get("handle"), f"{where}: handle (needed without a submit)")
        if not handle.get("job_id"):
            raise ScenarioError(f"{where}: handle.job_id is required")
    durations = None
    if data.get("durations") is not None:
        try:
            durations = structure(dict(data["durations"]), MediaDurations)
        except (LipbridgeError, TypeError, ValueError) as exc:
            raise ScenarioError(f"{where}: durations: {exc}") from None
    if not data.get("description"):
        raise ScenarioError(f"{where}: description is required")
    settings = _mapping(data.get("settings") or {}, f"{where}: settings")
    if any(not isinstance(v, str) for v in settings.values()) or "api_key" in settings:
        raise ScenarioError(f"{where}: settings maps setting names to strings (not api_key)")
    return Sidecar(
        description=str(data["description"]),
        provenance=_provenance(data.get("provenance"), where),
        steps=steps,
        expect=_expectation(
            data.get("expect") or {}, steps, secret is not None or jwks is not None, where
        ),
        request=request,
        handle=handle,
        durations=durations,
        settings={str(k): v for k, v in settings.items()},
        since=since,
        media=_media(data.get("media"), where) if uploads else None,
        webhook_secret=secret,
        signed_at=signed_at,
        webhook_jwks=jwks,
    )


def _key_set(
    data: Mapping[str, Any], callbacks: bool, secret: str | None, where: str
) -> str | None:
    """A callback scenario's ``webhook_jwks`` (the public test keys it is signed under,
    ``{"keys": [...]}``), as JSON; never beside a ``webhook_secret``."""
    jwks = data.get("webhook_jwks")
    if jwks is None:
        return None
    if not callbacks or secret is not None:
        raise ScenarioError(
            f"{where}: webhook_jwks is a callback step's signature, instead of webhook_secret"
        )
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        raise ScenarioError(f'{where}: webhook_jwks must be a key set, {{"keys": [...]}}')
    return json.dumps(jwks)


def _signature(
    data: Mapping[str, Any], callbacks: bool, where: str
) -> tuple[str | None, dt.datetime | None]:
    """A callback scenario's ``webhook_secret`` (a test secret, never a real one: the file is
    committed) and ``signed_at``, which only a signature can have."""
    secret, signed_at = data.get("webhook_secret"), data.get("signed_at")
    if not callbacks and (secret is not None or signed_at is not None):
        raise ScenarioError(
            f"{where}: webhook_secret and signed_at are a callback step's; this scenario has none"
        )
    if secret is not None and (not isinstance(secret, str) or not secret):
        raise ScenarioError(f"{where}: webhook_secret must be the test secret, as a string")
    if signed_at is not None and secret is None and data.get("webhook_jwks") is None:
        raise ScenarioError(
            f"{where}: signed_at is a signature's time; give its webhook_secret or webhook_jwks"
        )
    return secret, None if signed_at is None else _instant(signed_at, f"{where}: signed_at")


def parse_suite_config(path: Path) -> SuiteConfig:
    if not path.exists():
        return SuiteConfig()
    data = _mapping(_load_yaml(path) or {}, str(path))
    try:
        tolerance = Decimal(str(data.get("cost_tolerance", 0)))
    except InvalidOperation:
        raise ScenarioError(f"{path}: cost_tolerance must be a number") from None
    bypass = _mapping(data.get("bypass") or {}, f"{path}: bypass")
    refused = sorted(NEVER_BYPASSED & set(bypass))
    if refused:
        raise ScenarioError(f"{path}: {', '.join(refused)} can never be bypassed")
    empty = [name for name, reason in bypass.items() if not str(reason or "").strip()]
    if empty:
        raise ScenarioError(f"{path}: bypass entries need a written reason: {empty}")
    return SuiteConfig(cost_tolerance=tolerance, bypass={str(k): str(v) for k, v in bypass.items()})


@frozen(kw_only=True)
class CassetteDir:
    """One provider's scenarios, plus whatever in the directory could not be used."""

    path: Path
    scenarios: tuple[Scenario, ...]
    config: SuiteConfig
    problems: tuple[str, ...] = ()  # unusable files: missing sidecars, unreadable YAML

    def get(self, name: str) -> Scenario | None:
        return next((s for s in self.scenarios if s.name == name), None)

    @property
    def cassette_files(self) -> list[Path]:
        return sorted(self.path.glob("*.yaml"))


def load_cassette_dir(path: Path) -> CassetteDir:
    """Read every scenario in ``path``; a bad file is a problem, not an exception."""
    scenarios, problems = [], []
    config = SuiteConfig()
    try:
        config = parse_suite_config(path / SUITE_FILE)
    except ScenarioError as exc:
        problems.append(str(exc))
    files = sorted(path.glob("*.yaml")) if path.is_dir() else []
    cassettes = [f for f in files if not f.name.endswith(SIDECAR_SUFFIX) and f.name != SUITE_FILE]
    names = {f.stem for f in cassettes}
    for f in files:
        if f.name.endswith(SIDECAR_SUFFIX) and f.name[: -len(SIDECAR_SUFFIX)] not in names:
            problems.append(f"{f}: sidecar without a cassette")
    for cassette in cassettes:
        name, sidecar = cassette.stem, cassette.with_name(cassette.stem + SIDECAR_SUFFIX)
        if not _NAME.match(name):
            problems.append(f"{cassette}: scenario names are lower_snake_case")
        elif not sidecar.exists():
            problems.append(f"{cassette}: no sidecar {sidecar.name}")
        else:
            try:
                scenarios.append(
                    Scenario(
                        name=name,
                        cassette=cassette,
                        sidecar_path=sidecar,
                        sidecar=parse_sidecar(sidecar),
                    )
                )
            except ScenarioError as exc:
                problems.append(str(exc))
            except (TypeError, ValueError) as exc:  # a value of the wrong type in the YAML
                problems.append(f"{sidecar}: {type(exc).__name__}: {exc}")
    known = set(STANDARD_SCENARIOS) | {s.name for s in scenarios} | set(BYPASS_FEATURES)
    problems += [
        f"{path / SUITE_FILE}: bypass.{name} names no scenario or feature; allowed: "
        f"{', '.join(sorted(known))}"
        for name in config.bypass
        if name not in known
    ]
    return CassetteDir(
        path=path, scenarios=tuple(scenarios), config=config, problems=tuple(problems)
    )
