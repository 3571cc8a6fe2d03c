"""JoggAI's price: 1 credit per 125 s of output, rounded up to 0.01 credit, known only when
a sync mode fixes the output length."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import partial

import pytest

from lipbridge import JobRequest
from lipbridge_contract.testing import scripted_client

jogg = partial(scripted_client, "jogg")  # (client, transport) answered in turn


VIDEO = "https://res.jogg.ai/source-video.mp4"
AUDIO = "https://res.jogg.ai/source-audio.wav"
SOURCE = "https://docs.jogg.ai/api-reference/v2/API%20Documentation/LipSyncVideo"


@pytest.mark.parametrize(
    ("audio_seconds", "credits"),
    [
        (12.5, "0.10"),  # 0.1 exactly
        (1, "0.01"),  # 0.008, rounded up
        (250, "2.00"),
        (125.5, "1.01"),  # 1.004, rounded up
        (0, "0.00"),
    ],
)
def test_bounce_is_priced_on_the_audio_length(audio_seconds, credits):
    client, transport = jogg()
    request = JobRequest(video=VIDEO, audio=AUDIO, sync_mode="bounce")
    estimate = client.estimate_cost("jogg", request, video_seconds=3, audio_seconds=audio_seconds)
    assert estimate.amount == Decimal(credits)
    assert str(estimate.amount) == credits  # kept to 2 decimal places, as JoggAI displays it
    assert estimate.unit == "credits"
    assert estimate.usd is None  # JoggAI publishes no USD price per credit
    assert estimate.source is not None
    assert (estimate.source.url, estimate.source.as_of) == (SOURCE, dt.date(2026, 11, 21))
    assert transport.sent == []


@pytest.mark.parametrize(
    "options",
    [{}, {"playback_type": "normal"}, {"playback_type": "normal_reverse_by_audio"}],
    ids=["unset", "native-normal", "native-by_audio"],
)
def test_without_a_sync_mode_the_price_is_unknown(options):
    client, transport = jogg()
    request = JobRequest(video=VIDEO, audio=AUDIO, options=options)
    estimate = client.estimate_cost("jogg", request, video_seconds=10, audio_seconds=20)
    assert not estimate.known
    assert estimate.amount is None
    assert estimate.unit == "credits"
    assert estimate.unknown_reason is not None
    assert "playback_type" in estimate.unknown_reason
    assert "sync_mode=bounce" in estimate.unknown_reason
    assert transport.sent == []
