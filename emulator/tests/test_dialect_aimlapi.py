"""The AI/ML API dialect, without a server: routes, auth, the audio-or-TTS rule, replies,
problems and charges, checked against the cassettes' documented shapes and the plugin."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from itertools import product
from pathlib import Path
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
    RequestRejected,
    TextToSpeech,
)
from lipbridge.models import SyncMode
from lipbridge_aimlapi import LIMITS
from lipbridge_aimlapi.wire import STATUSES, submit_body
from lipbridge_aimlapi.wire import VOICES as PLUGIN_VOICES
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
)
from lipbridge_emulator.dialects.aimlapi import VOICES, AimlapiDialect

CASSETTES = cassettes("aimlapi")
PATH = "/v2/video/generations"
MOUNT = "http://127.0.0.1:8123/aimlapi"
VIDEO = "https://raw.githubusercontent.com/aimlapi/api-docs/main/reference-files/news.mp4"
AUDIO = "https://raw.githubusercontent.com/aimlapi/api-docs/main/reference-files/female-vocalization.mp3"
OUTPUT = "http://127.0.0.1:8123/files/0123abcd/out.mp4"
NOW = dt.datetime(2025, 3, 11, 7, 10, 2, 114000, tzinfo=dt.timezone.utc)
REQUEST_ID = "5c0e4d3a-2f1b-4a6e-9c8d-7b1a0e2f3d4c"
JOB_ID = "60ac7c34-3224-4b14-8e7d-0aa0db708325"
MIB = 1024 * 1024

dialect = AimlapiDialect(now=lambda: NOW, request_id=lambda: REQUEST_ID)


def submit(body: Any, base_url: str = MOUNT) -> Request:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Request(method="POST", path=PATH, body=raw, base_url=base_url)


def data(reply: Reply) -> Any:
    return json.loads(reply.body)


def spec_of(body: dict[str, Any]) -> JobSpec:
    parsed = dialect.parse_submit(submit(body))
    assert isinstance(parsed, JobSpec), data(parsed) if isinstance(parsed, Reply) else parsed
    return parsed


def refusal(body: Any, base_url: str = MOUNT) -> list[str]:
    """The detail lines of a 400, after checking the headline and envelope."""
    reply = dialect.parse_submit(submit(body, base_url))
    assert isinstance(reply, Reply)
    assert reply.status == 400
    message = data(reply)["message"]
    assert message[0] == "Body validation error!"
    assert len(message) > 1
    return list(message[1:])


def job(state: State, **fields: Any) -> JobView:
    spec = fields.pop("spec", None) or spec_of(
        {"model": "pixverse/lip-sync", "video_url": VIDEO, "audio_url": AUDIO}
    )
    return JobView(
        id=fields.pop("id", JOB_ID),
        spec=spec,
        created=NOW,
        state=state,
        progress={State.QUEUED: 0, State.RUNNING: 40}.get(state, 100),
        **fields,
    )


def done(**fields: Any) -> JobView:
    return job(
        State.SUCCEEDED, output_url=OUTPUT, output_seconds=5.0, charge=Decimal(400_000), **fields
    )


def interactions(name: str) -> list[dict[str, Any]]:
    loaded: dict[str, Any] = yaml.safe_load((CASSETTES / f"{name}.yaml").read_text("utf-8"))
    return list(loaded["interactions"])


def cassette_body(interaction: dict[str, Any]) -> Any:
    return json.loads(interaction["response"]["body"]["string"])


def cassette_request(interaction: dict[str, Any]) -> Any:
    return json.loads(interaction["request"]["body"])


def lower(headers: Any) -> set[str]:
    return {name.lower() for name in headers}


# Routes and auth


@pytest.mark.parametrize(
    ("method", "path", "query", "route"),
    [
        ("POST", PATH, {}, Route(Endpoint.SUBMIT)),
        ("POST", PATH + "/", {}, Route(Endpoint.SUBMIT)),
        ("GET", PATH, {"generation_id": JOB_ID}, Route(Endpoint.POLL, JOB_ID)),
        (
            "GET",
            PATH,
            {"generation_id": "z-IMFJo2ORUJBR7OWIqDM"},
            Route(Endpoint.POLL, "z-IMFJo2ORUJBR7OWIqDM"),
        ),
        ("GET", PATH, {}, Route(Endpoint.POLL, "")),  # an unknown generation, not a route
        ("GET", f"{PATH}/{JOB_ID}", {}, None),  # the id is a query parameter, not a segment
        ("DELETE", PATH, {"generation_id": JOB_ID}, None),  # no cancel is documented
        ("POST", "/v1/videos/generations", {}, None),
    ],
)
def test_routes(method: str, path: str, query: dict[str, str], route: Route | None) -> None:
    assert dialect.route(Request(method=method, path=path, query=query)) == route


@pytest.mark.parametrize(
    ("header", "key"),
    [
        (f"Bearer {TEST_KEY}", TEST_KEY),
        (f"bearer {TEST_KEY}", TEST_KEY),
        (f"Bearer  {TEST_KEY} ", TEST_KEY),
        (TEST_KEY, None),
        (f"Token {TEST_KEY}", None),
        ("Bearer ", None),
        ("", None),
    ],
)
def test_the_key_is_a_bearer_token(header: str, key: str | None) -> None:
    request = Request(method="POST", path=PATH, headers={"authorization": header})
    assert dialect.api_key(request) == key


def test_no_authorization_header_is_no_key() -> None:
    assert dialect.api_key(Request(method="POST", path=PATH, headers={"x-api-key": "k"})) is None


def test_job_ids_are_uuids_like_the_schema_example() -> None:
    token = "60ac7c3432244b148e7d0aa0db708325"
    assert dialect.job_id(NOW, token) == JOB_ID
    assert uuid.UUID(dialect.job_id(NOW, "f" * 32)).hex == "f" * 32


# The create body


def test_an_audio_submit_becomes_a_job_whose_output_follows_the_audio() -> None:
    spec = spec_of({"model": "pixverse/lip-sync", "video_url": VIDEO, "audio_url": AUDIO})
    assert spec == JobSpec(
        model="pixverse/lip-sync", video=VIDEO, audio=AUDIO, sync_mode=SyncMode.LOOP
    )


def test_a_tts_submit_carries_the_text_and_voice() -> None:
    spec = spec_of(
        {
            "model": "pixverse/lip-sync",
            "video_url": VIDEO,
            "lip_sync_tts_content": "Hello World!",
            "lip_sync_tts_speaker": "Harper",
        }
    )
    assert (spec.audio, spec.tts_text, spec.tts_voice) == (None, "Hello World!", "Harper")
    assert spec.sync_mode is SyncMode.LOOP


@pytest.mark.parametrize(("audio", "text", "voice"), list(product([False, True], repeat=3)))
def test_audio_or_both_tts_fields_never_both_nor_neither(
    audio: bool, text: bool, voice: bool
) -> None:
    body: dict[str, Any] = {"model": "pixverse/lip-sync", "video_url": VIDEO}
    body |= {"audio_url": AUDIO} if audio else {}
    body |= {"lip_sync_tts_content": "Good evening."} if text else {}
    body |= {"lip_sync_tts_speaker": "Auto"} if voice else {}
    if (audio and not (text or voice)) or (text and voice and not audio):
        assert isinstance(dialect.parse_submit(submit(body)), JobSpec)
        return
    issues = refusal(body)
    assert len(issues) == 1
    if audio or not (text or voice):  # both kinds, or neither: the docs' own sentence
        assert issues[0].endswith(
            "Use either audio_url or (lip_sync_tts_speaker together "
            "with lip_sync_tts_content), but not both"
        )
        assert '"audio_url"' in issues[0]
    else:  # half of the TTS pair: the missing half is named
        missing = "lip_sync_tts_speaker" if text else "lip_sync_tts_content"
        assert issues[0].startswith(f'Required at "{missing}"')


def test_a_null_field_counts_as_absent() -> None:
    spec = spec_of(
        {
            "model": "pixverse/lip-sync",
            "video_url": VIDEO,
            "audio_url": AUDIO,
            "lip_sync_tts_content": None,
            "lip_sync_tts_speaker": None,
        }
    )
    assert spec.audio == AUDIO


@pytest.mark.parametrize("voice", VOICES)
def test_every_documented_voice_is_accepted(voice: str) -> None:
    spec = spec_of(
        {
            "model": "pixverse/lip-sync",
            "video_url": VIDEO,
            "lip_sync_tts_content": "Hi.",
            "lip_sync_tts_speaker": voice,
        }
    )
    assert spec.tts_voice == voice


def test_the_voices_are_the_plugins() -> None:
    assert VOICES == PLUGIN_VOICES
    assert len(set(VOICES)) == 15


@pytest.mark.parametrize("voice", ["harper", "Bob", ""])
def test_another_voice_is_refused_with_the_list(voice: str) -> None:
    (issue,) = refusal(
        {
            "model": "pixverse/lip-sync",
            "video_url": VIDEO,
            "lip_sync_tts_content": "Hi.",
            "lip_sync_tts_speaker": voice,
        }
    )
    assert issue.startswith('Invalid enum value at "lip_sync_tts_speaker"')
    assert "'Harper' | 'Ava'" in issue and issue.endswith(f"received '{voice}'")


def test_empty_tts_text_is_refused() -> None:
    (issue,) = refusal(
        {
            "model": "pixverse/lip-sync",
            "video_url": VIDEO,
            "lip_sync_tts_content": "",
            "lip_sync_tts_speaker": "Auto",
        }
    )
    assert issue.startswith('Too small at "lip_sync_tts_content"')


@pytest.mark.parametrize(
    ("model", "issue"),
    [
        (None, 'Required at "model"'),
        (
            "pixverse/v5/text-to-video",
            'Invalid enum value at "model". Expected '
            "'pixverse/lip-sync', received 'pixverse/v5/text-to-video'",
        ),
        (3, "Invalid enum value at \"model\". Expected 'pixverse/lip-sync', received '3'"),
    ],
)
def test_the_model_must_be_pixverse_lip_sync(model: object, issue: str) -> None:
    body = {"video_url": VIDEO, "audio_url": AUDIO} | ({} if model is None else {"model": model})
    assert refusal(body) == [issue]


@pytest.mark.parametrize(
    ("field", "value", "issue"),
    [
        ("video_url", None, 'Required at "video_url"'),
        ("video_url", 5, 'Invalid type at "video_url". Expected string, received number'),
        ("video_url", ["x"], 'Invalid type at "video_url". Expected string, received array'),
        (
            "video_url",
            "ftp://example.com/a.mp4",
            'Invalid url at "video_url". Expected a '
            "HTTPS URL or a data URI, received 'ftp://example.com/a.mp4'",
        ),
        (
            "video_url",
            "https://",
            "Invalid url at \"video_url\". Expected a HTTPS URL or a data URI, received 'https://'",
        ),
        (
            "video_url",
            "data:video/mp4;base64",
            'Invalid url at "video_url". Expected a HTTPS'
            " URL or a data URI, received 'data:video/mp4;base64'",
        ),
        ("audio_url", True, 'Invalid type at "audio_url". Expected string, received boolean'),
        (
            "audio_url",
            "SUQzBAAAAAAA",
            "Invalid url at \"audio_url\". Expected a URL or a data URI, received 'SUQzBAAAAAAA'",
        ),  # bare base64 is not a URI
    ],
)
def test_media_fields_are_urls_or_data_uris(field: str, value: object, issue: str) -> None:
    body: dict[str, object] = {"model": "pixverse/lip-sync", "video_url": VIDEO, "audio_url": AUDIO}
    body = {k: v for k, v in (body | {field: value}).items() if v is not None}
    assert refusal(body) == [issue]


def test_plain_http_video_is_refused_except_from_the_emulator_itself() -> None:
    own = "http://127.0.0.1:8123/files/0123abcd/face.mp4"
    body = {"model": "pixverse/lip-sync", "video_url": own, "audio_url": AUDIO}
    assert spec_of(body).video == own
    assert refusal(body, base_url="http://127.0.0.1:9999/aimlapi") == [
        f"Invalid url at \"video_url\". Expected a HTTPS URL or a data URI, received '{own}'"
    ]
    # audio_url is "a direct link to an online audio file": any http host passes
    http_audio = "http://example.com/speech.mp3"
    assert (
        spec_of({"model": "pixverse/lip-sync", "video_url": VIDEO, "audio_url": http_audio}).audio
        == http_audio
    )


def test_data_uris_are_accepted_for_video_and_audio() -> None:
    video = "data:video/mp4;base64,AAAAIGZ0eXBpc29t"
    audio = "data:audio/wav,RIFF%24%00%00%00WAVE"
    spec = spec_of({"model": "pixverse/lip-sync", "video_url": video, "audio_url": audio})
    assert (spec.video, spec.audio) == (video, audio)
    assert AimlapiDialect.accepts_data_uris is True


def test_inline_media_over_50_mib_is_refused_at_submit() -> None:
    """The boundary on one field, the refusal on the other (each body is ~70 MB)."""
    exactly = "data:video/mp4;base64," + "A" * (50 * MIB // 3 * 4 + 3) + "="  # 52428800 bytes
    over = "data:audio/mpeg;base64," + "A" * (-(-(50 * MIB + 1) // 3) * 4)  # 52428801 bytes
    body: dict[str, Any] = {"model": "pixverse/lip-sync", "video_url": VIDEO, "audio_url": AUDIO}
    assert isinstance(dialect.parse_submit(submit(body | {"video_url": exactly})), JobSpec)
    assert refusal(body | {"audio_url": over}) == [
        'Too big at "audio_url". Expected a data URI of at most 52428800 bytes, '
        "received 52428801 bytes"
    ]


def test_every_issue_is_listed_in_field_order() -> None:
    issues = refusal(
        {"model": "kling", "video_url": "http://x.test/v.mp4", "lip_sync_tts_speaker": "Nobody"}
    )
    assert [issue.split(" at ")[1].split(".")[0] for issue in issues] == [
        '"model"',
        '"video_url"',
        '"lip_sync_tts_speaker"',
        '"lip_sync_tts_content"',
    ]


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        (b"{not json", "Invalid JSON at the request body"),
        (b"\xff\xfe", "Invalid JSON at the request body"),
        (b"[1, 2]", "Expected object, received array"),
        (b'"pixverse/lip-sync"', "Expected object, received string"),
    ],
)
def test_a_body_that_is_not_an_object_is_refused(raw: bytes, detail: str) -> None:
    assert refusal(raw) == [detail]


def test_a_refusal_is_the_documented_envelope() -> None:
    reply = dialect.parse_submit(submit({"model": "pixverse/lip-sync"}))
    assert isinstance(reply, Reply)
    assert reply.headers["Content-Type"] == "application/json"
    (documented,) = interactions("invalid_request")
    assert data(reply).keys() == cassette_body(documented).keys()
    assert data(reply) | {"message": None} == {
        "message": None,
        "path": PATH,
        "requestId": REQUEST_ID,
        "statusCode": "400",
        "timestamp": "2025-03-11T07:10:02.114Z",
    }


def test_the_documented_requests_are_judged_as_their_cassettes_say() -> None:
    """Every request body in aimlapi's cassettes passes, except invalid_request's, which is
    refused with the cassette's own message (an http video_url)."""
    for path in sorted(CASSETTES.glob("*.yaml")):
        if path.name.endswith(".sidecar.yaml") or path.name == "suite.yaml":
            continue
        for interaction in interactions(path.stem):
            if interaction["request"]["method"] != "POST":
                continue
            parsed = dialect.parse_submit(submit(cassette_request(interaction)))
            if path.stem == "invalid_request":
                assert isinstance(parsed, Reply)
                assert data(parsed)["message"] == cassette_body(interaction)["message"]
            else:
                assert isinstance(parsed, JobSpec), path.name


