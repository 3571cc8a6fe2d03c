"""The sync.so plugin's upload (``lipbridge_upload``): the presigned URL, the PUT of the
bytes without the key, the registration, and how each step's refusal reads. The contract
suite certifies the documented exchange from ``lipbridge_syncso/cassettes/syncso/upload*``."""

from __future__ import annotations

import hashlib
import json
from functools import partial
from pathlib import Path

import pytest

from lipbridge import (
    InsufficientCredits,
    ProviderError,
    ProviderProtocolError,
    ProviderUnavailable,
)
from lipbridge.plugin import LocalMedia, UploadedMedia
from lipbridge_contract.testing import TEST_KEY, answer, scripted_client

syncso = partial(scripted_client, "syncso")  # (client, transport) answered in turn

UPLOAD_URL = "https://uploads.sync.so/uploads/abc123/speech.wav?X-Amz-Signature=REDACTED"
URL = "https://assets.sync.so/uploads/abc123/speech.wav"
ASSET = "550e8400-e29b-41d4-a716-446655440000"
PRESIGNED = answer({"uploadUrl": UPLOAD_URL, "url": URL, "expiresIn": 3600}, status=201)
STORED = answer(b"", status=200)
REGISTERED = answer({"id": ASSET, "type": "AUDIO", "url": URL}, status=201)


@pytest.fixture
def speech(tmp_path: Path) -> LocalMedia:
    path = tmp_path / "speech.wav"
    path.write_bytes(b"RIFF\x00WAVE")
    return LocalMedia(path=path, kind="audio", media_type="audio/wav", size=9,
                      sha256=hashlib.sha256(path.read_bytes()).hexdigest())


def test_presign_put_register_and_the_asset_id_comes_back(speech: LocalMedia) -> None:
    client, transport = syncso(PRESIGNED, STORED, REGISTERED)
    assert client.upload("syncso", speech) == UploadedMedia(reference=ASSET, expires_at=None)
    presign, put, register = transport.sent
    assert (presign.method, presign.url) == ("POST", "https://api.sync.so/v2/assets/upload")
    assert presign.headers["x-api-key"] == TEST_KEY
    assert json.loads(presign.body or b"") == {
        "fileName": "speech.wav", "contentType": "audio/wav", "size": 9,
    }
    assert (put.method, put.url, put.body, put.file) == ("PUT", UPLOAD_URL, b"RIFF\x00WAVE",
                                                         speech.path)
    assert put.headers["Content-Type"] == "audio/wav"  # "must exactly match the contentType"
    assert TEST_KEY not in repr(put.headers) and "x-api-key" not in put.headers
    assert (register.method, register.url) == ("POST", "https://api.sync.so/v2/assets")
    assert json.loads(register.body or b"") == {"url": URL, "type": "AUDIO", "name": "speech.wav"}
    assert "Idempotency-Key" not in presign.headers  # a create's header only


def test_a_refused_presign_puts_nothing(speech: LocalMedia) -> None:
    refusal = {"statusCode": 402, "message": "Storage limit reached", "error": "Payment Required"}
    client, transport = syncso(answer(refusal, status=402), STORED, REGISTERED)
    with pytest.raises(InsufficientCredits, match="Storage limit reached"):
        client.upload("syncso", speech)
    assert len(transport.sent) == 1


@pytest.mark.parametrize("upload_url", [None, "", "/uploads/relative", "ftp://uploads.sync.so/x"])
def test_an_upload_url_that_is_not_an_http_url_is_a_protocol_error(
    speech: LocalMedia, upload_url: object
) -> None:
    body = {"uploadUrl": upload_url, "url": URL, "expiresIn": 3600}
    client, transport = syncso(answer(body, status=201), STORED, REGISTERED)
    with pytest.raises(ProviderProtocolError, match="uploadUrl"):
        client.upload("syncso", speech)
    assert len(transport.sent) == 1


def test_a_refused_put_is_an_error_naming_the_step(speech: LocalMedia) -> None:
    mismatch = b"<Error><Code>SignatureDoesNotMatch</Code></Error>"
    client, transport = syncso(PRESIGNED, answer(mismatch, status=403), REGISTERED)
    with pytest.raises(ProviderError) as caught:
        client.upload("syncso", speech)
    assert type(caught.value) is ProviderError  # the storage's answer, not a refused key
    message = str(caught.value)
    assert caught.value.http_status == 403 and "SignatureDoesNotMatch" in message
    assert "PUT" in message and "Content-Type" in message and "3600 s" in message
    assert "X-Amz-Signature" not in message  # a presigned URL is a bearer secret
    assert [s.method for s in transport.sent] == ["POST", "PUT"]  # nothing registered


def test_a_storage_outage_is_unavailable_after_the_cores_retries(speech: LocalMedia) -> None:
    client, transport = syncso(PRESIGNED, answer(b"", status=503))
    with pytest.raises(ProviderUnavailable, match="PUT"):
        client.upload("syncso", speech)
    assert [s.method for s in transport.sent].count("PUT") > 1  # retried, as an upload is


def test_a_registration_without_an_id_is_a_protocol_error(speech: LocalMedia) -> None:
    client, _ = syncso(PRESIGNED, STORED, answer({"url": URL}, status=201))
    with pytest.raises(ProviderProtocolError, match="id"):
        client.upload("syncso", speech)
