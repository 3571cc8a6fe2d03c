"""What the HTTP layer and the emulator hand each other: a request in, an outcome out.

Apart from both, so the server knows the emulator only as a :class:`Handler`.
"""

from __future__ import annotations

import select
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Protocol

from attrs import frozen

from lipbridge_emulator.dialect import Reply


@frozen
class Reset:
    """An outcome: drop the connection with a TCP reset instead of answering."""


RESET = Reset()


class Wakeable(Protocol):
    """Something to wait on beside a connection: readable when the wait should end."""

    def fileno(self) -> int: ...


def until_woken(wake: Wakeable) -> bool:
    """``Incoming.until_hangup`` where there is no connection to watch: wait for ``wake``."""
    select.select([wake], [], [])
    return False


@frozen(kw_only=True)
class Incoming:
    """What the HTTP layer hands the emulator; the body is read only when asked for.

    ``until_hangup(wake)`` blocks until the client closes the connection (True) or
    ``wake`` is readable (False): how a held request waits (see ``holds``).
    """

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    read_body: Callable[[], bytes]
    peer: str | None = None  # the client's "host:port"
    until_hangup: Callable[[Wakeable], bool] = until_woken


@frozen
class FileReply:
    """Serve this file (with ``sendfile``) as the answer.

    With ``hold``, the headers and the first ``hold_at`` bytes (default: half the file)
    are sent, then ``hold()`` is called; it blocks and says whether the client went away
    (the rest is not sent) or the rest may follow.
    """

    path: Path
    name: str
    hold_at: int | None = None
    hold: Callable[[], bool] | None = None


Outcome = Reply | FileReply | Reset


class Handler(Protocol):
    def handle(self, incoming: Incoming) -> Outcome:
        """Answer one request (called on the server's handler thread)."""
        ...
