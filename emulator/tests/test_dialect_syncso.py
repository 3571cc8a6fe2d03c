"""The sync.so dialect without a server: routes, validation, Generations, Idempotency-Key
semantics, the concurrency limit, uploads and signed webhooks, checked against sync.so's
documented examples (the cassettes) and read back through the plugin."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import threading
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import attrs
import pytest
import yaml
from shipped import cassettes

from lipbridge import JobHandle, JobRequest, JobState, RateLimited, SubmitOutcomeUnknown
from lipbridge.models import SyncMode
from lipbridge_contract.testing import answer, scripted_client
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
    UploadView,
)
from lipbridge_emulator.dialects.syncso import (
    DEFAULT_WEBHOOK_SECRET,
    SyncsoDialect,
    signature,
)

CASSETTES = cassettes("syncso")
GEN = "a47b00ce-29c1-40e8-badf-4f5b22c1e67e"
VIDEO = "https://assets.sync.so/docs/example-video.mp4"
AUDIO = "https://assets.sync.so/docs/example-audio.wav"
CREATED = dt.datetime(2026, 1, 22, 9, 46, 10, 602000, tzinfo=dt.timezone.utc)
OUT = "http://127.0.0.1:9/files/0123/out.mp4"
REQUEST = JobRequest(video=VIDEO, audio=AUDIO, sync_mode="cut_off")  # the plugin's side
# The sync-mode guide's example create.
EXAMPLE = {
    "input": [{"type": "video", "url": VIDEO}, {"type": "audio", "url": AUDIO}],
    "model": "lipsync-2",
    "options": {"sync_mode": "cut_off"},
}


def create(body: Any, **headers: str) -> Request:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Request(method="POST", path="/v2/generate", body=raw,
                   headers={k.replace("_", "-"): v for k, v in headers.items()})


def spec(dialect: SyncsoDialect, body: Any = None, **headers: str) -> JobSpec:
    parsed = dialect.parse_submit(create(EXAMPLE if body is None else body, **headers))
    assert isinstance(parsed, JobSpec), parsed
    return parsed


def job(parsed: JobSpec, state: State, **fields: Any) -> JobView:
    attached: dict[str, Any] = {}
    if state is State.SUCCEEDED:
        attached = {"output_url": OUT, "output_seconds": 9.98, "completed": CREATED}
    if state is State.FAILED:
        attached = {"failure": Failure(code="fetch_failed", message="video: could not download"),
                    "completed": CREATED}
    progress = {State.QUEUED: 0, State.RUNNING: 50}.get(state, 100)
    return JobView(id=GEN, spec=parsed, created=CREATED, state=state,
                   progress=progress, **{**attached, **fields})


def body(reply: Reply) -> Any:
    assert reply.headers["Content-Type"] == "application/json"
    return json.loads(reply.body)


def refused(reply: object, status: int = 400) -> dict[str, Any]:
    assert isinstance(reply, Reply), reply
    assert reply.status == status
    data: dict[str, Any] = body(reply)
    assert data["statusCode"] == status and isinstance(data["error"], str)
    return data


def said(data: dict[str, Any]) -> str:
    message = data["message"]
    return "; ".join(message) if isinstance(message, list) else str(message)


# Routes and auth


@pytest.mark.parametrize(
    ("method", "path", "route"),
    [
        ("POST", "/v2/generate", Route(Endpoint.SUBMIT)),
        ("GET", f"/v2/generate/{GEN}", Route(Endpoint.POLL, GEN)),
        ("GET", "/v2/generate/odd%20id", Route(Endpoint.POLL, "odd id")),
        ("POST", "/v2/assets/upload", Route(Endpoint.UPLOAD)),
        ("POST", "/v2/assets", Route(Endpoint.UPLOAD)),
        ("GET", "/v2/generate", None),
        ("GET", f"/v2/generate/{GEN}/costs", None),
        ("DELETE", f"/v2/generations/{GEN}", None),  # no cancel; delete is not emulated
        ("POST", "/v2/generate/", None),
        ("POST", "/v1/generate", None),
    ],
)
def test_routes(method: str, path: str, route: Route | None) -> None:
    assert SyncsoDialect().route(Request(method=method, path=path)) == route


def test_the_key_is_read_from_x_api_key_alone() -> None:
    dialect = SyncsoDialect()
    assert dialect.api_key(Request(method="GET", path="/", headers={"x-api-key": "k"})) == "k"
    bearer = {"authorization": "Bearer k"}
    assert dialect.api_key(Request(method="GET", path="/", headers=bearer)) is None


def test_every_cassette_request_routes_and_every_create_parses_or_is_refused_alike() -> None:
    """What the plugin was certified sending, the emulator understands (and refuses the
    invalid_request cassette's create for the same reason sync.so did there)."""
    for path in sorted(CASSETTES.glob("*.yaml")):
        if path.name == "suite.yaml" or path.name.endswith(".sidecar.yaml"):
            continue
        for interaction in yaml.safe_load(path.read_text())["interactions"]:
            sent = interaction["request"]
            uri = urlsplit(sent["uri"])
            if uri.hostname != "api.sync.so":
                continue  # an upload's PUT goes to the presigned URL's storage
            request = Request(method=sent["method"], path=uri.path,
                              body=(sent["body"] or "").encode())
            route = SyncsoDialect().route(request)
            assert route is not None, f"{path.name}: {sent['method']} {sent['uri']}"
            if route.endpoint is Endpoint.SUBMIT and path.name == "invalid_request.yaml":
                assert "outputFileName" in said(refused(SyncsoDialect().parse_submit(request)))
            elif route.endpoint is Endpoint.SUBMIT:
                assert isinstance(SyncsoDialect().parse_submit(request), JobSpec), path.name
            elif uri.path == "/v2/assets/upload":
                assert isinstance(SyncsoDialect().parse_upload(request), UploadSpec)


# Creating a generation


def test_the_documented_example_becomes_a_job() -> None:
    parsed = spec(SyncsoDialect())
    assert (parsed.model, parsed.video, parsed.audio, parsed.sync_mode, parsed.callback_url) == (
        "lipsync-2", VIDEO, AUDIO, SyncMode.CUT_OFF, None
    )
    assert parsed.echo == {"input": EXAMPLE["input"], "options": EXAMPLE["options"]}


def test_options_and_webhook() -> None:
    options = {"sync_mode": "remap", "temperature": 0.3, "occlusion_detection_enabled": True,
               "active_speaker_detection": {"auto_detect": True}}
    hook = "https://app.example.com/hook"
    parsed = spec(SyncsoDialect(), {**EXAMPLE, "options": options, "webhookUrl": hook,
                                    "outputFileName": "take_2"})
    assert (parsed.sync_mode, parsed.callback_url, parsed.echo["options"]) == (
        SyncMode.REMAP, hook, options
    )


def test_bounce_is_rendered_when_no_sync_mode_is_sent() -> None:
    assert spec(SyncsoDialect(), {**EXAMPLE, "options": {}}).sync_mode is SyncMode.BOUNCE
    no_options = {k: v for k, v in EXAMPLE.items() if k != "options"}
    assert spec(SyncsoDialect(), no_options).sync_mode is SyncMode.BOUNCE


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"model": "lipsync-3"}, "model must be one of"),
        ({"model": None}, "model must be one of"),
        ({"input": "x"}, "input must be an array"),
        ({"input": [{"type": "video", "url": VIDEO}]}, "one video input item"),
        ({"input": [{"type": "video", "url": VIDEO}, {"type": "text", "script": "hi"}]},
         "text-to-speech"),
        ({"input": [{"type": "video", "url": VIDEO}, {"type": "audio", "url": AUDIO},
                    {"type": "audio", "url": AUDIO}]}, "segments"),
        ({"input": [{"type": "video"}, {"type": "audio", "url": AUDIO}]}, "url or assetId"),
        ({"input": [{"type": "video", "url": "ftp://x/y"}, {"type": "audio", "url": AUDIO}]},
         "input[0].url"),
        ({"input": [{"type": "video", "assetId": "nope"}, {"type": "audio", "url": AUDIO}]},
         "not an asset"),
        ({"options": {"sync_mode": "stretch"}}, "options.sync_mode"),
        ({"options": {"temperature": 2}}, "options.temperature"),
        ({"options": {"temperature": True}}, "options.temperature"),
        ({"options": []}, "options must be an object"),
        ({"outputFileName": "my video.mp4"}, "outputFileName"),
        ({"outputFileName": "x" * 256}, "outputFileName"),
        ({"webhookUrl": "http://app.example.com/hook"}, "webhookUrl"),
        ({"webhookUrl": 7}, "webhookUrl"),
    ],
)
def test_invalid_creates_are_400_with_a_message_list(change: dict[str, Any], says: str) -> None:
    data = refused(SyncsoDialect().parse_submit(create({**EXAMPLE, **change})))
    assert isinstance(data["message"], list) and says in said(data)


