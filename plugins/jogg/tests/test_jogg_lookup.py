"""The JoggAI plugin's lookup (``lipbridge_find_jobs``): what it asks, and how it reads the
answer. The query and the answer's shape are assumptions (see the plugin's docstring);
the contract suite certifies the documented cases from
``lipbridge_jogg/cassettes/jogg/find_jobs*``."""

from __future__ import annotations

import datetime as dt
from functools import partial
from urllib.parse import parse_qsl, urlsplit

import pytest

from lipbridge import (
    InvalidRequest,
    JobHandle,
    JobNotFound,
    JobRequest,
    ProviderProtocolError,
    RequestRejected,
)
from lipbridge_contract.replay import find_jobs
from lipbridge_contract.testing import answer, scripted_client

jogg = partial(scripted_client, "jogg")  # (client, transport) answered in turn

TASK = "3d5c6930-d0da-4f7b-826e-cd1530f6734f"
VIDEO = "https://res.jogg.ai/source-video.mp4"
AUDIO = "https://res.jogg.ai/source-audio.wav"
CREATED = 1741500000  # the docs' example task, 2025-03-09T06:00:00Z
SINCE = dt.datetime(2025, 3, 9, 5, 55, tzinfo=dt.timezone.utc)
NOT_FOUND = {"code": 10104, "msg": "Record not found", "data": None}


def task(**fields: object) -> dict[str, object]:
    data = {"task_id": TASK, "status": "success", "created_at": CREATED, **fields}
    return {"code": 0, "msg": "Success", "data": data}


def find(*answers, request: JobRequest | None = None, since: dt.datetime = SINCE,
         settings=None) -> tuple[list[JobHandle], list[str]]:
    """The hook's result, and the URLs it asked."""
    client, transport = jogg(*answers, settings=settings)
    request = request or JobRequest(video=VIDEO, audio=AUDIO, sync_mode="bounce")
    found = find_jobs(client, "jogg", request, since)
    return found, [sent.url for sent in transport.sent]


def query(url: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(url).query))


@pytest.mark.parametrize(
    ("request_", "playback"),
    [
        (JobRequest(video=VIDEO, audio=AUDIO, sync_mode="bounce"), "normal_reverse"),
        (JobRequest(video=VIDEO, audio=AUDIO), "normal"),  # the create body's default
        (JobRequest(video=VIDEO, audio=AUDIO, options={"playback_type": "normal_reverse_by_audio"}),
         "normal_reverse_by_audio"),
    ],
    ids=["bounce", "default", "native"],
)
def test_the_lookup_asks_for_the_create_bodys_inputs(request_: JobRequest, playback: str) -> None:
    _, urls = find(answer(NOT_FOUND), request=request_)
    [url] = urls
    assert urlsplit(url).path == "/v2/lip_sync_video"
    assert query(url) == {"video_url": VIDEO, "audio_url": AUDIO, "playback_type": playback}


def test_the_lookup_follows_the_route_prefix() -> None:
    _, [url] = find(answer(NOT_FOUND), settings={"path_prefix": "/open/v2"})
    assert urlsplit(url).path == "/open/v2/lip_sync_video"


def test_a_bad_native_playback_type_is_refused_before_asking() -> None:
    client, transport = jogg(answer(NOT_FOUND))
    bad = JobRequest(video=VIDEO, audio=AUDIO, options={"playback_type": "backwards"})
    with pytest.raises(InvalidRequest, match=r"options\.playback_type"):
        find_jobs(client, "jogg", bad, SINCE)
    assert transport.sent == []


def test_the_task_found_becomes_a_handle_created_when_jogg_says() -> None:
    [found], _ = find(answer(task()))
    assert found == JobHandle(
        provider="jogg", job_id=TASK, model="lipsync",
        created_at=dt.datetime(2025, 3, 9, 6, 0, tzinfo=dt.timezone.utc),
    )


@pytest.mark.parametrize(
    "body",
    [NOT_FOUND, {"code": 0, "msg": "Success", "data": None}, {"code": 0, "msg": "Success",
                                                              "data": {}}],
    ids=["code-10104", "null-data", "empty-data"],
)
def test_no_match_is_no_job(body: dict[str, object]) -> None:
    assert find(answer(body))[0] == []


def test_a_task_created_before_since_is_dropped_to_the_second() -> None:
    created = dt.datetime.fromtimestamp(CREATED, tz=dt.timezone.utc)
    assert find(answer(task()), since=created + dt.timedelta(seconds=1))[0] == []
    # JoggAI reports whole seconds: a task made later in since's own second is kept.
    assert len(find(answer(task()), since=created + dt.timedelta(milliseconds=999))[0]) == 1


def test_a_not_found_under_an_error_status_is_an_error_not_an_empty_answer() -> None:
    """A failed lookup must not read as "no job": that would invite a paid resubmit."""
    with pytest.raises(JobNotFound):
        find(answer(NOT_FOUND, status=404))


def test_other_business_errors_raise() -> None:
    with pytest.raises(RequestRejected):
        find(answer({"code": 40000, "msg": "Parameter error", "data": None}))


@pytest.mark.parametrize(
    "fields",
    [{"created_at": 0}, {"created_at": None}, {"created_at": "2025-03-09"}, {"created_at": 1e300},
     {"task_id": ""}],
    ids=["zero", "null", "text", "huge", "no-id"],
)
def test_a_task_without_a_usable_id_or_creation_time_is_a_protocol_error(
    fields: dict[str, object],
) -> None:
    with pytest.raises(ProviderProtocolError):
        find(answer(task(**fields)))
