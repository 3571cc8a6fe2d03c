"""Secrets out of everything lipbridge shows: one registry of keys, one scrubber.

Every API key lipbridge reads is registered here; every response body and header, every
error message and every log record passes through :func:`scrub` before anyone sees it.
"""

from __future__ import annotations

import threading

REDACTED = "[REDACTED]"

_lock = threading.Lock()
_secrets: set[str] = set()


def register(secret: str) -> None:
    """Remember ``secret`` so that no later message, log or response shows it."""
    if secret:
        with _lock:
            _secrets.add(secret)


def scrub(text: str) -> str:
    """``text`` with every registered secret replaced."""
    for secret in tuple(_secrets):
        text = text.replace(secret, REDACTED)
    return text


def scrub_bytes(data: bytes) -> bytes:
    """``data`` with every registered secret replaced (bytes are read as latin-1)."""
    return scrub(data.decode("latin-1")).encode("latin-1")
