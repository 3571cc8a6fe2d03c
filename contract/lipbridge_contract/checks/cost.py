"""Cost: offline, deterministic, monotone in duration, and close to what was billed."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from hypothesis import strategies as st

from lipbridge import CostEstimate, JobRequest, LipbridgeError, TextToSpeech
from lipbridge.estimates import billed_problem
from lipbridge.media import nearest_length
from lipbridge.plugin import ModelCapabilities, ProviderInfo
from lipbridge_contract.checks.base import Check, Verdict, skip
from lipbridge_contract.checks.explore import explore
from lipbridge_contract.harness import network_blocked

if TYPE_CHECKING:
    from lipbridge_contract.run import SuiteRun

VIDEO = "https://media.lbcontract.invalid/face.mp4"
AUDIO = "https://media.lbcontract.invalid/speech.wav"


def plain_request(caps: ModelCapabilities) -> JobRequest:
    """The simplest valid request for a model: remote media, its default sync mode."""
    if caps.audio_input:
        return JobRequest(video=VIDEO, audio=AUDIO, model=caps.name)
    return JobRequest(
        video=VIDEO,
        tts=TextToSpeech(text="Hello there.", voice=caps.tts_voices[0]),
        model=caps.name,
    )


def fitted(info: ProviderInfo, request: JobRequest, seconds: float) -> tuple[float, float]:
    """``seconds`` for the video and the audio, each moved into the lengths the request's
    model takes (``InputLimits``), since a length outside them is refused by estimate as
    by submit; as given when the model is unknown (that refusal is the point)."""
    try:
        limits = info.model(request.model).limits
    except LipbridgeError:
        return seconds, seconds
    return nearest_length(seconds, "video", limits), nearest_length(seconds, "audio", limits)


def _estimate(run: SuiteRun, request: JobRequest, seconds: float) -> tuple[CostEstimate, int]:
    assert run.info is not None
    client, transport, _ = run.scripted()
    with network_blocked():
        video, audio = fitted(run.info, request, seconds)
        estimate = client.estimate_cost(
            run.provider, request, video_seconds=video, audio_seconds=audio
        )
    return estimate, len(transport.sent)


def _billed_problems(run: SuiteRun) -> tuple[list[str], int, list[str]]:
    problems, compared, notes = [], 0, []
    tolerance = run.dir.config.cost_tolerance
    for name, obs in run.observations.items():
        billed = obs.result.billed if obs.result else None
        sidecar = obs.scenario.sidecar
        if billed is None or sidecar.request is None:
            continue
        if sidecar.durations is None:
            problems.append(
                f"{name}: billed usage was reported; give the recorded inputs' "
                "durations in the sidecar so the estimate can be compared"
            )
            continue
        client, _, _ = run.scripted()
        try:
            estimate = client.estimate_cost(
                run.provider,
                sidecar.request,
                video_seconds=sidecar.durations.video_seconds,
                audio_seconds=sidecar.durations.audio_seconds,
            )
        except LipbridgeError as exc:
            problems.append(f"{name}: the recorded request cannot be estimated: {exc}")
            continue
        compared += 1
        # A reasoned compute-time unknown is borne out by a compute-time bill: no bypass.
        if estimate.amount is None and estimate.compute_unit != billed.unit and run.bypass("price"):
            notes.append(name)
        elif (problem := billed_problem(estimate, billed, tolerance)) is not None:
            problems.append(f"{name}: {problem}")
    return problems, compared, notes


def _decreases(
    run: SuiteRun, request: JobRequest, model: str, pair: tuple[float, float]
) -> str | None:
    low, high = sorted(pair)
    cheap, _ = _estimate(run, request, low)
    dear, _ = _estimate(run, request, high)
    if cheap.amount is not None and dear.amount is not None and cheap.amount > dear.amount:
        return f"{model}: {low:g} s costs {cheap.amount}, more than {high:g} s ({dear.amount})"
    return None


def _cost(run: SuiteRun) -> Verdict:
    assert run.info is not None
    priced = [m for m in run.info.models if m.cost_estimate]
    if not priced:
        return skip("no model declares cost_estimate")
    problems: list[str] = []
    for caps in priced:
        request = plain_request(caps)
        first, sent = _estimate(run, request, 10.0)
        again, _ = _estimate(run, request, 10.0)
        if sent:
            problems.append(f"{caps.name}: estimate_cost sent {sent} HTTP request(s)")
        if first != again:
            problems.append(f"{caps.name}: two estimates of one request differ: {first} / {again}")
        if not first.known:
            continue

        problem, _ = explore(
            st.tuples(st.floats(0, 3600), st.floats(0, 3600)),
            40,
            functools.partial(_decreases, run, request, caps.name),
        )
        if problem:
            problems.append(problem)
    billed, compared, notes = _billed_problems(run)
    detail = f"{len(priced)} priced models; {compared} billed amounts compared"
    if notes:
        detail += (
            f"; unknown estimate for {', '.join(sorted(notes))} "
            f"bypassed (price): {run.bypass('price')}"
        )
    return Verdict.of(problems + billed, detail)


COST = Check("cost", "Cost estimate", _cost)