@pytest.mark.parametrize("raw", [b"{", b"[]", b'"x"'])
def test_a_body_that_is_not_a_json_object_is_400(raw: bytes) -> None:
    refused(SyncsoDialect().parse_submit(create(raw)))


def test_a_multipart_create_is_not_emulated() -> None:
    request = attrs.evolve(create(EXAMPLE), headers={"content-type": "multipart/form-data; b=x"})
    assert "not emulated" in said(refused(SyncsoDialect().parse_submit(request)))


def test_loopback_webhooks_are_taken_for_the_emulator() -> None:
    hook = "http://127.0.0.1:8000/cb"
    assert spec(SyncsoDialect(), {**EXAMPLE, "webhookUrl": hook}).callback_url == hook


def test_charge_is_output_frames_at_the_list_rate() -> None:
    dialect = SyncsoDialect()
    assert dialect.charge(spec(dialect), 10.0) == Decimal("0.5")  # 250 frames at $0.002
    sync3 = spec(dialect, {**EXAMPLE, "model": "sync-3"})
    assert dialect.charge(sync3, 1.001) == Decimal(26) * Decimal("0.133") / 25  # 26 frames


# Generations, as the plugin reads them


@pytest.mark.parametrize(
    ("state", "word"),
    [(State.QUEUED, "PENDING"), (State.RUNNING, "PROCESSING"), (State.SUCCEEDED, "COMPLETED"),
     (State.FAILED, "FAILED")],
)
def test_a_generation_in_each_state(state: State, word: str) -> None:
    dialect = SyncsoDialect()
    data = body(dialect.status(job(spec(dialect), state)))
    assert set(data) >= {"id", "createdAt", "status", "model", "input", "options", "webhookUrl",
                         "outputUrl", "outputDuration", "error", "error_code"}
    assert (data["id"], data["status"], data["createdAt"]) == (
        GEN, word, "2026-01-22T09:46:10.602Z"
    )
    assert data["input"] == EXAMPLE["input"] and data["options"] == EXAMPLE["options"]
    done = state is State.SUCCEEDED
    assert (data["outputUrl"], data["outputMediaUrl"]) == ((OUT, OUT) if done else (None, None))
    assert data["outputDuration"] == (9.98 if done else None)
    if state is State.FAILED:
        assert (data["error"], data["error_code"]) == (
            "video: could not download", "generation_input_validation_failed"
        )
    else:
        assert data["error"] is None and data["error_code"] is None


