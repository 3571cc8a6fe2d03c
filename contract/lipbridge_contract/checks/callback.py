"""Reading a provider's callback: the optional ``lipbridge_parse_callback`` hook.

A receiver hands the hook whatever reaches its URL from the internet, and a signed
callback the hook verifies ends a waiting job with no poll. So the hook must read the
documented callback as the job's status, say ``verified`` only for a signature that
checks out, and refuse what an attacker can make of a real one: the body altered, or
the whole request replayed later. An unsigned callback is only taken where the user
opted in; the secret it is checked with never shows.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import TYPE_CHECKING

from lipbridge import CallbackRejected, ConfigurationError, LipbridgeError
from lipbridge.context import EPOCH
from lipbridge.plugin import CallbackUpdate, env_var
from lipbridge_contract.catalogue import CALLBACK, CALLBACK_HOOK
from lipbridge_contract.checks.base import Check, Verdict, hook_missing, present
from lipbridge_contract.checks.lifecycle import replay_problems
from lipbridge_contract.harness import (
    LogCapture,
    NetworkBlocked,
    ScriptedTransport,
    SteppedClock,
    UnrecordedRequest,
    network_blocked,
)
from lipbridge_contract.recorded import CassetteFormatError
from lipbridge_contract.replay import new_client, posted_callback

if TYPE_CHECKING:
    from lipbridge_contract.replay import Observation
    from lipbridge_contract.run import SuiteRun
    from lipbridge_contract.scenarios import ExpectedCallback, Scenario

# How far past the signature's time a replayed callback comes: past any tolerance a
# provider documents (five minutes is usual), yet plainly the same day's callback.
REPLAYED_AFTER = dt.timedelta(hours=1)


def tampered(body: bytes, job_id: str) -> bytes | None:
    """``body`` with its job id changed in one character (still the same JSON shape), as an
    attacker would redirect a real callback to another job; None when the id is not in
    it. Any signature worth the name covers the job id."""
    raw = job_id.encode()
    if raw not in body:
        return None
    other = raw[:-1] + (b"0" if raw[-1:] != b"0" else b"1")
    return body.replace(raw, other)


def _read(
    run: SuiteRun,
    scenario: Scenario,
    body: bytes,
    *,
    secret: str | None,
    unsigned: bool,
    later: dt.timedelta = dt.timedelta(0),
    jwks: str | None = None,
) -> CallbackUpdate | BaseException:
    """The scenario's POST with ``body``, read by a fresh client (with ``secret`` or the key
    set ``jwks``, taking unsigned callbacks or not, its clock ``later`` than the
    signature's time): what ``Client.parse_callback`` returned, or what it raised."""
    clock = SteppedClock(scenario.sidecar.signed_at or EPOCH)
    clock.sleep(later.total_seconds())
    client = new_client(
        run.registry, run.provider, run.key, clock, ScriptedTransport([]),
        scenario.sidecar.settings, webhook_secret=secret, unsigned_callbacks=unsigned,
        webhook_jwks=jwks,
    )
    posted = posted_callback(scenario)
    try:
        with network_blocked():
            return client.parse_callback(run.provider, posted.request_headers, body)
    except (Exception, UnrecordedRequest, NetworkBlocked) as exc:
        return exc


def _refused(
    got: CallbackUpdate | BaseException, want: type[LipbridgeError], what: str
) -> str | None:
    """None when ``got`` is the refusal ``want``; else what went wrong with ``what``."""
    if isinstance(got, want):
        return None
    if isinstance(got, CallbackUpdate):
        return f"{what} was accepted ({got.status.state.value}); it must raise {want.__name__}"
    return f"{what} raised {type(got).__name__}: {got}; it must raise {want.__name__}"


def _read_problems(obs: Observation, expected: ExpectedCallback) -> list[str]:
    """The replay read what the sidecar expects."""
    got = obs.callback
    if got is None:
        return ["the callback step read nothing"]
    problems = []
    if got.job_id != expected.job_id:
        problems.append(f"the job id read is {got.job_id!r}, the sidecar expects "
                        f"{expected.job_id!r}")
    if got.status.state is not expected.state:
        problems.append(f"the state read is {got.status.state.value} ({got.status.raw_status}), "
                        f"the sidecar expects {expected.state.value}")
    if got.verified != expected.verified:
        problems.append(
            f"verified is {got.verified}, the sidecar expects {expected.verified}: a callback is "
            "verified only by a signature that checks out against the webhook secret"
        )
    return problems


