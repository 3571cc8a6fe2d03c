"""Local job ids: ULIDs, which sort by creation time and need no coordination."""

from __future__ import annotations

import datetime as dt
import re
import secrets

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_LOCAL_ID = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
_PREFIX = re.compile(r"[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{4,26}")


def new_local_id(now: dt.datetime) -> str:
    """48 bits of milliseconds since 1970, then 80 random bits, in Crockford base32."""
    return _encode((int(now.timestamp() * 1000) << 80) | secrets.randbits(80))


def first_local_id(at: dt.datetime) -> str:
    """The smallest id a job created at ``at`` can have: ids sort by creation time."""
    return _encode(int(at.timestamp() * 1000) << 80)


def _encode(value: int) -> str:
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def is_local_id(text: str) -> bool:
    return _LOCAL_ID.fullmatch(text) is not None


def is_local_id_prefix(text: str) -> bool:
    """Whether ``text`` could start a local id (at least 4 characters, any case)."""
    return _PREFIX.fullmatch(text) is not None