def test_the_plugin_reads_the_dialect_s_generations() -> None:
    dialect = SyncsoDialect()
    parsed = spec(dialect)
    when = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    handle = JobHandle(provider="syncso", job_id=GEN, created_at=when, model="lipsync-2")
    expected = {State.QUEUED: JobState.QUEUED, State.RUNNING: JobState.RUNNING,
                State.SUCCEEDED: JobState.SUCCEEDED, State.FAILED: JobState.FAILED}
    for state, canonical in expected.items():
        client, _ = scripted_client("syncso", answer(dialect.status(job(parsed, state)).body))
        status = client.poll(handle)
        assert status.state is canonical
    assert status.error is not None and status.error.code == "generation_input_validation_failed"


def test_the_accepted_answer_is_a_201_generation_the_plugin_reads() -> None:
    dialect = SyncsoDialect()
    reply = dialect.accepted(job(spec(dialect), State.QUEUED))
    assert reply.status == 201 and body(reply)["status"] == "PENDING"
    client, _ = scripted_client("syncso", answer(reply.body, status=201))
    assert client.submit("syncso", REQUEST).job_id == GEN


def test_job_ids_are_uuids() -> None:
    assert SyncsoDialect().job_id(CREATED, "0" * 31 + "1") == "00000000-0000-4000-8000-000000000001"


