"""The JoggAI dialect, without a server: routes, auth, validation, replies and charges,
checked against JoggAI's documented examples (the cassettes) and the plugin itself."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import yaml
from shipped import cassettes

from lipbridge import (
    AuthenticationError,
    InsufficientCredits,
    JobHandle,
    JobNotFound,
    JobRequest,
    JobState,
    ProviderError,
    ProviderUnavailable,
    RateLimited,
)
from lipbridge.models import SyncMode
from lipbridge_contract.testing import TEST_KEY, answer, scripted_client
from lipbridge_emulator.dialect import (
    Endpoint,
    Failure,
    JobSpec,
    JobView,
    Problem,
    Reply,
    Request,
    Route,
    State,
    UploadSpec,
)
from lipbridge_emulator.dialects.jogg import NO_MATCH, JoggDialect

CASSETTES = cassettes("jogg")
DOCS_TASK = "3d5c6930-d0da-4f7b-826e-cd1530f6734f"  # the task id of the docs' examples
VIDEO = "https://res.jogg.ai/source-video.mp4"
AUDIO = "https://res.jogg.ai/source-audio.wav"
CREATED = dt.datetime.fromtimestamp(1741500000, tz=dt.timezone.utc)
COMPLETED = CREATED + dt.timedelta(seconds=30)
DOCS_FAILURE = "consume retry limit reached: audio duration fetch failed"

dialect = JoggDialect()


def submit(body: Any, prefix: str = "/v2") -> Request:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Request(method="POST", path=f"{prefix}/create_lip_sync_video", body=raw)


def spec() -> JobSpec:
    parsed = dialect.parse_submit(submit({"video_url": VIDEO, "audio_url": AUDIO}))
    assert isinstance(parsed, JobSpec)
    return parsed


def job(state: State, **fields: Any) -> JobView:
    """A job in ``state`` with what the engine attaches by then (the docs' example values)."""
    attached: dict[str, Any] = {}
    if state is State.SUCCEEDED:
        attached = {
            "output_url": "https://res.jogg.ai/lipsync-result.mp4",
            "cover_url": "https://res.jogg.ai/lipsync-cover.jpg",
            "output_seconds": 12.5,
            "completed": COMPLETED,
        }
    if state is State.FAILED:
        attached = {
            "failure": Failure(code="fetch_failed", message=DOCS_FAILURE),
            "completed": COMPLETED,
        }
    progress = {State.QUEUED: 0, State.RUNNING: 50}.get(state, 100)
    values = {"progress": progress, **attached, **fields}
    return JobView(id=DOCS_TASK, spec=spec(), created=CREATED, state=state, **values)


def body(reply: Reply) -> Any:
    assert reply.headers["Content-Type"] == "application/json"
    return json.loads(reply.body)


def cassette(name: str) -> list[dict[str, Any]]:
    loaded = yaml.safe_load((CASSETTES / name).read_text())
    interactions: list[dict[str, Any]] = loaded["interactions"]
    return interactions


def response_body(interaction: dict[str, Any]) -> Any:
    return json.loads(interaction["response"]["body"]["string"])


# Routes


@pytest.mark.parametrize("prefix", ["/v2", "/open/v2"])
def test_both_documented_prefixes_route_submit_and_poll(prefix: str) -> None:
    create = Request(method="POST", path=f"{prefix}/create_lip_sync_video")
    poll = Request(method="GET", path=f"{prefix}/lip_sync_video/{DOCS_TASK}")
    assert dialect.route(create) == Route(Endpoint.SUBMIT)
    assert dialect.route(poll) == Route(Endpoint.POLL, DOCS_TASK)


def test_an_escaped_task_id_is_read_unescaped() -> None:
    poll = Request(method="GET", path="/v2/lip_sync_video/odd%20id")
    assert dialect.route(poll) == Route(Endpoint.POLL, "odd id")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2/create_lip_sync_video"),  # wrong method
        ("POST", f"/v2/lip_sync_video/{DOCS_TASK}"),
        ("DELETE", f"/v2/lip_sync_video/{DOCS_TASK}"),  # JoggAI documents no cancel
        ("GET", "/v2/lip_sync_video/"),
        ("GET", f"/v2/lip_sync_video/{DOCS_TASK}/extra"),
        ("POST", "/v2/create_lip_sync_video/"),
        ("POST", "/v1/create_lip_sync_video"),
        ("POST", "/openv2/create_lip_sync_video"),
        ("POST", "/create_lip_sync_video"),
    ],
)
def test_paths_jogg_does_not_document_are_not_routed(method: str, path: str) -> None:
    assert dialect.route(Request(method=method, path=path)) is None


