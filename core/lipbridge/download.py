"""Streaming a result file to disk: constant memory, verified length, atomic rename.

Downloads go through the shared pool but never carry provider credentials: the result
URL usually points at a CDN or object store, not at the provider's API.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from lipbridge.errors import DownloadFailed, InvalidRequest
from lipbridge.models import shown
from lipbridge.transport import Transport, TransportFailure

CHUNK_SIZE = 1 << 20


def download(
    transport: Transport, url: str, dest: str | os.PathLike[str], *, chunk_size: int = CHUNK_SIZE
) -> Path:
    """Fetch ``url`` into ``dest``. On failure ``dest`` is untouched and no temp file remains."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise InvalidRequest(f"url={shown(url)} is not an http(s) URL", field="url")
    target = Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Beside the target, so the final rename is atomic; mode 0666 minus the umask, like any
    # file the user creates (mkstemp's 0600 would stick to the finished video).
    tmp_name = str(target.parent / f".{target.name}.{secrets.token_hex(6)}.part")
    fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            with transport.stream(url) as response:
                status = response.status
                if status != 200:
                    gone = status in (403, 404, 410)
                    raise DownloadFailed(
                        f"GET {shown(url)} answered HTTP {status}"
                        + (
                            "; the result URL may have expired: poll the job for a fresh one"
                            if gone
                            else ""
                        ),
                        http_status=status,
                        retryable=status >= 500 or status == 429,
                    )
                expected = response.headers.get("content-length")
                written = 0
                for chunk in response.chunks(chunk_size):
                    out.write(chunk)
                    written += len(chunk)
                if expected is not None and expected.isdigit() and written != int(expected):
                    raise DownloadFailed(
                        f"GET {shown(url)} sent {written} bytes but announced {expected}",
                        retryable=True,
                    )
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp_name, target)
    except TransportFailure as failure:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise DownloadFailed(f"GET {shown(url)} failed: {failure}", retryable=True) from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return target
