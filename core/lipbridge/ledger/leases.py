"""Leases: which process drives a job, so no two poll, download or submit it at once.

A lease is an owner and an expiry, renewed as the owner makes progress. The owner is
``host:pid:token``: on the same host a lease whose process has gone is void at once
(``kill -9`` leaves nothing to wait out); from another host it lapses at its expiry.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket

from attrs import frozen

from lipbridge.processes import pid_alive

LEASE_SECONDS = 600.0  # renewed on every poll; polls are at most a minute apart


@frozen
class Owner:
    host: str
    pid: int
    token: str

    @classmethod
    def this_process(cls) -> Owner:
        return cls(socket.gethostname(), os.getpid(), secrets.token_hex(4))

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        host, _, rest = text.rpartition(":")
        host, _, pid = host.rpartition(":")
        return cls(host, int(pid), rest) if pid.isdigit() and host else None

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.token}"

    def describe(self) -> str:
        return f"process {self.pid} on {self.host}"


def held_by_other(
    owner: str | None, expires_at: dt.datetime | None, me: Owner, now: dt.datetime
) -> Owner | None:
    """The live owner of a lease that is not ``me``, or None when it is free to take."""
    if owner is None or expires_at is None or owner == str(me) or expires_at <= now:
        return None
    other = Owner.parse(owner)
    if other is None:
        return None
    if other.host == me.host and other.pid != me.pid and not pid_alive(other.pid):
        return None
    return other
