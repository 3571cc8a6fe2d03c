"""The JoggAI plugin's upload (``lipbridge_upload``): the signed-URL request, the PUT of the
bytes without the key, and how each step's refusal reads. The contract suite certifies the
documented exchange from ``lipbridge_jogg/cassettes/jogg/upload*``."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest

from lipbridge import (
    AuthenticationError,
    InsufficientCredits,
    ProviderError,
    ProviderProtocolError,
    ProviderUnavailable,
    RequestRejected,
)
from lipbridge.plugin import LocalMedia, UploadedMedia
from lipbridge_contract.testing import TEST_KEY, answer, local_media, scripted_client

jogg = partial(scripted_client, "jogg")  # (client, transport) answered in turn

SIGN_URL = "https://storage.jogg.ai/upload/signed-url-here"  # the Asset Introduction page's
ASSET_URL = "https://res.jogg.ai/assets/img_abc123.jpg"
SIGNED = {"code": 0, "msg": "Success", "data": {"sign_url": SIGN_URL, "asset_url": ASSET_URL}}
STORED = answer(b"", status=200)


@pytest.fixture
def speech(tmp_path: Path) -> LocalMedia:
    return local_media(tmp_path / "speech.wav", b"RIFF\x00WAVE", "audio/wav", "audio")


def test_the_file_goes_to_the_signed_url_and_asset_url_comes_back(speech: LocalMedia) -> None:
    client, transport = jogg(answer(SIGNED), STORED)
    assert client.upload("jogg", speech) == UploadedMedia(reference=ASSET_URL, expires_at=None)
    presign, put = transport.sent
    assert (presign.method, presign.url) == ("POST", "https://api.jogg.ai/v2/upload/asset")
    assert presign.headers["x-api-key"] == TEST_KEY
    assert json.loads(presign.body or b"") == {
        "filename": "speech.wav", "content_type": "audio/wav", "file_size": 9,
    }
    assert (put.method, put.url, put.body, put.file) == ("PUT", SIGN_URL, b"RIFF\x00WAVE",
                                                         speech.path)
    assert put.headers["Content-Type"] == "audio/wav"  # the type signed in the first step
    assert TEST_KEY not in repr(put.headers) and "x-api-key" not in put.headers


def test_the_upload_follows_the_route_prefix(speech: LocalMedia) -> None:
    client, transport = jogg(answer(SIGNED), STORED, settings={"path_prefix": "/open/v2"})
    client.upload("jogg", speech)
    assert transport.sent[0].url == "https://api.jogg.ai/open/v2/upload/asset"


def test_an_empty_file_leaves_the_optional_size_out(tmp_path: Path) -> None:
    empty = local_media(tmp_path / "silence.wav", b"", "audio/wav", "audio")
    client, transport = jogg(answer(SIGNED), STORED)
    client.upload("jogg", empty)
    assert "file_size" not in json.loads(transport.sent[0].body or b"")  # "x >= 1"


@pytest.mark.parametrize(
    ("code", "cls"),
    [(10105, AuthenticationError), (18020, InsufficientCredits), (40000, RequestRejected)],
)
def test_a_business_code_on_the_first_step_raises_and_puts_nothing(
    speech: LocalMedia, code: int, cls: type[ProviderError]
) -> None:
    client, transport = jogg(answer({"code": code, "msg": "Parameter error: filename"}), STORED)
    with pytest.raises(cls, match="Parameter error: filename") as caught:
        client.upload("jogg", speech)
    assert caught.value.code == str(code)
    assert len(transport.sent) == 1


@pytest.mark.parametrize(
    "sign_url",
    [None, "", "/upload/relative", "ftp://storage.jogg.ai/x", "signed-url-here", "https://[::1/x"],
)
def test_a_sign_url_that_is_not_an_http_url_is_a_protocol_error(
    speech: LocalMedia, sign_url: object
) -> None:
    body = {**SIGNED, "data": {"sign_url": sign_url, "asset_url": ASSET_URL}}
    client, transport = jogg(answer(body), STORED)
    with pytest.raises(ProviderProtocolError, match="sign_url"):
        client.upload("jogg", speech)
    assert len(transport.sent) == 1


def test_an_expired_sign_url_names_the_put_step_and_the_storages_answer(
    speech: LocalMedia,
) -> None:
    expired = b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>"
    client, _ = jogg(answer(SIGNED), answer(expired, status=403))
    with pytest.raises(ProviderError) as caught:
        client.upload("jogg", speech)
    assert type(caught.value) is ProviderError  # not the key: none was sent
    assert caught.value.http_status == 403
    message = str(caught.value)
    assert "PUT to the signed URL was refused" in message and "expired" in message
    assert "Request has expired" in message
    assert "signed-url-here" not in message  # a signed URL is a bearer secret


def test_a_storage_outage_is_unavailable_after_the_cores_retries(speech: LocalMedia) -> None:
    client, transport = jogg(answer(SIGNED), answer(b"", status=503))
    with pytest.raises(ProviderUnavailable, match="PUT to the signed URL"):
        client.upload("jogg", speech)
    assert [s.method for s in transport.sent][:2] == ["POST", "PUT"]
    assert len(transport.sent) > 2  # the PUT was retried, as an upload is
