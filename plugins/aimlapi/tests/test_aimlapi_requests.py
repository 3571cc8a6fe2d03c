"""What the AI/ML API plugin sends, and what it refuses before sending anything."""

from __future__ import annotations

import base64
import json
from functools import partial
from pathlib import Path

import pytest

from lipbridge import InvalidRequest, JobRequest, SyncMode, TextToSpeech
from lipbridge_aimlapi import INFO, LIMITS
from lipbridge_aimlapi.wire import VOICES
from lipbridge_contract.testing import answer, scripted_client

VIDEO = "https://storage.googleapis.com/falserverless/model_tests/kling/kling-v2.5-turbo-pro-text-to-video-output.mp4"
AUDIO = "https://cdn.example.com/speech.mp3"
QUEUED = {"id": "z-IMFJo2ORUJBR7OWIqDM", "status": "queued"}


aimlapi = partial(scripted_client, "aimlapi")  # (client, transport) answered in turn


def sent_json(transport):
    """The JSON body of the one request sent."""
    return json.loads(transport.sent[0].body)


def decoded(uri: str) -> tuple[str, bytes]:
    """The media type and bytes of a base64 data URI."""
    head, _, data = uri.partition(",")
    assert head.startswith("data:")
    assert head.endswith(";base64")
    return head[len("data:") : -len(";base64")], base64.b64decode(data)


def test_remote_audio_request_is_the_documented_body():
    client, transport = aimlapi(answer(QUEUED))
    handle = client.submit("aimlapi", JobRequest(video=VIDEO, audio=AUDIO))
    sent = transport.sent[0]
    assert (sent.method, sent.url) == ("POST", "https://api.aimlapi.com/v2/video/generations")
    assert sent_json(transport) == {
        "model": "pixverse/lip-sync",
        "video_url": VIDEO,
        "audio_url": AUDIO,
    }
    assert handle.job_id == "z-IMFJo2ORUJBR7OWIqDM"


def test_tts_fills_both_tts_fields_and_no_audio():
    client, transport = aimlapi(answer(QUEUED))
    client.submit(
        "aimlapi", JobRequest(video=VIDEO, tts=TextToSpeech(text="Hello World!", voice="Harper"))
    )
    assert sent_json(transport) == {
        "model": "pixverse/lip-sync",
        "video_url": VIDEO,
        "lip_sync_tts_content": "Hello World!",
        "lip_sync_tts_speaker": "Harper",
    }


def encode(path: Path, codec: str, frames) -> Path:
    """A tiny real media file (local files are probed before they are sent)."""
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=10 if codec == "mpeg4" else 16000)
        if codec == "mpeg4":
            stream.width = stream.height = 32
            stream.pix_fmt = "yuv420p"
        for frame in frames(av):
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def pictures(av):
    for i in range(5):
        frame = av.VideoFrame(32, 32, "yuv420p")
        frame.pts = i
        yield frame


def silence(av):
    for i in range(10):
        frame = av.AudioFrame(format="fltp", layout="mono", samples=1152)
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.sample_rate, frame.pts = 16000, i * 1152
        yield frame


def test_local_files_are_sent_as_data_uris(tmp_path: Path):
    video = encode(tmp_path / "face.mov", "mpeg4", pictures)
    audio = encode(tmp_path / "speech.mp3", "libmp3lame", silence)
    client, transport = aimlapi(answer(QUEUED))
    client.submit("aimlapi", JobRequest(video=str(video), audio=str(audio)))
    body = sent_json(transport)
    assert decoded(body["video_url"]) == ("video/quicktime", video.read_bytes())
    assert decoded(body["audio_url"]) == ("audio/mpeg", audio.read_bytes())


def test_oversize_local_file_is_refused_before_any_request(tmp_path: Path):
    video = tmp_path / "long.mp4"
    with video.open("wb") as stream:  # sparse: no 50 MiB written
        stream.truncate(LIMITS.max_video_bytes + 1)
    client, transport = aimlapi(answer(QUEUED))
    with pytest.raises(InvalidRequest) as caught:
        client.submit("aimlapi", JobRequest(video=str(video), audio=AUDIO))
    assert transport.sent == []
    assert caught.value.field == "video"
    message = str(caught.value)
    assert str(LIMITS.max_video_bytes + 1) in message
    assert f"at most {50 * 1024 * 1024} bytes" in message


def test_a_text_file_is_refused_with_the_allowed_formats(tmp_path: Path):
    notes = tmp_path / "speech.txt"
    notes.write_text("not audio")
    client, transport = aimlapi(answer(QUEUED))
    with pytest.raises(InvalidRequest) as caught:
        client.submit("aimlapi", JobRequest(video=VIDEO, audio=str(notes)))
    assert transport.sent == []
    assert caught.value.field == "audio"
    assert "allowed: mp3, wav" in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sync_mode", SyncMode.LOOP),
        ("temperature", 0.5),
        ("active_speaker", True),
        ("callback_url", "https://app.example.com/hooks/lipsync"),
    ],
)
def test_options_the_api_lacks_are_refused_before_any_request(field, value):
    client, transport = aimlapi(answer(QUEUED))
    with pytest.raises(InvalidRequest) as caught:
        client.submit("aimlapi", JobRequest(video=VIDEO, audio=AUDIO, **{field: value}))
    assert transport.sent == []
    assert caught.value.field == field
    assert "allowed:" in str(caught.value)


def test_an_unknown_voice_is_refused_with_the_voice_list():
    client, transport = aimlapi(answer(QUEUED))
    request = JobRequest(video=VIDEO, tts=TextToSpeech(text="Hi", voice="Olivia"))
    with pytest.raises(InvalidRequest) as caught:
        client.submit("aimlapi", request)
    assert transport.sent == []
    assert caught.value.field == "tts.voice"
    assert "allowed: " + ", ".join(VOICES) in str(caught.value)


def test_options_may_not_override_mapped_fields():
    client, transport = aimlapi(answer(QUEUED))
    request = JobRequest(video=VIDEO, audio=AUDIO, options={"lip_sync_tts_speaker": "Ava"})
    with pytest.raises(InvalidRequest, match="options may not set lip_sync_tts_speaker"):
        client.submit("aimlapi", request)
    assert transport.sent == []


def test_the_estimate_is_unknown_and_cites_its_source():
    client, transport = aimlapi()
    estimate = client.estimate_cost(
        "aimlapi", JobRequest(video=VIDEO, audio=AUDIO), video_seconds=8, audio_seconds=8
    )
    assert not estimate.known
    assert INFO.docs_url in estimate.unknown_reason
    assert "2026-11-21" in estimate.unknown_reason
    assert transport.sent == []