def test_the_plugins_local_files_arrive_as_accepted_data_uris(tmp_path: Path) -> None:
    (tmp_path / "face.mp4").write_bytes(b"\x00\x00\x00\x20ftypisom" * 10)
    (tmp_path / "speech.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " * 10)
    request = JobRequest(
        video=str(tmp_path / "face.mp4"),
        audio=str(tmp_path / "speech.wav"),
        model="pixverse/lip-sync",
    )
    spec = spec_of(submit_body(request, LIMITS))
    assert spec.video.startswith("data:video/")
    assert spec.audio is not None and spec.audio.startswith("data:audio/")


# Charges


@pytest.mark.parametrize(
    ("seconds", "credits"),
    [(5.0, 400_000), (5.2, 480_000), (0.04, 80_000), (30.0, 2_400_000)],
)
def test_audio_jobs_cost_80000_credits_per_started_second(seconds: float, credits: int) -> None:
    charge = dialect.charge(job(State.QUEUED).spec, seconds)
    assert str(charge) == str(credits)  # whole credits, shown without decimals


@pytest.mark.parametrize(
    ("text", "steps"),
    [("Hello World!", 1), ("x" * 15, 1), ("x" * 16, 2), ("é" * 8, 2), ("—" * 5, 1)],
)
def test_tts_adds_80000_credits_per_started_15_utf8_bytes(text: str, steps: int) -> None:
    spec = JobSpec(model="pixverse/lip-sync", video=VIDEO, tts_text=text, tts_voice="Auto")
    assert dialect.charge(spec, 3.0) == Decimal(3 * 80_000 + steps * 80_000)


