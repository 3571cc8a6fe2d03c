"""The fault spec: which failures the emulator injects, per endpoint, deterministically.

Grammar (``--faults``)::

    SPEC  := RULE (";" RULE)*
    RULE  := TARGET ["@" PROVIDER] ":" FAULT ("," FAULT)*
    TARGET:= submit | poll | cancel | upload | download | "*" | job
    FAULT := 5xx=RATE[@STATUS] | reset=RATE | reset-before=RATE | reset-after=RATE
           | 429=RATE[@SECONDS] | slow=RATE[@SECONDS] | late=RATE[@SECONDS]   (late: job only)
           | hold-before=N | hold-after=N        (submit only)
           | hold=N                              (poll, cancel)
           | hold=N[@BYTES]                      (download)

``RATE`` is a probability in [0, 1]. A ``5xx`` is a 500, 502, 503 or 504, drawn, or the
STATUS given (``5xx=1@503``: every request refused as unavailable). ``reset`` splits its
rate evenly between resets before the request body is read and after it was read (and
acted on). A ``429`` opens a rate-limit window of SECONDS (default 2) on that endpoint:
every request inside it gets 429 with ``Retry-After`` set to the rest of the window.
``slow`` delays the reply by SECONDS (default 1). ``job:late`` makes a job's results
arrive SECONDS (default 5) after its status says it is done.

``upload`` is a provider's upload request (the gateway's stream upload, JoggAI's request
for a presigned URL); the PUT of a file to a presigned URL meets no faults (it goes to
the storage, which the emulator does not fail).

A rule whose target names a provider (``submit@foxapi``) applies to that provider's
requests only (downloads come from the file store, which has no provider: ``download``
takes no ``@PROVIDER``). For a provider's request the rule for ``ENDPOINT@PROVIDER`` is
used, else ``*@PROVIDER``, else ``ENDPOINT``, else ``*``; rules are not merged. A scoped
rule's 429 window is that provider's own.

A hold is not drawn: it keeps the Nth request of each identity (the Nth attempt of a
submit body, the Nth poll of a job, the Nth fetch of a file) waiting at a chosen point
until its client goes away or the emulator is told to release it (see
:mod:`lipbridge_emulator.holds`): a submit before its job is created (``hold-before``) or
after it was created with the answer not yet sent (``hold-after``), a poll or cancel
before it is answered, a download after BYTES of the file were sent (default: half).

Every draw is a hash of the seed, the endpoint, the fault, and the request's identity and
attempt number (a job id, a submit or upload body's digest, or for resets before the body
is read, the request's arrival number on that endpoint). The same seed and the same
requests give the same faults, however threads interleave.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from attrs import field, frozen

TARGETS = ("submit", "poll", "cancel", "upload", "download", "*", "job")
UNSCOPED = frozenset({"download"})  # targets that take no @PROVIDER
_PROVIDER = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
DEFAULT_SECONDS = {"429": 2.0, "slow": 1.0, "late": 5.0}
HOLDS = {  # the hold faults each target takes
    "submit": ("hold-before", "hold-after"),
    "poll": ("hold",),
    "cancel": ("hold",),
    "download": ("hold",),
}
_FAULT = re.compile(
    r"^(?P<kind>5xx|reset|reset-before|reset-after|429|slow|late|hold|hold-before|hold-after)"
    r"=(?P<rate>[0-9.]+)(?:@(?P<seconds>[0-9.]+))?$"
)
SERVER_ERRORS = (500, 502, 503, 504)
_ALLOWED = (
    "5xx=R[@STATUS], reset=R, reset-before=R, reset-after=R, 429=R[@S], slow=R[@S], late=R[@S], "
    "hold-before=N, hold-after=N, hold=N[@BYTES]"
)


class FaultSpecError(ValueError):
    pass


@frozen(kw_only=True)
class Faults:
    """Rates (and durations) for one target."""

    server_error: float = 0.0
    server_error_status: int | None = None  # None: drawn from 500, 502, 503, 504
    reset_before: float = 0.0
    reset_after: float = 0.0
    rate_limit: float = 0.0
    rate_limit_seconds: float = DEFAULT_SECONDS["429"]
    slow: float = 0.0
    slow_seconds: float = DEFAULT_SECONDS["slow"]
    late: float = 0.0
    late_seconds: float = DEFAULT_SECONDS["late"]
    hold: int = 0  # the attempt held (0: none); on submit, before the job is created
    hold_after: int = 0  # submit only: the attempt held after its job was created
    hold_bytes: int | None = None  # download only: bytes sent before the hold (None: half)


@frozen(kw_only=True)
class FaultSpec:
    text: str = ""
    targets: dict[str, Faults] = field(factory=dict)  # by "TARGET" or "TARGET@PROVIDER"

    def rule_for(self, target: str, provider: str | None = None) -> str | None:
        """The key of the rule that applies to ``target`` at ``provider``: the rule naming
        both, else ``*@PROVIDER``, else the target's own, else ``*``; None when none."""
        keys = [target, "*"]
        if provider is not None:
            keys = [f"{target}@{provider}", f"*@{provider}", *keys]
        return next((key for key in keys if key in self.targets), None)

    def for_target(self, target: str, provider: str | None = None) -> Faults:
        key = self.rule_for(target, provider)
        return self.targets[key] if key is not None else Faults()

    def hold_rule(self, target: str, provider: str | None = None) -> Faults | None:
        """The rule a hold of ``target`` comes from: holds name their target (never "*"),
        with or without the provider."""
        if provider is not None and f"{target}@{provider}" in self.targets:
            return self.targets[f"{target}@{provider}"]
        return self.targets.get(target)

    def providers(self) -> set[str]:
        """The providers rules are scoped to."""
        return {key.partition("@")[2] for key in self.targets if "@" in key}

    def __bool__(self) -> bool:
        return bool(self.targets)


