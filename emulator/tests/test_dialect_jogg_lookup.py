"""JoggAI's lookup of the latest task made from given inputs, in the emulator and end to end.

The dialect answers ``GET {prefix}/lip_sync_video?video_url=&audio_url=&playback_type=``
from the tasks it accepted, latest first, as JoggAI's own lip-sync skill documents it
(see the dialect's docstring for what is assumed). End to end, the JoggAI plugin's
``lipbridge_find_jobs`` finds a task whose submit answer was lost, so it can be followed
without paying for a second one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from emulated import answer_lost_once, client_for, lookup_request, lose_submit

from lipbridge import Client, JobRequest, JobState
from lipbridge.models import SyncMode
from lipbridge_contract.replay import find_jobs
from lipbridge_emulator import Emulator
from lipbridge_emulator.dialect import Endpoint, JobSpec, JobView, Request, Route, State
from lipbridge_emulator.dialects.jogg import NO_MATCH, JoggDialect

VIDEO = "https://res.jogg.ai/source-video.mp4"
AUDIO = "https://res.jogg.ai/source-audio.wav"
CREATED = dt.datetime.fromtimestamp(1741500000, tz=dt.timezone.utc)
EPOCH = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)


def made(dialect: JoggDialect, task_id: str, *, created: dt.datetime = CREATED,
         **body: Any) -> None:
    """Have ``dialect`` accept a task created from ``body`` (the docs' inputs by default)."""
    fields = {"video_url": VIDEO, "audio_url": AUDIO, **body}
    raw = json.dumps({k: v for k, v in fields.items() if v is not None}).encode()
    spec = dialect.parse_submit(Request(method="POST", path="/v2/create_lip_sync_video", body=raw))
    assert isinstance(spec, JobSpec), spec  # not a refusal
    dialect.accepted(JobView(id=task_id, spec=spec, created=created, state=State.QUEUED,
                             progress=0))


def lookup(dialect: JoggDialect, prefix: str = "/v2", **query: str) -> Route | None:
    query = {"video_url": VIDEO, "audio_url": AUDIO, **query}
    return dialect.route(Request(method="GET", path=f"{prefix}/lip_sync_video", query=query))


# The dialect, without a server


@pytest.mark.parametrize("prefix", ["/v2", "/open/v2"])
def test_a_lookup_routes_to_a_poll_of_the_task_made_from_its_inputs(prefix: str) -> None:
    dialect = JoggDialect()
    assert lookup(dialect, prefix, playback_type="normal_reverse") == Route(Endpoint.POLL, NO_MATCH)
    made(dialect, "t1", playback_type="normal_reverse")
    assert lookup(dialect, prefix, playback_type="normal_reverse") == Route(Endpoint.POLL, "t1")


@pytest.mark.parametrize(
    "query",
    [
        {"video_url": "https://res.jogg.ai/other-video.mp4"},
        {"audio_url": "https://res.jogg.ai/other-audio.wav"},
        {"playback_type": "normal_reverse"},  # the task was made with the default, normal
        {"playback_type": "backwards"},  # no task has a playback type JoggAI lacks
        {"video_url": ""},
    ],
)
def test_every_input_must_match(query: dict[str, str]) -> None:
    dialect = JoggDialect()
    made(dialect, "t1")
    assert lookup(dialect, **query) == Route(Endpoint.POLL, NO_MATCH)


def test_playback_type_normal_is_the_default_on_both_sides() -> None:
    """The create body's documented default: a task made without it is a normal one."""
    dialect = JoggDialect()
    made(dialect, "t1")
    made(dialect, "t2", playback_type="normal_reverse_by_audio")
    assert lookup(dialect) == Route(Endpoint.POLL, "t1")
    assert lookup(dialect, playback_type="normal") == Route(Endpoint.POLL, "t1")
    assert lookup(dialect, playback_type="normal_reverse_by_audio") == Route(Endpoint.POLL, "t2")


def test_the_latest_matching_task_is_the_answer() -> None:
    dialect = JoggDialect()
    made(dialect, "newer", created=CREATED + dt.timedelta(seconds=5))
    made(dialect, "older", created=CREATED)  # accepted later, created earlier
    assert lookup(dialect) == Route(Endpoint.POLL, "newer")
    made(dialect, "same-instant", created=CREATED + dt.timedelta(seconds=5))
    assert lookup(dialect) == Route(Endpoint.POLL, "same-instant")  # the later acceptance


def test_each_dialect_remembers_only_its_own_tasks() -> None:
    """Each emulator builds its own dialect; one's tasks are not another's."""
    first, second = JoggDialect(), JoggDialect()
    made(first, "t1")
    assert lookup(second) == Route(Endpoint.POLL, NO_MATCH)


# End to end: the plugin's hook against the emulator


@pytest.fixture
def emu() -> Iterator[Emulator]:
    # Mid-second: JoggAI reports whole seconds, so a task made now reads as made before now.
    with answer_lost_once(CREATED + dt.timedelta(milliseconds=400)) as emu:
        yield emu


def inputs(emu: Emulator) -> JobRequest:
    return lookup_request(emu, SyncMode.BOUNCE)


def lost_submit(client: Client, request: JobRequest) -> None:
    lose_submit(client, "jogg", request)


def test_hook_lipbridge_find_jobs_finds_a_job_whose_submit_answer_was_lost(
    emu: Emulator,
) -> None:
    client = client_for(emu, "jogg", emu.clock)
    request = inputs(emu)
    since = emu.clock.now()
    lost_submit(client, request)
    [accepted] = emu.ledger.accepted
    assert not accepted.answered  # the provider has the job; the client never heard of it

    [found] = find_jobs(client, "jogg", request, since)
    assert (found.provider, found.job_id, found.model) == ("jogg", accepted.job_id, "lipsync")
    [job] = emu.jobs("jogg")
    assert found.created_at.timestamp() == int(job.created.timestamp())  # JoggAI's unix seconds
    assert found.created_at < since  # and still found: since counts to JoggAI's second

    result = client.wait(found)  # followed like any submitted job, without a second submit
    assert result.video_url
    assert client.poll(found).state is JobState.SUCCEEDED
    assert len(emu.ledger.accepted) == 1
    assert [a.endpoint for a in emu.ledger.arrivals].count("submit") == 1


def test_the_hook_finds_nothing_for_other_inputs_or_an_older_task(emu: Emulator) -> None:
    client = client_for(emu, "jogg", emu.clock)
    request = inputs(emu)
    lost_submit(client, request)
    [job] = emu.jobs("jogg")
    other = JobRequest(video=request.video, audio=request.audio)  # playback_type normal
    assert find_jobs(client, "jogg", other, EPOCH) == []  # code 10104: no such task
    later = job.created + dt.timedelta(seconds=1)
    assert find_jobs(client, "jogg", request, later) == []  # created before since: dropped
    assert len(find_jobs(client, "jogg", request, EPOCH)) == 1


def test_the_hook_finds_the_latest_of_two_tasks_made_from_the_same_inputs(
    emu: Emulator,
) -> None:
    client = client_for(emu, "jogg", emu.clock)
    request = inputs(emu)
    lost_submit(client, request)
    emu.clock.sleep(3)
    lost_submit(client, request)
    first, second = emu.ledger.accepted
    assert first.job_id != second.job_id
    [found] = find_jobs(client, "jogg", request, EPOCH)
    assert found.job_id == second.job_id  # "the latest matching task", as JoggAI documents
