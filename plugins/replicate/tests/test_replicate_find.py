"""Finding a lost create in Replicate's prediction list: the window queried, pages
followed on the API's host only and at most ten of them, and what counts as a match
(model, pinned version, every input sent; an input removed after the hour never matches).
The contract's find_jobs scenarios pin the documented exchange."""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from lipbridge import JobRequest, ProviderError, ProviderProtocolError
from lipbridge_contract.testing import answer, scripted_client
from lipbridge_replicate import INFO
from lipbridge_replicate.find import MAX_PAGES, made_from

replicate = partial(scripted_client, "replicate")
VIDEO = "https://example.com/face.mp4"
AUDIO = "https://example.com/speech.wav"
SINCE = dt.datetime(2026, 1, 22, 9, 40, 0, 250000, tzinfo=dt.timezone.utc)
PINNED = INFO.model("latentsync").version
OTHER = "https://example.com/other.wav"
NEXT = "https://api.replicate.com/v1/predictions?cursor=cj0y"


def listed(pid: str, created: str, model: str = "sync/lipsync-2", **inputs: Any) -> dict[str, Any]:
    return {
        "id": pid,
        "model": model,
        "version": PINNED if model == "bytedance/latentsync" else "a0",
        "input": {"video": VIDEO, "audio": AUDIO, **inputs},
        "created_at": created,
    }


def page(*results: dict[str, Any], following: str | None = None) -> Any:
    return answer({"next": following, "previous": None, "results": list(results)})


def find(*answers: Any, model: str = "lipsync-2", **fields: Any) -> tuple[list[str], list[str]]:
    client, transport = replicate(*answers)
    request = JobRequest(video=VIDEO, audio=AUDIO, model=model, **fields)
    found = client.find_jobs("replicate", request, SINCE)
    assert found is not None
    return [h.job_id for h in found], [s.url for s in transport.sent]


def test_the_list_is_asked_for_since_to_the_second_until_an_hour_later() -> None:
    _, sent = find(page())
    query = parse_qs(urlsplit(sent[0]).query)
    assert urlsplit(sent[0]).path == "/v1/predictions"
    assert query == {
        "created_after": ["2026-01-22T09:40:00Z"],
        "created_before": ["2026-01-22T10:40:00Z"],
    }


def test_next_pages_are_followed_and_the_matches_kept_newest_first() -> None:
    ids, sent = find(
        page(listed("new", "2026-01-22T09:50:00Z"), following=NEXT),
        page(
            listed("old", "2026-01-22T09:45:00Z"),
            listed("other", "2026-01-22T09:44:00Z", audio=OTHER),
        ),
    )
    assert ids == ["new", "old"]  # "other" ran on another audio
    assert sent[1] == NEXT


def test_a_prediction_created_before_since_is_dropped() -> None:
    ids, _ = find(page(listed("early", "2026-01-22T09:40:00.100000Z")))
    assert ids == []


def test_a_next_page_on_another_host_is_refused_before_the_key_goes_there() -> None:
    client, transport = replicate(page(following="https://evil.example/v1/predictions?cursor=x"))
    request = JobRequest(video=VIDEO, audio=AUDIO, model="lipsync-2")
    with pytest.raises(ProviderProtocolError, match=r"evil\.example"):
        client.find_jobs("replicate", request, SINCE)
    assert len(transport.sent) == 1


def test_the_lookup_stops_after_ten_pages_and_says_so() -> None:
    client, transport = replicate(page(following=NEXT))  # the last answer repeats
    request = JobRequest(video=VIDEO, audio=AUDIO, model="lipsync-2")
    with pytest.raises(ProviderError, match="more than 10 pages of predictions"):
        client.find_jobs("replicate", request, SINCE)
    assert len(transport.sent) == MAX_PAGES


def test_a_result_without_its_id_is_a_protocol_error() -> None:
    with pytest.raises(ProviderProtocolError, match="lacking its id or created_at"):
        find(page({"created_at": "2026-01-22T09:50:00Z"}))


@pytest.mark.parametrize(
    ("prediction", "matches"),
    [
        (listed("p", "t"), True),
        (listed("p", "t", extra_default=3), True),  # a field the create did not send
        (listed("p", "t", model="sync/lipsync-2-pro"), False),
        ({**listed("p", "t"), "input": None, "data_removed": True}, False),
        ({**listed("p", "t"), "input": {"video": VIDEO}}, False),
        ({**listed("p", "t"), "input": {"video": VIDEO, "audio": OTHER}}, False),
    ],
)
def test_a_match_ran_the_model_on_every_input_sent(prediction: Any, matches: bool) -> None:
    sent = {"video": VIDEO, "audio": AUDIO}
    assert made_from(prediction, sent, INFO.model("lipsync-2")) is matches


def test_a_pinned_version_must_be_the_one_that_ran() -> None:
    caps = INFO.model("latentsync")
    sent = {"video": VIDEO, "audio": AUDIO}
    ran = listed("p", "t", model="bytedance/latentsync")
    assert made_from(ran, sent, caps)
    assert not made_from({**ran, "version": "f" * 64}, sent, caps)