def test_a_second_costs_pixverses_four_cents_at_two_million_credits_per_dollar() -> None:
    reply = dialect.accepted(job(State.QUEUED, charge=dialect.charge(job(State.QUEUED).spec, 1)))
    assert reply.headers["x-aimlapi-usd-spent"] == "0.040000000"


# Replies


def test_the_submit_answer_has_the_cassettes_shape_and_cost_headers() -> None:
    reply = dialect.accepted(job(State.QUEUED, charge=Decimal(2_000_000)))
    assert reply.status == 200
    assert data(reply) == {
        "id": JOB_ID,
        "status": "queued",
        "meta": {"usage": {"credits_used": 2000000}},
    }
    assert reply.headers == {
        "Content-Type": "application/json",
        "x-inference-id": JOB_ID,
        "x-aimlapi-credits-used": "2000000",
        "x-aimlapi-usd-spent": "1.000000000",
    }


@pytest.mark.parametrize("name", ["success", "success_tts", "success_waiting", "job_failed"])
def test_the_submit_answers_are_the_cassettes(name: str) -> None:
    """Same id and charge give the same body and cost headers; the emulator says the
    schema's "queued" where success_waiting's illustrative submit says "waiting"."""
    documented = interactions(name)[0]
    expected = cassette_body(documented)
    charge = Decimal(expected["meta"]["usage"]["credits_used"])
    reply = dialect.accepted(job(State.QUEUED, id=expected["id"], charge=charge))
    assert reply.status == documented["response"]["status"]["code"]
    assert data(reply) == expected | {"status": "queued"}
    headers = {k.lower(): v for k, v in documented["response"]["headers"].items()}
    for header in headers.keys() - {"content-type"}:
        assert headers[header] == [reply.headers[header]], header