# Errors the engine decides on


@pytest.mark.parametrize(
    ("problem", "status", "code"),
    [
        (Problem.UNAUTHORIZED, 401, None),
        (Problem.NOT_FOUND, 404, None),
        (Problem.INSUFFICIENT_CREDITS, 402, None),
        (Problem.RATE_LIMITED, 429, "rate_limit_exceeded"),
        (Problem.UNSUPPORTED, 404, None),
    ],
)
def test_problems_in_the_envelope(problem: Problem, status: int, code: str | None) -> None:
    data = refused(SyncsoDialect().problem(problem, "why"), status)
    assert data.get("errorCode") == code


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_generic(status: int) -> None:
    data = refused(SyncsoDialect().problem(Problem.SERVER_ERROR, "fault", status), status)
    assert "errorCode" not in data


# Idempotency-Key

KEY = "01KBFQ3ZR8W5T7V9X2Y4A6C8E0"


def test_the_same_key_and_body_replay_the_first_answer_and_make_no_job() -> None:
    dialect = SyncsoDialect()
    first = spec(dialect, idempotency_key=KEY)
    reply = dialect.accepted(job(first, State.QUEUED))
    reordered = json.dumps(dict(reversed(list(EXAMPLE.items())))).encode()  # same value
    assert dialect.parse_submit(create(reordered, idempotency_key=KEY)) == reply


def test_the_same_key_with_another_body_is_409_and_makes_nothing() -> None:
    dialect = SyncsoDialect()
    dialect.accepted(job(spec(dialect, idempotency_key=KEY), State.QUEUED))
    other = {**EXAMPLE, "model": "sync-3"}
    data = refused(dialect.parse_submit(create(other, idempotency_key=KEY)), 409)
    assert data["errorCode"] == "IDEMPOTENCY_KEY_REUSED"
    assert isinstance(dialect.parse_submit(create(other, idempotency_key="other")), JobSpec)


def test_a_copy_arriving_while_the_first_is_created_is_an_unknown_outcome() -> None:
    dialect = SyncsoDialect()
    spec(dialect, idempotency_key=KEY)  # parsed; the engine has not answered it yet
    result: list[object] = []
    other = threading.Thread(  # another handler thread
        target=lambda: result.append(dialect.parse_submit(create(EXAMPLE, idempotency_key=KEY)))
    )
    other.start()
    other.join()
    data = refused(result[0], 503)
    assert data["errorCode"] == "IDEMPOTENCY_OUTCOME_UNKNOWN"
    # The plugin, after the core's retries under the key, reads it as such.
    client, _ = scripted_client("syncso", answer(data, status=503))
    with pytest.raises(SubmitOutcomeUnknown):
        client.submit("syncso", REQUEST)


def test_a_create_refused_after_parsing_frees_its_key() -> None:
    """The engine refuses a job it cannot bill on the thread that parsed it."""
    dialect = SyncsoDialect()
    spec(dialect, idempotency_key=KEY)
    refused(dialect.problem(Problem.INSUFFICIENT_CREDITS, "no credit"), 402)
    assert isinstance(dialect.parse_submit(create(EXAMPLE, idempotency_key=KEY)), JobSpec)


@pytest.mark.parametrize("status", [500, 502, 504])
def test_a_server_error_after_a_keyed_generation_was_made_is_an_unknown_outcome(
    status: int,
) -> None:
    """"Keyed uncertain outcomes return 503 IDEMPOTENCY_OUTCOME_UNKNOWN", with the id."""
    dialect = SyncsoDialect()
    dialect.accepted(job(spec(dialect, idempotency_key=KEY), State.QUEUED))
    data = refused(dialect.problem(Problem.SERVER_ERROR, "upstream timed out", status), 503)
    assert (data["errorCode"], data["generationId"]) == ("IDEMPOTENCY_OUTCOME_UNKNOWN", GEN)
    # The next request on the thread (routed first) meets plain server errors again,
    assert dialect.route(Request(method="GET", path=f"/v2/generate/{GEN}")) is not None
    assert "errorCode" not in refused(dialect.problem(Problem.SERVER_ERROR, "x", status), status)
    # and without a key nothing is uncertain to sync.so's knowledge.
    dialect.route(create(EXAMPLE))
    dialect.accepted(job(spec(dialect), State.QUEUED))
    assert "errorCode" not in refused(dialect.problem(Problem.SERVER_ERROR, "x", status), status)