def _probes(run: SuiteRun, obs: Observation, expected: ExpectedCallback) -> tuple[
    list[tuple[str, CallbackUpdate | BaseException, type[LipbridgeError]]], list[str]
]:
    """What each attack on the recorded callback got, with the refusal it must get; and
    notes on probes that could not be made."""
    scenario = obs.scenario
    secret, jwks = scenario.sidecar.webhook_secret, scenario.sidecar.webhook_jwks
    body = posted_callback(scenario).request_body
    probes: list[tuple[str, CallbackUpdate | BaseException, type[LipbridgeError]]] = []
    notes: list[str] = []
    read = functools.partial(_read, run, scenario, jwks=jwks)
    if jwks is not None:
        probes.append((
            "the callback checked against another key set",
            read(body, secret=None, unsigned=True, jwks=other_keys(jwks)),
            CallbackRejected,
        ))
    elif secret is None:
        probes.append((
            f"the unsigned callback, without {env_var(run.provider, 'UNSIGNED_CALLBACKS')}"
            "=accept,",
            read(body, secret=None, unsigned=False),
            CallbackRejected,
        ))
        return probes, notes
    else:
        probes.append((
            "the callback checked against another webhook secret",
            read(body, secret=f"{secret}-lbcontract-other", unsigned=True),
            CallbackRejected,
        ))
    altered = tampered(body, expected.job_id)
    if altered is None:
        notes.append(f"{scenario.name}: the job id is not in the body; no tampering probe")
    else:
        probes.append((
            "the callback with its body altered (another job id)",
            read(altered, secret=secret, unsigned=True),
            CallbackRejected,
        ))
    if scenario.sidecar.signed_at is None:
        notes.append(f"{scenario.name}: no signed_at, so no replay probe (an untimed signature)")
    else:
        probes.append((
            f"the callback replayed {REPLAYED_AFTER.total_seconds() / 3600:g} h after it was "
            "signed",
            read(body, secret=secret, unsigned=True, later=REPLAYED_AFTER),
            CallbackRejected,
        ))
    if jwks is not None:  # without one, the core fetches the provider's: no I/O in a replay
        return probes, notes
    probes.append((
        "the signed callback read with no webhook secret configured",
        read(body, secret=None, unsigned=True),
        ConfigurationError,
    ))
    return probes, notes


def other_keys(jwks: str) -> str:
    """``jwks`` with every key's public value (``x``, ``n``) changed in one character: keys
    that are well-formed but sign nothing the provider sent."""
    data = json.loads(jwks)
    for key in data.get("keys", []):
        for name in ("x", "n"):
            value = key.get(name)
            if isinstance(value, str) and value:
                key[name] = ("B" if value[0] != "B" else "C") + value[1:]
    return json.dumps(data)


def _secret_shown(secret: str | None, obs: Observation, errors: list[BaseException],
                  logs: list[str]) -> list[str]:
    """Where the webhook secret showed: in what was read, a refusal, or a log record."""
    if not secret:
        return []
    places = {"log record": "\n".join([*obs.logs, *logs]), "callback read": repr(obs.callback)}
    for exc in errors:
        places[type(exc).__name__] = f"{exc} {exc!r} {vars(exc)!r}"
    return [f"the webhook secret appears in the {where}" for where, text in places.items()
            if secret in text]


def _judge(run: SuiteRun, obs: Observation) -> tuple[list[str], list[str]]:
    """The problems with one callback replay, and its notes."""
    expected = obs.scenario.sidecar.expect.callback
    if expected is None or obs.error is not None:  # an expected refusal: errors judges it
        return [], []
    problems = _read_problems(obs, expected)
    if problems:
        return problems, []
    with LogCapture().installed() as logs:
        probes, notes = _probes(run, obs, expected)
    for what, got, want in probes:
        problem = _refused(got, want, what)
        if problem:
            problems.append(problem)
    errors = [got for _, got, _ in probes if isinstance(got, BaseException)]
    problems += _secret_shown(obs.scenario.sidecar.webhook_secret, obs, errors, logs.messages)
    return problems, notes


def _meaning_problems(run: SuiteRun, problems: list[str], notes: list[str]) -> None:
    """The standard callback scenario exists and is a callback read without error."""
    scenario = present(run, CALLBACK, problems, notes)
    if scenario is not None and scenario.sidecar.expect.callback is None:
        problems.append(
            f"{CALLBACK.name}: its sidecar expects no callback read; this scenario means the "
            "provider's documented callback, read"
        )


def _callback(run: SuiteRun) -> Verdict:
    missing = hook_missing(run, CALLBACK_HOOK, "the core polls this provider's jobs")
    if missing is not None:
        return missing
    problems: list[str] = []
    notes: list[str] = []
    _meaning_problems(run, problems, notes)
    judged = 0
    for name, obs in run.observations.items():
        if not obs.scenario.sidecar.callbacks or replay_problems(obs):  # lifecycle says
            continue
        judged += 1
        try:
            found, noted = _judge(run, obs)
        except CassetteFormatError as exc:
            found, noted = [str(exc)], []
        problems += [f"{name}: {p}" for p in found]
        notes += noted
    return Verdict.of(problems, "; ".join([f"{judged} callbacks read as recorded", *notes]))


CALLBACKS = Check("callback", "Reading a callback (optional hook)", _callback)
