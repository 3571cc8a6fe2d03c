"""The fal.ai dialect alone: routes, the key, submit validation, and the shapes of its
status, result and error answers (end to end in test_dialect_fal_e2e.py)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest

from lipbridge.models import SyncMode
from lipbridge_emulator.dialect import Endpoint, JobSpec, JobView, Problem, Reply, Request, State
from lipbridge_emulator.dialects.fal import FalDialect

RID = "80e732af-660e-45cd-bd63-580e4f2a94cc"
APP = "/fal-ai/sync-lipsync"
BASE = "http://127.0.0.1:9/fal"
SUBMIT = {"video_url": "http://h.example/v.mp4", "audio_url": "http://h.example/a.wav"}


def body(reply: Reply) -> Any:
    return json.loads(reply.body)


def view(dialect: FalDialect, state: State, output: str | None = None) -> JobView:
    request = Request(
        method="POST", path=f"{APP}/v2", body=json.dumps(SUBMIT).encode(), base_url=BASE
    )
    spec = dialect.parse_submit(request)
    assert isinstance(spec, JobSpec) and spec.sync_mode is SyncMode.CUT_OFF  # the default
    when = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    return JobView(
        id=RID,
        spec=spec,
        created=when,
        state=state,
        progress=60,
        output_url=output,
        completed=when if output else None,
    )


@pytest.mark.parametrize(
    ("method", "path", "endpoint"),
    [
        ("POST", f"{APP}/v2", Endpoint.SUBMIT),
        ("POST", "/fal-ai/kling-video/lipsync/audio-to-video", Endpoint.SUBMIT),
        ("GET", f"{APP}/requests/{RID}/status", Endpoint.POLL),
        ("GET", f"{APP}/requests/{RID}", Endpoint.POLL),
        ("PUT", f"{APP}/requests/{RID}/cancel", Endpoint.CANCEL),
        ("POST", "/fal-ai/flux/dev", None),
        ("GET", f"{APP}/requests/{RID}/cancel", None),
    ],
)
def test_routes(method: str, path: str, endpoint: Endpoint | None) -> None:
    route = FalDialect().route(Request(method=method, path=path))
    assert (route.endpoint if route else None) is endpoint


def test_the_key_goes_after_key() -> None:
    dialect = FalDialect()
    assert dialect.api_key(Request(method="GET", path="/", headers={"authorization": "Key a:b"}))
    assert (
        dialect.api_key(Request(method="GET", path="/", headers={"authorization": "Bearer a"}))
        is None
    )


def test_a_missing_audio_url_is_a_model_error() -> None:
    request = Request(method="POST", path=f"{APP}/v2", body=b'{"video_url": "http://h/v.mp4"}')
    reply = FalDialect().parse_submit(request)
    assert isinstance(reply, Reply) and reply.status == 422
    assert body(reply) == {
        "detail": [
            {"loc": ["body", "audio_url"], "msg": "field required", "type": "value_error.missing"}
        ]
    }


def test_status_logs_only_when_asked_and_the_result_after_completion() -> None:
    dialect = FalDialect()
    running = view(dialect, State.RUNNING)
    dialect.route(Request(method="GET", path=f"{APP}/requests/{RID}/status"))
    assert "logs" not in body(dialect.status(running))
    dialect.route(Request(method="GET", path=f"{APP}/requests/{RID}/status", query={"logs": "1"}))
    answer = dialect.status(running)
    assert answer.status == 202 and body(answer)["status"] == "IN_PROGRESS"
    assert body(answer)["status_url"] == f"{BASE}{APP}/requests/{RID}/status"
    dialect.route(Request(method="GET", path=f"{APP}/requests/{RID}"))
    assert dialect.status(running).status == 400  # no result yet
    done = dialect.status(view(dialect, State.SUCCEEDED, "http://h/out.mp4"))
    assert body(done) == {
        "video": {"url": "http://h/out.mp4", "content_type": "video/mp4", "file_name": f"{RID}.mp4"}
    }


def test_cancel_then_the_result_is_499() -> None:
    dialect = FalDialect()
    queued = view(dialect, State.QUEUED)
    assert body(dialect.cancel(queued)) == {"status": "CANCELLATION_REQUESTED"}
    dialect.route(Request(method="GET", path=f"{APP}/requests/{RID}"))
    reply = dialect.status(queued)
    assert reply.status == 499 and reply.headers["X-Fal-Error-Type"] == "client_cancelled"
    finished = view(dialect, State.SUCCEEDED, "http://h/out.mp4")
    assert (dialect.cancel(finished).status, body(dialect.cancel(finished))) == (
        400,
        {"status": "ALREADY_COMPLETED"},
    )


def test_errors_and_charges() -> None:
    dialect = FalDialect()
    assert dialect.problem(Problem.UNAUTHORIZED, "x").status == 401
    assert b"Exhausted balance" in dialect.problem(Problem.INSUFFICIENT_CREDITS, "x").body
    assert dialect.problem(Problem.SERVER_ERROR, "x", 503).headers["X-Fal-Error-Type"] == (
        "runner_scheduling_failure"
    )
    spec = view(dialect, State.QUEUED).spec
    assert dialect.charge(spec, 6.0) == Decimal("0.30")
