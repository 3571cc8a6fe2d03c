"""The fault plan: every seeded draw the emulator makes, and the state the draws need.

A draw is a hash of the seed, the endpoint, the fault, and the request's identity and
attempt number (:func:`faults.draw`), so the same seed and the same requests meet the same
faults however threads interleave. The plan counts the attempts and keeps each endpoint's
429 window; the emulator only asks it and acts on the answers. Holds are not drawn: the
plan says which attempt is held (the Nth of each identity); ``holds`` does the holding.

Each question names the provider the request is for (None for the file store's
downloads), so that rules scoped to a provider (``submit@foxapi:...``) apply to its
requests alone; the draws' keys do not include it, so a spec without scoped rules meets
the same faults as before scoping existed.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import Counter

from attrs import frozen

from lipbridge_emulator.faults import SERVER_ERRORS, FaultSpec, draw


@frozen
class ServerError:
    status: int
    after_work: bool  # the job was created before the failure (submit only)


class FaultPlan:
    def __init__(self, spec: FaultSpec, seed: int) -> None:
        self.spec = spec
        self.seed = seed
        self._attempts: Counter[tuple[str, str]] = Counter()
        self._windows: dict[str, float] = {}  # endpoint -> end of its 429 window
        self._lock = threading.Lock()

    def attempt(self, endpoint: str, identity: str) -> int:
        """Count one more request from this identity on this endpoint; its number."""
        with self._lock:
            self._attempts[(endpoint, identity)] += 1
            return self._attempts[(endpoint, identity)]

    def reset_on_arrival(self, endpoint: str, provider: str | None = None) -> bool:
        """Whether to drop a provider request before its body is read; the body's digest
        is not known yet, so the draw is keyed by the endpoint's arrival number."""
        nth = self.attempt(endpoint, "#arrival")
        rate = self.spec.for_target(endpoint, provider).reset_before
        return draw(self.seed, endpoint, "reset-before", nth) < rate

    def reset_download(self, token: str, attempt: int) -> bool:
        """Whether to drop this fetch of a file (its ``attempt``, counted by the caller)."""
        rate = self.spec.for_target("download").reset_before
        return draw(self.seed, "download", "reset-before", token, attempt) < rate

    def rate_limited(
        self, endpoint: str, identity: str, attempt: int, now: float, provider: str | None = None
    ) -> int | None:
        """Seconds to wait (the Retry-After) inside the endpoint's rate-limit window, or in
        one this request opens; None when the request may pass. A rule scoped to the
        provider has a window of the provider's own."""
        rule = self.spec.rule_for(endpoint, provider)
        faults = self.spec.for_target(endpoint, provider)
        scoped = rule is not None and "@" in rule
        key = f"{endpoint}@{provider}" if scoped else endpoint
        with self._lock:
            window = self._windows.get(key, 0.0)
            if now >= window and draw(self.seed, endpoint, "429", identity, attempt) < (
                faults.rate_limit
            ):
                window = self._windows[key] = now + faults.rate_limit_seconds
        if now >= window:
            return None
        return max(1, math.ceil(window - now))

    def server_error(
        self, endpoint: str, identity: str, attempt: int, provider: str | None = None
    ) -> ServerError | None:
        """An injected 5xx, if this request draws one. On submit a 500/502/504 comes after
        the job was created half the time (a gateway timing out); a 503 never does."""
        faults = self.spec.for_target(endpoint, provider)
        if draw(self.seed, endpoint, "5xx", identity, attempt) >= faults.server_error:
            return None
        pick = draw(self.seed, endpoint, "5xx-status", identity, attempt)
        status = faults.server_error_status or SERVER_ERRORS[int(pick * len(SERVER_ERRORS))]
        after_work = (
            endpoint == "submit"
            and status != 503
            and draw(self.seed, endpoint, "5xx-after-accept", identity, attempt) < 0.5
        )
        return ServerError(status=status, after_work=after_work)

    def slow(
        self, endpoint: str, identity: str, attempt: int, provider: str | None = None
    ) -> float | None:
        """Seconds to delay the reply by, or None."""
        faults = self.spec.for_target(endpoint, provider)
        if faults.slow and draw(self.seed, endpoint, "slow", identity, attempt) < faults.slow:
            return faults.slow_seconds
        return None

    def reset_after(
        self, endpoint: str, identity: str, attempt: int, provider: str | None = None
    ) -> bool:
        """Whether to drop the connection after the request was acted on."""
        rate = self.spec.for_target(endpoint, provider).reset_after
        return draw(self.seed, endpoint, "reset-after", identity, attempt) < rate

    def held(
        self, endpoint: str, attempt: int, *, after: bool = False, provider: str | None = None
    ) -> bool:
        """Whether this attempt is held: on submit before its job is created, or
        ``after`` it was; elsewhere before it is answered (a download, part way)."""
        faults = self.spec.hold_rule(endpoint, provider)  # never "*": holds name their target
        if faults is None:
            return False
        return attempt == (faults.hold_after if after else faults.hold)

    def hold_bytes(self) -> int | None:
        """Bytes of a file sent before a download is held (None: half the file)."""
        faults = self.spec.targets.get("download")
        return faults.hold_bytes if faults is not None else None

    def job_token(self, provider: str, identity: str, attempt: int) -> str:
        """A new job's 32 hex digits, the same in every run with this seed."""
        key = repr((self.seed, provider, identity, attempt)).encode()
        return hashlib.blake2b(key, digest_size=16).hexdigest()

    def late(self, token: str, provider: str | None = None) -> float:
        """Extra seconds before the job's results arrive (``job:late``)."""
        faults = self.spec.for_target("job", provider)
        return faults.late_seconds if draw(self.seed, "job", "late", token) < faults.late else 0.0
