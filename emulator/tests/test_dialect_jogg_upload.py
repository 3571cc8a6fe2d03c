"""JoggAI's asset upload: the dialect alone, the signed PUT on the wire, then end to end.

``POST {prefix}/upload/asset`` answers a ``sign_url`` (the emulator's presigned PUT, valid
an hour, for the Content-Type asked for) and an ``asset_url`` the emulator serves once
the bytes are PUT there, for good. End to end the plugin's ``lipbridge_upload`` goes
through ``Client.upload`` and a job made from the asset URLs runs to done.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import urllib3
from emulated import Emulated, emulated, sample_speech, sample_video

from lipbridge import AuthenticationError, JobRequest, ProviderError, RequestRejected
from lipbridge.plugin import LocalMedia
from lipbridge_contract.testing import local_media
from lipbridge_emulator.dialect import Endpoint, Reply, Request, Route, UploadSpec
from lipbridge_emulator.dialects.jogg import JoggDialect

HTTP = urllib3.PoolManager(retries=False)
HOUR = 3600


def presign(dialect: JoggDialect, body: Any) -> UploadSpec | Reply:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return dialect.parse_upload(Request(method="POST", path="/v2/upload/asset", body=raw))


# The dialect, without a server


@pytest.mark.parametrize("prefix", ["/v2", "/open/v2"])
def test_the_upload_route_is_under_either_prefix(prefix: str) -> None:
    route = JoggDialect().route(Request(method="POST", path=f"{prefix}/upload/asset"))
    assert route == Route(Endpoint.UPLOAD)
    assert JoggDialect().route(Request(method="GET", path=f"{prefix}/upload/asset")) is None


def test_the_documented_request_asks_for_a_presigned_put_of_that_type() -> None:
    spec = presign(JoggDialect(), {"filename": "product-image.jpg", "content_type": "image/jpeg",
                                   "file_size": 1024000})
    assert isinstance(spec, UploadSpec)
    assert (spec.name, spec.content_type, spec.data, spec.lifetime) == (
        "product-image.jpg", "image/jpeg", None, None  # PUT later; "stored permanently"
    )
    assert spec.put_within.total_seconds() == HOUR


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"{", "the body is not JSON"),
        ([], "must be a JSON object"),
        ({"content_type": "video/mp4"}, "filename is required"),
        ({"filename": "a.mp4", "content_type": ""}, "content_type is required"),
        ({"filename": "a.mp4", "content_type": "video/mp4", "file_size": 0}, "file_size"),
        ({"filename": "a.mp4", "content_type": "video/mp4", "file_size": "9"}, "file_size"),
    ],
)
def test_a_bad_request_is_a_parameter_error_under_http_200(body: Any, says: str) -> None:
    reply = presign(JoggDialect(), body)
    assert isinstance(reply, Reply) and reply.status == 200
    answer = json.loads(reply.body)
    assert answer["code"] == 40000 and says in answer["msg"]


# The signed PUT on the wire


@pytest.fixture
def world() -> Iterator[Emulated]:
    with emulated() as world:
        yield world


def ask(world: Emulated, content_type: str = "video/mp4", name: str = "face.mp4") -> dict[str, str]:
    answer = HTTP.request(
        "POST", f"{world.emu.base_url('jogg')}/v2/upload/asset",
        body=json.dumps({"filename": name, "content_type": content_type}).encode(),
        headers={"x-api-key": world.emu.key, "Content-Type": "application/json"},
    )
    envelope = json.loads(answer.data)
    assert (answer.status, envelope["code"]) == (200, 0), envelope
    data: dict[str, str] = envelope["data"]
    return data


def put(url: str, content_type: str = "video/mp4", body: bytes = b"face") -> Any:
    return HTTP.request("PUT", url, body=body, headers={"Content-Type": content_type})


def test_the_asset_is_served_once_put_with_the_signed_type_and_kept(world: Emulated) -> None:
    urls = ask(world)
    assert urls["sign_url"].split("?")[0] == urls["asset_url"]  # S3-like: the object's URL
    assert HTTP.request("GET", urls["asset_url"]).status == 404  # nothing PUT yet
    refused = put(urls["sign_url"], content_type="application/octet-stream")
    assert refused.status == 403 and b"SignatureDoesNotMatch" in refused.data
    assert put(urls["sign_url"]).status == 200
    assert put(urls["sign_url"], body=b"face, again").status == 200  # until it expires
    world.clock.advance(10 * 365 * 24 * HOUR)
    served = HTTP.request("GET", urls["asset_url"])
    assert (served.status, served.data) == (200, b"face, again")  # "stored permanently"


def test_a_sign_url_refuses_a_put_after_an_hour_or_with_a_forged_query(world: Emulated) -> None:
    urls = ask(world)
    forged = put(urls["sign_url"].replace("expires=", "expires=9"))
    assert forged.status == 403 and b"SignatureDoesNotMatch" in forged.data
    unknown = put(urls["asset_url"].replace("/files/", "/files/0") + "?expires=1&signature=x")
    assert unknown.status == 403 and b"AccessDenied" in unknown.data
    world.clock.advance(HOUR)
    late = put(urls["sign_url"])
    assert late.status == 403 and b"<Message>Request has expired</Message>" in late.data
    assert late.headers["Content-Type"] == "application/xml"  # the storage's, not JoggAI's
    assert HTTP.request("GET", urls["asset_url"]).status == 404


# End to end: the plugin's hook against the emulator


@pytest.fixture
def face(tmp_path: Path) -> LocalMedia:
    return local_media(tmp_path / "face.mp4", sample_video(2.0), "video/mp4")


@pytest.fixture
def speech(tmp_path: Path) -> LocalMedia:
    return local_media(tmp_path / "speech.wav", sample_speech(3.0), "audio/wav", "audio")




def test_hook_lipbridge_upload_puts_assets_a_job_then_runs_on(
    world: Emulated, face: LocalMedia, speech: LocalMedia
) -> None:
    client = world.client("jogg", ledger=False)
    mark = world.mark()
    video, audio = client.upload("jogg", face), client.upload("jogg", speech)
    assert video.expires_at is None and audio.expires_at is None
    assert HTTP.request("GET", video.reference).data == face.path.read_bytes()

    request = JobRequest(video=video.reference, audio=audio.reference, sync_mode="bounce")
    result = client.wait(client.submit("jogg", request))
    assert HTTP.request("GET", result.video_url).status == 200
    arrivals, accepted, _ = world.since(mark)
    uploads = [(a.method, a.path.rsplit("/", 1)[-1], a.provider, a.status)
               for a in arrivals if a.endpoint == "upload"]
    assert uploads == [
        ("POST", "asset", "jogg", 200), ("PUT", "face.mp4", "jogg", 200),
        ("POST", "asset", "jogg", 200), ("PUT", "speech.wav", "jogg", 200),
    ]
    assert len(accepted) == 1


def test_a_refused_key_is_an_authentication_error_with_joggs_message(
    world: Emulated, face: LocalMedia
) -> None:
    client = world.client("jogg", key="not-the-emulators", ledger=False)
    with pytest.raises(AuthenticationError, match="Invalid API key") as caught:
        client.upload("jogg", face)
    assert caught.value.code == "10105"
    assert [a.method for a in world.emu.ledger.arrivals if a.endpoint == "upload"] == ["POST"]


def test_a_business_code_refuses_the_upload_and_nothing_is_put(
    world: Emulated, face: LocalMedia
) -> None:
    untyped = attrs.evolve(face, media_type="")  # JoggAI requires a content_type
    with pytest.raises(RequestRejected, match="content_type is required") as caught:
        world.client("jogg", ledger=False).upload("jogg", untyped)
    assert caught.value.code == "40000"
    assert [a.method for a in world.emu.ledger.arrivals if a.endpoint == "upload"] == ["POST"]


class LateStorage(JoggDialect):
    """JoggAI, with signed URLs that have expired by the time the PUT arrives."""

    def parse_upload(self, request: Request) -> UploadSpec | Reply:
        spec = super().parse_upload(request)
        if isinstance(spec, UploadSpec):
            spec = attrs.evolve(spec, put_within=dt.timedelta(0))
        return spec


def test_an_expired_sign_url_is_an_error_naming_the_put_and_the_storages_message(
    face: LocalMedia,
) -> None:
    with emulated(dialects=[LateStorage()]) as world, pytest.raises(ProviderError) as caught:
        world.client("jogg", ledger=False).upload("jogg", face)
    assert type(caught.value) is ProviderError and caught.value.http_status == 403
    message = str(caught.value)
    assert "PUT to the signed URL was refused" in message
    assert "Request has expired" in message and "signature=" not in message
