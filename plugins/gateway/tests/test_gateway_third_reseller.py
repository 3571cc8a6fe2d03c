"""The claim behind the gateway: a new reseller is ~20 lines of declarations.

"Kestrel" is made up: its own host, one model of its own with one sync mode, a callback,
a published per-second price and the original (rev A) field names by default. Nothing
else is written for it, yet it submits, polls, prices and refuses like the others.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from lipbridge import (
    BilledUsage,
    Client,
    JobRequest,
    JobResult,
    JobState,
    Registry,
    SyncMode,
    UnsupportedOption,
)
from lipbridge.plugin import ModelCapabilities, PriceTable, Response
from lipbridge_contract.harness import ScriptedTransport
from lipbridge_contract.harness import SteppedClock as VirtualClock
from lipbridge_gateway import URL_TTL_SECONDS, Gateway

# --- the whole reseller ----------------------------------------------------------------------
KESTREL = Gateway(
    name="kestrel",
    display_name="Kestrel AI",
    docs_url="https://docs.kestrel.invalid/en/api-manual/video-series/retalk",
    base_url="https://api.kestrel.invalid",
    models=(
        ModelCapabilities(
            name="retalk-1", sync_modes=frozenset({SyncMode.CUT_OFF}),
            default_sync_mode=SyncMode.CUT_OFF, callback=True, cost_estimate=True,
            output_url_ttl_seconds=URL_TTL_SECONDS,
        ),
    ),
    api_key_env=("KESTREL_API_KEY",),
    prices=PriceTable(
        provider="kestrel", unit="credits", rates={"retalk-1": Decimal("40")},
        source_url="https://kestrel.invalid/pricing", as_of=dt.date(2026, 11, 21),
        version="2026-11-21",
    ),
    request_fields="video",
)
# ---------------------------------------------------------------------------------------------

KEY = "test-key-kestrel-0123456789abcdef"
VIDEO, AUDIO = "https://media.kestrel.invalid/speaker.mp4", "https://media.kestrel.invalid/s.wav"
JOB = "task-unified-1775200000-xyz12345"


def json_response(body: object) -> Response:
    return Response(method="GET", url="", status=200, headers={}, body=json.dumps(body).encode())


def kestrel_client(*responses: Response) -> tuple[Client, ScriptedTransport]:
    registry = Registry(candidates=[], environ={})
    registry.register("kestrel", KESTREL)
    transport = ScriptedTransport(responses)
    client = Client(
        registry=registry,
        transport=transport,
        clock=VirtualClock(),
        api_keys={"kestrel": KEY},
        environ={},
    )
    return client, transport


def test_the_declared_reseller_submits_and_polls() -> None:
    client, transport = kestrel_client(
        json_response({"id": JOB, "status": "pending", "created": 1775200000}),
        json_response({"id": JOB, "status": "processing", "progress": 30, "created": 1775200000}),
        json_response(
            {
                "id": JOB,
                "status": "completed",
                "progress": 100,
                "created": 1775200000,
                "results": [{"url": "https://cdn.kestrel.invalid/out.mp4"}],
                "usage": {"billing_rule": "per_second", "credits_reserved": 480},
            }
        ),
    )
    request = JobRequest(video=VIDEO, audio=AUDIO, callback_url="https://app.invalid/hook")
    handle = client.submit("kestrel", request)
    assert (handle.provider, handle.job_id, handle.model) == ("kestrel", JOB, "retalk-1")

    running = client.poll(handle)
    assert (running.state, running.progress) == (JobState.RUNNING, 30)
    assert client.wait(handle) == JobResult(
        video_url="https://cdn.kestrel.invalid/out.mp4",
        expires_at=dt.datetime.fromtimestamp(1775200000 + 86_400, dt.timezone.utc),
        billed=BilledUsage(amount=Decimal("480"), unit="reserved credits"),
    )

    submit, poll, _ = transport.sent
    assert (submit.method, submit.url) == ("POST", "https://api.kestrel.invalid/v1/videos/generations")
    assert submit.headers["Authorization"] == f"Bearer {KEY}"
    assert submit.body is not None
    assert json.loads(submit.body) == {
        "model": "retalk-1",
        "video": VIDEO,
        "audio": AUDIO,
        "callback_url": "https://app.invalid/hook",
    }
    assert (poll.method, poll.url) == ("GET", f"https://api.kestrel.invalid/v1/tasks/{JOB}")


def test_the_declared_reseller_prices_and_refuses_offline() -> None:
    client, transport = kestrel_client()
    estimate = client.estimate_cost(
        "kestrel", JobRequest(video=VIDEO, audio=AUDIO), video_seconds=12.0, audio_seconds=15.0
    )
    assert (estimate.amount, estimate.unit) == (Decimal("480.0"), "credits")  # 12 s cut off
    with pytest.raises(UnsupportedOption, match="sync_mode='loop' is not supported"):
        client.submit("kestrel", JobRequest(video=VIDEO, audio=AUDIO, sync_mode="loop"))
    assert transport.sent == []


def test_the_declared_reseller_describes_itself() -> None:
    info = KESTREL.lipbridge_provider_info()
    assert (info.name, info.default_model, info.default_base_url) == (
        "kestrel",
        "retalk-1",
        "https://api.kestrel.invalid",
    )
    assert info.api_key_env == ("KESTREL_API_KEY",)
    assert info.status_words["completed"] is JobState.SUCCEEDED
    assert info.contract_version == "1.1"