def test_every_cassette_request_routes_and_every_submit_parses() -> None:
    """What the plugin was certified sending, the emulator understands."""
    fresh = JoggDialect()  # has accepted no task: every lookup finds none
    for path in sorted(CASSETTES.glob("*.yaml")):
        if path.name == "suite.yaml" or path.name.endswith(".sidecar.yaml"):
            continue
        for interaction in cassette(path.name):
            sent = interaction["request"]
            if urlsplit(sent["uri"]).hostname != "api.jogg.ai":
                continue  # an upload's PUT goes to the signed URL's storage, not the API
            request = Request(
                method=sent["method"],
                path=urlsplit(sent["uri"]).path,
                query=dict(parse_qsl(urlsplit(sent["uri"]).query)),
                body=(sent["body"] or "").encode(),
            )
            route = fresh.route(request)
            assert route is not None, f"{path.name}: {sent['method']} {sent['uri']}"
            if path.name.startswith("find_jobs"):  # the lookup: a poll of no task
                assert route == Route(Endpoint.POLL, NO_MATCH)
            elif route.endpoint is Endpoint.POLL:
                assert route.job_id == DOCS_TASK
            elif route.endpoint is Endpoint.UPLOAD:
                assert isinstance(dialect.parse_upload(request), UploadSpec), path.name
            else:
                assert isinstance(dialect.parse_submit(request), JobSpec), path.name


# Auth


def test_the_key_is_read_from_x_api_key_alone() -> None:
    assert dialect.api_key(Request(method="GET", path="/", headers={"x-api-key": "k1"})) == "k1"
    bearer = {"authorization": "Bearer k1"}
    assert dialect.api_key(Request(method="GET", path="/", headers=bearer)) is None
    assert dialect.api_key(Request(method="GET", path="/", headers={"x-api-key": ""})) is None
    assert dialect.api_key(Request(method="GET", path="/")) is None


# Submit


@pytest.mark.parametrize(
    ("playback", "mode"),
    [
        ("normal", SyncMode.CUT_OFF),
        ("normal_reverse", SyncMode.BOUNCE),
        ("normal_reverse_by_audio", SyncMode.BOUNCE),
    ],
)
@pytest.mark.parametrize("prefix", ["/v2", "/open/v2"])
def test_a_documented_submit_becomes_a_job(playback: str, mode: SyncMode, prefix: str) -> None:
    request = submit({"video_url": VIDEO, "audio_url": AUDIO, "playback_type": playback}, prefix)
    parsed = dialect.parse_submit(request)
    assert parsed == JobSpec(
        model="lipsync", video=VIDEO, audio=AUDIO, sync_mode=mode,
        echo={"playback_type": playback},  # what a lookup matches the task on
    )


def test_playback_type_defaults_to_normal() -> None:
    parsed = dialect.parse_submit(submit({"video_url": VIDEO, "audio_url": "http://h/a.wav"}))
    assert isinstance(parsed, JobSpec)
    assert parsed.sync_mode is SyncMode.CUT_OFF
    assert parsed.audio == "http://h/a.wav"


