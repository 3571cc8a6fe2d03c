"""Pre-flight validation: a request the capabilities rule out never reaches the network.

Hypothesis builds requests from the provider's own capabilities, some valid and some
not. For each, the declared capabilities say whether it must be refused; ``submit``
must then raise ``InvalidRequest`` (naming the field and what is allowed) with zero HTTP
requests, and ``estimate_cost`` must refuse exactly the same requests.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st

from lipbridge import InvalidRequest, JobRequest, SyncMode, TextToSpeech
from lipbridge.plugin import ProviderInfo, Response
from lipbridge_contract.catalogue import SUCCESS
from lipbridge_contract.checks.base import Check, Verdict, examples
from lipbridge_contract.checks.cost import AUDIO, VIDEO, fitted
from lipbridge_contract.checks.explore import explore
from lipbridge_contract.harness import LogCapture, network_blocked

if TYPE_CHECKING:
    from lipbridge_contract.run import SuiteRun

UNKNOWN_MODEL = "lbcontract-no-such-model"
UNKNOWN_VOICE = "lbcontract-no-such-voice"
CALLBACK = "https://hooks.lbcontract.invalid/done"
# What a request that gets through is answered with when no recorded acceptance exists.
REFUSAL = Response(
    method="POST", url="", status=401, headers={}, body=b'{"error":{"message":"invalid key"}}'
)


def violations(info: ProviderInfo, request: JobRequest) -> list[str]:
    """What the declared capabilities forbid in ``request`` (empty: it is allowed)."""
    caps = next((m for m in info.models if m.name == (request.model or info.default_model)), None)
    if caps is None:
        return ["model"]
    found = []
    if request.sync_mode is not None and request.sync_mode not in caps.sync_modes:
        found.append("sync_mode")
    if request.temperature is not None and not caps.temperature:
        found.append("temperature")
    if request.active_speaker is not None and not caps.active_speaker:
        found.append("active_speaker")
    if request.callback_url is not None and not caps.callback:
        found.append("callback_url")
    if request.audio is not None and not caps.audio_input:
        found.append("audio")
    if request.tts is not None and request.tts.voice not in caps.tts_voices:
        found.append("tts")
    return found


@st.composite
def requests(draw: Any, info: ProviderInfo) -> JobRequest:
    voices = [*sorted({v for m in info.models for v in m.tts_voices}), UNKNOWN_VOICE]
    use_tts = draw(st.booleans())
    return JobRequest(
        video=VIDEO,
        audio=None if use_tts else AUDIO,
        tts=TextToSpeech(text="Hello there.", voice=draw(st.sampled_from(voices)))
        if use_tts
        else None,
        model=draw(st.sampled_from([None, UNKNOWN_MODEL, *(m.name for m in info.models)])),
        sync_mode=draw(st.none() | st.sampled_from(list(SyncMode))),
        temperature=draw(st.none() | st.just(0.5)),
        active_speaker=draw(st.none() | st.just(True)),
        callback_url=draw(st.none() | st.just(CALLBACK)),
    )


def acceptance(run: SuiteRun) -> Response:
    """The recorded answer to a successful submit, so checks made after sending still run."""
    first = next(iter(run.recorded(SUCCESS.name)), None)
    return first.response() if first is not None and first.status < 300 else REFUSAL


def _refused(
    run: SuiteRun, request: JobRequest, answer: Response
) -> tuple[InvalidRequest | None, int, bool]:
    """(submit's InvalidRequest or None, requests sent, whether estimate refused too)."""
    client, transport, _ = run.scripted(answer)
    submit_error = None
    try:
        client.submit(run.provider, request)
    except InvalidRequest as exc:
        submit_error = exc
    except Exception:
        pass  # the scripted refusal (or anything after sending) is not pre-flight
    sent = len(transport.sent) if submit_error is not None else 0
    estimate_refused = False
    try:
        with network_blocked():
            assert run.info is not None
            video, audio = fitted(run.info, request, 10)
            client.estimate_cost(run.provider, request, video_seconds=video, audio_seconds=audio)
    except InvalidRequest:
        estimate_refused = True
    return submit_error, sent, estimate_refused


def _probe(
    run: SuiteRun, answer: Response, tried: dict[str, int], request: JobRequest
) -> str | None:
    assert run.info is not None
    banned = violations(run.info, request)
    error, sent, estimate_refused = _refused(run, request, answer)
    tried["forbidden" if banned else "allowed"] += 1
    problem = None
    if banned and error is None:
        problem = f"submit accepted a request the capabilities forbid ({', '.join(banned)})"
    elif error is not None and sent:
        problem = f"submit refused the request only after {sent} HTTP request(s)"
    elif error is not None and (not error.field or "allowed" not in str(error).lower()):
        problem = f"the refusal does not name the field and what is allowed: {error}"
    elif (error is not None) != estimate_refused:
        problem = (
            f"submit {'refused' if error else 'accepted'} but estimate_cost "
            f"{'refused' if estimate_refused else 'accepted'} the same request"
        )
    return f"{problem}: {request!r}" if problem else None


def _preflight(run: SuiteRun) -> Verdict:
    assert run.info is not None
    tried = {"forbidden": 0, "allowed": 0}
    with LogCapture().installed():
        problem, _ = explore(
            requests(run.info),
            examples(run),
            functools.partial(_probe, run, acceptance(run), tried),
        )
    detail = f"{tried['forbidden']} forbidden and {tried['allowed']} allowed requests generated"
    return Verdict.of([problem] if problem else [], detail)


PREFLIGHT = Check("preflight", "Pre-flight validation", _preflight)
