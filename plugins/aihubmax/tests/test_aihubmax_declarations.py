"""AIHubMax's declarations, through the installed entry point: what the cassettes don't pin."""

from __future__ import annotations

import json

import pytest

from lipbridge import Client, JobRequest, SyncMode, UnsupportedOption
from lipbridge.plugin import Response
from lipbridge_contract.harness import ScriptedTransport
from lipbridge_contract.harness import SteppedClock as VirtualClock

KEY = "test-key-aihubmax-0123456789abcdef"
VIDEO = "https://v3.fal.media/files/tiger/IugLCDJRIoGqvqTa-EJTr_3wg74vCqyNuQ-IiBd77MM_output.mp4"
AUDIO = "https://fal.media/files/lion/vyFWygmZsIZlUO4s0nr2n.wav"
ACCEPTED = Response(
    method="POST",
    url="https://api.aihubmax.com/v1/videos/generations",
    status=200,
    headers={"content-type": "application/json"},
    body=b'{"id":"task-unified-1757165031-uyujaw3d","status":"pending","created":1757165031}',
)


def aihubmax() -> tuple[Client, ScriptedTransport]:
    transport = ScriptedTransport([ACCEPTED])
    client = Client(transport=transport, clock=VirtualClock(), environ={"AIHUBMAX_API_KEY": KEY})
    return client, transport


def test_models_modes_and_lifetimes() -> None:
    info = Client(environ={}).info("aihubmax")
    assert [m.name for m in info.models] == ["lipsync-2", "lipsync-2-pro", "sync-3"]
    assert info.default_base_url == "https://api.aihubmax.com"
    assert info.api_key_env == ("AIHUBMAX_API_KEY",)
    for caps in info.models:
        assert caps.sync_modes == frozenset(SyncMode)
        assert caps.default_sync_mode is SyncMode.LOOP
        assert not caps.callback and not caps.cancel and caps.cost_estimate
        assert caps.output_url_ttl_seconds == 86_400
        assert caps.temperature is caps.active_speaker is (caps.name != "sync-3")


def test_the_documented_example_is_sent_with_rev_b_names() -> None:
    client, transport = aihubmax()
    request = JobRequest(
        video=VIDEO, audio=AUDIO, sync_mode="loop", temperature=0.8, active_speaker=True
    )
    client.submit("aihubmax", request)
    sent = transport.sent[0]
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.body is not None
    assert json.loads(sent.body) == {
        "model": "lipsync-2",
        "video_url": VIDEO,
        "audio_url": AUDIO,
        "sync_mode": "loop",
        "temperature": 0.8,
        "active_speaker": True,
    }


@pytest.mark.parametrize(
    ("field", "request_"),
    [
        ("callback_url", JobRequest(video=VIDEO, audio=AUDIO, callback_url="https://h.invalid/c")),
        (
            "active_speaker",
            JobRequest(video=VIDEO, audio=AUDIO, model="sync-3", active_speaker=True),
        ),
        ("temperature", JobRequest(video=VIDEO, audio=AUDIO, model="sync-3", temperature=0.8)),
    ],
)
def test_undocumented_options_are_refused_before_any_request(
    field: str, request_: JobRequest
) -> None:
    client, transport = aihubmax()
    with pytest.raises(UnsupportedOption) as caught:
        client.submit("aihubmax", request_)
    assert caught.value.field == field
    assert transport.sent == []


def test_estimate_is_unknown_and_says_why() -> None:
    estimate = Client(environ={}).estimate_cost(
        "aihubmax", JobRequest(video=VIDEO, audio=AUDIO, model="sync-3"), audio_seconds=10.0
    )
    assert not estimate.known
    assert estimate.unknown_reason == (
        "no published price for sync-3 in https://docs.aihubmax.com/pages/en/api-manual/"
        "video-series/lipsync/lipsync-2 (as of 2026-11-21)"
    )
