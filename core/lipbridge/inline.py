"""Local media sent inline, as a base64 ``data:`` URI, to providers that accept one.

The file is read and encoded in chunks, so memory holds the encoded text and one chunk,
never the raw file and its encoding side by side. The size limit is checked before the
first byte is read, and again while reading, in case the file grows meanwhile.
"""

from __future__ import annotations

import base64
import mimetypes
from pathlib import Path

from lipbridge.errors import InvalidRequest
from lipbridge.validation import local_path

# Read size: a multiple of 3, so each chunk encodes without padding.
CHUNK_BYTES = 3 * 256 * 1024

# Types the standard table gets wrong or lacks on some platforms.
_TYPES = {".mp3": "audio/mpeg", ".wav": "audio/wav", ".m4a": "audio/mp4", ".mov": "video/quicktime"}


def media_type(path: Path) -> str:
    suffix = path.suffix.lower()
    guessed = _TYPES.get(suffix) or mimetypes.guess_type(path.name)[0]
    return guessed or "application/octet-stream"


def data_uri(path: Path, *, field: str, max_bytes: int | None) -> str:
    """``data:<type>;base64,...`` for the file at ``path``, refusing files over ``max_bytes``."""

    def too_big(size: int) -> InvalidRequest:
        return InvalidRequest(
            f"{field}={str(path)!r} is {size} bytes; allowed: at most {max_bytes} bytes when "
            "sent inline (upload it and pass its https URL instead)",
            field=field,
        )

    try:
        size = path.stat().st_size
        if max_bytes is not None and size > max_bytes:
            raise too_big(size)
        parts = [f"data:{media_type(path)};base64,"]
        read = 0
        with path.open("rb") as stream:
            while chunk := stream.read(CHUNK_BYTES):
                read += len(chunk)
                if max_bytes is not None and read > max_bytes:
                    raise too_big(read)
                parts.append(base64.b64encode(chunk).decode("ascii"))
    except OSError as exc:
        raise InvalidRequest(
            f"{field}={str(path)!r} cannot be read: {exc.strerror or exc}", field=field
        ) from None
    return "".join(parts)


def inline_local(ref: str, *, field: str, max_bytes: int | None) -> str:
    """``ref`` unchanged when it is a URL or a data URI; a local file as a data URI."""
    path = local_path(ref)
    return ref if path is None else data_uri(path, field=field, max_bytes=max_bytes)
