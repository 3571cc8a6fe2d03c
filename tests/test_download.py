"""Downloading results: streamed, atomic, credential-free, bounded memory."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import subprocess
import tracemalloc
from pathlib import Path

import pytest
from scripted_server import Reply, ScriptedServer

from lipbridge import (
    Client,
    DownloadFailed,
    InvalidRequest,
    JobHandle,
    JobResult,
    OutputError,
    Transport,
)
from lipbridge.download import download

MIB = 1 << 20
PATH = "/results/out.mp4"


def pattern(size: int) -> bytes:
    """Deterministic, non-repeating-looking bytes (cheap to build, unlike urandom at 20 MiB)."""
    block = b"".join(hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(2048))
    return (block * (size // len(block) + 1))[:size]


@pytest.fixture
def out(tmp_path: Path) -> Path:
    """An empty directory for downloads (``tmp_path`` also holds the fake site-packages)."""
    path = tmp_path / "out"
    path.mkdir()
    return path


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".part"))


def test_streams_to_disk_without_credentials(
    client: Client, server: ScriptedServer, out: Path
) -> None:
    body = pattern(3 * MIB + 12345)
    server.script("GET", PATH, Reply(status=200, body=body))
    # Use the provider's own host first so a pooled connection that carried a key is reused.
    server.script("GET", "/v1/jobs/j1", Reply.json({"id": "j1", "status": "processing"}))
    client.poll(
        JobHandle(
            provider="acme",
            job_id="j1",
            created_at=dt.datetime(2026, 11, 21, tzinfo=dt.timezone.utc),
            model="acme-1",
        )
    )
    assert "authorization" in server.requests("GET", "/v1/jobs/j1")[0].headers

    dest = out / "nested" / "dir" / "video.mp4"
    dest.parent.mkdir(parents=True)
    returned = client.download(server.url + PATH, dest)

    assert returned == dest
    assert dest.read_bytes() == body
    assert sorted(p.name for p in dest.parent.iterdir()) == ["video.mp4"]
    (seen,) = server.requests("GET", PATH)
    for header in ("authorization", "x-api-key", "cookie", "proxy-authorization"):
        assert header not in seen.headers
    assert seen.headers["accept-encoding"] == "identity"


def test_download_accepts_job_result(client: Client, server: ScriptedServer, out: Path) -> None:
    body = pattern(1000)
    server.script("GET", PATH, Reply(status=200, body=body))
    result = JobResult(video_url=server.url + PATH)
    dest = client.download(result, str(out / "r.mp4"))
    assert dest == out / "r.mp4"
    assert dest.read_bytes() == body


def test_download_replaces_existing_file_on_success(
    client: Client, server: ScriptedServer, out: Path
) -> None:
    dest = out / "video.mp4"
    dest.write_bytes(b"old content")
    server.script("GET", PATH, Reply(status=200, body=b"new content"))
    client.download(server.url + PATH, dest)
    assert dest.read_bytes() == b"new content"
    assert leftovers(out) == []


def test_download_empty_body(client: Client, server: ScriptedServer, out: Path) -> None:
    server.script("GET", PATH, Reply(status=200, body=b""))
    dest = client.download(server.url + PATH, out / "empty.mp4")
    assert dest.read_bytes() == b""
    assert leftovers(out) == []


# -- atomicity -----------------------------------------------------------------------------------


def test_truncated_body_fails_and_keeps_existing_file(
    client: Client, server: ScriptedServer, out: Path
) -> None:
    dest = out / "video.mp4"
    dest.write_bytes(b"previous good download")
    server.script("GET", PATH, Reply(status=200, body=pattern(100_000), content_length=500_000))

    with pytest.raises(DownloadFailed) as info:
        client.download(server.url + PATH, dest)

    assert info.value.retryable is True
    assert dest.read_bytes() == b"previous good download"
    assert sorted(p.name for p in out.iterdir()) == ["video.mp4"]


def test_truncated_body_without_existing_file_leaves_nothing(
    client: Client, server: ScriptedServer, out: Path
) -> None:
    dest = out / "video.mp4"
    server.script("GET", PATH, Reply(status=200, body=b"abc", content_length=10))
    with pytest.raises(DownloadFailed):
        client.download(server.url + PATH, dest)
    assert list(out.iterdir()) == []


def test_connection_reset_fails_cleanly(client: Client, server: ScriptedServer, out: Path) -> None:
    dest = out / "video.mp4"
    dest.write_bytes(b"keep me")
    server.script("GET", PATH, Reply(reset="after_body"))
    with pytest.raises(DownloadFailed) as info:
        client.download(server.url + PATH, dest)
    assert info.value.retryable is True
    assert dest.read_bytes() == b"keep me"
    assert leftovers(out) == []


# -- HTTP errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 404, 410])
def test_gone_url_reports_expiry(
    client: Client, server: ScriptedServer, out: Path, status: int
) -> None:
    dest = out / "video.mp4"
    dest.write_bytes(b"old")
    server.script("GET", PATH, Reply(status=status, body=b"<Error>AccessDenied</Error>"))
    with pytest.raises(DownloadFailed) as info:
        client.download(server.url + PATH, dest)
    assert info.value.http_status == status
    assert info.value.retryable is False
    assert "expired" in str(info.value)
    assert f"HTTP {status}" in str(info.value)
    assert dest.read_bytes() == b"old"
    assert leftovers(out) == []


@pytest.mark.parametrize("status", [429, 500, 503])
def test_server_error_is_retryable(
    client: Client, server: ScriptedServer, out: Path, status: int
) -> None:
    server.script("GET", PATH, Reply(status=status, body=b"busy"))
    with pytest.raises(DownloadFailed) as info:
        client.download(server.url + PATH, out / "video.mp4")
    assert info.value.http_status == status
    assert info.value.retryable is True
    assert "expired" not in str(info.value)
    assert list(out.iterdir()) == []


def test_unexpected_success_status_fails(client: Client, server: ScriptedServer, out: Path) -> None:
    server.script("GET", PATH, Reply(status=204))
    with pytest.raises(DownloadFailed) as info:
        client.download(server.url + PATH, out / "video.mp4")
    assert info.value.http_status == 204
    assert list(out.iterdir()) == []


def test_connection_refused_is_retryable(client: Client, out: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, not listening: connects are refused
        port = sock.getsockname()[1]
        with pytest.raises(DownloadFailed) as info:
            client.download(f"http://127.0.0.1:{port}/x.mp4", out / "video.mp4")
    assert info.value.retryable is True
    assert list(out.iterdir()) == []


# -- invalid URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/x.mp4", "file:///etc/passwd", "s3://bucket/x.mp4", "/tmp/x.mp4", ""],
)
def test_non_http_url_rejected_without_request(
    client: Client, server: ScriptedServer, out: Path, url: str
) -> None:
    dest = out / "sub" / "video.mp4"
    with pytest.raises(InvalidRequest) as info:
        client.download(url, dest)
    assert info.value.field == "url"
    assert server.requests() == []
    assert not dest.parent.exists()


# -- memory --------------------------------------------------------------------------------------


def test_memory_stays_bounded(client: Client, server: ScriptedServer, out: Path) -> None:
    size = 20 * MIB
    body = pattern(size)
    digest = hashlib.sha256(body).hexdigest()
    server.script("GET", PATH, Reply(status=200, body=body))
    dest = out / "big.mp4"

    tracemalloc.start()
    try:
        client.download(server.url + PATH, dest)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert os.path.getsize(dest) == size
    hasher = hashlib.sha256()
    with dest.open("rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            hasher.update(block)
    assert hasher.hexdigest() == digest
    assert peak < 8 * MIB, f"peak traced memory {peak / MIB:.1f} MiB for a 20 MiB download"


def test_downloaded_file_gets_ordinary_permissions(
    client: Client, server: ScriptedServer, out: Path
) -> None:
    server.script("GET", PATH, Reply(body=b"video"))
    umask = os.umask(0o022)
    try:
        saved = client.download(f"{server.url}{PATH}", out / "v.mp4")
    finally:
        os.umask(umask)
    assert saved.stat().st_mode & 0o777 == 0o644


# -- local failures after paying: a lipbridge error naming the path, nothing left behind --------


def unusable_target(out: Path, kind: str) -> Path:
    (out / "notes.txt").write_text("")
    return {
        "folder": out,
        "missing_parent": out / "gone" / "v.mp4",
        "parent_is_a_file": out / "notes.txt" / "v.mp4",
    }[kind]


KINDS = ["folder", "missing_parent", "parent_is_a_file"]


@pytest.mark.parametrize("kind", KINDS)
def test_unusable_output_path_is_refused_before_any_request(
    client: Client, server: ScriptedServer, out: Path, kind: str
) -> None:
    with pytest.raises(InvalidRequest) as info:
        client.download(server.url + PATH, unusable_target(out, kind))
    assert info.value.field == "output"
    assert server.requests() == []


@pytest.mark.parametrize("kind", KINDS)
def test_local_write_failure_after_fetching_is_an_output_error_naming_the_path(
    server: ScriptedServer, out: Path, kind: str
) -> None:
    """The folder can change between the check and the write: still a lipbridge error."""
    server.script("GET", PATH, Reply(status=200, body=b"video"))
    dest = unusable_target(out, kind)
    transport = Transport()
    try:
        with pytest.raises(OutputError) as info:
            download(transport, server.url + PATH, dest, allow_private=True)
    finally:
        transport.close()
    assert info.value.path == str(dest)
    assert str(dest) in str(info.value)
    assert "lipbridge download" in str(info.value)  # how to fetch it again
    assert leftovers(out) == []


def test_failure_while_writing_leaves_no_part_file(
    client: Client, server: ScriptedServer, out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.script("GET", PATH, Reply(status=200, body=pattern(3 * MIB)))
    real_fsync = os.fsync

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OutputError) as info:
        client.download(server.url + PATH, out / "video.mp4")
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert "No space left on device" in str(info.value)
    assert list(out.iterdir()) == []


def test_a_dead_process_part_file_is_removed_by_the_next_download(
    client: Client, server: ScriptedServer, out: Path
) -> None:
    server.script("GET", PATH, Reply(status=200, body=b"video"))
    gone_pid = exited_pid()
    stale = out / f".video.mp4.{gone_pid}.0a1b2c3d4e5f.part"
    stale.write_bytes(b"half a video")
    mine = out / f".video.mp4.{os.getpid()}.ffffffffffff.part"  # a live writer's: kept
    mine.write_bytes(b"in progress")
    other = out / f".other.mp4.{gone_pid}.0a1b2c3d4e5f.part"  # another target's: kept
    other.write_bytes(b"not ours")

    client.download(server.url + PATH, out / "video.mp4")

    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["video.mp4", mine.name, other.name]
    )


def exited_pid() -> int:
    """The pid of a child that has exited and been reaped: no process has it now."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid
