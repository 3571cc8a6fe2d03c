"""Streaming a result file to disk: constant memory, verified length, atomic rename.

Downloads go through the shared pool but never carry provider credentials: the result
URL usually points at a CDN or object store, not at the provider's API. The video is
paid for by now, so every local failure says where the file was going and that it can
be fetched again; no partial file is left behind, not even by a killed process (the next
download to the same target removes a dead process's leftovers).

Progress goes to whoever watches this thread's context (:func:`watching`, the CLI's
progress bar): the bytes so far and the announced total, if any, after every chunk.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from lipbridge.context import Clock
from lipbridge.errors import PRIVATE_HOSTS_HINT, DownloadFailed, OutputError
from lipbridge.http import retry_after_seconds
from lipbridge.parts import part_name, remove_stale_parts
from lipbridge.redact import mask_url
from lipbridge.sockets import Deadline
from lipbridge.transport import DECODABLE, Stream, Transport, TransportFailure
from lipbridge.urls import parse_url

CHUNK_SIZE = 1 << 20

# Called with (bytes so far, total or None) as a download streams; see watching().
Watcher = Callable[[int, "int | None"], None]
_watcher: contextvars.ContextVar[Watcher | None] = contextvars.ContextVar(
    "lipbridge_download_watcher", default=None
)


@contextlib.contextmanager
def watching(watcher: Watcher) -> Iterator[None]:
    """Downloads in this context (this thread, and tasks started from it) report their
    progress to ``watcher``; the client's ``download`` needs no callback threaded through."""
    token = _watcher.set(watcher)
    try:
        yield
    finally:
        _watcher.reset(token)


def _failed_status(url: str, stream: Stream, clock: Clock) -> DownloadFailed:
    status = stream.status
    gone = status in (403, 404, 410)
    retryable = status >= 500 or status == 429
    return DownloadFailed(
        f"GET {mask_url(url)} answered HTTP {status}"
        + ("; the result URL may have expired: poll the job for a fresh one" if gone else ""),
        http_status=status,
        retryable=retryable,
        retry_after=(
            retry_after_seconds(stream.headers.get("retry-after"), clock)
            if retryable
            else None
        ),
    )


def _write(stream: Stream, url: str, out: BinaryIO, chunk_size: int) -> None:
    undecodable = [e for e in stream.encodings if e not in DECODABLE]
    if undecodable:
        raise DownloadFailed(
            f"GET {mask_url(url)} answered with Content-Encoding {', '.join(undecodable)}, "
            "which lipbridge cannot decode; the encoded bytes were not saved"
        )
    expected = stream.headers.get("content-length")
    total = int(expected) if expected is not None and expected.isdigit() else None
    watcher = _watcher.get()
    if watcher is not None:
        watcher(0, total)
    for chunk in stream.chunks(chunk_size):
        out.write(chunk)
        if watcher is not None:
            watcher(stream.wire_bytes, total)
    if expected is not None and expected.isdigit() and stream.wire_bytes != int(expected):
        raise DownloadFailed(
            f"GET {mask_url(url)} sent {stream.wire_bytes} bytes but announced {expected}",
            retryable=True,
        )


def download(
    transport: Transport,
    url: str,
    dest: str | os.PathLike[str],
    *,
    chunk_size: int = CHUNK_SIZE,
    deadline: Deadline | None = None,
    allow_private: bool = False,
) -> Path:
    """Fetch ``url`` into ``dest``. On failure ``dest`` is untouched and no temp file remains."""
    parse_url(url, field="url")
    target = Path(dest)
    # Beside the target, so the final rename is atomic; mode 0666 minus the umask, like any
    # file the user creates (mkstemp's 0600 would stick to the finished video).
    tmp_name = str(target.parent / part_name(target, secrets.token_hex(6)))
    try:
        remove_stale_parts(target)
        fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise _output_error(target, exc) from None
    try:
        with os.fdopen(fd, "wb") as out:
            with transport.stream(url, deadline=deadline, allow_private=allow_private) as stream:
                if stream.status != 200:
                    raise _failed_status(url, stream, transport.clock)
                _write(stream, url, out, chunk_size)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, target)
    except TransportFailure as failure:
        _unlink(tmp_name)
        if failure.refused_address:
            raise DownloadFailed(
                f"GET {mask_url(url)}: {failure.cause}", hint=PRIVATE_HOSTS_HINT
            ) from None
        raise DownloadFailed(f"GET {mask_url(url)} failed: {failure}", retryable=True) from None
    except OSError as exc:
        _unlink(tmp_name)
        raise _output_error(target, exc) from None
    except BaseException:
        _unlink(tmp_name)
        raise
    return target


def _unlink(name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name)


def _output_error(target: Path, exc: OSError) -> OutputError:
    return OutputError(
        f"cannot save the video to {str(target)!r}: {exc.strerror or exc}; the job's result "
        "is still at the provider: fetch it again (lipbridge download PROVIDER JOB_ID PATH)",
        path=str(target),
    )
