"""Local files sent inline as data URIs: exact bytes, media type, size limits, clear errors."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from lipbridge import InvalidRequest
from lipbridge.inline import CHUNK_BYTES
from lipbridge.plugin import data_uri, inline_local


def decoded(uri: str) -> tuple[str, bytes]:
    head, _, payload = uri.partition(",")
    assert head.startswith("data:") and head.endswith(";base64")
    return head[5:-7], base64.b64decode(payload, validate=True)


@pytest.mark.parametrize("size", [0, 1, 2, 3, CHUNK_BYTES - 1, CHUNK_BYTES, 2 * CHUNK_BYTES + 5])
def test_the_data_uri_holds_exactly_the_files_bytes_across_chunk_boundaries(
    tmp_path: Path, size: int
) -> None:
    content = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
    path = tmp_path / "face.mp4"
    path.write_bytes(content)
    media, payload = decoded(data_uri(path, field="video", max_bytes=None))
    assert media == "video/mp4" and payload == content


@pytest.mark.parametrize(
    ("name", "media"),
    [("a.MP3", "audio/mpeg"), ("a.wav", "audio/wav"), ("a.mov", "video/quicktime"),
     ("a.unknownext", "application/octet-stream")],
)
def test_the_media_type_follows_the_suffix(tmp_path: Path, name: str, media: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"abc")
    assert decoded(data_uri(path, field="audio", max_bytes=3))[0] == media


def test_a_file_over_the_limit_is_refused_naming_field_size_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "face.mp4"
    path.write_bytes(b"x" * 11)
    with pytest.raises(InvalidRequest) as caught:
        data_uri(path, field="video", max_bytes=10)
    assert caught.value.field == "video"
    assert "is 11 bytes; allowed: at most 10 bytes when sent inline" in str(caught.value)
    assert str(path) in str(caught.value)


def test_an_unreadable_file_is_an_invalid_request_not_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="cannot be read") as caught:
        data_uri(tmp_path / "missing.wav", field="audio", max_bytes=None)
    assert caught.value.field == "audio"


def test_urls_and_data_uris_pass_through_and_paths_are_inlined(tmp_path: Path) -> None:
    path = tmp_path / "speech.wav"
    path.write_bytes(b"RIFF")
    for ref in ("https://cdn.invalid/a.wav", "data:audio/wav;base64,UklGRg=="):
        assert inline_local(ref, field="audio", max_bytes=1) == ref
    assert inline_local(str(path), field="audio", max_bytes=4) == "data:audio/wav;base64,UklGRg=="
    assert inline_local(path.as_uri(), field="audio", max_bytes=4).endswith("UklGRg==")
