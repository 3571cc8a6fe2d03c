"""Provider callbacks (webhooks): what a plugin's ``lipbridge_parse_callback`` returns,
and the signature checks it builds on.

A callback is the provider telling that a job changed, instead of being asked. How far
it is trusted depends on its proof: a callback whose signature checks out is the
provider's word, as good as a poll's answer; an unsigned one (the provider documents no
signature) could come from anyone who learnt the URL, so it is accepted only where the
user opted in for that provider, and even then only as a reason to poll at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from attrs import frozen

from lipbridge.errors import CallbackRejected
from lipbridge.models import JobStatus

# How old a signed callback's timestamp may be (either way), against replays. Providers
# mostly do not say; five minutes is what Stripe and Standard Webhooks use.
TIMESTAMP_TOLERANCE = 300.0


@frozen(kw_only=True)
class CallbackUpdate:
    """A callback, read: the provider's ``job_id``, the ``status`` a poll would have
    given, and whether the plugin ``verified`` the provider's signature."""

    job_id: str
    status: JobStatus
    verified: bool


def hmac_sha256_hex(secret: str, message: bytes) -> str:
    """The lowercase hex HMAC-SHA256 of ``message`` under ``secret`` (as UTF-8 bytes)."""
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def same_signature(expected: str, received: str) -> bool:
    """Compared in constant time, so the comparison leaks nothing of the expected one."""
    return hmac.compare_digest(expected.encode(), received.encode())


def check_timestamp(
    seconds: float, now: dt.datetime, *, tolerance: float = TIMESTAMP_TOLERANCE
) -> None:
    """Refuse a signed timestamp (unix seconds) further than ``tolerance`` from ``now``."""
    drift = abs(now.timestamp() - seconds)
    if drift > tolerance:
        raise CallbackRejected(
            f"the callback's signature is {drift:.0f} s away from now; allowed: at most "
            f"{tolerance:g} s (a replayed or delayed callback)"
        )
