"""What the Replicate plugin sends and how it reads predictions: the two create routes,
``model@version``, envelope options, outputs as a string, list or object, aborted and
removed outputs, a cancel accepted later, and prices. The contract suite pins the
documented exchanges from the cassettes."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from functools import partial
from typing import Any

import pytest

from lipbridge import JobHandle, JobRequest, JobState, SyncMode, UnsupportedOption
from lipbridge.plugin import MediaDurations
from lipbridge_contract.testing import answer, scripted_client
from lipbridge_replicate import INFO, plugin
from lipbridge_replicate.wire import video_url

replicate = partial(scripted_client, "replicate")
VIDEO = "https://example.com/face.mp4"
AUDIO = "https://example.com/speech.wav"
OUT = "https://replicate.delivery/xezq/abc/output.mp4"
PINNED = INFO.model("latentsync").version


def prediction(status: str, **fields: Any) -> dict[str, Any]:
    return {"id": "p1", "model": "sync/lipsync-2", "status": status, **fields}


def sent_body(model: str, **options: Any) -> tuple[str, dict[str, Any]]:
    client, transport = replicate(answer(prediction("starting"), 201))
    client.submit("replicate", JobRequest(video=VIDEO, audio=AUDIO, model=model, options=options))
    [sent] = transport.sent
    return sent.url, dict(json.loads(sent.body or b""))


def test_an_official_model_is_created_by_name() -> None:
    url, body = sent_body("lipsync-2", webhook_events_filter=["completed"], seed=3)
    assert url == "https://api.replicate.com/v1/models/sync/lipsync-2/predictions"
    assert body == {
        "input": {"video": VIDEO, "audio": AUDIO, "seed": 3},
        "webhook_events_filter": ["completed"],
    }


def test_a_community_model_is_created_by_its_pinned_version_or_the_one_picked() -> None:
    url, body = sent_body("latentsync")
    assert (url, body["version"]) == ("https://api.replicate.com/v1/predictions", PINNED)
    assert sent_body("latentsync@abc123")[1]["version"] == "abc123"


def test_an_official_model_takes_no_version() -> None:
    with pytest.raises(UnsupportedOption):
        sent_body("lipsync-2@abc123")


@pytest.mark.parametrize(
    ("output", "url"),
    [
        (OUT, OUT),
        (["https://r.d/a.png", OUT, "https://r.d/b.wav"], OUT),
        (["https://r.d/a", "https://r.d/b"], "https://r.d/b"),
        ({"video": OUT}, OUT),
        ([], None),
        (None, None),
    ],
)
def test_the_video_is_taken_from_the_output(output: object, url: str | None) -> None:
    assert video_url(output) == url


def poll(body: dict[str, Any], model: str = "lipsync-2") -> Any:
    client, _ = replicate(answer(body))
    when = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    return client.poll(JobHandle(provider="replicate", job_id="p1", created_at=when, model=model))


def test_a_succeeded_output_lapses_an_hour_after_it_completed() -> None:
    status = poll(
        prediction(
            "succeeded",
            output=OUT,
            completed_at="2026-01-22T09:46:53Z",
            logs="x\ny\n",
            metrics={"predict_time": 41.3},
        )
    )
    assert status.result.expires_at == dt.datetime(2026, 1, 22, 10, 46, 53, tzinfo=dt.timezone.utc)
    assert status.result.billed is None  # an official model bills its output, not its time
    assert status.logs == ("x", "y")


def test_a_community_model_bills_its_predict_time() -> None:
    status = poll(
        prediction("succeeded", output=OUT, metrics={"predict_time": 98.41}), model="latentsync"
    )
    assert (status.result.billed.amount, status.result.billed.unit) == (
        Decimal("98.41"),
        "GPU-second",
    )


def test_a_removed_output_fails_through_the_result() -> None:
    status = poll(prediction("succeeded", output=None, data_removed=True))
    assert status.state is JobState.FAILED and status.failed_via_result
    assert "an hour" in status.error.message


def test_aborted_is_a_failure_that_says_why() -> None:
    status = poll(prediction("aborted"))
    assert status.state is JobState.FAILED and "deadline" in status.error.message


def test_a_cancel_answered_while_processing_is_cancelling() -> None:
    client, transport = replicate(answer(prediction("processing")))
    when = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    status = client.cancel(
        JobHandle(provider="replicate", job_id="p/1", created_at=when, model="lipsync-2")
    )
    assert status.state is JobState.CANCELLING
    assert transport.sent[0].url == "https://api.replicate.com/v1/predictions/p%2F1/cancel"


def test_prices() -> None:
    durations = MediaDurations(video_seconds=10.0, audio_seconds=10.0, output_seconds=10.0)
    official = plugin.lipbridge_estimate_cost(
        JobRequest(video=VIDEO, audio=AUDIO, model="lipsync-2", sync_mode=SyncMode.LOOP), durations
    )
    assert official.amount is None and "official models" in (official.unknown_reason or "")
    community = plugin.lipbridge_estimate_cost(
        JobRequest(video=VIDEO, audio=AUDIO, model="latentsync"), durations
    )
    assert (community.low, community.amount, community.compute_unit) == (
        Decimal(0),
        Decimal("0.129675"),
        "GPU-second",
    )
