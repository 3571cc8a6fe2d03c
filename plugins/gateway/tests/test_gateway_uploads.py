"""The gateway's file upload (``POST /v1/files/upload/stream``), on resellers declared here.

What the upload cassettes do not pin: the form's fields, the expiry rule on odd
``created`` values, each refusal's class, and that a plain :class:`Gateway` (EvoLink's
kind, whose file service is elsewhere) has no upload at all.
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
from pathlib import Path
from typing import Any

import attrs
import pytest
from test_gateway_mechanics import BASE, CREATED, KEY, NAME, RESELLER, answer

from lipbridge import (
    AuthenticationError,
    Client,
    InsufficientCredits,
    ProviderError,
    ProviderProtocolError,
    ProviderUnavailable,
    Registry,
    RequestRejected,
    UnsupportedCapability,
)
from lipbridge.plugin import LocalMedia, UploadedMedia
from lipbridge_contract.harness import ScriptedTransport, SteppedClock
from lipbridge_contract.testing import local_media
from lipbridge_gateway import UploadingGateway

UPLOADER = UploadingGateway(**{
    f.name: getattr(RESELLER, f.name) for f in attrs.fields(type(RESELLER))
})
URL = "https://cdn.testgate.invalid/uploads/20260319/a1b2c3d4e5f6/face.mp4"
STORED = {"id": "file-1757165031-a1b2c3", "filename": "face.mp4", "url": URL, "size": 9,
          "created": CREATED}


def uploading(*responses: Any, plugin: object = UPLOADER) -> tuple[Client, ScriptedTransport]:
    registry = Registry(candidates=[], environ={})
    registry.register(NAME, plugin)
    transport = ScriptedTransport(list(responses))
    client = Client(registry=registry, transport=transport, clock=SteppedClock(),
                    api_keys={NAME: KEY}, environ={}, ledger=False)
    return client, transport


@pytest.fixture
def media(tmp_path: Path) -> LocalMedia:
    return local_media(tmp_path / "face.mp4", b"face\x00mp4", "video/mp4")


def form(content_type: str, body: bytes) -> dict[str, tuple[str | None, str, bytes]]:
    """name -> (filename, Content-Type, bytes) of a multipart body, as a server reads it."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    return {
        str(part.get_param("name", header="content-disposition")): (
            part.get_filename(), part.get_content_type(), part.get_payload(decode=True)
        )
        for part in message.iter_parts()
    }


def test_the_file_is_streamed_as_part_file_with_auto_cleanup_off(media: LocalMedia) -> None:
    client, transport = uploading(answer(200, STORED))
    uploaded = client.upload(NAME, media)
    assert uploaded == UploadedMedia(  # created, 2025-09-06T13:23:51Z, + 72 h
        reference=URL, expires_at=dt.datetime(2025, 9, 9, 13, 23, 51, tzinfo=dt.timezone.utc)
    )
    (sent,) = transport.sent
    assert (sent.method, sent.url, sent.file) == ("POST", f"{BASE}/v1/files/upload/stream",
                                                  media.path)
    assert sent.headers["Authorization"] == f"Bearer {KEY}"
    assert sent.body is not None
    assert form(sent.headers["Content-Type"], sent.body) == {
        "auto_cleanup": (None, "text/plain", b"false"),
        "file": ("face.mp4", "video/mp4", b"face\x00mp4"),
    }


@pytest.mark.parametrize("created", [None, "1757165031", -5, 1e20, True])
def test_without_a_usable_created_time_the_upload_lives_72_hours_from_now(
    media: LocalMedia, created: object
) -> None:
    client, _ = uploading(answer(200, {**STORED, "created": created}))
    uploaded = client.upload(NAME, media)
    assert uploaded.expires_at == client.clock.now() + dt.timedelta(hours=72)


@pytest.mark.parametrize(
    ("status", "error", "cls", "code"),
    [
        (403, {"message": "Storage space is full", "type": "storage_full"},
         InsufficientCredits, "storage_full"),
        (413, {"message": "File too large", "type": "invalid_request_error"},
         RequestRejected, "invalid_request_error"),
        (401, {"message": "API Key is invalid", "type": "authentication_error"},
         AuthenticationError, "authentication_error"),
        (503, {"message": "Service unavailable", "type": "service_unavailable_error"},
         ProviderUnavailable, "service_unavailable_error"),
    ],
)
def test_refusals_map_by_status_with_the_providers_message(
    media: LocalMedia, status: int, error: dict[str, str], cls: type[ProviderError], code: str
) -> None:
    client, _ = uploading(answer(status, {"error": error}))
    with pytest.raises(ProviderError) as caught:
        client.upload(NAME, media)
    assert type(caught.value) is cls
    assert (caught.value.http_status, caught.value.code) == (status, code)
    assert error["message"] in str(caught.value)


@pytest.mark.parametrize("url", [None, "", 42])
def test_an_answer_without_a_url_is_a_protocol_error(media: LocalMedia, url: object) -> None:
    client, _ = uploading(answer(200, {**STORED, "url": url}))
    with pytest.raises(ProviderProtocolError, match="url"):
        client.upload(NAME, media)


def test_a_plain_gateway_has_no_upload_and_sends_nothing(media: LocalMedia) -> None:
    client, transport = uploading(answer(200, STORED), plugin=RESELLER)
    with pytest.raises(UnsupportedCapability):
        client.upload(NAME, media)
    assert transport.sent == []
    assert client.info(NAME).contract_version == "1.1"
    assert UPLOADER.lipbridge_provider_info().contract_version == "1.3"
