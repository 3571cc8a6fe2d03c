"""Files the emulator serves: uploads (inputs) and rendered outputs, each with a lifetime.

Files live on disk, so a 200 MB output costs no memory to serve. A URL is
``<base>/files/<token>/<name>``; the name is cosmetic.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import shutil
import tempfile
import threading
from pathlib import Path

from attrs import frozen


@frozen
class Stored:
    path: Path
    name: str
    expires: dt.datetime | None


class FileStore:
    def __init__(self, root: Path | None = None) -> None:
        self._owned = root is None
        self.root = Path(tempfile.mkdtemp(prefix="lipbridge-emulator-")) if root is None else root
        self.root.mkdir(parents=True, exist_ok=True)
        self._files: dict[str, Stored] = {}
        self._lock = threading.Lock()

    def add_bytes(
        self, data: bytes, name: str, expires: dt.datetime | None = None, *, token: str = ""
    ) -> str:
        """Store ``data`` under ``token``, else under one named by its content, so the same
        upload gets the same URL in every run: requests carrying it stay identical, and so
        do the faults drawn for them."""
        token = token or hashlib.blake2b(data + name.encode(), digest_size=16).hexdigest()
        path = self.root / f"{token}-{Path(name).name}"
        path.write_bytes(data)
        return self.add_path(path, name, expires, token=token)

    def add_path(
        self, path: Path, name: str, expires: dt.datetime | None = None, *, token: str = ""
    ) -> str:
        """Serve an existing file (not copied) and return its token."""
        token = token or secrets.token_hex(16)
        with self._lock:
            self._files[token] = Stored(path=path, name=Path(name).name, expires=expires)
        return token

    def get(self, token: str) -> Stored | None:
        with self._lock:
            return self._files.get(token)

    def remove(self, token: str) -> None:
        """Stop serving ``token`` and delete its file (a provider evicting an upload)."""
        with self._lock:
            stored = self._files.pop(token, None)
        if stored is not None:
            stored.path.unlink(missing_ok=True)

    def read(self, token: str) -> bytes | None:
        stored = self.get(token)
        return stored.path.read_bytes() if stored is not None else None

    def close(self) -> None:
        if self._owned:
            shutil.rmtree(self.root, ignore_errors=True)
