"""Checks on what a user hands over before anything is sent: URLs, timeouts, output paths.

``urllib.parse`` lets malformed URLs through (a space, a control character, a host
such as ``[::1]x``) or raises a bare ``ValueError`` (an unbalanced ``[``, a port that
is not a number). Either way the request would be refused too late, after money may
have been spent. These checks refuse such input first, naming the field, the value
and what is allowed.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
from collections.abc import Collection
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from lipbridge.errors import ConfigurationError, InvalidRequest
from lipbridge.models import is_loopback, shown

HTTP = ("http", "https")
# What no URL may contain: whitespace (``\s`` is ``str.isspace``), control characters
# (Unicode category Cc) and lone surrogates (Cs).
_ODD = re.compile(r"[\s\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _host_name(host: str) -> bool:
    """Whether ``host`` holds only letters, digits and ``-._``: IDN letters and digits pass
    too, providers resolve those."""
    letters = host.replace("-", "").replace(".", "").replace("_", "")
    return not letters or letters.isalnum()


def try_split(url: str) -> SplitResult | None:
    """``urlsplit(url)``, or None where it raises (an unbalanced bracket, a bad IPv6 host)."""
    try:
        return urlsplit(url)
    except ValueError:
        return None


def _problem(url: object, schemes: Collection[str], local_http_only: bool) -> str | None:
    """What is wrong with ``url`` as an address to connect to, or None when nothing is."""
    if not isinstance(url, str):
        return "is not a URL"
    if not url:
        return "is empty"
    found = _ODD.search(url)
    if found is not None:
        odd = found.group()
        return f"contains {'whitespace' if odd.isspace() else 'a control character'} {odd!r}"
    parts = try_split(url)
    if parts is None:
        return "is not a valid URL (an unbalanced [ or ] around the host)"
    if parts.scheme not in schemes:
        return f"uses scheme {parts.scheme!r}" if parts.scheme else "has no scheme"
    host = parts.netloc.rpartition("@")[2]
    if host.startswith("["):
        literal, _, after = host[1:].partition("]")
        try:
            ipaddress.IPv6Address(literal)
        except ValueError:
            return f"has host [{literal}], which is not an IPv6 address"
        if after and not after.startswith(":"):
            return f"has {after!r} after its IPv6 host"
    elif not (hostname := parts.hostname):
        return "has no host"
    elif not _host_name(hostname):
        return f"has host {hostname!r}, which is not a host name"
    try:
        port = parts.port
    except ValueError:
        port = 0  # not a number, or out of range: refused below like port 0
    if port == 0:
        return "has a port that is not a number from 1 to 65535"
    if local_http_only and parts.scheme == "http" and not is_loopback(parts.hostname):
        return "is plain http to a host other than this machine"
    return None


def parse_url(
    url: object,
    *,
    field: str,
    schemes: Collection[str] = HTTP,
    local_http_only: bool = False,
    error: type[InvalidRequest] | type[ConfigurationError] = InvalidRequest,
) -> SplitResult:
    """``url`` split, once it is a well-formed absolute URL with a host; else ``error``.

    ``local_http_only`` allows plain http only for a loopback host (base URLs and
    callbacks: only a local emulator is reachable without TLS). ``error`` is
    :class:`InvalidRequest` (with ``field``) for what a request carries, or
    :class:`ConfigurationError` for the local setup (a base URL).
    """
    problem = _problem(url, schemes, local_http_only)
    if problem is None and isinstance(url, str):
        return urlsplit(url)
    if local_http_only:
        allowed = "https://host/path (plain http only on 127.0.0.1 or localhost)"
    else:
        allowed = " or ".join(f"{s}://host/path" for s in sorted(schemes, reverse=True))
    # LipbridgeError masks a user:password@ in the message, so a refusal never shows one.
    message = f"{field}={shown(url)} {problem}; allowed: {allowed}"
    if issubclass(error, InvalidRequest):
        raise error(message, field=field)
    raise error(message)


def check_timeout(value: object, field: str = "timeout") -> float:
    """``value`` as seconds, when it is a positive finite number; else InvalidRequest.

    A negative timeout would give up at once after a paid submit, and NaN would never
    give up. Callers that allow "no deadline" keep None out of this check.
    """
    number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if number is None or not math.isfinite(number) or number <= 0:
        raise InvalidRequest(
            f"{field}={shown(value)} is not a number of seconds; allowed: a finite number > 0",
            field=field,
        )
    return float(number)


def check_output_path(path: object) -> Path:
    """Where a video can be saved: its folder exists and is writable, and it is not a folder.

    Checked before the submit, so a typo in the path costs nothing; the download itself
    happens only after the job was paid for.
    """
    text = os.fspath(path) if isinstance(path, (str, os.PathLike)) else None
    if not isinstance(text, str) or not text.strip():
        raise InvalidRequest(
            f"output={shown(path)} is not a file path; allowed: a path to a new or existing file",
            field="output",
        )
    target = Path(text)
    folder = target.parent
    if target.is_dir() or text.endswith(("/", os.sep)):
        problem = "is a folder"
    elif not folder.is_dir():
        problem = f"is in {str(folder)!r}, which is not an existing folder"
    elif not os.access(folder, os.W_OK | os.X_OK):
        problem = f"is in {str(folder)!r}, which this user cannot write to"
    else:
        return target
    raise InvalidRequest(
        f"output={shown(text)} {problem}; allowed: a file path in an existing, writable folder",
        field="output",
    )
