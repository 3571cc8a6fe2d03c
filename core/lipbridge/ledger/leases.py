"""Leases: which process drives a job, so no two poll, download or submit it at once.

A lease is an owner and an expiry, renewed as the owner makes progress. The owner is
``host:pid:start:token``. On the same host the lease lasts exactly as long as its
process: a killed one (``kill -9``) leaves nothing to wait out, and a live one keeps the
job however long a download or a wait takes. From another host (a ledger on a shared
disk) it lapses at its expiry.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket

from attrs import frozen

from lipbridge.processes import process_alive, started

LEASE_SECONDS = 600.0  # renewed on every poll once half spent


@frozen
class Owner:
    host: str
    pid: int
    start: str  # the process's start time, so that a reused pid is told apart
    token: str  # tells apart ledger objects of one process

    @classmethod
    def this_process(cls) -> Owner:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, started(pid), secrets.token_hex(4))

    @classmethod
    def parse(cls, text: str) -> Owner | None:
        rest, _, token = text.rpartition(":")
        rest, _, start = rest.rpartition(":")
        host, _, pid = rest.rpartition(":")
        return cls(host, int(pid), start, token) if pid.isdigit() and host else None

    def __str__(self) -> str:
        return f"{self.host}:{self.pid}:{self.start}:{self.token}"

    def describe(self) -> str:
        return f"process {self.pid} on {self.host}"


def held_by_other(
    owner: str | None, expires_at: dt.datetime | None, me: Owner, now: dt.datetime
) -> Owner | None:
    """The live owner of a lease that is not ``me``, or None when it is free to take."""
    if owner is None or owner == str(me):
        return None
    other = Owner.parse(owner)
    if other is None:
        return None
    if other.host == me.host:
        return other if process_alive(other.pid, other.start) else None
    return other if expires_at is not None and expires_at > now else None
