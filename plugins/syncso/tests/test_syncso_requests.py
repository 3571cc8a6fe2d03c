"""What the sync.so plugin sends: the create body (inputs by URL or asset id, options
nested or beside them, the Idempotency-Key), the poll path, and what it refuses before
sending anything. The contract suite pins the documented exchanges from the cassettes."""

from __future__ import annotations

import datetime as dt
import json
import re
from functools import partial
from typing import Any

import pytest

from lipbridge import (
    InvalidRequest,
    JobHandle,
    JobRequest,
    SyncMode,
    TextToSpeech,
    UnsupportedOption,
)
from lipbridge.ledger.ids import new_local_id
from lipbridge_contract.testing import TEST_KEY, answer, scripted_client
from lipbridge_syncso.wire import media_input, submit_body

syncso = partial(scripted_client, "syncso")  # (client, transport) answered in turn

GEN = "a47b00ce-29c1-40e8-badf-4f5b22c1e67e"
VIDEO = "https://assets.sync.so/docs/example-video.mp4"
AUDIO = "https://assets.sync.so/docs/example-audio.wav"
CREATED = {"id": GEN, "createdAt": "2026-01-22T09:46:10.602Z", "status": "PENDING",
           "model": "lipsync-2", "input": []}
# The idempotency guide: "1-128 characters matching [A-Za-z0-9._~-]+".
KEY_FORM = re.compile(r"[A-Za-z0-9._~-]{1,128}")


def handle(job_id: str = GEN) -> JobHandle:
    when = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    return JobHandle(provider="syncso", job_id=job_id, created_at=when, model="lipsync-2")


def sent_body(request: JobRequest) -> dict[str, Any]:
    client, transport = syncso(answer(CREATED, status=201))
    client.submit("syncso", request)
    [sent] = transport.sent
    assert (sent.method, sent.url) == ("POST", "https://api.sync.so/v2/generate")
    return dict(json.loads(sent.body or b""))


def test_the_create_carries_the_key_header_and_an_idempotency_key() -> None:
    client, transport = syncso(answer(CREATED, status=201))
    submitted = client.submit("syncso", JobRequest(video=VIDEO, audio=AUDIO))
    [sent] = transport.sent
    assert sent.headers["x-api-key"] == TEST_KEY
    key = sent.headers["Idempotency-Key"]
    assert KEY_FORM.fullmatch(key) and submitted.idempotency_key == key
    assert submitted.job_id == GEN and submitted.model == "lipsync-2"


def test_the_ledger_s_local_ids_are_valid_idempotency_keys() -> None:
    """A client with a job ledger sends the job's local id (a ULID) as the key."""
    for year in (1970, 2026, 9999):
        now = dt.datetime(year, 1, 1, tzinfo=dt.timezone.utc)
        assert all(KEY_FORM.fullmatch(new_local_id(now)) for _ in range(100))


def test_a_plain_request_sends_model_and_inputs_only() -> None:
    assert sent_body(JobRequest(video=VIDEO, audio=AUDIO)) == {
        "model": "lipsync-2",
        "input": [{"type": "video", "url": VIDEO}, {"type": "audio", "url": AUDIO}],
    }


def test_canonical_fields_fill_options_and_the_webhook() -> None:
    request = JobRequest(
        video=VIDEO, audio=AUDIO, model="lipsync-2-pro", sync_mode=SyncMode.REMAP,
        temperature=0.2, active_speaker=False, callback_url="https://app.example.com/hook",
    )
    assert sent_body(request) == {
        "model": "lipsync-2-pro",
        "input": [{"type": "video", "url": VIDEO}, {"type": "audio", "url": AUDIO}],
        "options": {
            "sync_mode": "remap",
            "temperature": 0.2,
            "active_speaker_detection": {"auto_detect": False},
        },
        "webhookUrl": "https://app.example.com/hook",
    }


def test_provider_options_go_into_options_unless_they_are_top_level_fields() -> None:
    request = JobRequest(
        video=VIDEO, audio=AUDIO, model="react-1", sync_mode="bounce",
        options={"model_mode": "head", "prompt": "happy", "outputFileName": "take_2",
                 "projectId": "612bb64a-e7f4-40c1-977b-3e9797845637"},
    )
    body = sent_body(request)
    assert body["options"] == {"sync_mode": "bounce", "model_mode": "head", "prompt": "happy"}
    assert (body["outputFileName"], body["projectId"]) == (
        "take_2", "612bb64a-e7f4-40c1-977b-3e9797845637"
    )