@pytest.mark.parametrize("key", ["", "a b", "é", "x" * 129, "a/b"])
def test_a_malformed_key_is_400_invalid_idempotency_key(key: str) -> None:
    data = refused(SyncsoDialect().parse_submit(create(EXAMPLE, idempotency_key=key)))
    assert data["errorCode"] == "INVALID_IDEMPOTENCY_KEY"


# The last is the idempotency guide's example key.
@pytest.mark.parametrize(
    "key", ["a", "x" * 128, "A-z_0.9~", "d9bc7a6e-73cd-4d9a-8a2b-2e6019846044"]
)
def test_keys_of_the_documented_form_are_taken(key: str) -> None:
    spec(SyncsoDialect(), idempotency_key=key)


# Concurrency


def test_the_concurrency_limit_counts_generations_until_they_are_seen_ended() -> None:
    dialect = SyncsoDialect(concurrency=1)
    running = dialect.accepted(job(spec(dialect), State.QUEUED))
    assert running.status == 201
    data = refused(dialect.parse_submit(create(EXAMPLE)), 429)
    assert data["errorCode"] == "concurrency_limit_reached"
    client, _ = scripted_client("syncso", answer(data, status=429))
    with pytest.raises(RateLimited, match="concurrency limit"):
        client.submit("syncso", REQUEST)
    dialect.status(job(spec(SyncsoDialect()), State.RUNNING))  # still in flight
    assert refused(dialect.parse_submit(create(EXAMPLE)), 429)
    dialect.status(job(spec(SyncsoDialect()), State.SUCCEEDED))  # seen ended: its slot frees
    assert isinstance(dialect.parse_submit(create(EXAMPLE)), JobSpec)


def test_a_parsed_create_holds_its_slot_until_the_engine_answers() -> None:
    dialect = SyncsoDialect(concurrency=1)
    spec(dialect)
    result: list[object] = []
    other = threading.Thread(target=lambda: result.append(dialect.parse_submit(create(EXAMPLE))))
    other.start()
    other.join()
    refused(result[0], 429)
    dialect.problem(Problem.INSUFFICIENT_CREDITS, "refused")  # frees it
    assert isinstance(dialect.parse_submit(create(EXAMPLE)), JobSpec)


def test_without_a_limit_nothing_is_counted() -> None:
    dialect = SyncsoDialect()
    for _ in range(20):
        dialect.accepted(job(spec(dialect), State.QUEUED))
    assert isinstance(dialect.parse_submit(create(EXAMPLE)), JobSpec)


# Uploads

PRESIGN = {"fileName": "speaker.mp4", "contentType": "video/mp4", "size": 8388608}


def post(path: str, data: Any) -> Request:
    return Request(method="POST", path=path, body=json.dumps(data).encode())


def presigned(dialect: SyncsoDialect, token: str = "ab" * 16) -> UploadView:
    parsed = dialect.parse_upload(post("/v2/assets/upload", PRESIGN))
    assert isinstance(parsed, UploadSpec)
    assert (parsed.name, parsed.content_type, parsed.data, parsed.lifetime) == (
        "speaker.mp4", "video/mp4", None, None
    )
    assert parsed.put_within == dt.timedelta(hours=1)
    url = f"http://127.0.0.1:9/files/{token}/speaker.mp4"
    view = UploadView(id=token, spec=parsed, url=url, created=CREATED, put_url=f"{url}?s=1")
    answered = body(dialect.uploaded(view))
    assert answered == {"uploadUrl": view.put_url, "url": view.url, "expiresIn": 3600}
    return view


