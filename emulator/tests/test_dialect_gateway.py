"""The task-unified gateway's dialect (FoxAPI, AIHubMax): pure translation, no server."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
import yaml
from shipped import cassettes

from lipbridge.models import SyncMode
from lipbridge_emulator.dialect import (
    CallbackPolicy,
    Endpoint,
    Failure,
    JobSpec,
    JobView,
    Problem,
    Reply,
    Request,
    Route,
    State,
)
from lipbridge_emulator.dialects.gateway import (
    AIHUBMAX,
    FOXAPI,
    GatewayDialect,
)

VIDEO = "http://127.0.0.1:8123/files/abc/face.mp4"
AUDIO = "http://127.0.0.1:8123/files/def/speech.wav"
CREATED = dt.datetime(2025, 9, 6, 13, 23, 51, tzinfo=dt.timezone.utc)  # the docs' 1757165031
BOTH = pytest.mark.parametrize("dialect", [FOXAPI, AIHUBMAX], ids=["foxapi", "aihubmax"])


def submit(dialect: GatewayDialect, body: Any, **headers: str) -> JobSpec | Reply:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    head = {"content-type": "application/json", **headers}
    return dialect.parse_submit(
        Request(method="POST", path="/v1/videos/generations", headers=head, body=raw)
    )


def accepted(dialect: GatewayDialect, body: dict[str, Any]) -> JobSpec:
    spec = submit(dialect, body)
    assert isinstance(spec, JobSpec), spec
    return spec


def refusal(reply: JobSpec | Reply, status: int) -> dict[str, Any]:
    """The error object of a refusal, after checking its status and envelope."""
    assert isinstance(reply, Reply), reply
    assert reply.status == status
    assert reply.headers["Content-Type"] == "application/json"
    data = json.loads(reply.body)
    assert set(data) == {"error"}
    error: dict[str, Any] = data["error"]
    return error


def rev_b(**fields: Any) -> dict[str, Any]:
    return {"model": "lipsync-2", "video_url": VIDEO, "audio_url": AUDIO, **fields}


def view(state: State = State.QUEUED, **fields: Any) -> JobView:
    base: dict[str, Any] = {
        "id": "task-unified-1757165031-uyujaw3d",
        "spec": JobSpec(model="lipsync-2", video=VIDEO, audio=AUDIO),
        "created": CREATED,
        "state": state,
        "progress": 0,
        "charge": Decimal(12),
    }
    return JobView(**{**base, **fields})


def body(reply: Reply) -> dict[str, Any]:
    assert reply.status == 200 and reply.headers["Content-Type"] == "application/json"
    data: dict[str, Any] = json.loads(reply.body)
    return data


# -- declarations ---------------------------------------------------------------------------


def test_the_two_resellers_are_declared_as_documented() -> None:
    assert (FOXAPI.provider, AIHUBMAX.provider) == ("foxapi", "aihubmax")
    for dialect in (FOXAPI, AIHUBMAX):
        assert dialect.url_lifetime == dt.timedelta(hours=24)
        assert dialect.status_before_results is True
        assert dialect.accepts_data_uris is False
    assert FOXAPI.callbacks == CallbackPolicy(timeout=10.0, retry_delays=(1.0, 2.0, 4.0))
    assert AIHUBMAX.callbacks is None


@BOTH
def test_job_ids_have_the_documented_task_unified_form(dialect: GatewayDialect) -> None:
    first = dialect.job_id(CREATED, "0123456789abcdef0123456789abcdef")
    other = dialect.job_id(CREATED, "fedcba9876543210fedcba9876543210")
    for job_id in (first, other):
        prefix, unix, tail = job_id.rsplit("-", 2)
        assert (prefix, unix) == ("task-unified", "1757165031")
        assert len(tail) == 8 and tail.isalnum() and tail == tail.lower()
    assert first != other
    assert dialect.job_id(CREATED, "0123456789abcdef0123456789abcdef") == first
    with pytest.raises(ValueError, match="invalid literal"):
        dialect.job_id(CREATED, "not-hex")


# -- auth and routes ------------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize(
    ("header", "key"),
    [
        ("Bearer lb-test-key", "lb-test-key"),
        ("bearer  lb-test-key ", "lb-test-key"),
        ("Basic lb-test-key", None),
        ("Bearer ", None),
        ("lb-test-key", None),
        (None, None),
    ],
)
def test_the_key_is_a_bearer_token(
    dialect: GatewayDialect, header: str | None, key: str | None
) -> None:
    headers = {} if header is None else {"authorization": header}
    assert dialect.api_key(Request(method="GET", path="/v1/tasks/x", headers=headers)) == key


@BOTH
@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("POST", "/v1/videos/generations", Route(Endpoint.SUBMIT)),
        ("GET", "/v1/tasks/task-unified-1-abc", Route(Endpoint.POLL, "task-unified-1-abc")),
        ("GET", "/v1/tasks/task%2Dunified-1-abc", Route(Endpoint.POLL, "task-unified-1-abc")),
        ("GET", "/v1/tasks/", None),
        ("GET", "/v1/tasks/a/b", None),
        ("POST", "/v1/tasks/task-unified-1-abc/cancel", None),
        ("GET", "/v1/videos/generations", None),
        ("POST", "/v1/files/upload/url", None),
    ],
)
def test_routes(dialect: GatewayDialect, method: str, path: str, route: Route | None) -> None:
    assert dialect.route(Request(method=method, path=path)) == route


@BOTH
def test_the_sync_upstream_query_does_not_change_the_route(dialect: GatewayDialect) -> None:
    request = Request(method="GET", path="/v1/tasks/t1", query={"sync_upstream": "true"})
    assert dialect.route(request) == Route(Endpoint.POLL, "t1")


# -- submit: accepted -----------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize("mode", list(SyncMode))
def test_a_rev_b_submit_is_a_job_spec(dialect: GatewayDialect, mode: SyncMode) -> None:
    spec = accepted(
        dialect,
        rev_b(
            model="lipsync-2-pro",
            sync_mode=mode.value,
            temperature=0.8,
            active_speaker=True,
            extra={"free": "form"},
        ),
    )
    assert spec == JobSpec(model="lipsync-2-pro", video=VIDEO, audio=AUDIO, sync_mode=mode)


@BOTH
def test_defaults_and_nulls_are_absent_fields(dialect: GatewayDialect) -> None:
    spec = accepted(
        dialect,
        {
            "model": None,
            "video_url": VIDEO,
            "audio_url": AUDIO,
            "sync_mode": None,
            "temperature": None,
            "active_speaker": None,
        },
    )
    assert (spec.model, spec.sync_mode) == ("lipsync-2", SyncMode.LOOP)


@BOTH
def test_sync_3_without_advanced_options_is_accepted(dialect: GatewayDialect) -> None:
    assert accepted(dialect, rev_b(model="sync-3", sync_mode="cut_off")).model == "sync-3"


def test_foxapi_also_takes_rev_a_fields() -> None:
    spec = accepted(FOXAPI, {"model": "lipsync-2", "video": VIDEO, "audio": AUDIO})
    assert (spec.video, spec.audio) == (VIDEO, AUDIO)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/lipsync",
        "http://127.0.0.1:9000/cb",
        "http://127.0.0.5/cb",
        "http://localhost:9000/cb",
        "http://[::1]:9000/cb",
        "https://example.com/" + "a" * (2048 - len("https://example.com/")),
    ],
)
def test_foxapi_keeps_https_and_loopback_callbacks(url: str) -> None:
    assert accepted(FOXAPI, rev_b(callback_url=url)).callback_url == url


def test_aihubmax_ignores_a_callback_url_its_schema_lacks() -> None:
    spec = accepted(AIHUBMAX, rev_b(callback_url="http://127.0.0.1:9000/cb"))
    assert spec.callback_url is None


# -- submit: refused ------------------------------------------------------------------------

INVALID = [
    (rev_b(model=7), "model"),
    ({"model": "lipsync-2", "audio_url": AUDIO}, "video_url"),
    ({"model": "lipsync-2", "video_url": VIDEO}, "audio_url"),
    (rev_b(video_url=["http://a.example/v.mp4"]), "video_url"),
    (rev_b(video_url="data:video/mp4;base64,AAAA"), "video_url"),
    (rev_b(audio_url="ftp://a.example/a.wav"), "audio_url"),
    (rev_b(audio_url="http://[::1/a.wav"), "audio_url"),
    (rev_b(sync_mode="stretch"), "sync_mode"),
    (rev_b(sync_mode=1), "sync_mode"),
    (rev_b(temperature=1.5), "temperature"),
    (rev_b(temperature=-0.1), "temperature"),
    (rev_b(temperature="0.5"), "temperature"),
    (rev_b(temperature=True), "temperature"),
    (rev_b(active_speaker="yes"), "active_speaker"),
    (rev_b(active_speaker=1), "active_speaker"),
]


@pytest.mark.parametrize(
    ("dialect", "kind"), [(FOXAPI, "invalid_request_error"), (AIHUBMAX, "validation_error")]
)
@pytest.mark.parametrize(("fields", "name"), INVALID)
def test_invalid_parameters_are_422_naming_the_field(
    dialect: GatewayDialect, kind: str, fields: dict[str, Any], name: str
) -> None:
    error = refusal(submit(dialect, fields), 422)
    assert set(error) == {"message", "type"} and error["type"] == kind
    assert name in error["message"]


def test_nan_temperature_is_refused() -> None:
    raw = json.dumps(rev_b()).replace("}", ', "temperature": NaN}').encode()
    assert "temperature" in refusal(submit(FOXAPI, raw), 422)["message"]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://hooks.example.com/cb", "HTTPS"),
        ("http://10.0.0.1/cb", "HTTPS"),
        ("ftp://127.0.0.1/cb", "HTTPS"),
        ("https:///no-host", "HTTPS"),
        (42, "string"),
        ("https://example.com/" + "a" * 2029, "2048"),
    ],
)
def test_foxapi_refuses_other_callback_urls(url: object, why: str) -> None:
    error = refusal(submit(FOXAPI, rev_b(callback_url=url)), 422)
    assert error["type"] == "invalid_request_error"
    assert "callback_url" in error["message"] and why in error["message"]


def test_aihubmax_refuses_rev_a_fields_naming_its_own() -> None:
    error = refusal(submit(AIHUBMAX, {"model": "lipsync-2", "video": VIDEO, "audio": AUDIO}), 422)
    assert "video_url is required" in error["message"]


def test_mixed_revisions_name_the_missing_partner() -> None:
    reply = submit(FOXAPI, {"video_url": VIDEO, "audio": AUDIO})
    assert "audio_url is required" in refusal(reply, 422)["message"]


@BOTH
@pytest.mark.parametrize(
    ("raw", "headers", "words"),
    [
        (b'{"model": ', {}, "Invalid JSON"),
        (b"\xff\xfe", {}, "Invalid JSON"),
        (b'["lipsync-2"]', {}, "JSON object"),
        (json.dumps(rev_b()).encode(), {"content-type": "text/plain"}, "Content-Type"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_400(
    dialect: GatewayDialect, raw: bytes, headers: dict[str, str], words: str
) -> None:
    error = refusal(submit(dialect, raw, **headers), 400)
    assert error["type"] == "invalid_request_error" and words in error["message"]


@BOTH
def test_a_json_content_type_with_parameters_is_json(dialect: GatewayDialect) -> None:
    accepted_spec = submit(dialect, rev_b(), **{"content-type": "application/json; charset=utf-8"})
    assert isinstance(accepted_spec, JobSpec)


@BOTH
def test_an_unknown_model_is_422_model_not_found(dialect: GatewayDialect) -> None:
    error = refusal(submit(dialect, rev_b(model="lipsync-9")), 422)
    assert error["code"] == "model_not_found" and error["type"] == "invalid_request_error"
    assert "lipsync-9" in error["message"]


@BOTH
@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"temperature": 0.5}, ["temperature"]),
        ({"active_speaker": False}, ["active_speaker"]),
        ({"temperature": 0.5, "active_speaker": True}, ["temperature", "active_speaker"]),
    ],
)
def test_sync_3_refuses_advanced_options(
    dialect: GatewayDialect, fields: dict[str, Any], named: list[str]
) -> None:
    error = refusal(submit(dialect, rev_b(model="sync-3", **fields)), 422)
    assert error["code"] == "unsupported_advanced_options"
    assert error["type"] == "invalid_request_error"
    assert all(name in error["message"] for name in named) and "sync-3" in error["message"]


@BOTH
def test_parameters_are_validated_before_channel_matching(dialect: GatewayDialect) -> None:
    error = refusal(submit(dialect, rev_b(model="nope", temperature=3)), 422)
    assert "code" not in error and "temperature" in error["message"]


# -- charge ---------------------------------------------------------------------------------


@BOTH
@pytest.mark.parametrize(
    ("seconds", "credits"),
    [(12.0, 12), (12.2, 13), (0.04, 1), (12.0000001, 12), (5.0004, 5), (5.0006, 6)],
)
def test_the_charge_is_a_credit_per_started_output_second(
    dialect: GatewayDialect, seconds: float, credits: int
) -> None:
    spec = JobSpec(model="sync-3", video=VIDEO, audio=AUDIO)
    assert dialect.charge(spec, seconds) == Decimal(credits)


# -- replies --------------------------------------------------------------------------------


@BOTH
def test_the_submit_answer(dialect: GatewayDialect) -> None:
    assert body(dialect.accepted(view())) == {
        "created": 1757165031,
        "id": "task-unified-1757165031-uyujaw3d",
        "model": "lipsync-2",
        "object": "video.generation.task",
        "progress": 0,
        "status": "pending",
        "task_info": {"can_cancel": False, "estimated_time": None},
        "type": "video",
        "usage": {"credits_reserved": 12, "user_group": "default"},
    }


def test_the_estimate_is_the_time_to_the_known_finish() -> None:
    job = view(completed=CREATED + dt.timedelta(seconds=44.2), charge=Decimal("2.5"))
    data = body(FOXAPI.accepted(job))
    assert data["task_info"]["estimated_time"] == 45
    assert data["usage"]["credits_reserved"] == 2.5


def test_a_naive_created_time_is_utc() -> None:
    assert body(FOXAPI.status(view(created=CREATED.replace(tzinfo=None))))["created"] == 1757165031


@BOTH
@pytest.mark.parametrize(
    ("job", "status", "progress", "results", "error"),
    [
        (view(State.QUEUED), "pending", 0, None, None),
        (view(State.RUNNING, progress=40), "processing", 40, None, None),
        (
            view(State.SUCCEEDED, progress=100, output_url="http://h/files/t/o.mp4"),
            "completed",
            100,
            [{"url": "http://h/files/t/o.mp4"}],
            None,
        ),
        (view(State.SUCCEEDED, progress=100), "completed", 99, None, None),  # the race
        (view(State.SUCCEEDED, progress=95), "completed", 95, None, None),
        (
            view(State.FAILED, progress=50, failure=Failure(code="fetch_failed", message="no")),
            "failed",
            50,
            None,
            {"code": "fetch_failed", "message": "no", "type": "task_error"},
        ),
        (
            view(State.FAILED, progress=100),
            "failed",
            100,
            None,
            {
                "code": "generation_failed",
                "message": "Video generation failed",
                "type": "task_error",
            },
        ),
    ],
)
def test_the_task_body_for_every_state(
    dialect: GatewayDialect,
    job: JobView,
    status: str,
    progress: int,
    results: list[dict[str, str]] | None,
    error: dict[str, str] | None,
) -> None:
    data = body(dialect.status(job))
    assert data == {
        "id": job.id,
        "object": "video.generation.task",
        "type": "video",
        "model": "lipsync-2",
        "status": status,
        "progress": progress,
        "created": 1757165031,
        "results": results,
        "error": error,
        "usage": {"credits_reserved": 12, "user_group": "default"},
    }
    assert dialect.callback_body(job) == data  # the callback is the task-query format


@BOTH
@pytest.mark.parametrize(
    ("problem", "status", "kind", "words"),
    [
        (Problem.UNAUTHORIZED, 401, "authentication_error", "API Key is invalid"),
        (Problem.NOT_FOUND, 404, "not_found", "Task ID does not exist"),
        (Problem.INSUFFICIENT_CREDITS, 402, "insufficient_quota", "Insufficient account balance"),
        (Problem.RATE_LIMITED, 429, "rate_limit_error", "Rate limit exceeded"),
        (Problem.UNSUPPORTED, 404, "not_found", "Not supported by the lipbridge emulator"),
    ],
)
def test_problems_in_the_gateway_envelope(
    dialect: GatewayDialect, problem: Problem, status: int, kind: str, words: str
) -> None:
    error = refusal(dialect.problem(problem, "engine detail"), status)
    assert error["type"] == kind and "code" not in error
    assert error["message"].startswith(words) and "(engine detail)" in error["message"]
    assert refusal(dialect.problem(problem, ""), status)["message"].startswith(words)


@BOTH
@pytest.mark.parametrize(
    ("status", "sent", "kind", "words"),
    [
        (None, 500, "server_error", "Server-side unknown error"),
        (500, 500, "server_error", "Server-side unknown error"),
        (502, 502, "server_error", "Server-side unknown error"),
        (503, 503, "service_unavailable_error", "No available channels"),
        (504, 504, "server_error", "Server-side unknown error"),
    ],
)
def test_server_errors(
    dialect: GatewayDialect, status: int | None, sent: int, kind: str, words: str
) -> None:
    error = refusal(dialect.problem(Problem.SERVER_ERROR, "fault", status=status), sent)
    assert error["type"] == kind and error["message"].startswith(words)


@BOTH
def test_there_is_no_cancel(dialect: GatewayDialect) -> None:
    error = refusal(dialect.cancel(view(State.RUNNING, progress=30)), 404)
    assert error["type"] == "not_found" and "cancel" in error["message"]


# -- in step with the documentation-derived cassettes ---------------------------------------


def interactions(provider: str, name: str) -> list[dict[str, Any]]:
    data = yaml.safe_load((cassettes(provider) / name).read_text())
    found: list[dict[str, Any]] = data["interactions"]
    return found


def answer(interaction: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(interaction["response"]["body"]["string"])
    return data


# Each provider's two documented submit answers: usage (seed, live) and task_info (rev B).
SUBMIT_SHAPES = {
    "foxapi": ("success.yaml", "success_seed_fields.yaml"),
    "aihubmax": ("success.yaml", "success_task_info.yaml"),
}


@BOTH
def test_replies_have_the_cassettes_keys(dialect: GatewayDialect) -> None:
    name = dialect.provider
    documented = [answer(interactions(name, file)[0]) for file in SUBMIT_SHAPES[name]]
    ours = body(dialect.accepted(view()))
    assert set(ours) == set().union(*documented)
    for part in ("usage", "task_info"):
        assert set(ours[part]) == {key for shape in documented for key in shape.get(part, {})}
    polls = [answer(step) for step in interactions(name, "success.yaml")[1:]]
    done = view(State.SUCCEEDED, progress=100, output_url="http://h/o.mp4")
    for poll in polls:
        assert set(body(dialect.status(done))) == set(poll)
    assert set(body(dialect.status(done))["results"][0]) == set(polls[-1]["results"][0])
    failed = answer(interactions(name, "job_failed.yaml")[-1])
    ours_failed = body(dialect.status(view(State.FAILED, failure=Failure(code="x", message="y"))))
    assert set(ours_failed["error"]) == set(failed["error"])
    race = answer(interactions(name, "completed_before_results.yaml")[1])
    ours_race = body(dialect.status(view(State.SUCCEEDED, progress=100)))
    assert (ours_race["status"], ours_race["results"]) == (race["status"], race["results"])
    assert ours_race["progress"] < 100 and race["progress"] < 100


@BOTH
@pytest.mark.parametrize(
    ("file", "problem", "status"),
    [
        ("auth_invalid.yaml", Problem.UNAUTHORIZED, None),
        ("insufficient_credits.yaml", Problem.INSUFFICIENT_CREDITS, None),
        ("job_not_found.yaml", Problem.NOT_FOUND, None),
        ("rate_limited.yaml", Problem.RATE_LIMITED, None),
        ("provider_unavailable.yaml", Problem.SERVER_ERROR, 503),
    ],
)
def test_problems_match_the_cassettes(
    dialect: GatewayDialect, file: str, problem: Problem, status: int | None
) -> None:
    step = interactions(dialect.provider, file)[-1]
    documented = answer(step)
    reply = dialect.problem(problem, "", status=status)
    assert reply.status == step["response"]["status"]["code"]
    assert json.loads(reply.body) == documented  # the error-codes page's wording, exactly


@BOTH
def test_the_cassettes_success_requests_are_accepted(dialect: GatewayDialect) -> None:
    files = sorted(cassettes(dialect.provider).glob("success*.yaml"))
    sent = [
        json.loads(interactions(dialect.provider, path.name)[0]["request"]["body"])
        for path in files
        if not path.name.endswith(".sidecar.yaml")
    ]
    assert len(sent) >= 2
    for request in sent:
        assert isinstance(submit(dialect, request), JobSpec), request


@BOTH
def test_the_cassettes_refusal_shapes_are_ours(dialect: GatewayDialect) -> None:
    file = "invalid_request_422.yaml" if dialect is FOXAPI else "model_not_found.yaml"
    documented = answer(interactions(dialect.provider, file)[0])["error"]
    ours = refusal(submit(dialect, rev_b(model="sync-3", temperature=0.5)), 422)
    ours_model = refusal(submit(dialect, rev_b(model="unknown")), 422)
    assert set(ours) == set(ours_model) == set(documented)
    assert ours["type"] == ours_model["type"] == documented["type"]
