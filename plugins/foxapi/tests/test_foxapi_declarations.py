"""FoxAPI's declarations, through the installed entry point: what the cassettes don't pin."""

from __future__ import annotations

import json

import pytest

from lipbridge import (
    Client,
    ConfigurationError,
    JobRequest,
    SyncMode,
    UnsupportedOption,
)
from lipbridge.plugin import Response
from lipbridge_contract.harness import ScriptedTransport
from lipbridge_contract.harness import SteppedClock as VirtualClock

KEY = "test-key-foxapi-0123456789abcdef"
VIDEO, AUDIO = "https://example.com/portrait-video.mp4", "https://example.com/speech.mp3"
ACCEPTED = Response(
    method="POST",
    url="https://api.foxapi.cc/v1/videos/generations",
    status=200,
    headers={"content-type": "application/json"},
    body=b'{"id":"task-unified-1757165031-a1b2c3d4","status":"pending","created":1757165031}',
)


def foxapi(environ: dict[str, str]) -> tuple[Client, ScriptedTransport]:
    transport = ScriptedTransport([ACCEPTED])
    return Client(transport=transport, clock=VirtualClock(), environ=environ), transport


def test_models_modes_and_lifetimes() -> None:
    info = Client(environ={}).info("foxapi")
    assert [m.name for m in info.models] == ["lipsync-2", "lipsync-2-pro", "sync-3"]
    assert info.default_model == "lipsync-2"
    assert info.default_base_url == "https://api.foxapi.cc"
    for caps in info.models:
        assert caps.sync_modes == frozenset(SyncMode)
        assert caps.default_sync_mode is SyncMode.LOOP
        assert caps.callback and not caps.cancel and caps.cost_estimate
        assert caps.output_url_ttl_seconds == 86_400
        assert caps.temperature is caps.active_speaker is (caps.name != "sync-3")


def test_conventional_key_variable_and_request_fields_setting() -> None:
    client, transport = foxapi({"FOXAPI_API_KEY": KEY, "LIPBRIDGE_FOXAPI_REQUEST_FIELDS": "video"})
    client.submit("foxapi", JobRequest(video=VIDEO, audio=AUDIO))
    sent = transport.sent[0]
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.body is not None
    assert json.loads(sent.body) == {"model": "lipsync-2", "video": VIDEO, "audio": AUDIO}


def test_default_is_the_current_field_revision() -> None:
    client, transport = foxapi({"FOXAPI_API_KEY": KEY})
    client.submit("foxapi", JobRequest(video=VIDEO, audio=AUDIO))
    assert transport.sent[0].body is not None
    assert set(json.loads(transport.sent[0].body)) == {"model", "video_url", "audio_url"}


def test_bad_request_fields_setting_sends_nothing() -> None:
    client, transport = foxapi(
        {"FOXAPI_API_KEY": KEY, "LIPBRIDGE_FOXAPI_REQUEST_FIELDS": "advanced"}
    )
    with pytest.raises(
        ConfigurationError, match=r"request_fields='advanced'.*allowed: video_url, video"
    ):
        client.submit("foxapi", JobRequest(video=VIDEO, audio=AUDIO))
    assert transport.sent == []


def test_sync3_temperature_is_refused_before_any_request() -> None:
    client, transport = foxapi({"FOXAPI_API_KEY": KEY})
    request = JobRequest(video=VIDEO, audio=AUDIO, model="sync-3", temperature=0.5)
    with pytest.raises(UnsupportedOption) as caught:
        client.submit("foxapi", request)
    assert caught.value.field == "temperature"
    assert "temperature=0.5 is not supported by foxapi/sync-3" in str(caught.value)
    assert transport.sent == []


def test_callback_url_is_sent() -> None:
    client, transport = foxapi({"FOXAPI_API_KEY": KEY})
    hook = "https://your-domain.com/webhooks/lipsync-completed"
    client.submit("foxapi", JobRequest(video=VIDEO, audio=AUDIO, callback_url=hook))
    assert transport.sent[0].body is not None
    assert json.loads(transport.sent[0].body)["callback_url"] == hook


def test_estimate_is_unknown_and_says_why() -> None:
    estimate = Client(environ={}).estimate_cost(
        "foxapi", JobRequest(video=VIDEO, audio=AUDIO), audio_seconds=10.0
    )
    assert not estimate.known
    assert estimate.unknown_reason == (
        "no published price for lipsync-2 in https://docs.foxapi.cc/pages/en/api-manual/"
        "video-series/lipsync/lipsync-2 (as of 2026-11-21)"
    )
