"""The upload API plugins get (issue 15): ``ctx.http.upload``, ``ctx.http.put_file``,
``FileBody`` and the optional ``lipbridge_upload`` hook, against the scripted server."""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import socket
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import KEY, FakeClock, make_registry, write_dist
from scripted_server import Reply, ScriptedServer

from lipbridge import (
    Client,
    InvalidRequest,
    PluginContractError,
    ProviderError,
    ProviderUnavailable,
    Transport,
    UnsupportedCapability,
)
from lipbridge.context import Credentials, Secret
from lipbridge.plugin import (
    AuthScheme,
    CallKind,
    FileBody,
    LocalMedia,
    ProviderHTTP,
    UploadedMedia,
)

UPLOAD_KEY = "k-upload-secret-31337"


@pytest.fixture
def transport() -> Iterator[Transport]:
    t = Transport()
    yield t
    t.close()


def provider_http(server: ScriptedServer, transport: Transport, clock: FakeClock) -> ProviderHTTP:
    return ProviderHTTP(
        provider="acme",
        base_url=server.url,
        transport=transport,
        clock=clock,
        credentials=Credentials(provider="acme", api_key=Secret(UPLOAD_KEY)),
        auth=AuthScheme(header="Authorization", prefix="Bearer "),
        user_agent="lipbridge-test/1",
        allow_private=True,
    )