@pytest.mark.parametrize(
    ("sent", "field"),
    [
        (b"not json", "JSON"),
        (b"\xff\xfe", "JSON"),
        ([VIDEO, AUDIO], "JSON object"),
        ({"audio_url": AUDIO}, "video_url is required"),
        ({"video_url": "", "audio_url": AUDIO}, "video_url is required"),
        ({"video_url": VIDEO}, "audio_url is required"),
        ({"video_url": VIDEO, "audio_url": None}, "audio_url is required"),
        ({"video_url": "ftp://h/v.mp4", "audio_url": AUDIO}, "video_url must be an http"),
        ({"video_url": "data:video/mp4;base64,AAAA", "audio_url": AUDIO}, "video_url"),
        ({"video_url": VIDEO, "audio_url": "https://"}, "audio_url must be an http"),
        ({"video_url": VIDEO, "audio_url": ["x"]}, "audio_url must be an http"),
        ({"video_url": VIDEO, "audio_url": AUDIO, "playback_type": "loop"}, "playback_type"),
        ({"video_url": VIDEO, "audio_url": AUDIO, "playback_type": None}, "playback_type"),
        ({"video_url": VIDEO, "audio_url": AUDIO, "playback_type": ["normal"]}, "playback_type"),
    ],
)
def test_refusals_are_parameter_errors_naming_the_field(sent: Any, field: str) -> None:
    refused = dialect.parse_submit(submit(sent))
    assert isinstance(refused, Reply)
    assert refused.status == 200
    answered = body(refused)
    assert answered["code"] == 40000
    assert answered["msg"].startswith("Parameter error: ")
    assert field in answered["msg"]
    assert answered["data"] is None


def test_the_refused_playback_type_message_lists_the_documented_values() -> None:
    refused = dialect.parse_submit(
        submit({"video_url": VIDEO, "audio_url": AUDIO, "playback_type": "bounce"})
    )
    assert isinstance(refused, Reply)
    msg = body(refused)["msg"]
    assert all(v in msg for v in ("normal", "normal_reverse", "normal_reverse_by_audio"))


# Ids and charges


def test_job_ids_are_uuids_made_from_the_engine_token() -> None:
    token = "0123456789abcdef0123456789abcdef"
    made = dialect.job_id(CREATED, token)
    assert uuid.UUID(made).version == 4
    assert made == dialect.job_id(CREATED + dt.timedelta(days=1), token)  # the time plays no part
    assert made != dialect.job_id(CREATED, "f" * 32)
    assert made.replace("-", "")[:12] == token[:12]
    with pytest.raises(ValueError, match="hexadecimal"):
        dialect.job_id(CREATED, "not-hex")


@pytest.mark.parametrize(
    ("seconds", "credits"),
    [
        (12.5, "0.10"),  # the docs' example duration: 12.5 / 125 exactly
        (1.0, "0.01"),  # 0.008 rounds up
        (0.0, "0.00"),
        (125.0, "1.00"),
        (125.01, "1.01"),  # 1.00008 rounds up, never down
        (250.0, "2.00"),
        (37.4, "0.30"),  # 0.2992
        (0.1, "0.01"),  # read as the decimal 0.1, not its binary expansion
    ],
)
def test_charge_is_one_credit_per_125_seconds_rounded_up_to_the_cent(
    seconds: float, credits: str
) -> None:
    assert dialect.charge(spec(), seconds) == Decimal(credits)
    assert dialect.charge(spec(), seconds).as_tuple().exponent == -2


# Replies


def test_accepted_is_the_documented_create_answer() -> None:
    reply = dialect.accepted(job(State.QUEUED))
    assert reply.status == 200
    assert body(reply) == response_body(cassette("success.yaml")[0])


@pytest.mark.parametrize(
    ("state", "word"),
    [
        (State.QUEUED, "pending"),
        (State.RUNNING, "processing"),
        (State.SUCCEEDED, "success"),
        (State.FAILED, "failed"),
    ],
)
def test_every_state_has_its_status_word(state: State, word: str) -> None:
    reply = dialect.status(job(state))
    assert reply.status == 200
    task = body(reply)["data"]
    assert task["status"] == word
    assert task["task_id"] == DOCS_TASK
    assert task["created_at"] == 1741500000
    terminal = state in (State.SUCCEEDED, State.FAILED)
    assert task["completed_at"] == (1741500030 if terminal else 0)
    assert (task["data"]["result_url"] != "") is (state is State.SUCCEEDED)
    assert (task["error"]["message"] != "") is (state is State.FAILED)


