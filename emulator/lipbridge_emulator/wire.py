"""What the HTTP layer and the emulator hand each other: a request in, an outcome out.

Apart from both, so the server knows the emulator only as a :class:`Handler`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from attrs import frozen

from lipbridge_emulator.dialect import Reply


@frozen
class Reset:
    """An outcome: drop the connection with a TCP reset instead of answering."""


RESET = Reset()


@frozen(kw_only=True)
class Incoming:
    """What the HTTP layer hands the emulator; the body is read only when asked for."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    read_body: Callable[[], bytes]


@frozen
class FileReply:
    """Serve this file (with ``sendfile``) as the answer."""

    path: Path
    name: str


Outcome = Reply | FileReply | Reset


class Handler(Protocol):
    def handle(self, incoming: Incoming) -> Outcome:
        """Answer one request (called on the server's handler thread)."""
        ...