@pytest.mark.parametrize(
    ("view", "word", "read_as"),
    [
        (job(State.QUEUED), "queued", JobState.QUEUED),
        (job(State.RUNNING), "generating", JobState.RUNNING),
        (job(State.SUCCEEDED, completed=NOW), "generating", JobState.RUNNING),  # no results yet
        (done(), "completed", JobState.SUCCEEDED),
        (
            job(State.FAILED, failure=Failure(code="bad_media", message="the audio has no audio")),
            "error",
            JobState.FAILED,
        ),
    ],
)
def test_each_state_has_its_schema_word(view: JobView, word: str, read_as: JobState) -> None:
    reply = dialect.status(view)
    assert reply.status == 200
    assert data(reply)["status"] == word
    assert STATUSES.state(word) is read_as  # the plugin's reading of the word


def test_a_completed_generation_shows_the_video_and_its_usage() -> None:
    assert data(dialect.status(done())) == {
        "id": JOB_ID,
        "status": "completed",
        "video": {"url": OUTPUT},
        "error": None,
        "meta": {"usage": {"credits_used": 400000}},
    }


def test_unfinished_generations_show_nulls_like_the_cassettes() -> None:
    for state in (State.QUEUED, State.RUNNING):
        body = data(dialect.status(job(state)))
        assert (body["video"], body["error"], body["meta"]) == (None, None, None)


