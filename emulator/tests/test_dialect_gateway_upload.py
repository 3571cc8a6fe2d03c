"""The gateway's stream upload (FoxAPI, AIHubMax): the dialect alone, then end to end.

``POST /v1/files/upload/stream`` takes the file as the multipart part ``file`` and answers
``{id, filename, url, size, created}``; the ``url`` is served by the emulator for 72 hours
and is a job input. End to end the plugins' ``lipbridge_upload`` puts a file there through
``Client.upload`` and a job made from the references runs to done.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3
from emulated import Emulated, emulated, sample_speech, sample_video

from lipbridge import (
    AuthenticationError,
    InsufficientCredits,
    JobFailed,
    JobRequest,
    ProviderUnavailable,
)
from lipbridge.plugin import FileBody, LocalMedia
from lipbridge_contract.testing import local_media
from lipbridge_emulator.dialect import (
    Endpoint,
    Problem,
    Reply,
    Request,
    Route,
    UploadSpec,
    UploadView,
)
from lipbridge_emulator.dialects.gateway import AIHUBMAX, FOXAPI, GatewayDialect
from lipbridge_emulator.faults import FaultSpecError, parse

HTTP = urllib3.PoolManager(retries=False)
PATH = "/v1/files/upload/stream"
BOTH = pytest.mark.parametrize("dialect", [FOXAPI, AIHUBMAX], ids=["foxapi", "aihubmax"])
RESELLERS = pytest.mark.parametrize("provider", ["foxapi", "aihubmax"])
CREATED = dt.datetime(2025, 9, 6, 13, 23, 51, tzinfo=dt.timezone.utc)  # the docs' 1757165031


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    (tmp_path / "face-upload.mp4").write_bytes(b"tiny mp4 bytes")
    return tmp_path / "face-upload.mp4"


def form(path: Path, **fields: str) -> tuple[str, bytes]:
    """(Content-Type, body) of a form with text ``fields`` and ``path`` in part ``file``,
    built the way the plugin builds it."""
    body = FileBody.multipart(path, field_name="file", media_type="video/mp4", fields=fields)
    return body.content_type, b"".join(body.chunks())


def upload(dialect: GatewayDialect, content_type: str, body: bytes) -> UploadSpec | Reply:
    headers = {"content-type": content_type, "authorization": "Bearer k"}
    return dialect.parse_upload(Request(method="POST", path=PATH, headers=headers, body=body))


def refusal(reply: UploadSpec | Reply, status: int) -> dict[str, str]:
    assert isinstance(reply, Reply), reply
    assert reply.status == status
    error: dict[str, str] = json.loads(reply.body)["error"]
    return error


# The dialect, without a server


@BOTH
def test_the_stream_route_is_an_upload_and_the_other_routes_are_not_emulated(
    dialect: GatewayDialect,
) -> None:
    assert dialect.route(Request(method="POST", path=PATH)) == Route(Endpoint.UPLOAD)
    for other in ("/v1/files/upload/base64", "/v1/files/upload/url"):
        assert dialect.route(Request(method="POST", path=other)) is None
    assert dialect.route(Request(method="GET", path=PATH)) is None


@BOTH
def test_the_file_part_is_the_upload_kept_72_hours_evicting_by_default(
    dialect: GatewayDialect, tiny: Path
) -> None:
    spec = upload(dialect, *form(tiny))
    assert spec == UploadSpec(
        name="face-upload.mp4", content_type="video/mp4", data=b"tiny mp4 bytes",
        lifetime=dt.timedelta(hours=72), evict_oldest=True,
    )


@BOTH
def test_file_name_renames_it_auto_cleanup_false_refuses_to_evict_and_purpose_is_ignored(
    dialect: GatewayDialect, tiny: Path
) -> None:
    spec = upload(dialect, *form(tiny, file_name="photo.mp4", auto_cleanup="False",
                                 purpose="image-input"))
    assert isinstance(spec, UploadSpec)
    assert (spec.name, spec.evict_oldest) == ("photo.mp4", False)


@BOTH
@pytest.mark.parametrize(
    ("content_type", "body", "says"),
    [
        ("application/json", b'{"file_data": "aGk="}', "multipart/form-data"),
        ("multipart/form-data; boundary=x", b"--x\r\nnot a part", "cannot be read"),
        (None, b"auto_cleanup=maybe", "auto_cleanup must be true or false"),
        (None, b'name="f"', "file is required"),
    ],
    ids=["json", "unreadable", "auto_cleanup", "no-file-part"],
)
def test_a_form_the_gateway_cannot_use_is_400(
    dialect: GatewayDialect, tiny: Path, content_type: str | None, body: bytes, says: str
) -> None:
    if content_type is None:  # a good form with one change
        field, _, value = body.partition(b"=")
        content_type, good = form(tiny, auto_cleanup="true")
        if field == b"auto_cleanup":
            body = good.replace(b"\r\n\r\ntrue\r\n", b"\r\n\r\n" + value + b"\r\n")
        else:
            body = good.replace(b'name="file"', body)
    error = refusal(upload(dialect, content_type, body), 400)
    assert says in error["message"] and error["type"] == "invalid_request_error"


@BOTH
def test_the_answer_is_the_documented_shape(dialect: GatewayDialect) -> None:
    spec = UploadSpec(name="photo.png", content_type="image/png", data=b"x" * 204800)
    view = UploadView(id="a1b2c3d4" * 4, spec=spec, url="http://emu/files/t/photo.png",
                      created=CREATED, size=204800)
    reply = dialect.uploaded(view)
    assert reply.status == 200
    assert json.loads(reply.body) == {
        "id": "file-1757165031-a1b2c3", "filename": "photo.png",
        "url": "http://emu/files/t/photo.png", "size": 204800, "created": 1757165031,
    }


@BOTH
def test_a_full_storage_is_403_in_the_gateways_envelope(dialect: GatewayDialect) -> None:
    error = refusal(dialect.problem(Problem.STORAGE_FULL, "3 of 4 bytes"), 403)
    assert error == {"message": "Insufficient storage space for this upload (3 of 4 bytes)",
                     "type": "storage_full"}


# End to end: the plugins' hook against the emulator


@pytest.fixture
def world() -> Iterator[Emulated]:
    with emulated() as world:
        yield world


@pytest.fixture
def face(tmp_path: Path) -> LocalMedia:
    return local_media(tmp_path / "face.mp4", sample_video(2.0), "video/mp4")


@pytest.fixture
def speech(tmp_path: Path) -> LocalMedia:
    return local_media(tmp_path / "speech.wav", sample_speech(3.0), "audio/wav", "audio")


@RESELLERS
def test_hook_lipbridge_upload_stores_files_a_job_then_runs_on(
    world: Emulated, provider: str, face: LocalMedia, speech: LocalMedia
) -> None:
    client = world.client(provider, ledger=False)
    mark = world.mark()
    video, audio = client.upload(provider, face), client.upload(provider, speech)
    now = world.clock.now().replace(microsecond=0)
    assert video.expires_at == audio.expires_at == now + dt.timedelta(hours=72)
    served = HTTP.request("GET", video.reference)
    assert served.status == 200 and served.data == face.path.read_bytes()

    result = client.wait(client.submit(provider, JobRequest(video=video.reference,
                                                            audio=audio.reference)))
    assert HTTP.request("GET", result.video_url).status == 200
    arrivals, accepted, _ = world.since(mark)
    uploads = [a for a in arrivals if a.endpoint == "upload"]
    assert [(a.method, a.path, a.provider, a.status) for a in uploads] == [
        ("POST", f"/{provider}{PATH}", provider, 200)
    ] * 2
    assert len(accepted) == 1


@RESELLERS
def test_a_refused_key_is_an_authentication_error_with_the_gateways_message(
    world: Emulated, provider: str, face: LocalMedia
) -> None:
    client = world.client(provider, key="sk-not-the-emulators", ledger=False)
    with pytest.raises(AuthenticationError, match="API Key is invalid") as caught:
        client.upload(provider, face)
    assert (caught.value.http_status, caught.value.code) == (401, "authentication_error")


@RESELLERS
def test_a_full_storage_refuses_the_plugins_upload_which_evicts_nothing(
    provider: str, face: LocalMedia, speech: LocalMedia
) -> None:
    with emulated(storage={provider: face.size + speech.size - 1}) as world:
        client = world.client(provider, ledger=False)
        kept = client.upload(provider, face)
        with pytest.raises(InsufficientCredits, match="Insufficient storage space") as caught:
            client.upload(provider, speech)  # sent with auto_cleanup=false
        assert (caught.value.http_status, caught.value.code) == (403, "storage_full")
        assert HTTP.request("GET", kept.reference).status == 200  # still there


def test_auto_cleanup_evicts_the_earliest_upload_to_make_room(tiny: Path) -> None:
    with emulated(storage={"foxapi": 40}) as world:
        base = world.emu.base_url("foxapi")
        headers = {"Authorization": f"Bearer {world.emu.key}"}

        def send(content_type: str, body: bytes) -> str:
            answer = HTTP.request("POST", f"{base}{PATH}", body=body,
                                  headers={**headers, "Content-Type": content_type})
            assert answer.status == 200, answer.data
            url: str = json.loads(answer.data)["url"]
            return url

        first = send(*form(tiny))  # 14 bytes each
        second = send(*form(tiny, file_name="second.mp4"))
        third = send(*form(tiny, file_name="third.mp4"))  # 42 > 40: the first goes
        assert [HTTP.request("GET", url).status for url in (first, second, third)] == [
            404, 200, 200
        ]


@pytest.mark.parametrize("provider", ["foxapi"])
def test_after_72_hours_the_upload_is_gone_and_a_job_made_from_it_fails(
    world: Emulated, provider: str, face: LocalMedia, speech: LocalMedia
) -> None:
    client = world.client(provider, ledger=False)
    video, audio = client.upload(provider, face), client.upload(provider, speech)
    world.clock.advance(72 * 3600)
    assert HTTP.request("GET", video.reference).status == 403
    handle = client.submit(provider, JobRequest(video=video.reference, audio=audio.reference))
    with pytest.raises(JobFailed, match="expired"):
        client.wait(handle)


def test_upload_is_a_fault_target_scoped_like_the_others(face: LocalMedia) -> None:
    with emulated(faults="upload@foxapi:5xx=1@503") as world:
        with pytest.raises(ProviderUnavailable, match="No available channels"):
            world.client("foxapi", ledger=False).upload("foxapi", face)
        faulted = [a for a in world.emu.ledger.arrivals if a.endpoint == "upload"]
        assert len(faulted) > 1 and {(a.fault, a.status) for a in faulted} == {("5xx", 503)}
        assert world.client("aihubmax", ledger=False).upload("aihubmax", face).reference
    assert parse("upload:429=1@5").for_target("upload", "jogg").rate_limit == 1.0
    with pytest.raises(FaultSpecError, match="upload takes no hold"):
        parse("upload:hold=1")
