"""Files uploaded through a provider's own API: stored at once when the request carries
them, or held as a presigned slot until the client PUTs them; each provider's storage.

A presigned URL is the file's own URL plus ``?expires=<unix>&signature=<hex>``, the way
an S3 or OSS presigned PUT is the object's URL plus its signature. The signature covers
the file, the deadline and the Content-Type the provider signed, so a PUT under another
type, or after the deadline, gets the storage's 403 (S3's XML error). A slot takes any
number of PUTs until its deadline, each replacing the file, as a presigned PUT does; a
retry of a PUT whose answer was lost succeeds. The file is served from its URL once
stored, with the lifetime the provider documents.

A provider's storage (``Emulator(storage={provider: bytes})``) holds the files its
requests carried; presigned files are not counted (no provider that hands them out
documents a quota). Expired files no longer count.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import threading
from collections.abc import Callable, Mapping

from attrs import define, frozen

from lipbridge.context import Clock
from lipbridge_emulator.dialect import Reply, UploadSpec, UploadView
from lipbridge_emulator.store import FileStore

_STORAGE_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    "<Error><Code>{code}</Code><Message>{message}</Message></Error>"
)


class StorageFull(Exception):
    """An upload that does not fit its provider's storage; the message says by how much."""


@frozen
class _Slot:
    """A presigned upload waiting for (or taking) PUTs of its file."""

    provider: str
    name: str
    content_type: str
    put_by: dt.datetime
    lifetime: dt.timedelta | None


@define
class _Kept:
    token: str
    size: int
    expires: dt.datetime | None


class Uploads:
    def __init__(
        self,
        store: FileStore,
        clock: Clock,
        file_url: Callable[[str, str], str],
        storage: Mapping[str, int] | None,
        seed: int,
    ) -> None:
        self._store = store
        self._clock = clock
        self._file_url = file_url  # (token, name) -> the URL that serves it
        self._storage = dict(storage or {})
        # From the seed: the same uploads get the same presigned URLs in every run.
        self._secret = hashlib.blake2b(repr(("presign", seed)).encode()).digest()
        self._slots: dict[str, _Slot] = {}
        self._kept: dict[str, list[_Kept]] = {}  # per provider, oldest first
        self._lock = threading.Lock()

    def accept(self, provider: str, spec: UploadSpec, token: str) -> UploadView:
        """Store the file the request carried, or open a presigned slot for it; raises
        :class:`StorageFull` when it does not fit and the provider may not evict."""
        now = self._clock.now()
        expires = now + spec.lifetime if spec.lifetime is not None else None
        url = self._file_url(token, spec.name)
        if spec.data is not None:
            self._reserve(provider, _Kept(token, len(spec.data), expires), spec.evict_oldest, now)
            self._store.add_bytes(spec.data, spec.name, expires, token=token)
            return UploadView(
                id=token, spec=spec, url=url, created=now, expires=expires, size=len(spec.data)
            )
        put_by = now + spec.put_within
        with self._lock:
            self._slots[token] = _Slot(
                provider, spec.name, spec.content_type, put_by, spec.lifetime
            )
        query = f"expires={int(put_by.timestamp())}"
        put_url = f"{url}?{query}&signature={self._sign(token, query, spec.content_type)}"
        return UploadView(
            id=token, spec=spec, url=url, created=now, expires=expires, put_url=put_url
        )

    def put(
        self,
        token: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        data: bytes,
    ) -> tuple[str | None, Reply]:
        """A PUT to a presigned URL: (the provider that signed it, the storage's answer)."""
        with self._lock:
            slot = self._slots.get(token)
        if slot is None:
            return None, _refusal("AccessDenied", "There is no upload signed for this URL")
        content_type = headers.get("content-type", "")
        expected = self._sign(token, f"expires={query.get('expires', '')}", content_type)
        if not hmac.compare_digest(expected, query.get("signature", "")):
            return slot.provider, _refusal(
                "SignatureDoesNotMatch",
                "The request signature does not match: send the Content-Type that was "
                f"signed, not {content_type or 'none'}",
            )
        now = self._clock.now()
        if now >= slot.put_by:
            return slot.provider, _refusal("AccessDenied", "Request has expired")
        expires = now + slot.lifetime if slot.lifetime is not None else None
        self._store.add_bytes(data, slot.name, expires, token=token)
        etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return slot.provider, Reply(status=200, headers={"ETag": f'"{etag}"'})

    def _sign(self, token: str, query: str, content_type: str) -> str:
        message = f"PUT\n{content_type}\n{token}\n{query}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def _reserve(self, provider: str, upload: _Kept, evict: bool, now: dt.datetime) -> None:
        """Count ``upload`` in the provider's storage, evicting its oldest files first if
        ``evict`` allows and that makes room; :class:`StorageFull` when it cannot fit."""
        quota = self._storage.get(provider)
        evicted: list[str] = []
        with self._lock:
            kept = [k for k in self._kept.get(provider, []) if k.expires is None or now < k.expires]
            used = sum(k.size for k in kept)
            self._kept[provider] = kept
            if quota is not None and used + upload.size > quota:
                if not evict or upload.size > quota:
                    raise StorageFull(
                        f"the file is {upload.size} bytes; {used} of {quota} are in use"
                    )
                while used + upload.size > quota:
                    oldest = kept.pop(0)
                    used -= oldest.size
                    evicted.append(oldest.token)
            kept.append(upload)
        for token in evicted:
            self._store.remove(token)

def _refusal(code: str, message: str) -> Reply:
    """The storage's own error (S3's XML shape), not the provider API's envelope."""
    body = _STORAGE_ERROR.format(code=code, message=message).encode()
    return Reply(status=403, body=body, headers={"Content-Type": "application/xml"})
