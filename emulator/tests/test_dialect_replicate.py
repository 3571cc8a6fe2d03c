"""The Replicate dialect without a server: routes, keys, the create's checks and refusals
in problem details, and the Standard Webhooks signature against its published vector."""

from __future__ import annotations

import json

import pytest

from lipbridge_emulator.dialect import Endpoint, JobSpec, Reply, Request, Route
from lipbridge_emulator.dialects.replicate import MODELS, ReplicateDialect, signature

DIALECT = ReplicateDialect()
VIDEO, AUDIO = "https://example.com/face.mp4", "https://example.com/speech.wav"
LATENTSYNC = next(m for m in MODELS if m.id == "bytedance/latentsync")


def post(path: str, body: object) -> Request:
    return Request(method="POST", path=path, body=json.dumps(body).encode())


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("POST", "/v1/predictions", Route(Endpoint.SUBMIT)),
        ("POST", "/v1/models/sync/lipsync-2/predictions", Route(Endpoint.SUBMIT)),
        ("GET", "/v1/predictions/abc", Route(Endpoint.POLL, "abc")),
        ("POST", "/v1/predictions/abc/cancel", Route(Endpoint.CANCEL, "abc")),
        ("POST", "/v1/files", Route(Endpoint.UPLOAD)),
        ("GET", "/v1/predictions", Route(Endpoint.LIST)),
        ("PUT", "/v1/predictions", None),
        ("DELETE", "/v1/predictions/abc", None),
    ],
)
def test_routes(method: str, path: str, route: Route | None) -> None:
    assert DIALECT.route(Request(method=method, path=path)) == route


@pytest.mark.parametrize(
    ("header", "key"),
    [("Bearer r8_x", "r8_x"), ("Token r8_x", "r8_x"), ("Key r8_x", None), ("", None)],
)
def test_the_token_is_bearer_or_token(header: str, key: str | None) -> None:
    request = Request(method="GET", path="/", headers={"authorization": header})
    assert DIALECT.api_key(request) == key


def test_a_version_is_taken_bare_or_with_its_model() -> None:
    for version in (LATENTSYNC.version, f"bytedance/latentsync:{LATENTSYNC.version}"):
        spec = DIALECT.parse_submit(
            post("/v1/predictions", {"version": version, "input": {"video": VIDEO, "audio": AUDIO}})
        )
        assert isinstance(spec, JobSpec) and spec.model == "bytedance/latentsync"


def refusal(reply: JobSpec | Reply) -> dict[str, object]:
    assert isinstance(reply, Reply) and reply.headers["Content-Type"] == "application/problem+json"
    return dict(json.loads(reply.body))


def test_an_unknown_version_is_422() -> None:
    create = post("/v1/predictions", {"version": "0" * 64, "input": {}})
    body = refusal(DIALECT.parse_submit(create))
    assert (body["status"], body["title"]) == (422, "Invalid version or not permitted")


def test_a_bad_input_names_its_field() -> None:
    path = "/v1/models/sync/lipsync-2/predictions"
    inputs = {"video": VIDEO, "audio": AUDIO, "sync_mode": "stretch"}
    body = refusal(DIALECT.parse_submit(post(path, {"input": inputs})))
    assert body["title"] == "Input validation failed"
    [field] = body["invalid_fields"]  # type: ignore[misc]
    assert (field["type"], field["field"]) == ("enum", "input.sync_mode")
    assert body["detail"] == f"- input.sync_mode: {field['description']}\n"


def test_a_webhook_filter_without_completed_sends_no_webhook() -> None:
    path = "/v1/models/sync/lipsync-2/predictions"
    spec = DIALECT.parse_submit(post(path, {"input": {"video": VIDEO, "audio": AUDIO},
                                            "webhook": "https://example.com/hook",
                                            "webhook_events_filter": ["start"]}))
    assert isinstance(spec, JobSpec) and spec.callback_url is None


def test_the_signature_is_standard_webhooks() -> None:
    got = signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                    1614265330, b'{"test": 2432232314}')
    assert got == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
