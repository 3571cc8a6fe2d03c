"""What a secret looks like, and how a recording is cleaned of it.

The recorder applies :func:`scrub_interaction` to everything it writes; the static
secrets check runs :func:`find_secrets` over every file in a cassette directory. Both
read the same patterns, so what the scanner flags the scrubber removes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from attrs import frozen

from lipbridge.transport import SECRET_HEADERS

REDACTED = "[REDACTED]"
_OK = r"(?!\[?REDACTED\]?)"

# (name, pattern): group "secret", when present, is the part to mask and scrub.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("bearer token", re.compile(rf"(?i)\bbearer\s+{_OK}(?P<secret>[A-Za-z0-9._~+/=-]{{8,}})")),
    ("canary key", re.compile(r"(?P<secret>lbcanary-[0-9a-f]{8,})")),
    (
        "secret key",
        re.compile(r"\b(?P<secret>(?:sk|rk)[-_](?:live|test|proj)?[-_]?[A-Za-z0-9]{16,})"),
    ),
    ("AWS access key", re.compile(r"\b(?P<secret>(?:AKIA|ASIA)[0-9A-Z]{16})\b")),
    ("GitHub token", re.compile(r"\b(?P<secret>gh[pousr]_[A-Za-z0-9]{30,})")),
    ("Slack token", re.compile(r"\b(?P<secret>xox[abpr]-[A-Za-z0-9-]{10,})")),
    (
        "JSON web token",
        re.compile(r"\b(?P<secret>eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"),
    ),
    (
        "presigned URL signature",
        re.compile(
            r"(?i)[?&](?:x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|"
            rf"x-goog-credential|signature|sig|policy|key-pair-id)={_OK}(?P<secret>[^&\s'\"]+)"
        ),
    ),
    (
        "credential in a query string",
        re.compile(
            rf"(?i)[?&](?:api[_-]?key|apikey|access[_-]?token|token|key|secret)={_OK}"
            r"(?P<secret>[^&\s'\"]{6,})"
        ),
    ),
    (
        "credential field",
        re.compile(
            r"""(?i)["']?\b(?:api[_-]?key|secret|password|access[_-]?token|auth[_-]?token)"""
            rf"""["']?\s*[:=]\s*["']{_OK}(?P<secret>[^"'\s]{{6,}})["']"""
        ),
    ),
)


@frozen
class Finding:
    line: int
    kind: str
    masked: str  # never the secret itself


def _mask(secret: str) -> str:
    return secret[:3] + "…" + f"({len(secret)} chars)"


def find_secrets(text: str) -> Iterator[Finding]:
    for number, line in enumerate(text.splitlines(), 1):
        for kind, pattern in PATTERNS:
            for match in pattern.finditer(line):
                yield Finding(number, kind, _mask(match.group("secret")))


def scrub_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Replace every known secret and every pattern match with ``[REDACTED]``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    for _, pattern in PATTERNS:
        text = pattern.sub(lambda m: m.group(0).replace(m.group("secret"), REDACTED), text)
    return text


def secret_header_names(extra: Iterable[str] = ()) -> frozenset[str]:
    return SECRET_HEADERS | {"set-cookie"} | {h.lower() for h in extra}


def scrub_headers(headers: dict[str, Any], extra: Iterable[str] = ()) -> dict[str, Any]:
    """Credential headers keep their name (so the auth style stays visible) but not value."""
    names = secret_header_names(extra)
    return {k: ([REDACTED] if k.lower() in names else v) for k, v in headers.items()}
