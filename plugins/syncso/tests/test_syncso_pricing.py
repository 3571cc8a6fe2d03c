"""The sync.so plugin's estimates: the list rate per output second of the billing page,
unknown (with the reason) where no price or no output length is known."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lipbridge import Client, JobRequest
from lipbridge_syncso import BILLING_URL, PRICES

VIDEO = "https://assets.sync.so/docs/example-video.mp4"
AUDIO = "https://assets.sync.so/docs/example-audio.wav"


@pytest.fixture
def client() -> Client:
    return Client(environ={}, ledger=False)


@pytest.mark.parametrize(
    ("model", "usd"),
    [("lipsync-2", "0.50"), ("lipsync-2-pro", "0.830"), ("sync-3", "1.330")],
)
def test_ten_output_seconds_at_the_list_rate(client: Client, model: str, usd: str) -> None:
    request = JobRequest(video=VIDEO, audio=AUDIO, model=model, sync_mode="loop")
    estimate = client.estimate_cost("syncso", request, video_seconds=4, audio_seconds=10)
    assert (estimate.amount, estimate.unit, estimate.usd) == (Decimal(usd), "USD", Decimal(usd))
    assert estimate.quantity == Decimal(10)  # loop: the audio's length
    assert estimate.source is not None and estimate.source.url == BILLING_URL


@pytest.mark.parametrize("model", ["lipsync-1.9.0-beta", "react-1"])
def test_models_the_billing_page_does_not_price_are_unknown(client: Client, model: str) -> None:
    request = JobRequest(video=VIDEO, audio=AUDIO, model=model, sync_mode="cut_off")
    estimate = client.estimate_cost("syncso", request, video_seconds=4, audio_seconds=10)
    assert estimate.amount is None and estimate.unknown_reason is not None
    assert model in estimate.unknown_reason and BILLING_URL in estimate.unknown_reason


def test_without_a_sync_mode_the_length_and_so_the_price_are_unknown(client: Client) -> None:
    request = JobRequest(video=VIDEO, audio=AUDIO)
    estimate = client.estimate_cost("syncso", request, video_seconds=4, audio_seconds=10)
    assert estimate.amount is None
    assert "no default sync mode" in (estimate.unknown_reason or "")
    assert "--sync-mode" in (estimate.unknown_reason or "")  # `lipbridge estimate` prints it


def test_the_table_cites_its_page_and_date() -> None:
    assert (PRICES.source_url, PRICES.as_of.isoformat()) == (BILLING_URL, "2026-04-17")
    assert set(PRICES.rates) == {"lipsync-2", "lipsync-2-pro", "sync-3"}