def test_success_carries_the_result_fields() -> None:
    view = job(State.SUCCEEDED, output_url="http://e/files/t/out.mp4", output_seconds=7.04)
    result = body(dialect.status(view))["data"]["data"]
    assert result == {
        "result_url": "http://e/files/t/out.mp4",
        "cover_url": "https://res.jogg.ai/lipsync-cover.jpg",
        "duration_seconds": 7.04,
    }


def test_a_success_without_cover_has_an_empty_cover_url() -> None:
    result = body(dialect.status(job(State.SUCCEEDED, cover_url=None)))["data"]["data"]
    assert result["cover_url"] == ""


def test_failure_carries_the_engine_message() -> None:
    view = job(State.FAILED, failure=Failure(code="bad_media", message="the video has no frames"))
    task = body(dialect.status(view))["data"]
    assert task["error"] == {"message": "the video has no frames"}
    assert task["data"] == {"result_url": "", "cover_url": "", "duration_seconds": 0}


def test_success_before_the_output_is_attached_still_reads_processing() -> None:
    view = job(State.SUCCEEDED, output_url=None, completed=None)
    assert body(dialect.status(view))["data"]["status"] == "processing"
    assert body(dialect.accepted(view))["data"]["status"] == "processing"


CASSETTE_STATES = {
    "pending": State.QUEUED,
    "processing": State.RUNNING,
    "success": State.SUCCEEDED,
    "failed": State.FAILED,
}


@pytest.mark.parametrize(
    "name",
    ["success.yaml", "success_open_prefix.yaml", "success_native_playback.yaml", "job_failed.yaml"],
)
def test_replies_match_the_cassettes_bodies(name: str) -> None:
    """Same keys at the top, in ``data`` and below, and the same values for the same job.
    The docs' success example carries an error message too; the emulator leaves it empty."""
    submitted, *polls = cassette(name)
    assert body(dialect.accepted(job(State.QUEUED))) == response_body(submitted)
    for interaction in polls:
        expected = response_body(interaction)
        state = CASSETTE_STATES[expected["data"]["status"]]
        rendered = body(dialect.status(job(state)))
        assert rendered.keys() == expected.keys()
        assert rendered["data"].keys() == expected["data"].keys()
        if state is State.SUCCEEDED:
            expected["data"]["error"]["message"] = ""
        assert rendered == expected


# Problems


@pytest.mark.parametrize(
    ("problem", "status", "code"),
    [
        (Problem.UNAUTHORIZED, 200, 10105),
        (Problem.NOT_FOUND, 200, 10104),
        (Problem.INSUFFICIENT_CREDITS, 200, 18020),
        (Problem.RATE_LIMITED, 429, 429),
        (Problem.SERVER_ERROR, 500, 50000),
        (Problem.UNSUPPORTED, 404, 10104),
    ],
)
def test_problems_have_their_status_and_business_code(
    problem: Problem, status: int, code: int
) -> None:
    reply = dialect.problem(problem, "detail from the engine")
    assert reply.status == status
    answered = body(reply)
    assert answered["code"] == code
    assert answered["data"] is None
    assert ("detail from the engine" in answered["msg"]) is (problem is Problem.UNSUPPORTED)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_server_error_keeps_the_engines_status(status: int) -> None:
    reply = dialect.problem(Problem.SERVER_ERROR, "fault", status)
    assert reply.status == status
    assert body(reply) == {"code": 50000, "msg": "System error", "data": None}