def parts_of(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """name -> (filename, bytes) of a multipart/form-data body, as a server reads it."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    return {
        part.get_param("name", header="content-disposition"): (
            part.get_filename(), part.get_payload(decode=True)
        )
        for part in message.iter_parts()
    }


def test_a_multipart_upload_carries_the_fields_the_file_and_the_key(
    server: ScriptedServer, transport: Transport, clock: FakeClock, tmp_path: Path
) -> None:
    video = tmp_path / 'my "face".mp4'
    video.write_bytes(b"\x00\x01mp4 bytes\r\n--not-a-boundary\r\n" * 100)
    server.script("POST", "/v1/files/upload/stream", Reply.json({"url": "https://cdn/x.mp4"}))
    body = FileBody.multipart(video, field_name="file", media_type="video/mp4",
                              fields={"auto_cleanup": "true"})
    answer = provider_http(server, transport, clock).upload("/v1/files/upload/stream", body)
    assert answer.json() == {"url": "https://cdn/x.mp4"}
    (seen,) = server.requests("POST", "/v1/files/upload/stream")
    assert seen.headers["authorization"] == f"Bearer {UPLOAD_KEY}"
    assert int(seen.headers["content-length"]) == len(seen.body) == body.size
    parts = parts_of(seen.headers["content-type"], seen.body)
    assert parts["auto_cleanup"] == (None, b"true")
    assert parts["file"] == ('my %22face%22.mp4', video.read_bytes())


def test_a_presigned_put_goes_to_any_host_without_the_key(
    server: ScriptedServer, second_server: ScriptedServer, transport: Transport,
    clock: FakeClock, tmp_path: Path,
) -> None:
    audio = tmp_path / "speech.wav"
    audio.write_bytes(b"RIFF" + b"\x07" * 5000)
    second_server.script("PUT", "/bucket/speech.wav?X-Sig=abc", Reply(status=200))
    http = provider_http(server, transport, clock)
    answer = http.put_file(f"{second_server.url}/bucket/speech.wav?X-Sig=abc",
                           FileBody.raw(audio, "audio/wav"))
    assert answer.status == 200
    (seen,) = second_server.requests("PUT", "/bucket/speech.wav?X-Sig=abc")
    assert seen.body == audio.read_bytes()
    assert seen.headers["content-type"] == "audio/wav"
    assert "authorization" not in seen.headers and UPLOAD_KEY not in repr(seen)
    assert [e.kind for e in http.exchanges] == [CallKind.UPLOAD]


@pytest.mark.parametrize(
    ("status", "cls"), [(403, ProviderError), (400, ProviderError), (503, ProviderUnavailable)]
)
def test_a_refused_put_raises_naming_the_step_never_the_url(
    server: ScriptedServer, second_server: ScriptedServer, transport: Transport,
    clock: FakeClock, tmp_path: Path, status: int, cls: type[ProviderError],
) -> None:
    (tmp_path / "a.wav").write_bytes(b"x")
    path = "/bucket/a.wav?X-Amz-Signature=s3cr3tsig"
    second_server.script("PUT", path, Reply(status=status, body=b"<Error>Request has expired"))
    http = provider_http(server, transport, clock)
    with pytest.raises(cls) as caught:
        http.put_file(second_server.url + path, FileBody.raw(tmp_path / "a.wav", "audio/wav"),
                      hint="a signed URL lapses after an hour")
    assert type(caught.value) is cls and caught.value.http_status == status
    message = str(caught.value)
    assert "PUT to the signed URL was refused (a signed URL lapses after an hour)" in message
    assert "Request has expired" in message and "s3cr3tsig" not in message


def test_an_upload_url_that_is_not_absolute_http_is_the_plugins_error(
    server: ScriptedServer, transport: Transport, clock: FakeClock, tmp_path: Path
) -> None:
    (tmp_path / "a.wav").write_bytes(b"x")
    http = provider_http(server, transport, clock)
    for url in ("/relative/path", "file:///etc/passwd", "ftp://host/x", "http://[::1/x",
                "http://host:99999/x"):
        with pytest.raises(PluginContractError, match="absolute http"):
            http.put_file(url, FileBody.raw(tmp_path / "a.wav", "audio/wav"))
    assert server.seen == []


def test_a_retried_upload_sends_the_whole_file_again(
    server: ScriptedServer, transport: Transport, clock: FakeClock, tmp_path: Path
) -> None:
    video = tmp_path / "face.mp4"
    video.write_bytes(b"v" * 70_000)
    server.script("POST", "/up", Reply(status=503), Reply.json({"url": "https://cdn/v"}))
    http = provider_http(server, transport, clock)
    answer = http.upload("/up", FileBody.raw(video, "video/mp4"))
    assert answer.json() == {"url": "https://cdn/v"}
    first, second = server.requests("POST", "/up")
    assert first.body == second.body == video.read_bytes()
    assert len(clock.sleeps) == 1  # the fake clock's backoff, never a real sleep


def test_a_307_redirect_sends_the_file_again_and_a_303_drops_it(
    server: ScriptedServer, transport: Transport, clock: FakeClock, tmp_path: Path
) -> None:
    video = tmp_path / "face.mp4"
    video.write_bytes(b"v" * 1000)
    server.script("POST", "/up", Reply(status=307, headers={"Location": "/up2"}))
    server.script("POST", "/up2", Reply.json({"url": "https://cdn/v"}))
    http = provider_http(server, transport, clock)
    http.upload("/up", FileBody.raw(video, "video/mp4"))
    (moved,) = server.requests("POST", "/up2")
    assert moved.body == video.read_bytes()


def test_an_unreachable_upload_host_is_provider_unavailable(
    server: ScriptedServer, transport: Transport, clock: FakeClock, tmp_path: Path,
    closed_port: int,
) -> None:
    (tmp_path / "a.wav").write_bytes(b"x")
    http = provider_http(server, transport, clock)
    with pytest.raises(ProviderUnavailable):
        http.put_file(f"http://127.0.0.1:{closed_port}/b/a.wav",
                      FileBody.raw(tmp_path / "a.wav", "audio/wav"))


@pytest.fixture
def second_server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def closed_port() -> Iterator[int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    try:
        yield sock.getsockname()[1]
    finally:
        sock.close()


class DiscardingServer:
    """Reads each request's body and keeps only its length, so that memory traced in
    this process is the client's."""

    def __init__(self) -> None:
        self.received: list[int] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen()
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        conn, _ = self._sock.accept()
        with conn, conn.makefile("rb") as reader:
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            left = length
            while left:
                left -= len(reader.read(min(left, 1 << 16)))
            self.received.append(length)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")

    def close(self) -> None:
        self._thread.join(timeout=10)
        self._sock.close()


def test_the_file_is_read_in_chunks_as_it_is_sent(
    server: ScriptedServer, transport: Transport, clock: FakeClock, tmp_path: Path
) -> None:
    big = tmp_path / "big.mp4"
    with big.open("wb") as out:
        for _ in range(24):
            out.write(b"\x5a" * (1 << 20))
    sink = DiscardingServer()
    http = provider_http(server, transport, clock)
    tracemalloc.start()
    try:
        http.put_file(f"{sink.url}/big", FileBody.raw(big, "video/mp4"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        sink.close()
    assert sink.received == [24 << 20]
    assert peak < 6 << 20  # a few 1 MiB chunks at most, never the 24 MiB file


def test_a_missing_file_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="cannot read"):
        FileBody.raw(tmp_path / "gone.mp4", "video/mp4")


def test_hook_lipbridge_upload_puts_the_file_in_the_providers_storage(
    site: Path, server: ScriptedServer, clock: FakeClock, tmp_path: Path
) -> None:
    write_dist(site, "lipbridge-uploader", {"uploader": "lipbridge_testprov:uploader"})
    write_dist(site, "lipbridge-acme", {"acme": "lipbridge_testprov:acme"})
    server.script("POST", "/v1/uploads", Reply.json({"url": "https://cdn.invalid/f.wav",
                                                     "expires_in": 3600}))
    audio = tmp_path / "speech.wav"
    audio.write_bytes(b"RIFF....WAVE")
    media = LocalMedia(path=audio, kind="audio", media_type="audio/wav", size=12,
                       sha256="0" * 64)
    environ = {f"LIPBRIDGE_{p}_{k}": v for p in ("UPLOADER", "ACME")
               for k, v in (("API_KEY", KEY), ("BASE_URL", server.url))}
    with Client(registry=make_registry(site), environ=environ, clock=clock,
                ledger=False) as client:
        uploaded = client.upload("uploader", media)
        with pytest.raises(UnsupportedCapability, match="acme documents no upload API"):
            client.upload("acme", media)
    assert uploaded == UploadedMedia(reference="https://cdn.invalid/f.wav",
                                     expires_at=clock.now() + dt.timedelta(hours=1))
    (seen,) = server.requests("POST", "/v1/uploads")
    assert seen.headers["authorization"] == f"Bearer {KEY}"
    assert parts_of(seen.headers["content-type"], seen.body)["file"] == (
        "speech.wav", audio.read_bytes()
    )
