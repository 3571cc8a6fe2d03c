"""The fal.ai plugin's upload (``lipbridge_upload``): the storage API's initiate on its own
host with the key (a declared API of fal's), the PUT of the bytes to the signed URL
without it, the lifetime a user may choose, and how each step's refusal reads. The
contract suite certifies the documented exchange from ``lipbridge_fal/cassettes/fal/upload*``."""

from __future__ import annotations

import datetime as dt
import json
from functools import partial
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from lipbridge import (
    ConfigurationError,
    InsufficientCredits,
    ProviderError,
    ProviderProtocolError,
)
from lipbridge.plugin import LocalMedia, UploadedMedia
from lipbridge_contract.testing import TEST_KEY, answer, local_media, scripted_client

fal = partial(scripted_client, "fal")

UPLOAD_URL = "https://v3.fal.media/files/upload/zebra/Fz1x9Q_speech.wav"
FILE_URL = "https://v3.fal.media/files/zebra/Fz1x9Q_speech.wav"
INITIATED = answer({"upload_url": UPLOAD_URL, "file_url": FILE_URL})
STORED = answer(b"", status=200)


@pytest.fixture
def speech(tmp_path: Path) -> LocalMedia:
    return local_media(tmp_path / "speech.wav", b"RIFF\x00WAVE", "audio/wav", "audio")


def test_the_file_goes_to_the_signed_url_and_file_url_comes_back(speech: LocalMedia) -> None:
    client, transport = fal(INITIATED, STORED)
    assert client.upload("fal", speech) == UploadedMedia(reference=FILE_URL, expires_at=None)
    initiate, put = transport.sent
    parts = urlsplit(initiate.url)
    assert (initiate.method, parts.netloc, parts.path) == (
        "POST",
        "rest.fal.ai",
        "/storage/upload/initiate",
    )
    assert parse_qs(parts.query) == {"storage_type": ["fal-cdn-v3"]}
    assert initiate.headers["Authorization"] == f"Key {TEST_KEY}"
    assert "X-Fal-Object-Lifecycle" not in initiate.headers
    assert json.loads(initiate.body or b"") == {
        "file_name": "speech.wav",
        "content_type": "audio/wav",
    }
    assert (put.method, put.url, put.body, put.file) == (
        "PUT",
        UPLOAD_URL,
        b"RIFF\x00WAVE",
        speech.path,
    )
    assert put.headers["Content-Type"] == "audio/wav"
    assert TEST_KEY not in repr(put.headers) and "Authorization" not in put.headers


def test_a_chosen_lifetime_is_asked_for_and_is_the_expiry(speech: LocalMedia) -> None:
    client, transport = fal(INITIATED, STORED, settings={"upload_expiry_seconds": "3600"})
    uploaded = client.upload("fal", speech)
    chosen = json.loads(transport.sent[0].headers["X-Fal-Object-Lifecycle"])
    assert chosen == {"expiration_duration_seconds": 3600}
    assert uploaded.expires_at == client.clock.now() + dt.timedelta(hours=1)


@pytest.mark.parametrize("value", ["soon", "59", "-5", "1.5"])
def test_a_lifetime_that_is_no_whole_number_of_seconds_is_refused_before_sending(
    speech: LocalMedia, value: str
) -> None:
    client, transport = fal(INITIATED, settings={"upload_expiry_seconds": value})
    with pytest.raises(ConfigurationError, match="LIPBRIDGE_FAL_UPLOAD_EXPIRY_SECONDS"):
        client.upload("fal", speech)
    assert transport.sent == []


def test_a_locked_account_is_out_of_credit_and_nothing_is_put(speech: LocalMedia) -> None:
    locked = {"detail": "User is locked. Reason: Exhausted balance. Top up your balance"}
    client, transport = fal(answer(locked, status=403))
    with pytest.raises(InsufficientCredits, match="Exhausted balance"):
        client.upload("fal", speech)
    assert len(transport.sent) == 1


@pytest.mark.parametrize(
    "given",
    [
        {"file_url": FILE_URL},
        {"upload_url": "/relative", "file_url": FILE_URL},
        {"upload_url": UPLOAD_URL, "file_url": "ftp://x/y"},
    ],
)
def test_an_initiate_answer_without_usable_urls_is_the_providers_fault(
    speech: LocalMedia, given: dict[str, str]
) -> None:
    client, transport = fal(answer(given))
    with pytest.raises(ProviderProtocolError):
        client.upload("fal", speech)
    assert len(transport.sent) == 1


def test_a_refused_put_names_the_step(speech: LocalMedia) -> None:
    client, _ = fal(INITIATED, answer(b"<Error>SignatureDoesNotMatch</Error>", status=403))
    with pytest.raises(ProviderError, match="signed URL was refused"):
        client.upload("fal", speech)


def test_an_emulator_base_url_takes_the_initiate_too(speech: LocalMedia) -> None:
    base = "http://127.0.0.1:8123/fal"
    client, transport = fal(INITIATED, STORED, environ={"LIPBRIDGE_FAL_BASE_URL": base})
    client.upload("fal", speech)
    assert transport.sent[0].url.startswith(f"{base}/storage/upload/initiate?")