def test_a_failed_generation_names_its_error() -> None:
    failure = Failure(code="fetch_failed", message="video: could not download https://x.test")
    body = data(dialect.status(job(State.FAILED, failure=failure)))
    assert body == {
        "id": JOB_ID,
        "status": "error",
        "video": None,
        "error": {"name": "GenerationError", "message": failure.message},
        "meta": None,
    }


def test_polls_carry_zero_cost_headers_as_the_cassettes_do() -> None:
    reply = dialect.status(done())
    for name in ("success", "success_waiting", "job_failed"):
        for documented in interactions(name)[1:]:
            assert lower(documented["response"]["headers"]) == lower(reply.headers)
    assert (
        reply.headers["x-inference-id"],
        reply.headers["x-aimlapi-credits-used"],
        reply.headers["x-aimlapi-usd-spent"],
    ) == (JOB_ID, "0", "0.000000000")


STATES = {
    "queued": State.QUEUED,
    "waiting": State.QUEUED,
    "generating": State.RUNNING,
    "completed": State.SUCCEEDED,
    "succeeded": State.SUCCEEDED,
    "error": State.FAILED,
}


@pytest.mark.parametrize("name", ["success", "success_tts", "success_waiting", "job_failed"])
def test_the_poll_answers_are_the_cassettes(name: str) -> None:
    """The same generation gives the same bodies, with the dialect's status word: the
    schema's words by default, the sample run's "succeeded" when asked for."""
    charge = Decimal(cassette_body(interactions(name)[0])["meta"]["usage"]["credits_used"])
    for documented in interactions(name)[1:]:
        expected = cassette_body(documented)
        word = expected["status"]
        emulator = AimlapiDialect(success_word="succeeded" if word == "succeeded" else "completed")
        error = expected.get("error")
        view = job(
            STATES[word],
            id=expected["id"],
            charge=charge,
            output_url=(expected.get("video") or {}).get("url"),
            failure=Failure(code="bad_media", message=error["message"]) if error else None,
        )
        ours = data(emulator.status(view))
        shown = {"waiting": "queued"}.get(word, word)
        if name == "success_tts":  # the printed run leaves its null fields out
            assert {key: ours[key] for key in expected} == expected | {"status": shown}
        else:
            assert ours == expected | {"status": shown}


