"""Secrets out of everything lipbridge shows: one registry of keys, one scrubber.

Every API key lipbridge reads is registered here. Every response body and header
(:func:`lipbridge.http.redact`), every error message (``LipbridgeError.__init__``),
everything the CLI prints and every log record of lipbridge and urllib3 passes through
this module before anyone sees it.

A provider may echo a key in any encoding, so each key is matched character by
character in every form it may take: itself, JSON ``\\uXXXX`` (any hex case, extra
backslashes from double escaping), a backslash before any character (``\\/``), URL
``%XX`` (any case, ``%25`` double encoding, ``+`` for a space), HTML numeric entities
(decimal or hex, leading zeros, ``&amp;`` double escaping) and the named ones for
``& < > " '``. Each character may use a different form, which is what a JSON encoder
escaping only ``/`` produces. Standard and URL-safe base64 of the key (Basic auth, JWT
payloads) are caught at each of the three byte alignments. Matching the encoded forms in
the raw text means nothing decoded from the scrubbed text (JSON, URL, HTML) can hold the
key either.

A "key" shorter than :data:`MIN_SECRET_LENGTH` characters is a placeholder (``demo``,
``k``), not a provider's key; it is not registered, because replacing every ``k`` in
every response would corrupt job ids and URLs (and a short key protects nothing anyway).

URLs are masked separately, because a signed result URL is a credential of its own:
:func:`mask_url` keeps scheme, host, port and path and replaces userinfo and the whole
query; :func:`mask_url_secrets` does the same for URLs inside free text, where it cannot
know which URL is signed, so it masks userinfo and the values of query parameters whose
name marks a credential (``sig``, ``token``, ``key``, ``auth``, ``secret``, ``cred``,
``pass``, ``policy``, ``session``, ``hmac``, ``hdnts`` anywhere in the name: this covers
S3/GCS/OSS ``X-*-Signature``/``Credential``/``Security-Token``, CloudFront ``Signature``,
``Policy`` and ``Key-Pair-Id``, Azure SAS ``sig``, Akamai ``hdnts``, ``api_key``,
``access_token``). Expiry, permission and version parameters (``Expires``, ``se``,
``sp``, ``sv``) stay visible: they grant nothing on their own and tell the user whether
a URL has expired.

Logs: a logger's filters see only the records created by that very logger, not those of
its children, and handlers belong to the application. So rather than a filter on each
logger (which every module, plugin and lazily imported urllib3 submodule would have to
remember), this module wraps the process's log record factory once, at import: every
record whose logger name starts with ``lipbridge`` (the core, ``ctx.logger``, plugins
named ``lipbridge_*``) or is ``urllib3``/``urllib3.*`` is redacted when it is created,
whatever logger, level or handler is involved. A record holding no secret is left exactly
as it was. An application that later replaces the factory without chaining the previous
one can call :func:`install_log_redaction` again; :class:`RedactingFilter` is there for
handlers that print records of other loggers (the CLI's ``--debug`` handler).
"""

from __future__ import annotations

import base64
import logging
import re
import threading
from collections.abc import Callable
from typing import Any

REDACTED = "[REDACTED]"
MASK = "***"
MIN_SECRET_LENGTH = 8  # so each base64 fragment below is at least 10 characters

_NAMED_ENTITIES = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos"}


def _hex(value: int, width: int = 0) -> str:
    """Hex digits of ``value`` as a pattern accepting either case of each letter."""
    return "".join(f"[{d}{d.upper()}]" if d.isalpha() else d for d in f"{value:0{width}x}")


_PERCENT_TAIL = "(?:25)*"  # %25XX: a percent sign encoded twice
_AMPERSAND_TAIL = "(?:[aA][mM][pP];)*"  # &amp;#NN;: an entity escaped twice
_ESCAPE_U = r"\\*u"  # after a \uXXXX escape's first backslash: any more, then u


