"""Least input lengths (``InputLimits.min_video_seconds``/``min_audio_seconds``): a local
file or a length given for an estimate under a model's least length is refused before
any request, naming the field, the value and the allowed range; a model that declares
none (the default) is checked as before. fal's Kling lip sync declares its documented
2 s minimums."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
from test_cost import write_mp4, write_wav

from lipbridge import InvalidRequest, JobRequest
from lipbridge.media import length_problem, probe_file
from lipbridge.plugin import InputLimits
from lipbridge_contract.testing import scripted_client

KLING = InputLimits(min_video_seconds=2, max_video_seconds=10, min_audio_seconds=2,
                    max_audio_seconds=60)
URL = "https://example.com/face.mp4"
SPEECH = "https://example.com/speech.wav"
fal = partial(scripted_client, "fal")


@pytest.mark.parametrize(
    ("seconds", "field", "limits", "problem"),
    [
        (1.5, "video", KLING, "allowed: 2 to 10 s for p/m"),
        (10.5, "video", KLING, "allowed: 2 to 10 s for p/m"),
        (2.0, "video", KLING, None),
        (10.0, "video", KLING, None),
        (1.0, "audio", InputLimits(min_audio_seconds=2), "allowed: at least 2 s for p/m"),
        (1.0, "video", InputLimits(min_audio_seconds=2), None),  # the audio's least only
        (9.0, "audio", InputLimits(max_audio_seconds=8), "allowed: at most 8 s for p/m"),
        (0.1, "video", InputLimits(), None),  # no least length declared: as before
    ],
)
def test_a_length_outside_the_models_says_what_is_allowed(
    seconds: float, field: str, limits: InputLimits, problem: str | None
) -> None:
    assert length_problem(seconds, field, limits, "p/m") == problem


def test_a_local_file_shorter_than_the_least_is_refused_naming_field_value_and_range(
    tmp_path: Path,
) -> None:
    clip = write_mp4(tmp_path / "short.mp4")  # 1.5 s
    with pytest.raises(InvalidRequest) as caught:
        probe_file(str(clip), clip, field="video", limits=KLING, where="fal/kling-lipsync")
    assert caught.value.field == "video"
    assert str(caught.value) == (
        f"video={str(clip)!r} lasts 1.50 s; allowed: 2 to 10 s for fal/kling-lipsync"
    )
    speech = write_wav(tmp_path / "speech.wav", seconds=2.0)
    probed = probe_file(str(speech), speech, field="audio", limits=KLING, where="w")
    assert probed.duration == pytest.approx(2.0)


def test_kling_on_fal_measures_a_short_local_video_and_refuses_it_offline(
    tmp_path: Path,
) -> None:
    clip = write_mp4(tmp_path / "short.mp4")
    client, transport = fal()  # no answers: any request would fail the test differently
    request = JobRequest(video=str(clip), audio=SPEECH, model="kling-lipsync")
    with pytest.raises(InvalidRequest) as caught:
        client.estimate_cost("fal", request, audio_seconds=3)
    assert str(caught.value) == (
        f"video={str(clip)!r} lasts 1.50 s; allowed: 2 to 10 s for fal/kling-lipsync"
    )
    assert caught.value.field == "video"
    assert transport.sent == []


@pytest.mark.parametrize(
    ("video", "audio", "message", "field"),
    [
        (1.5, 30, "video_seconds=1.5; allowed: 2 to 10 s for fal/kling-lipsync", "video_seconds"),
        (5, 0.5, "audio_seconds=0.5; allowed: 2 to 60 s for fal/kling-lipsync", "audio_seconds"),
        (12, 30, "video_seconds=12; allowed: 2 to 10 s for fal/kling-lipsync", "video_seconds"),
    ],
)
def test_a_length_given_for_an_estimate_is_held_to_the_same_range(
    video: float, audio: float, message: str, field: str
) -> None:
    client, transport = fal()
    request = JobRequest(video=URL, audio=SPEECH, model="kling-lipsync")
    with pytest.raises(InvalidRequest) as caught:
        client.estimate_cost("fal", request, video_seconds=video, audio_seconds=audio)
    assert (str(caught.value), caught.value.field) == (message, field)
    assert transport.sent == []


def test_within_the_range_the_estimate_is_kling_s_rounded_up_price() -> None:
    client, _ = fal()
    request = JobRequest(video=URL, audio=SPEECH, model="kling-lipsync")
    estimate = client.estimate_cost("fal", request, video_seconds=2, audio_seconds=2)
    assert estimate.amount == Decimal("0.07")  # 2 s billed as 5 s at $0.014


@pytest.mark.parametrize(
    ("limits", "message"),
    [
        ({"min_video_seconds": -1}, "min_video_seconds=-1: a number of seconds >= 0"),
        ({"min_audio_seconds": float("inf")}, "min_audio_seconds=inf: a number of seconds >= 0"),
        ({"min_video_seconds": True}, "min_video_seconds=True: a number of seconds >= 0"),
        (
            {"min_video_seconds": 11, "max_video_seconds": 10},
            "min_video_seconds=11 is above max_video_seconds=10",
        ),
    ],
)
def test_a_least_length_a_plugin_declares_must_make_sense(
    limits: dict[str, float], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        InputLimits(**limits)
