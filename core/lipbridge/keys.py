"""The keys file: API keys kept for the user, mode 0600, as ``lipbridge keys set`` writes.

A JSON object mapping provider names to keys. It is only ever written whole: a new file
is created with mode 0600 (never readable by others, not even for an instant) and moved
over the old one. A file found readable by group or others is set back to 0600, with a
warning. Every key read from it is registered with :mod:`lipbridge.redact`.

Environment variables win over the file, and ``Client(api_keys=...)`` over both.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from collections.abc import Mapping
from pathlib import Path

from lipbridge.errors import ConfigurationError
from lipbridge.redact import register

PRIVATE = 0o600


def _loose(mode: int) -> bool:
    return os.name != "nt" and bool(mode & 0o077)


class KeyStore:
    """The keys file at ``path``: read on first use, written atomically on change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._keys: dict[str, str] | None = None
        self.warnings: list[str] = []  # what was fixed on reading (a loose mode)

    def __repr__(self) -> str:  # never the keys
        return f"KeyStore({str(self.path)!r})"

    def keys(self) -> Mapping[str, str]:
        """Every stored key by provider; empty when the file does not exist."""
        if self._keys is None:
            self._keys = self._read()
        return self._keys

    def get(self, provider: str) -> str | None:
        return self.keys().get(provider)

    def set(self, provider: str, key: str) -> None:
        self._write({**self.keys(), provider: key})

    def remove(self, provider: str) -> bool:
        """Forget ``provider``'s key; False when there was none."""
        keys = dict(self.keys())
        if keys.pop(provider, None) is None:
            return False
        self._write(keys)
        return True

    def _read(self) -> dict[str, str]:
        try:
            with open(self.path, "rb") as file:
                mode = os.fstat(file.fileno()).st_mode
                if _loose(mode):
                    os.fchmod(file.fileno(), PRIVATE)
                    self.warnings.append(
                        f"{self.path} was readable by others (mode {stat.S_IMODE(mode):o}); "
                        f"it is now {PRIVATE:o}"
                    )
                raw = file.read()
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise ConfigurationError(f"cannot read the keys file {self.path}: {exc}") from None
        try:
            data = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:  # the message never quotes the text
            raise ConfigurationError(
                f"the keys file {self.path} is not valid JSON ({type(exc).__name__}); fix or "
                "delete it and set the keys again with: lipbridge keys set PROVIDER"
            ) from None
        if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in data.items()
        ):
            raise ConfigurationError(
                f"the keys file {self.path} must hold a JSON object of provider names to "
                "keys (strings)"
            )
        for value in data.values():
            register(value)
        return data

    def _write(self, keys: dict[str, str]) -> None:
        write_private(self.path, json.dumps(keys, indent=2, sort_keys=True) + "\n")
        for value in keys.values():
            register(value)
        self._keys = keys


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``, readable by its owner only (0600) from the first
    byte: a new file in the same folder (made 0700 if new), synced, then renamed over."""
    folder = path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkstemp creates the file with O_EXCL and mode 0600, whatever the umask.
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            if os.name != "nt":
                os.fchmod(file.fileno(), PRIVATE)
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