def _forms(char: str) -> list[tuple[str, str]]:
    """Every form one character of a key may take in a response, log or message, each as
    (the character the form starts with, a pattern for the rest of it), in the order they
    are tried: itself after any backslashes, JSON ``\\uXXXX``, URL ``%XX`` (or its
    ``\\u0025`` in JSON), ``+`` for a space, HTML entities (or their ``\\u0026`` in JSON).
    """
    code = ord(char)
    # Itself after any backslashes (so a backslash is one or more of them).
    forms = [(char, r"\\*" if char == "\\" else "")]
    if char != "\\":
        forms.append(("\\", r"\\*" + re.escape(char)))
    if code <= 0xFFFF:
        forms.append(("\\", _ESCAPE_U + _hex(code, 4)))
    first, *more = char.encode("utf-8", "surrogatepass")
    percent = _PERCENT_TAIL + _hex(first, 2)
    percent += "".join(rf"(?:%|\\+u{_hex(0x25, 4)}){_PERCENT_TAIL}{_hex(b, 2)}" for b in more)
    forms += [("%", percent), ("\\", _ESCAPE_U + _hex(0x25, 4) + percent)]
    if char == " ":
        forms.append(("+", ""))
    entities = [f"#0*{code};?", f"#[xX]0*{_hex(code)};?"]
    if char in _NAMED_ENTITIES:
        entities.append("".join(f"[{c}{c.upper()}]" for c in _NAMED_ENTITIES[char]) + ";")
    for entity in entities:
        forms.append(("&", _AMPERSAND_TAIL + entity))
        forms.append(("\\", _ESCAPE_U + _hex(0x26, 4) + _AMPERSAND_TAIL + entity))
    return forms


def _char_pattern(char: str) -> str:
    """A pattern matching one character of a key in any of its forms."""
    return "(?:" + "|".join(re.escape(start) + rest for start, rest in _forms(char)) + ")"


