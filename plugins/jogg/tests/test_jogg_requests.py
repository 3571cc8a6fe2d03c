"""What the JoggAI plugin sends: route prefix, task paths, playback types, and what it refuses
before sending anything."""

from __future__ import annotations

import datetime as dt
import json
from functools import partial

import pytest

from lipbridge import (
    ConfigurationError,
    InvalidRequest,
    JobHandle,
    JobRequest,
    TextToSpeech,
    UnsupportedOption,
)
from lipbridge_contract.testing import TEST_KEY, answer, scripted_client

jogg = partial(scripted_client, "jogg")  # (client, transport) answered in turn


TASK = "3d5c6930-d0da-4f7b-826e-cd1530f6734f"
VIDEO = "https://res.jogg.ai/source-video.mp4"
AUDIO = "https://res.jogg.ai/source-audio.wav"
CREATED = {"code": 0, "msg": "Success", "data": {"task_id": TASK, "status": "pending"}}
RUNNING = {"code": 0, "msg": "Success", "data": {"task_id": TASK, "status": "processing"}}


def handle(job_id: str = TASK) -> JobHandle:
    when = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    return JobHandle(provider="jogg", job_id=job_id, created_at=when, model="lipsync")


def sent_json(transport, index=0):
    return json.loads(transport.sent[index].body)


def test_default_prefix_is_v2():
    client, transport = jogg(answer(CREATED), answer(RUNNING))
    submitted = client.submit("jogg", JobRequest(video=VIDEO, audio=AUDIO))
    client.poll(submitted)
    assert [(r.method, r.url) for r in transport.sent] == [
        ("POST", "https://api.jogg.ai/v2/create_lip_sync_video"),
        ("GET", f"https://api.jogg.ai/v2/lip_sync_video/{TASK}"),
    ]
    assert transport.sent[0].headers["x-api-key"] == TEST_KEY


@pytest.mark.parametrize(
    "how",
    [
        {"settings": {"path_prefix": "/open/v2"}},
        {"environ": {"LIPBRIDGE_JOGG_PATH_PREFIX": "/open/v2"}},
    ],
    ids=["client-settings", "environment"],
)
def test_open_prefix_switch(how):
    client, transport = jogg(answer(CREATED), answer(RUNNING), **how)
    client.poll(client.submit("jogg", JobRequest(video=VIDEO, audio=AUDIO)))
    assert [r.url for r in transport.sent] == [
        "https://api.jogg.ai/open/v2/create_lip_sync_video",
        f"https://api.jogg.ai/open/v2/lip_sync_video/{TASK}",
    ]


@pytest.mark.parametrize("value", ["/v3", "/open/v2/", "v2", "", "https://api.jogg.ai/v2"])
def test_unknown_prefix_is_refused_before_any_request(value):
    client, transport = jogg(answer(CREATED), settings={"path_prefix": value})
    for call in (
        lambda: client.submit("jogg", JobRequest(video=VIDEO, audio=AUDIO)),
        lambda: client.poll(handle()),
    ):
        with pytest.raises(ConfigurationError) as caught:
            call()
        assert "path_prefix" in caught.value.message
        assert repr(value) in caught.value.message
        assert "allowed: /v2, /open/v2" in caught.value.message
    assert transport.sent == []


def test_task_id_is_escaped_in_the_path():
    client, transport = jogg(answer(RUNNING))
    client.poll(handle("../../v2/create_lip_sync_video?x=1"))
    assert transport.sent[0].url == (
        "https://api.jogg.ai/v2/lip_sync_video/..%2F..%2Fv2%2Fcreate_lip_sync_video%3Fx%3D1"
    )


@pytest.mark.parametrize(
    ("request_kwargs", "playback"),
    [
        ({}, None),
        ({"sync_mode": "bounce"}, "normal_reverse"),
        ({"options": {"playback_type": "normal"}}, "normal"),
        ({"options": {"playback_type": "normal_reverse"}}, "normal_reverse"),
        ({"options": {"playback_type": "normal_reverse_by_audio"}}, "normal_reverse_by_audio"),
    ],
    ids=["unset", "bounce", "native-normal", "native-normal_reverse", "native-by_audio"],
)
def test_playback_type_on_the_wire(request_kwargs, playback):
    client, transport = jogg(answer(CREATED))
    client.submit("jogg", JobRequest(video=VIDEO, audio=AUDIO, **request_kwargs))
    expected = {"video_url": VIDEO, "audio_url": AUDIO}
    if playback is not None:
        expected["playback_type"] = playback
    assert sent_json(transport) == expected


@pytest.mark.parametrize("mode", ["loop", "cut_off", "silence", "remap"])
def test_other_sync_modes_are_unsupported_before_any_request(mode):
    client, transport = jogg(answer(CREATED))
    request = JobRequest(video=VIDEO, audio=AUDIO, sync_mode=mode)
    with pytest.raises(UnsupportedOption) as caught:
        client.submit("jogg", request)
    assert caught.value.field == "sync_mode"
    assert caught.value.allowed == ("bounce",)
    assert mode in caught.value.message and "allowed: bounce; or leave sync_mode unset and " \
        "pass JoggAI's own playback_type in options: normal, normal_reverse, " \
        "normal_reverse_by_audio" in caught.value.message
    with pytest.raises(UnsupportedOption):
        client.estimate_cost("jogg", request, video_seconds=5, audio_seconds=5)
    assert transport.sent == []


@pytest.mark.parametrize("value", ["reverse", "NORMAL", "", None, 1, ["normal"]])
def test_native_playback_type_is_checked_before_any_request(value):
    client, transport = jogg(answer(CREATED))
    request = JobRequest(video=VIDEO, audio=AUDIO, options={"playback_type": value})
    for call in (
        lambda: client.submit("jogg", request),
        lambda: client.estimate_cost("jogg", request, video_seconds=5, audio_seconds=5),
    ):
        with pytest.raises(InvalidRequest) as caught:
            call()
        assert caught.value.field == "options.playback_type"
        assert repr(value) in caught.value.message
        assert "allowed: normal, normal_reverse, normal_reverse_by_audio" in caught.value.message
    assert transport.sent == []


def test_sync_mode_and_native_playback_type_clash():
    client, transport = jogg(answer(CREATED))
    request = JobRequest(
        video=VIDEO, audio=AUDIO, sync_mode="bounce", options={"playback_type": "normal_reverse"}
    )
    for call in (
        lambda: client.submit("jogg", request),
        lambda: client.estimate_cost("jogg", request, audio_seconds=5),
    ):
        with pytest.raises(InvalidRequest) as caught:
            call()
        assert caught.value.field == "options"
        assert "options may not set playback_type" in caught.value.message
    assert transport.sent == []


@pytest.mark.parametrize(
    ("field", "request_kwargs"),
    [
        ("temperature", {"temperature": 0.5}),
        ("active_speaker", {"active_speaker": True}),
        ("callback_url", {"callback_url": "https://app.example.com/hook"}),
        ("tts", {"audio": None, "tts": TextToSpeech(text="hi", voice="any")}),
        ("video", {"video": "data:video/mp4;base64,AAAA"}),  # local files go up as assets
    ],
)
def test_undeclared_capabilities_are_refused_early(field, request_kwargs):
    client, transport = jogg(answer(CREATED))
    with pytest.raises(UnsupportedOption) as caught:
        client.submit("jogg", JobRequest(**{"video": VIDEO, "audio": AUDIO, **request_kwargs}))
    assert caught.value.field == field
    assert transport.sent == []