def test_the_sample_runs_success_word_can_be_emulated() -> None:
    sample = AimlapiDialect(success_word="succeeded")
    assert data(sample.status(done()))["status"] == "succeeded"
    assert data(sample.status(job(State.RUNNING)))["status"] == "generating"
    with pytest.raises(ValueError, match="success_word"):
        AimlapiDialect(success_word="done")


# Problems


@pytest.mark.parametrize(
    ("problem", "status", "cassette"),
    [
        (Problem.UNAUTHORIZED, None, "auth_invalid"),
        (Problem.INSUFFICIENT_CREDITS, None, "insufficient_credits"),
        (Problem.SERVER_ERROR, 503, "provider_unavailable"),
        (Problem.NOT_FOUND, None, "job_not_found"),
    ],
)
def test_documented_problems_match_their_cassettes(
    problem: Problem, status: int | None, cassette: str
) -> None:
    (documented,) = interactions(cassette)
    reply = dialect.problem(problem, "engine detail", status)
    assert reply.status == documented["response"]["status"]["code"]
    assert data(reply) == cassette_body(documented) | {
        "requestId": REQUEST_ID,
        "timestamp": "2025-03-11T07:10:02.114Z",
    }


@pytest.mark.parametrize(
    ("problem", "status", "code", "message"),
    [
        (Problem.NOT_FOUND, None, 404, "Generation not found"),
        (Problem.UNSUPPORTED, None, 404, "engine detail"),
        (Problem.RATE_LIMITED, None, 429, "Too Many Requests"),
        (Problem.SERVER_ERROR, None, 500, "Internal server error"),
        (Problem.SERVER_ERROR, 500, 500, "Internal server error"),
        (Problem.SERVER_ERROR, 502, 502, "engine detail"),  # no documented 502 message
        (Problem.SERVER_ERROR, 504, 504, "Generation timeout"),
    ],
)
def test_each_problem_has_its_status_and_message(
    problem: Problem, status: int | None, code: int, message: str
) -> None:
    reply = dialect.problem(problem, "engine detail", status)
    assert reply.status == code
    body = data(reply)
    assert (body["message"], body["statusCode"]) == (message, str(code))
    (documented,) = interactions("job_not_found" if code == 404 else "rate_limited")
    assert body.keys() == cassette_body(documented).keys()