def _base64_fragments(secret: str) -> set[str]:
    """The base64 characters that depend only on ``secret``, at each byte alignment."""
    data = secret.encode("utf-8", "surrogatepass")
    fragments = set()
    for shift in range(3):  # the key after 0, 1 or 2 bytes of a 3-byte group
        encoded = base64.b64encode(b"\0" * shift + data).decode("ascii")
        # Characters that mix in bits of the bytes before or after the key are left out.
        fragments.add(encoded[-(-8 * shift // 6) : 8 * (shift + len(data)) // 6])
    return fragments


_BASE64_ALPHABETS = {"+": "+-", "/": "/_"}


def _base64_forms(char: str) -> list[tuple[str, str]]:
    """A base64 character of either alphabet (``+/`` or ``-_``), maybe URL- or JSON-escaped."""
    if char not in _BASE64_ALPHABETS:
        return [(char, "")]
    return [form for c in _BASE64_ALPHABETS[char] for form in _forms(c)]


def _base64_char(char: str) -> str:
    return "(?:" + "|".join(re.escape(start) + rest for start, rest in _base64_forms(char)) + ")"


def _text_pattern(
    text: str, forms: Callable[[str], list[tuple[str, str]]], rest: Callable[[str], str]
) -> tuple[str, set[str]]:
    """A pattern for ``text`` that starts after its first character, and the characters that
    first character may be.

    The first character is consumed by the character set that opens the whole pattern
    (:func:`secret_pattern`); a lookbehind says which one it was.
    """
    first = forms(text[0])
    starts = {start for start, _ in first}
    quick = "".join(re.escape(start) for start in sorted(starts))
    head = "|".join(f"(?<={re.escape(start)}){tail}" for start, tail in first)
    return f"(?<=[{quick}])(?:{head})" + "".join(map(rest, text[1:])), starts


def secret_pattern(secret: str) -> re.Pattern[str]:
    """One regex matching ``secret`` in every form this module knows.

    It opens with the set of characters a match can start with, so the regex engine
    skips every other position of a text at C speed instead of trying the whole pattern
    at each one: scrubbing an answer that holds no key is cheap.
    """
    as_latin1 = secret.encode("utf-8", "surrogatepass").decode("latin-1")
    texts = [(text, _forms, _char_pattern) for text in dict.fromkeys((secret, as_latin1))]
    fragments = sorted(_base64_fragments(secret), key=lambda f: (-len(f), f))
    texts += [(fragment, _base64_forms, _base64_char) for fragment in fragments if fragment]
    alternatives, starts = [], set[str]()
    for text, forms, rest in texts:
        pattern, first = _text_pattern(text, forms, rest)
        alternatives.append(pattern)
        starts |= first
    opening = "".join(re.escape(start) for start in sorted(starts))
    return re.compile(f"[{opening}](?:{'|'.join(alternatives)})")


class Redactor:
    """A set of secrets and their compiled patterns, longest secret first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._patterns: dict[str, re.Pattern[str]] = {}
        self._ordered: tuple[re.Pattern[str], ...] = ()

    def register(self, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH or secret in self._patterns:
            return
        pattern = secret_pattern(secret)
        with self._lock:
            self._patterns[secret] = pattern
            ranked = sorted(self._patterns.items(), key=lambda item: -len(item[0]))
            self._ordered = tuple(p for _, p in ranked)

    def scrub(self, text: str) -> str:
        for pattern in self._ordered:
            text = pattern.sub(REDACTED, text)
        return text

    def holds(self, text: str) -> bool:
        """Whether :meth:`scrub` would change ``text``: some secret is in it, in some form."""
        return any(pattern.search(text) for pattern in self._ordered)


_registry = Redactor()


def register(secret: str) -> None:
    """Remember ``secret`` so that no later message, log or response shows it."""
    _registry.register(secret)


def scrub(text: str) -> str:
    """``text`` with every registered secret, in any encoding, replaced by ``[REDACTED]``."""
    return _registry.scrub(text)


def holds_secret(text: str) -> bool:
    """Whether ``text`` holds a registered secret in any form (so :func:`scrub` would
    change it). A text made by joining several holds one if any of them does, so one
    search can clear many texts at once."""
    return _registry.holds(text)


def scrub_bytes(data: bytes) -> bytes:
    """``data`` with every registered secret replaced (bytes are read as latin-1); ``data``
    itself when it holds none."""
    text = data.decode("latin-1")
    clean = scrub(text)
    return data if clean == text else clean.encode("latin-1")


def scrub_data(value: Any) -> Any:
    """``value`` with every str (dict keys included) and bytes inside it scrubbed."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, bytes):
        return scrub_bytes(value)
    if isinstance(value, dict):
        return {scrub_data(k): scrub_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(scrub_data(item) for item in value)
    return value


# --- URLs -----------------------------------------------------------------------------------

_URL_USERINFO = re.compile(r"^(\s*(?:[A-Za-z][A-Za-z0-9+.-]*:)?//)[^/?#]*@")
_TEXT_USERINFO = re.compile(r"""(\b[A-Za-z][A-Za-z0-9+.-]*://)[^/?#\s"'<>]*@""")
_CREDENTIAL_PARAM = re.compile(
    r"""([?&][^=&#\s"'<>]*?(?:sig|token|key|auth|secret|cred|pass|policy|session|hmac|hdnts)"""
    r"""[^=&#\s"'<>]*=)[^&#\s"'<>]*""",
    re.IGNORECASE,
)


def mask_url(url: str) -> str:
    """``url`` for a message: scheme, host, port and path kept, userinfo and query masked.

    ``https://u:p@cdn.example/v/out.mp4?X-Amz-Signature=...`` becomes
    ``https://***@cdn.example/v/out.mp4?***``. Works on text only, so it never raises.
    """
    cut = min((i for i in (url.find("?"), url.find("#")) if i >= 0), default=len(url))
    head, tail = url[:cut], url[cut:]
    head = _URL_USERINFO.sub(rf"\g<1>{MASK}@", head, count=1)
    return scrub(head + (tail[0] + MASK if len(tail) > 1 else tail))


def mask_url_secrets(text: str) -> str:
    """``text`` with userinfo and credential-like query values of URLs in it masked."""
    text = _TEXT_USERINFO.sub(rf"\g<1>{MASK}@", text)
    return _CREDENTIAL_PARAM.sub(rf"\g<1>{MASK}", text)


def redact_message(text: str) -> str:
    """What may be shown of ``text``: keys scrubbed, URL credentials masked."""
    return mask_url_secrets(scrub(text))


# --- logs -----------------------------------------------------------------------------------


def redact_record(record: logging.LogRecord) -> None:
    """Redact ``record`` in place; a record without secrets is left untouched."""
    try:
        message = record.getMessage()
    except Exception:  # a malformed log call: logging reports it when the record is emitted
        return
    clean = redact_message(message)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info and record.exc_info[1] is not None:
        trace = logging.Formatter().formatException(record.exc_info)
        if redact_message(trace) != trace:
            record.exc_text, record.exc_info = redact_message(trace), None
    elif record.exc_text:
        record.exc_text = redact_message(record.exc_text)
    if record.stack_info:
        record.stack_info = redact_message(record.stack_info)


class RedactingFilter(logging.Filter):
    """For a handler: redacts every record it is given, from any logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


def _covered(name: str) -> bool:
    return name.startswith("lipbridge") or name == "urllib3" or name.startswith("urllib3.")


class _RedactingFactory:
    """Wraps the previous log record factory; redacts lipbridge's and urllib3's records."""

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self.inner = inner

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        if _covered(record.name):
            redact_record(record)
        return record


_install_lock = threading.Lock()


def install_log_redaction() -> None:
    """Make every lipbridge and urllib3 log record redacted at creation (idempotent)."""
    with _install_lock:
        current = logging.getLogRecordFactory()
        if not isinstance(current, _RedactingFactory):
            logging.setLogRecordFactory(_RedactingFactory(current))


install_log_redaction()
