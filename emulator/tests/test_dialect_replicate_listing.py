"""Replicate's prediction list in the emulator, and end to end: the Replicate plugin's
``lipbridge_find_jobs`` finds a prediction whose create answer was lost, so it is followed
without paying for a second one; other inputs, another model and an older window find
nothing; pages of 100 link by ``next`` on the emulator's own base URL."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from emulated import answer_lost_once, client_for, lookup_request, lose_submit

from lipbridge import JobRequest, JobState
from lipbridge.models import SyncMode
from lipbridge_contract.replay import find_jobs
from lipbridge_emulator import Emulator
from lipbridge_emulator.dialect import Endpoint, JobSpec, JobView, Request, Route, State
from lipbridge_emulator.dialects.replicate import ReplicateDialect

BASE = "http://127.0.0.1:9/replicate"
START = dt.datetime(2026, 1, 22, 9, 46, 10, 602000, tzinfo=dt.timezone.utc)


def test_the_list_route_is_get_on_the_predictions_path_only() -> None:
    dialect = ReplicateDialect()
    assert dialect.route(Request(method="GET", path="/v1/predictions")) == Route(Endpoint.LIST)
    assert dialect.route(Request(method="POST", path="/v1/predictions")) == Route(Endpoint.SUBMIT)


def test_a_time_that_is_not_iso_8601_is_refused() -> None:
    reply = ReplicateDialect().listing(
        Request(method="GET", path="/v1/predictions", query={"created_after": "yesterday"}), []
    )
    assert reply.status == 400
    assert "created_after='yesterday'" in json.loads(reply.body)["detail"]


@pytest.fixture
def emu() -> Iterator[Emulator]:
    with answer_lost_once(START) as emu:
        yield emu


def test_hook_lipbridge_find_jobs_finds_a_prediction_whose_create_answer_was_lost(
    emu: Emulator,
) -> None:
    client = client_for(emu, "replicate", emu.clock)
    request = lookup_request(emu, SyncMode.LOOP)
    since = emu.clock.now() - dt.timedelta(minutes=10)  # the core's clock-skew margin
    lose_submit(client, "replicate", request)
    [accepted] = emu.ledger.accepted
    assert not accepted.answered

    [found] = find_jobs(client, "replicate", request, since)
    assert (found.provider, found.job_id) == ("replicate", accepted.job_id)
    [job] = emu.jobs("replicate")
    assert found.created_at == job.created
    [listed] = [a for a in emu.ledger.arrivals if a.endpoint == "list"]
    assert listed.method == "GET"

    result = client.wait(found)  # followed like any submitted job, without a second create
    assert result.video_url
    assert client.poll(found).state is JobState.SUCCEEDED
    assert [a.endpoint for a in emu.ledger.arrivals].count("submit") == 1


def test_other_inputs_another_model_or_a_later_window_find_nothing(emu: Emulator) -> None:
    client = client_for(emu, "replicate", emu.clock)
    request = lookup_request(emu, SyncMode.LOOP)
    since = emu.clock.now()
    lose_submit(client, "replicate", request)
    other = JobRequest(video=request.video, audio=request.audio, sync_mode=SyncMode.BOUNCE)
    assert find_jobs(client, "replicate", other, since) == []
    pro = JobRequest(
        video=request.video, audio=request.audio, model="lipsync-2-pro", sync_mode=SyncMode.LOOP
    )
    assert find_jobs(client, "replicate", pro, since) == []
    assert find_jobs(client, "replicate", request, since + dt.timedelta(seconds=1)) == []


def views(count: int) -> list[JobView]:
    """``count`` predictions the dialect accepted, a minute apart, oldest first."""
    body = json.dumps(
        {"input": {"video": "https://example.com/v.mp4", "audio": "https://example.com/a.wav"}}
    ).encode()
    spec = ReplicateDialect().parse_submit(
        Request(method="POST", path="/v1/models/sync/lipsync-2/predictions", body=body)
    )
    assert isinstance(spec, JobSpec), spec
    return [
        JobView(
            id=f"p{n}",
            spec=spec,
            created=START + dt.timedelta(minutes=n),
            state=State.QUEUED,
            progress=0,
        )
        for n in range(count)
    ]


def page(query: dict[str, str]) -> Any:
    request = Request(method="GET", path="/v1/predictions", query=query, base_url=BASE)
    return json.loads(ReplicateDialect().listing(request, views(103)).body)


def test_pages_of_a_hundred_newest_first_link_by_cursor_on_the_base_url() -> None:
    window = {"created_after": "2026-01-22T09:47:00Z", "created_before": "2026-01-22T11:47:00Z"}
    first = page(window)  # p1 .. p102 are in the window; p0 is before it
    assert [r["id"] for r in first["results"]] == [f"p{n}" for n in range(102, 2, -1)]
    assert first["previous"] is None and all(r["source"] == "api" for r in first["results"])
    following = urlsplit(first["next"])
    assert first["next"].startswith(BASE + "/v1/predictions?")
    assert parse_qs(following.query) == {"cursor": ["100"], **{k: [v] for k, v in window.items()}}
    second = page({"cursor": "100", **window})
    assert [r["id"] for r in second["results"]] == ["p2", "p1"]
    assert second["next"] is None and "cursor=0" in second["previous"]


def test_created_before_excludes_its_own_instant() -> None:
    found = page({"created_before": "2026-01-22T09:48:10.602000Z"})
    assert [r["id"] for r in found["results"]] == ["p1", "p0"]