def test_there_is_no_cancel() -> None:
    reply = dialect.cancel(job(State.RUNNING))
    assert reply.status == 404
    assert data(reply)["statusCode"] == "404"


def test_error_ids_and_times_are_fresh_by_default() -> None:
    live = AimlapiDialect()
    first, second = (data(live.problem(Problem.NOT_FOUND, "x")) for _ in range(2))
    assert first["requestId"] != second["requestId"]
    assert uuid.UUID(first["requestId"]).version == 4
    stamp = dt.datetime.fromisoformat(first["timestamp"].replace("Z", "+00:00"))
    assert abs(stamp - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=1)
    assert first["timestamp"].endswith("Z") and len(first["timestamp"]) == 24


def test_documented_constants() -> None:
    assert AimlapiDialect.provider == "aimlapi"
    assert AimlapiDialect.callbacks is None  # no webhook is documented for video
    assert AimlapiDialect.status_before_results is False
    assert AimlapiDialect.url_lifetime == dt.timedelta(hours=24)  # assumed: docs are silent


# The plugin against the dialect


def sent_requests(transport: Any) -> list[Request]:
    return [
        Request(
            method=sent.method,
            path=urlsplit(sent.url).path,
            query=dict(parse_qsl(urlsplit(sent.url).query)),
            headers={k.lower(): v for k, v in sent.headers.items()},
            body=sent.body or b"",
        )
        for sent in transport.sent
    ]