def test_presign_register_and_use_an_asset() -> None:
    dialect = SyncsoDialect()
    view = presigned(dialect)
    reply = dialect.parse_upload(post("/v2/assets", {"url": view.url, "type": "VIDEO"}))
    assert isinstance(reply, Reply) and reply.status == 201
    asset = body(reply)
    assert asset["id"] == "abababab-abab-4bab-abab-abababababab"
    assert (asset["type"], asset["url"], asset["name"], asset["inputType"]) == (
        "VIDEO", view.url, "speaker.mp4", "UPLOAD"
    )
    by_asset = {**EXAMPLE, "input": [{"type": "video", "assetId": asset["id"]},
                                     {"type": "audio", "url": AUDIO}]}
    parsed = spec(dialect, by_asset)
    assert parsed.video == view.url  # what the engine fetches
    assert parsed.echo["input"][0] == {"type": "video", "assetId": asset["id"]}


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"contentType": "video/mp4", "size": 1}, "fileName is required"),
        ({"fileName": "a.mp4", "size": 1}, "contentType is required"),
        ({"fileName": "a.mp4", "contentType": "video/mp4"}, "size"),
        ({"fileName": "a.mp4", "contentType": "video/mp4", "size": "1"}, "size"),
        ({"fileName": "a.mp4", "contentType": "video/mp4", "size": 5 * 1024**3 + 1}, "5GB"),
    ],
)
def test_a_presign_needs_all_three_fields(data: dict[str, Any], says: str) -> None:
    assert says in said(refused(SyncsoDialect().parse_upload(post("/v2/assets/upload", data))))


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"url": "https://example.com/face.mp4", "type": "VIDEO"}, "registers only"),
        ({"type": "VIDEO"}, "registers only"),
        ({"url": "x", "type": "MOVIE"}, "type must be one of"),
    ],
)
def test_registration_takes_only_presigned_urls(data: dict[str, Any], says: str) -> None:
    assert says in said(refused(SyncsoDialect().parse_upload(post("/v2/assets", data))))


# Signed webhooks

# The research notes' vector (computed there with the docs' algorithm, not by sync.so).
VECTOR = ("whsec_test_lipbridge", 1767225600, b'{"id":"gen_1","status":"COMPLETED"}',
          "41012883c6001111bd39b9d41458088e10fcf1621b43fea9f6a4dfb38dfb31b8")


def test_the_signature_matches_the_known_vector() -> None:
    secret, t, payload, hexdigest = VECTOR
    sent = dt.datetime.fromtimestamp(t, tz=dt.timezone.utc)
    assert signature(secret, payload, sent) == f"t={t},v1={hexdigest}"


def verified(secret: str, header: str, raw: bytes) -> bool:
    """The webhooks guide's Python verifier, as its sample code does it: the payload
    parsed and re-serialised compactly, the secret used as it is."""
    match = re.match(r"t=(\d+),v1=(.+)", header)
    assert match is not None
    timestamp, received = match.groups()
    message = f"{timestamp}.{json.dumps(json.loads(raw), separators=(',', ':'))}"
    expected = hmac.new(secret.encode("utf-8"), message.encode("utf-8"), hashlib.sha256)
    return hmac.compare_digest(received, expected.hexdigest())


@pytest.mark.parametrize("secret", [DEFAULT_WEBHOOK_SECRET, "whsec_someone_else"])
def test_a_webhook_is_the_compact_generation_signed_as_the_guide_verifies(secret: str) -> None:
    dialect = SyncsoDialect(webhook_secret=secret)
    parsed = spec(dialect, {**EXAMPLE, "webhookUrl": "https://app.example.com/hook",
                            "options": {"sync_mode": "loop", "prompt": "café"}})
    generation = dialect.callback_body(job(parsed, State.SUCCEEDED))
    assert generation == body(dialect.status(job(parsed, State.SUCCEEDED)))
    sent = CREATED + dt.timedelta(minutes=2)
    payload, headers = dialect.callback_request(generation, sent)
    assert json.loads(payload) == generation
    assert b" " not in payload and payload.isascii()  # what re-serialising gives back
    header = headers["Sync-Signature"]
    assert header.startswith(f"t={int(sent.timestamp())},v1=")
    assert verified(secret, header, payload)
    assert not verified("whsec_wrong", header, payload)
    assert not verified(secret, header, payload.replace(b"COMPLETED", b"FAILED"))
