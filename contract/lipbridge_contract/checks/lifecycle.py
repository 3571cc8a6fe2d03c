"""Checks of what each replayed scenario showed: its states, its result, its handle."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from lipbridge import JobResult, JobState, LipbridgeError
from lipbridge_contract.catalogue import SUCCESS
from lipbridge_contract.checks.base import Check, Verdict, needs_scenario

if TYPE_CHECKING:
    from lipbridge_contract.replay import Observation
    from lipbridge_contract.run import SuiteRun


def path_text(obs: Observation) -> str:
    return " -> ".join(f"{s.state.value}({s.raw_status})" for s in obs.statuses) or "(none)"


def replay_problems(obs: Observation) -> list[str]:
    """Why a replay cannot be trusted at all: it went off the recording."""
    name = obs.scenario.name
    if obs.harness_problem:
        return [f"{name}: {obs.harness_problem}"]
    if not obs.all_played:
        stopped = ""
        if obs.error is not None and obs.scenario.sidecar.expect.error is None:
            stopped = f" (step {obs.error_step} raised {type(obs.error).__name__}: {obs.error})"
        return [
            f"{name}: the plugin made {obs.played} of the {obs.recorded} recorded requests"
            f"{stopped}; every recorded interaction must be played"
        ]
    return []


def _illegal_transition(obs: Observation) -> str | None:
    ended: JobState | None = None
    for status in obs.statuses:
        if ended is not None and status.state is not ended:
            return f"{ended.value} is terminal, yet a later status is {status.state.value}"
        if status.state.terminal:
            ended = status.state
    return None


def _same(field: str, want: Any, got: Any) -> bool:
    if field == "duration_seconds":
        return got is not None and math.isclose(float(want), got, abs_tol=1e-6)
    if field == "expires_at":
        return got is not None and dt.datetime.fromisoformat(str(want)) == got
    return bool(want == got)


def _money(value: object) -> object:
    """Amounts compare as numbers ("24" == 24.0); units as text."""
    if value is None or (isinstance(value, str) and not value.replace(".", "", 1).isdigit()):
        return value
    return Decimal(str(value)).normalize()


def result_problems(want: dict[str, Any], got: JobResult | None) -> list[str]:
    if got is None:
        return ["the sidecar expects a result, but the job gave none"]
    problems = []
    for field, value in want.items():
        if field == "billed":
            billed = got.billed
            actual = None if billed is None else attrs.asdict(billed)
            if actual is None or any(
                _money(v) != _money(actual.get(k)) for k, v in dict(value).items()
            ):
                problems.append(f"billed is {actual}, the sidecar expects {dict(value)}")
        elif not hasattr(got, field):
            problems.append(f"the sidecar names result field {field!r}, which JobResult lacks")
        elif not _same(field, value, getattr(got, field)):
            problems.append(f"{field} is {getattr(got, field)!r}, the sidecar expects {value!r}")
    return problems


def _lifecycle(run: SuiteRun) -> Verdict:
    problems = []
    for name, obs in run.observations.items():
        broken = replay_problems(obs)
        if broken:
            problems += broken
            continue
        expect = obs.scenario.sidecar.expect
        illegal = _illegal_transition(obs)
        if illegal:
            problems.append(f"{name}: illegal state path {path_text(obs)}: {illegal}")
        if obs.states != expect.states:
            want = " -> ".join(s.value for s in expect.states) or "(none)"
            problems.append(f"{name}: states {path_text(obs)}; the sidecar expects {want}")
        if obs.error is not None and expect.error is None:
            problems.append(
                f"{name}: step {obs.error_step} raised {type(obs.error).__name__}: {obs.error}"
            )
        elif expect.error is not None and obs.error is None:
            problems.append(
                f"{name}: the sidecar expects {expect.error.cls.__name__} at step "
                f"{expect.error.step}, but nothing was raised"
            )
        elif expect.error is not None and obs.error_step != expect.error.step:
            problems.append(
                f"{name}: the error came at step {obs.error_step}, the sidecar expects it at "
                f"{expect.error.step}"
            )
        if expect.result is not None:
            result = obs.result
            if result is None and obs.statuses and obs.statuses[-1].result is not None:
                result = obs.statuses[-1].result
            problems += [f"{name}: {p}" for p in result_problems(dict(expect.result), result)]
    return Verdict.of(problems, f"{len(run.observations)} scenarios replayed as recorded")


def _resume(run: SuiteRun) -> Verdict:
    missing = needs_scenario(run, SUCCESS.name, "resume")
    if missing:
        return missing
    obs = run.observations[SUCCESS.name]
    if obs.handle is None or obs.handle_json is None:
        return Verdict.of(["success: the submit step returned no handle"])
    problems = []
    if obs.resumed_handle != obs.handle:
        problems.append(
            f"success: the handle changed in a JSON round trip: {obs.handle!r} became "
            f"{obs.resumed_handle!r}"
        )
    elif obs.resumed_handle.to_json() != obs.handle_json:
        problems.append("success: the handle's JSON is not stable across a round trip")
    if obs.handle.provider != run.provider:
        problems.append(f"success: the handle names provider {obs.handle.provider!r}")
    if not obs.statuses or not obs.statuses[-1].state.terminal:
        problems.append("success: a fresh client did not poll the resumed handle to the end")
    return Verdict.of(problems, "a fresh client resumed from the serialised handle")


def _output(run: SuiteRun) -> Verdict:
    assert run.info is not None
    problems, succeeded = [], 0
    for name, obs in run.observations.items():
        if obs.downloads:
            problems.append(f"{name}: the plugin downloaded {obs.downloads[0]} while polling")
        for status in obs.statuses:
            if status.progress is not None and not 0 <= status.progress <= 100:
                problems.append(f"{name}: progress {status.progress} is outside 0..100")
            if status.state is not JobState.SUCCEEDED or status.result is None:
                continue
            succeeded += 1
            url = urlsplit(status.result.video_url)
            if url.scheme not in ("https", "http") or not url.hostname:
                problems.append(f"{name}: video_url {status.result.video_url!r} is not a URL")
            model = _model_of(run, obs)
            ttl = run.info.model(model).output_url_ttl_seconds if model else None
            expires = status.result.expires_at
            if ttl is not None and expires is None:
                problems.append(
                    f"{name}: {model} documents a {ttl:g} s URL lifetime, but the result has "
                    "no expires_at"
                )
            if expires is not None and expires.tzinfo is None:
                problems.append(f"{name}: expires_at {expires} has no timezone")
    if not succeeded:
        return needs_scenario(run, SUCCESS.name, "the output contract") or Verdict.of(
            ["no scenario produced a succeeded status"]
        )
    return Verdict.of(problems, f"{succeeded} succeeded statuses")


def _model_of(run: SuiteRun, obs: Observation) -> str | None:
    handle = obs.resumed_handle
    if handle is not None and handle.model:
        return handle.model
    sidecar = obs.scenario.sidecar
    if sidecar.request is not None and sidecar.request.model:
        return sidecar.request.model
    if sidecar.handle and sidecar.handle.get("model"):
        return str(sidecar.handle["model"])
    return run.info.default_model if run.info else None


def error_chain(exc: BaseException | None) -> list[BaseException]:
    chain: list[BaseException] = []
    while exc is not None and exc not in chain:
        chain.append(exc)
        exc = exc.__cause__
    return chain


def foreign_cause(exc: BaseException | None) -> BaseException | None:
    """A non-lipbridge exception behind a lipbridge one: a plugin bug the client wrapped."""
    return next((e for e in error_chain(exc) if not isinstance(e, LipbridgeError)), None)


LIFECYCLE = Check("lifecycle", "Lifecycle and outcome as recorded", _lifecycle)
RESUME = Check("resume", "Resume from a serialised handle", _resume)
OUTPUT = Check("output", "Output contract", _output)