@pytest.mark.parametrize("tts", [False, True])
def test_the_plugin_and_the_dialect_understand_each_other(tts: bool) -> None:
    request = JobRequest(
        video=VIDEO,
        audio=None if tts else AUDIO,
        tts=TextToSpeech(text="Hello World!", voice="Harper") if tts else None,
        model="pixverse/lip-sync",
    )
    spec = spec_of(submit_body(request, LIMITS))
    charge = dialect.charge(spec, 5.0)
    replies = [
        dialect.accepted(job(State.QUEUED, spec=spec, charge=charge)),
        dialect.status(job(State.RUNNING, spec=spec, charge=charge)),
        dialect.status(
            job(State.SUCCEEDED, spec=spec, output_url=OUTPUT, output_seconds=5.0, charge=charge)
        ),
    ]
    client, transport = scripted_client(
        "aimlapi", *(answer(r.body, status=r.status, headers=r.headers) for r in replies)
    )
    handle = client.submit("aimlapi", request)
    running, finished = client.poll(handle), client.poll(handle)

    assert handle.job_id == JOB_ID
    assert running.state is JobState.RUNNING
    assert finished.state is JobState.SUCCEEDED
    assert finished.result is not None
    assert finished.result.video_url == OUTPUT
    billed = finished.result.billed
    assert billed is not None
    assert (billed.amount, billed.unit) == (charge, "credits")
    assert billed.usd == charge / 2_000_000
    sent_submit, *sent_polls = sent_requests(transport)
    assert dialect.api_key(sent_submit) == TEST_KEY
    assert dialect.route(sent_submit) == Route(Endpoint.SUBMIT)
    assert dialect.parse_submit(sent_submit) == spec
    for poll in sent_polls:
        assert dialect.api_key(poll) == TEST_KEY
        assert dialect.route(poll) == Route(Endpoint.POLL, JOB_ID)


def test_the_plugin_reads_a_failed_generation() -> None:
    failure = Failure(code="bad_media", message="the video has no video stream")
    reply = dialect.status(job(State.FAILED, failure=failure))
    client, _ = scripted_client("aimlapi", answer(reply.body, headers=reply.headers))
    handle = JobHandle(provider="aimlapi", job_id=JOB_ID, created_at=NOW, model="pixverse/lip-sync")
    status = client.poll(handle)
    assert status.state is JobState.FAILED
    assert status.error is not None
    assert (status.error.code, status.error.message) == ("GenerationError", failure.message)


@pytest.mark.parametrize(
    ("problem", "status", "error"),
    [
        (Problem.UNAUTHORIZED, None, AuthenticationError),
        (Problem.INSUFFICIENT_CREDITS, None, InsufficientCredits),
        (Problem.RATE_LIMITED, None, RateLimited),
        (Problem.SERVER_ERROR, 503, ProviderUnavailable),
    ],
)
def test_the_plugin_reads_each_submit_problem_as_its_error(
    problem: Problem, status: int | None, error: type[ProviderError]
) -> None:
    reply = dialect.problem(problem, "detail", status)
    client, _ = scripted_client("aimlapi", answer(reply.body, status=reply.status))
    with pytest.raises(error):
        client.submit("aimlapi", JobRequest(video=VIDEO, audio=AUDIO))


def test_the_plugin_reads_a_refusal_as_request_rejected() -> None:
    reply = dialect.parse_submit(submit({"model": "pixverse/lip-sync", "video_url": VIDEO}))
    assert isinstance(reply, Reply)
    client, _ = scripted_client("aimlapi", answer(reply.body, status=reply.status))
    with pytest.raises(RequestRejected, match="Body validation error!"):
        client.submit("aimlapi", JobRequest(video=VIDEO, audio=AUDIO))


def test_the_plugin_reads_an_unknown_generation_as_job_not_found() -> None:
    reply = dialect.problem(Problem.NOT_FOUND, "Generation not found")
    client, _ = scripted_client("aimlapi", answer(reply.body, status=reply.status))
    handle = JobHandle(
        provider="aimlapi",
        job_id="unknown-generation-id",
        created_at=NOW,
        model="pixverse/lip-sync",
    )
    with pytest.raises(JobNotFound):
        client.poll(handle)