def _rate(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise FaultSpecError(f"{where}: rate {text!r} is not a probability; allowed: 0 to 1")
    return value


def parse(text: str | None) -> FaultSpec:
    """Parse a fault spec; errors name the rule and what is allowed."""
    if not text or not text.strip():
        return FaultSpec()
    targets: dict[str, Faults] = {}
    for rule in filter(None, (part.strip() for part in text.split(";"))):
        key, sep, body = rule.partition(":")
        key = key.strip()
        target, at, provider = key.partition("@")
        if not sep or target not in TARGETS:
            raise FaultSpecError(
                f"fault rule {rule!r} must start with a target; allowed: {', '.join(TARGETS)}, "
                "each optionally @PROVIDER"
            )
        if at and (target in UNSCOPED or not _PROVIDER.match(provider)):
            why = (
                f"{target} requests have no provider (files are served for every one)"
                if target in UNSCOPED
                else f"{provider!r} is not a provider name"
            )
            raise FaultSpecError(f"fault rule {rule!r}: {why}")
        values: dict[str, Any] = {}
        for item in filter(None, (part.strip() for part in body.split(","))):
            match = _FAULT.match(item)
            if match is None:
                raise FaultSpecError(
                    f"fault {item!r} in {rule!r} is not understood; allowed: {_ALLOWED}"
                )
            kind = match["kind"]
            if kind.startswith("hold"):
                values.update(_hold(target, kind, match["rate"], match["seconds"], item))
                continue
            rate = _rate(match["rate"], f"fault {item!r}")
            if (kind == "late") != (target == "job"):
                raise FaultSpecError(
                    f"fault {item!r}: late applies to the job target only (job:late=R@S), and "
                    "the job target takes only late"
                )
            seconds = float(match["seconds"]) if match["seconds"] else None
            if seconds is not None and kind.startswith("reset"):
                raise FaultSpecError(f"fault {item!r}: a reset takes no @; allowed: {_ALLOWED}")
            if kind == "5xx" and seconds is not None:
                if seconds not in SERVER_ERRORS:
                    allowed = ", ".join(map(str, SERVER_ERRORS))
                    raise FaultSpecError(
                        f"fault {item!r}: @{match['seconds']} is not one of {allowed}"
                    )
                values["server_error_status"] = int(seconds)
                seconds = None
            if kind == "reset":
                values["reset_before"] = values["reset_after"] = rate / 2
            elif kind in ("reset-before", "reset-after"):
                values[kind.replace("-", "_")] = rate
            else:
                name = {"5xx": "server_error", "429": "rate_limit"}.get(kind, kind)
                values[name] = rate
                if seconds is not None:
                    values[f"{name}_seconds"] = seconds
        targets[key] = Faults(**values)
    return FaultSpec(text=text, targets=targets)


def _hold(
    target: str, kind: str, count: str, after: str | None, item: str
) -> dict[str, int | None]:
    """A hold fault's fields: which attempt it holds, and where."""
    allowed = HOLDS.get(target, ())
    if kind not in allowed:
        where = ", ".join(f"{t}:{'/'.join(k)}" for t, k in HOLDS.items())
        raise FaultSpecError(f"fault {item!r}: {target} takes no {kind}; holds: {where}")
    if not count.isdigit() or int(count) < 1:
        raise FaultSpecError(
            f"fault {item!r}: {count!r} is not a request number; allowed: 1, 2, 3, ... "
            "(the Nth request of each job, submit body or file)"
        )
    if after is not None and target != "download":
        raise FaultSpecError(
            f"fault {item!r}: @BYTES applies to download holds only (download:hold=N@BYTES)"
        )
    if after is not None and not after.isdigit():
        raise FaultSpecError(f"fault {item!r}: @{after} is not a whole number of bytes")
    if kind == "hold-after":
        return {"hold_after": int(count)}
    return {"hold": int(count), "hold_bytes": int(after) if after is not None else None}


def draw(seed: int, *key: object) -> float:
    """A uniform number in [0, 1) fixed by the seed and the key."""
    digest = hashlib.blake2b(repr((seed, *key)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
