"""The fault spec: which failures the emulator injects, per endpoint, deterministically.

Grammar (``--faults``)::

    SPEC  := RULE (";" RULE)*
    RULE  := TARGET ":" FAULT ("," FAULT)*
    TARGET:= submit | poll | cancel | download | "*" | job
    FAULT := 5xx=RATE | reset=RATE | reset-before=RATE | reset-after=RATE
           | 429=RATE[@SECONDS] | slow=RATE[@SECONDS] | late=RATE[@SECONDS]   (late: job only)

``RATE`` is a probability in [0, 1]. ``reset`` splits its rate evenly between resets
before the request body is read and after it was read (and acted on). A ``429`` opens a
rate-limit window of SECONDS (default 2) on that endpoint: every request inside it gets
429 with ``Retry-After`` set to the rest of the window. ``slow`` delays the reply by
SECONDS (default 1). ``job:late`` makes a job's results arrive SECONDS (default 5) after
its status says it is done.

Every draw is a hash of the seed, the endpoint, the fault, and the request's identity and
attempt number (a job id, a submit body's digest, or for resets before the body is read,
the request's arrival number on that endpoint). The same seed and the same requests give
the same faults, however threads interleave.
"""

from __future__ import annotations

import hashlib
import re

from attrs import field, frozen

TARGETS = ("submit", "poll", "cancel", "download", "*", "job")
DEFAULT_SECONDS = {"429": 2.0, "slow": 1.0, "late": 5.0}
_FAULT = re.compile(
    r"^(?P<kind>5xx|reset|reset-before|reset-after|429|slow|late)=(?P<rate>[0-9.]+)"
    r"(?:@(?P<seconds>[0-9.]+))?$"
)


class FaultSpecError(ValueError):
    pass


@frozen(kw_only=True)
class Faults:
    """Rates (and durations) for one target."""

    server_error: float = 0.0
    reset_before: float = 0.0
    reset_after: float = 0.0
    rate_limit: float = 0.0
    rate_limit_seconds: float = DEFAULT_SECONDS["429"]
    slow: float = 0.0
    slow_seconds: float = DEFAULT_SECONDS["slow"]
    late: float = 0.0
    late_seconds: float = DEFAULT_SECONDS["late"]


@frozen(kw_only=True)
class FaultSpec:
    text: str = ""
    targets: dict[str, Faults] = field(factory=dict)

    def for_target(self, target: str) -> Faults:
        return self.targets.get(target) or self.targets.get("*") or Faults()

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
        target, sep, body = rule.partition(":")
        target = target.strip()
        if not sep or target not in TARGETS:
            raise FaultSpecError(
                f"fault rule {rule!r} must start with a target; allowed: {', '.join(TARGETS)}"
            )
        values: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in body.split(","))):
            match = _FAULT.match(item)
            if match is None:
                raise FaultSpecError(
                    f"fault {item!r} in {rule!r} is not understood; allowed: 5xx=R, reset=R, "
                    "reset-before=R, reset-after=R, 429=R[@S], slow=R[@S], late=R[@S]"
                )
            kind, rate = match["kind"], _rate(match["rate"], f"fault {item!r}")
            if (kind == "late") != (target == "job"):
                raise FaultSpecError(
                    f"fault {item!r}: late applies to the job target only (job:late=R@S), and "
                    "the job target takes only late"
                )
            seconds = float(match["seconds"]) if match["seconds"] else None
            if kind == "reset":
                values["reset_before"] = values["reset_after"] = rate / 2
            elif kind in ("reset-before", "reset-after"):
                values[kind.replace("-", "_")] = rate
            else:
                name = {"5xx": "server_error", "429": "rate_limit"}.get(kind, kind)
                values[name] = rate
                if seconds is not None:
                    values[f"{name}_seconds"] = seconds
        targets[target] = Faults(**values)
    return FaultSpec(text=text, targets=targets)


def draw(seed: int, *key: object) -> float:
    """A uniform number in [0, 1) fixed by the seed and the key."""
    digest = hashlib.blake2b(repr((seed, *key)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64
