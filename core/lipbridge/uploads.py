"""Local media on its way to a provider's own upload API: what a plugin is given
(:class:`LocalMedia`), what it answers (:class:`UploadedMedia`), and request bodies read
from disk as they are sent (:class:`FileBody`), so memory does not grow with the file.

Plain values: a plugin imports them when it loads, without the HTTP stack.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator, Mapping
from pathlib import Path

from attrs import field, frozen

from lipbridge.errors import InvalidRequest

CHUNK = 1 << 20


@frozen(kw_only=True)
class LocalMedia:
    """A local input file, probed before anything is sent.

    ``kind`` is ``"video"`` or ``"audio"`` (the request field it fills); ``media_type``
    its MIME type; ``sha256`` the hex digest of its bytes (the key under which an upload
    is reused); ``duration`` in seconds where it could be measured.
    """

    path: Path
    kind: str
    media_type: str
    size: int
    sha256: str
    duration: float | None = None


@frozen(kw_only=True)
class UploadedMedia:
    """Where a provider's upload put a file: ``reference`` goes into the submit in place
    of the local path (a URL, or whatever the provider's submit takes); ``expires_at``
    is when the provider forgets it (None: documented as kept, or not documented)."""

    reference: str
    expires_at: dt.datetime | None = None


@frozen(kw_only=True)
class FileBody:
    """A request body made of ``head``, the file's bytes and ``tail``, read in chunks as
    it is sent, as many times as it is sent (a retry or a 307 redirect reads it again)."""

    path: Path
    content_type: str
    head: bytes = b""
    tail: bytes = b""
    size: int = field(init=False)

    @size.default
    def _size(self) -> int:
        try:
            return len(self.head) + self.path.stat().st_size + len(self.tail)
        except OSError as exc:
            raise InvalidRequest(
                f"cannot read {str(self.path)!r}: {exc.strerror or exc}", field="path"
            ) from None

    @classmethod
    def raw(cls, path: Path, content_type: str) -> FileBody:
        """The file alone, as a presigned PUT wants it."""
        return cls(path=path, content_type=content_type)

    @classmethod
    def multipart(
        cls,
        path: Path,
        *,
        field_name: str,
        media_type: str,
        filename: str | None = None,
        fields: Mapping[str, str] | None = None,
    ) -> FileBody:
        """``multipart/form-data`` with text ``fields`` first and the file last."""
        boundary = f"lipbridge-{secrets.token_hex(16)}"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(name)}"'
            f"\r\n\r\n{value}\r\n"
            for name, value in (fields or {}).items()
        ]
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{_quoted(field_name)}"; '
            f'filename="{_quoted(filename or path.name)}"\r\nContent-Type: {media_type}\r\n\r\n'
        )
        return cls(
            path=path,
            content_type=f"multipart/form-data; boundary={boundary}",
            head="".join(parts).encode(),
            tail=f"\r\n--{boundary}--\r\n".encode(),
        )

    def chunks(self) -> Iterator[bytes]:
        """The body from its start; the file is opened only when sending begins."""
        yield self.head
        with self.path.open("rb") as file:
            while chunk := file.read(CHUNK):
                yield chunk
        yield self.tail


def _quoted(value: str) -> str:
    """A form-data name or filename: quotes, backslashes and line breaks escaped."""
    return (
        value.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")
    )