def test_a_full_active_speaker_selection_is_a_provider_option() -> None:
    selection = {"auto_detect": False, "frame_number": 12, "coordinates": [640, 360]}
    body = sent_body(JobRequest(video=VIDEO, audio=AUDIO,
                                options={"active_speaker_detection": selection}))
    assert body["options"] == {"active_speaker_detection": selection}


@pytest.mark.parametrize(
    "options",
    [
        {"sync_mode": "loop"},
        {"temperature": 0.5},
        {"model": "sync-3"},
        {"input": []},
        {"webhookUrl": "https://elsewhere.example.com/hook"},
        {"options": {"sync_mode": "loop"}},
    ],
    ids=["sync_mode", "temperature", "model", "input", "webhookUrl", "options"],
)
def test_options_cannot_set_what_the_request_fields_map_to(options: dict[str, Any]) -> None:
    client, transport = syncso(answer(CREATED, status=201))
    request = JobRequest(video=VIDEO, audio=AUDIO, sync_mode="loop", temperature=0.5,
                         options=options)
    for call in (
        lambda: client.submit("syncso", request),
        lambda: client.estimate_cost("syncso", request, video_seconds=4, audio_seconds=4),
    ):
        with pytest.raises(InvalidRequest) as caught:
            call()
        assert caught.value.field == "options"
    assert transport.sent == []


def test_active_speaker_and_its_native_form_clash() -> None:
    request = JobRequest(video=VIDEO, audio=AUDIO, active_speaker=True,
                         options={"active_speaker_detection": {"auto_detect": True}})
    with pytest.raises(InvalidRequest, match="active_speaker_detection"):
        submit_body(request)


@pytest.mark.parametrize(
    ("ref", "field"),
    [
        (VIDEO, "url"),
        ("HTTP://assets.sync.so/x.mp4", "url"),
        ("550e8400-e29b-41d4-a716-446655440000", "assetId"),
    ],
)
def test_an_input_is_a_url_or_an_uploaded_asset(ref: str, field: str) -> None:
    assert media_input("video", ref) == {"type": "video", field: ref}


@pytest.mark.parametrize(
    ("model", "field", "value"),
    [
        ("sync-3", "temperature", 0.5),
        ("lipsync-1.9.0-beta", "temperature", 0.5),
        ("react-1", "temperature", 0.5),
        ("react-1", "active_speaker", True),
    ],
)
def test_what_a_model_lacks_is_refused_before_any_request(
    model: str, field: str, value: object
) -> None:
    client, transport = syncso(answer(CREATED, status=201))
    request = JobRequest(video=VIDEO, audio=AUDIO, model=model, **{field: value})
    with pytest.raises(UnsupportedOption) as caught:
        client.submit("syncso", request)
    assert caught.value.field == field
    assert transport.sent == []


@pytest.mark.parametrize("model", ["sync-3", "lipsync-1.9.0-beta"])
def test_active_speaker_detection_is_on_every_lipsync_model(model: str) -> None:
    body = sent_body(JobRequest(video=VIDEO, audio=AUDIO, model=model, active_speaker=True))
    assert body["options"] == {"active_speaker_detection": {"auto_detect": True}}


def test_tts_is_not_offered() -> None:
    client, transport = syncso(answer(CREATED, status=201))
    with pytest.raises(UnsupportedOption) as caught:
        client.submit("syncso", JobRequest(video=VIDEO, tts=TextToSpeech(text="hi", voice="x")))
    assert caught.value.field == "tts" and transport.sent == []


def test_the_generation_id_is_escaped_in_the_poll_path() -> None:
    client, transport = syncso(answer({**CREATED, "status": "PROCESSING"}))
    client.poll(handle("../assets/upload?x=1"))
    assert transport.sent[0].url == "https://api.sync.so/v2/generate/..%2Fassets%2Fupload%3Fx%3D1"
    assert "Idempotency-Key" not in transport.sent[0].headers  # a submit's header only