@pytest.mark.parametrize(
    ("problem", "name"),
    [
        (Problem.UNAUTHORIZED, "auth_invalid.yaml"),
        (Problem.NOT_FOUND, "job_not_found.yaml"),
        (Problem.INSUFFICIENT_CREDITS, "insufficient_credits.yaml"),
        (Problem.RATE_LIMITED, "rate_limited.yaml"),
    ],
)
def test_problems_are_the_cassettes_answers(problem: Problem, name: str) -> None:
    recorded = cassette(name)[-1]
    reply = dialect.problem(problem, "detail")
    assert reply.status == recorded["response"]["status"]["code"]
    assert body(reply) == response_body(recorded)


def test_cancel_is_not_documented_so_it_is_unsupported() -> None:
    reply = dialect.cancel(job(State.RUNNING))
    assert reply.status == 404
    assert body(reply)["code"] == 10104
    assert "cancel" in body(reply)["msg"]


def test_documented_constants() -> None:
    assert JoggDialect.provider == "jogg"
    assert JoggDialect.callbacks is None  # JoggAI's webhooks list no lip-sync event
    assert JoggDialect.accepts_data_uris is False
    assert JoggDialect.status_before_results is False
    assert JoggDialect.url_lifetime == dt.timedelta(hours=24)


# The plugin against the dialect


@pytest.mark.parametrize("prefix", ["/v2", "/open/v2"])
def test_the_plugin_and_the_dialect_understand_each_other(prefix: str) -> None:
    done = job(State.SUCCEEDED, output_url="http://e/files/t/out.mp4", output_seconds=3.0)
    replies = [dialect.accepted(job(State.QUEUED)), dialect.status(done)]
    client, transport = scripted_client(
        "jogg",
        *(answer(r.body, status=r.status, headers=r.headers) for r in replies),
        settings={"path_prefix": prefix},
    )
    handle = client.submit("jogg", JobRequest(video=VIDEO, audio=AUDIO, sync_mode="bounce"))
    status = client.poll(handle)

    assert handle.job_id == DOCS_TASK
    assert status.state is JobState.SUCCEEDED
    assert status.result is not None
    assert status.result.video_url == "http://e/files/t/out.mp4"
    assert status.result.duration_seconds == 3.0
    sent_submit, sent_poll = (
        Request(
            method=sent.method,
            path=urlsplit(sent.url).path,
            headers={k.lower(): v for k, v in sent.headers.items()},
            body=sent.body or b"",
        )
        for sent in transport.sent
    )
    assert dialect.api_key(sent_submit) == TEST_KEY
    assert dialect.route(sent_submit) == Route(Endpoint.SUBMIT)
    parsed = dialect.parse_submit(sent_submit)
    assert isinstance(parsed, JobSpec)
    assert parsed.sync_mode is SyncMode.BOUNCE
    assert dialect.route(sent_poll) == Route(Endpoint.POLL, DOCS_TASK)


@pytest.mark.parametrize(
    ("problem", "error"),
    [
        (Problem.UNAUTHORIZED, AuthenticationError),
        (Problem.INSUFFICIENT_CREDITS, InsufficientCredits),
        (Problem.RATE_LIMITED, RateLimited),
        (Problem.SERVER_ERROR, ProviderUnavailable),
    ],
)
def test_the_plugin_reads_each_submit_problem_as_its_error(
    problem: Problem, error: type[ProviderError]
) -> None:
    reply = dialect.problem(problem, "detail", 503 if problem is Problem.SERVER_ERROR else None)
    client, _ = scripted_client("jogg", answer(reply.body, status=reply.status))
    with pytest.raises(error) as caught:
        client.submit("jogg", JobRequest(video=VIDEO, audio=AUDIO, sync_mode="bounce"))
    assert caught.value.code == str(body(reply)["code"])


def test_the_plugin_reads_an_unknown_task_as_job_not_found() -> None:
    reply = dialect.problem(Problem.NOT_FOUND, "no such task")
    client, _ = scripted_client("jogg", answer(reply.body, status=reply.status))
    handle = JobHandle(provider="jogg", job_id=DOCS_TASK, created_at=CREATED, model="lipsync")
    with pytest.raises(JobNotFound):
        client.poll(handle)
