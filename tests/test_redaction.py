"""Keys never leak (issue 11, section 1): refused when unusable, redacted in every form.

Unit tests cover each encoding a provider may echo a key in (Hypothesis mixes them per
character), URL masking and key validation. End-to-end tests run a hostile server on
127.0.0.1 that echoes the key it received, encoded, in error bodies, headers, a failed
job's message and an unknown status word, and check the exact error class, the number
of requests, and that the key is nowhere: messages, reprs, attributes, logs at DEBUG and
CLI output with and without ``--json`` and ``--debug``. Keys registered here are unique,
so the process-wide registry cannot garble other tests' messages.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import os
import random
import re
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import attrs
import pytest
import urllib3
from click.testing import CliRunner
from conftest import FakeClock, make_registry
from hypothesis import given, settings
from hypothesis import strategies as st
from scripted_server import Reply, ScriptedServer, Seen

from lipbridge import (
    Client,
    ConfigurationError,
    DownloadFailed,
    JobFailed,
    JobHandle,
    JobRequest,
    JobStatus,
    LipbridgeError,
    ProviderProtocolError,
    RequestRejected,
    SubmitOutcomeUnknown,
)
from lipbridge.cli import ExitCode, cli
from lipbridge.cli.app import exit_code_for, report
from lipbridge.errors import OutputError, excerpt
from lipbridge.http import redact
from lipbridge.redact import (
    _NAMED_ENTITIES,
    REDACTED,
    RedactingFilter,
    Redactor,
    _base64_fragments,
    _hex,
    install_log_redaction,
    mask_url,
    mask_url_secrets,
    register,
    scrub_bytes,
    scrub_data,
    secret_pattern,
)
from lipbridge.transport import Response

SUPPORT = Path(__file__).parent / "support"
# Every character JSON, URLs and HTML escape, and a '%41' that URL-decodes to 'A'.
HOSTILE = "lbx-9fQ/z+K=w&L<g>\"q'%41#r?s\\t~HOSTILE-7c1e"
MEDIA = ["--video", "https://cdn.invalid/v.mp4", "--audio", "https://cdn.invalid/a.wav"]
REQUEST = JobRequest(video="https://cdn.invalid/v.mp4", audio="https://cdn.invalid/a.wav")
FEW = settings(max_examples=60, deadline=None)


# --- helpers --------------------------------------------------------------------------------


def every_u(text: str, upper: bool = False) -> str:
    """JSON ``\\uXXXX`` for every character."""
    return "".join(f"\\u{ord(c):04X}" if upper else f"\\u{ord(c):04x}" for c in text)


def entities(text: str) -> str:
    """HTML numeric entities, decimal and hex with leading zeros, alternating."""
    return "".join(f"&#{ord(c):05d};" if i % 2 else f"&#x{ord(c):04X};" for i, c in enumerate(text))


def base64_at(text: str, shift: int, urlsafe: bool = False) -> str:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    return encode(b"u" * shift + text.encode() + b":tail").decode()


def forms(key: str) -> list[str]:
    """How a leaked key would look: raw and in each common encoding."""
    return [
        key,
        json.dumps(key)[1:-1],
        every_u(key),
        quote(key, safe=""),
        html.escape(key),
        entities(key),
        base64.b64encode(key.encode()).decode()[:12],
    ]


def assert_clean(key: str, *texts: object) -> None:
    """No form of ``key`` in any of ``texts`` (each taken as str)."""
    for text in map(str, texts):
        for form in forms(key):
            assert form not in text, f"{form!r} leaked in {text[:300]!r}"


def error_texts(exc: BaseException) -> list[str]:
    """Everything an error shows, down its cause chain, plus its printed traceback."""
    parts = ["".join(traceback.format_exception(type(exc), exc, exc.__traceback__))]
    seen: BaseException | None = exc
    while seen is not None:
        parts += [str(seen), repr(seen), repr(seen.args), repr(vars(seen))]
        seen = seen.__cause__ or seen.__context__
    return parts


def log_texts(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [caplog.text, *(r.getMessage() for r in caplog.records)]


def cli_run(client: Client, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), obj=lambda: client)


def job(job_id: str = "j1") -> JobHandle:
    return JobHandle(provider="acme", job_id=job_id, created_at=FakeClock().now())


@pytest.fixture
def hostile(standard_site: Path, server: ScriptedServer, clock: FakeClock) -> Iterator[Client]:
    """A client whose acme key has every character that needs escaping somewhere."""
    environ = {"LIPBRIDGE_ACME_API_KEY": HOSTILE, "LIPBRIDGE_ACME_BASE_URL": server.url}
    with Client(registry=make_registry(standard_site), environ=environ, clock=clock,
                rng=random.Random(3)) as c:
        yield c


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


# --- the scrubber: every encoding -----------------------------------------------------------

KEY = "k3y/with+odd=chars&<>\"'\\%2F-0123456789"
ENCODINGS: dict[str, Callable[[str], str]] = {
    "raw": lambda k: k,
    "json": lambda k: json.dumps(k)[1:-1],
    "json every \\u": every_u,
    "json every \\U upper": lambda k: every_u(k, upper=True),
    "json escaped slash": lambda k: json.dumps(k)[1:-1].replace("/", "\\/"),
    "json double escaped": lambda k: json.dumps(json.dumps(k))[1:-1],
    "json \\u double escaped": lambda k: json.dumps(every_u(k))[1:-1],
    "url": lambda k: quote(k, safe=""),
    "url lower hex": lambda k: "".join(f"%{ord(c):02x}" for c in k),
    "url plus": quote_plus,
    "url double": lambda k: quote(quote(k, safe=""), safe=""),
    "url inside json": lambda k: quote(k, safe="").replace("%", every_u("%")),
    "html": lambda k: html.escape(k),
    "html entities": entities,
    "html double escaped": lambda k: html.escape(html.escape(k)),
    "html named upper": lambda k: html.escape(k).replace("&amp;", "&AMP;"),
    "repr": repr,
    **{
        f"base64 shift {s}{' urlsafe' if u else ''}": (lambda k, s=s, u=u: base64_at(k, s, u))
        for s in range(3) for u in (False, True)
    },
}


@pytest.mark.parametrize("encode", ENCODINGS.values(), ids=ENCODINGS.keys())
def test_a_key_is_scrubbed_in_every_encoding(encode: Callable[[str], str]) -> None:
    redactor = Redactor()
    redactor.register(KEY)
    echoed = encode(KEY)
    scrubbed = redactor.scrub(f"<p>provider says: {echoed} (sent)</p>")
    assert REDACTED in scrubbed and echoed not in scrubbed
    assert scrubbed.startswith("<p>provider says: ") and scrubbed.endswith(" (sent)</p>")


def test_a_space_may_travel_as_plus_and_only_the_key_is_replaced() -> None:
    redactor = Redactor()
    redactor.register("two words-0123")
    assert redactor.scrub("q=two+words-0123&x=two words") == f"q={REDACTED}&x=two words"


CHAR_ENCODINGS: list[Callable[[str], str]] = [
    lambda c: c,
    lambda c: f"\\u{ord(c):04x}",
    lambda c: f"\\u{ord(c):04X}",
    lambda c: f"\\\\u{ord(c):04x}",
    lambda c: "\\" + c,
    lambda c: f"%{ord(c):02X}",
    lambda c: f"%{ord(c):02x}",
    lambda c: f"%25{ord(c):02X}",
    lambda c: f"&#{ord(c)};",
    lambda c: f"&#00{ord(c)};",
    lambda c: f"&#x{ord(c):x};",
    lambda c: f"&#X{ord(c):04X};",
    lambda c: f"&amp;#{ord(c)};",
    lambda c: html.escape(c),
]
PRINTABLE = st.characters(min_codepoint=0x21, max_codepoint=0x7E)


@FEW
@given(
    key=st.text(PRINTABLE, min_size=8, max_size=40).filter(lambda k: k not in REDACTED),
    choices=st.lists(st.integers(0, len(CHAR_ENCODINGS) - 1), min_size=40, max_size=40),
    around=st.tuples(*[st.text(st.sampled_from("ab {}:,\"'<>/=."), max_size=20)] * 2),
)
def test_any_printable_key_with_any_mix_of_encodings_is_scrubbed(
    key: str, choices: list[int], around: tuple[str, str]
) -> None:
    redactor = Redactor()
    redactor.register(key)
    echoed = "".join(CHAR_ENCODINGS[i](c) for c, i in zip(key, choices, strict=False))
    scrubbed = redactor.scrub(around[0] + echoed + around[1])
    assert REDACTED in scrubbed and echoed not in scrubbed and key not in scrubbed


@FEW
@given(
    key=st.text(PRINTABLE, min_size=8, max_size=40),
    before=st.binary(max_size=10),
    after=st.binary(max_size=10),
    urlsafe=st.booleans(),
)
def test_base64_of_a_key_is_scrubbed_whatever_surrounds_it(
    key: str, before: bytes, after: bytes, urlsafe: bool
) -> None:
    redactor = Redactor()
    redactor.register(key)
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    encoded = encode(before + key.encode() + after).decode()
    scrubbed = redactor.scrub(f"Authorization: Basic {encoded}")
    assert REDACTED in scrubbed
    for piece in scrubbed.removeprefix("Authorization: Basic ").split(REDACTED):
        for start in range(4):  # whatever alignment an attacker decodes the rest at
            usable = piece[start:][: len(piece[start:]) // 4 * 4]
            decoded = base64.b64decode(usable.translate(str.maketrans("-_", "+/")) + "==")
            assert key.encode() not in decoded


def test_bytes_and_nested_data_are_scrubbed() -> None:
    key = "lbx-bytes-0b3c9d1e"
    register(key)
    body = f'{{"echo": "{every_u(key)}", "raw": "{key}"}}'.encode()
    assert scrub_bytes(body) == f'{{"echo": "{REDACTED}", "raw": "{REDACTED}"}}'.encode()
    nested = {key: [key, (f"x{key}", 3, None)], "n": {"b": key.encode()}}
    assert scrub_data(nested) == {
        REDACTED: [REDACTED, (f"x{REDACTED}", 3, None)],
        "n": {"b": REDACTED.encode()},
    }


# The pattern as first written: each key character a group of its forms, tried at every
# position of a text. secret_pattern opens with the characters a match can start with
# (issue 12, section 5: scrubbing every answer was a fifth of a poll's cost), and must
# match exactly what this one does.
_PERCENT = rf"(?:%|\\+u{_hex(0x25, 4)})(?:25)*"
_AMPERSAND = rf"(?:&|\\+u{_hex(0x26, 4)})(?:[aA][mM][pP];)*"


def _plain_char(char: str) -> str:
    code = ord(char)
    forms = [r"\\*" + re.escape(char)]
    if code <= 0xFFFF:
        forms.append(r"\\+u" + _hex(code, 4))
    forms.append("".join(_PERCENT + _hex(b, 2) for b in char.encode("utf-8", "surrogatepass")))
    if char == " ":
        forms.append(r"\+")
    forms.append(rf"{_AMPERSAND}#0*{code};?")
    forms.append(rf"{_AMPERSAND}#[xX]0*{_hex(code)};?")
    if char in _NAMED_ENTITIES:
        name = "".join(f"[{c}{c.upper()}]" for c in _NAMED_ENTITIES[char])
        forms.append(rf"{_AMPERSAND}{name};")
    return "(?:" + "|".join(forms) + ")"


def _plain_base64_char(char: str) -> str:
    alphabets = {"+": "+-", "/": "/_"}
    if char not in alphabets:
        return char
    return "(?:" + "|".join(_plain_char(c) for c in alphabets[char]) + ")"


def plain_pattern(secret: str) -> re.Pattern[str]:
    as_latin1 = secret.encode("utf-8", "surrogatepass").decode("latin-1")
    forms = ["".join(map(_plain_char, text)) for text in dict.fromkeys((secret, as_latin1))]
    fragments = sorted(_base64_fragments(secret), key=lambda f: (-len(f), f))
    forms += ["".join(map(_plain_base64_char, fragment)) for fragment in fragments]
    return re.compile("|".join(forms))


KEY_CHARACTERS = st.one_of(PRINTABLE, st.sampled_from("é€\u2028 \\%&#;"))
NAMED = {"&": "amp", "<": "lt", ">": "gt", '"': "quot", "'": "apos"}
# Every form secret_pattern knows for one character, and some of them mixed.
EVERY_FORM: list[Callable[[str], str]] = [
    *CHAR_ENCODINGS,
    lambda c: "\\\\\\" + c,
    lambda c: f"\\\\\\u{ord(c):04X}",
    lambda c: "".join(f"%25%25{b:02x}" for b in c.encode()),
    lambda c: "".join(f"\\u0025{b:02X}" for b in c.encode()),
    lambda c: "".join(f"\\\\u0025%25{b:02x}" for b in c.encode()),
    lambda c: "+" if c == " " else c,
    lambda c: f"&#{ord(c)}",
    lambda c: f"&#x00{ord(c):X}",
    lambda c: f"&amp;amp;#{ord(c)};",
    lambda c: f"\\u0026#{ord(c)};",
    lambda c: f"\\\\u0026amp;#x{ord(c):x};",
    lambda c: f"&{NAMED[c]};" if c in NAMED else c,
    lambda c: f"&AMP;{NAMED[c].upper()};" if c in NAMED else c,
    lambda c: f"\\u0026{NAMED[c]};" if c in NAMED else c,
]
NOISE = st.text(st.sampled_from("ab {}:,\"'<>/=.\\%&#;uxX0256aAmMpP+-_"), max_size=12)


@st.composite
def echoes(draw: st.DrawFn) -> tuple[str, str]:
    """A key and a text holding pieces of it, whole or cut, in mixed encodings, and noise."""
    key = draw(st.text(KEY_CHARACTERS, min_size=8, max_size=24))
    parts = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["echo", "cut", "base64", "noise"]))
        if kind in ("echo", "cut"):
            encode = draw(st.lists(st.sampled_from(EVERY_FORM), min_size=len(key),
                                   max_size=len(key)))
            echoed = "".join(e(c) for e, c in zip(encode, key, strict=True))
            parts.append(echoed if kind == "echo" else echoed[: draw(st.integers(0, len(echoed)))])
        elif kind == "base64":
            shift, urlsafe = draw(st.integers(0, 2)), draw(st.booleans())
            parts.append(base64_at(key, shift, urlsafe)[draw(st.integers(0, 3)):])
        else:
            parts.append(draw(NOISE))
    return key, "".join(parts)


@settings(max_examples=300, deadline=None)
@given(echoes())
def test_the_scrubber_matches_exactly_what_the_plain_pattern_does(echo: tuple[str, str]) -> None:
    key, text = echo
    redactor = Redactor()
    redactor.register(key)
    expected = plain_pattern(key).sub(REDACTED, text)
    assert secret_pattern(key).sub(REDACTED, text) == expected
    assert redactor.scrub(text) == expected
    assert redactor.holds(text) == (expected != text)


@pytest.mark.parametrize("first", list("&<>\"' \\%#;+/=-_é€a"))
def test_every_form_of_the_first_character_matches_like_the_plain_pattern(first: str) -> None:
    key = first + "k3y-rest-0123"
    redactor = Redactor()
    redactor.register(key)
    plain = plain_pattern(key)
    for form in EVERY_FORM:
        for rest in (lambda c: c, every_u):
            text = "<" + form(first) + "".join(map(rest, key[1:])) + ">"
            assert redactor.scrub(text) == plain.sub(REDACTED, text), text


def test_every_form_of_a_base64_fragment_s_first_character_matches_like_the_plain_pattern() -> None:
    candidates = [f"{a}{b}-base64-key" for a in "?o/{" for b in "é€\u2028x"]
    keys = [k for k in candidates if any(f[0] in "+/" for f in _base64_fragments(k))]
    assert len(keys) >= 4  # keys whose base64 has a fragment starting with + or /
    for key in keys:
        redactor = Redactor()
        redactor.register(key)
        plain = plain_pattern(key)
        for fragment in _base64_fragments(key):
            for first in {"+": "+-", "/": "/_"}.get(fragment[0], fragment[0]):
                for form in EVERY_FORM:
                    text = "=" + form(first) + fragment[1:] + "="
                    assert redactor.scrub(text) == plain.sub(REDACTED, text), text


def test_an_answer_without_a_key_is_returned_as_it_came() -> None:
    key = "lbx-answer-4d5e6f7a8b"
    register(key)
    clean = Response(method="GET", url="https://p.invalid/j", status=200,
                     headers={"content-type": "application/json"}, body=b'{"id": "j1"}')
    assert redact(clean) is clean
    echoed = attrs.evolve(clean, headers={"x-echo": quote(key, safe="")}, body=key.encode())
    scrubbed = redact(echoed)
    assert scrubbed.body == REDACTED.encode() and scrubbed.headers == {"x-echo": REDACTED}


def test_an_excerpt_is_scrubbed_before_it_is_cut() -> None:
    key = "lbx-excerpt-5e6f7a8b9c"
    register(key)
    cut = excerpt(("x" * 490) + every_u(key), limit=500)
    assert cut.startswith("x" * 490) and "\\u" not in cut


# --- URLs -----------------------------------------------------------------------------------

SIGNED = (
    "https://bucket.s3.amazonaws.com/out/v.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256"
    "&X-Amz-Credential=AKIAEXAMPLE%2F20261121&X-Amz-Expires=3600"
    "&X-Amz-Security-Token=TOKSECRET&X-Amz-Signature=SIGSECRET"
)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (SIGNED, "https://bucket.s3.amazonaws.com/out/v.mp4?***"),
        ("https://u:p%40ss@cdn.example:8443/a/b.mp4?sig=x#frag",
         "https://***@cdn.example:8443/a/b.mp4?***"),
        ("https://cdn.example/a.mp4#token=abc", "https://cdn.example/a.mp4#***"),
        ("//user@cdn.example/a.mp4", "//***@cdn.example/a.mp4"),
        ("https://cdn.example/a.mp4", "https://cdn.example/a.mp4"),
        ("https://cdn.example/a.mp4?", "https://cdn.example/a.mp4?"),
        ("http://[::1/a?x=1", "http://[::1/a?***"),
        ("http://h:notaport/p?q", "http://h:notaport/p?***"),
        ("not a url at all", "not a url at all"),
    ],
)
def test_mask_url_keeps_host_and_path_and_never_raises(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@FEW
@given(st.text(max_size=60))
def test_mask_url_never_raises(url: str) -> None:
    assert isinstance(mask_url(url), str)


def test_urls_in_free_text_lose_credentials_but_keep_what_helps() -> None:
    text = (
        f"GET {SIGNED} failed; azure https://acc.blob.core.windows.net/c/v.mp4?sv=2024-11-04"
        "&se=2026-11-22T00%3A00Z&sp=r&sig=AZSECRET, cloudfront https://d1.cloudfront.net/v.mp4"
        "?Expires=1790000000&Policy=POLSECRET&Signature=CFSECRET&Key-Pair-Id=KPSECRET, "
        'http://alice:PWSECRET@127.0.0.1:9/x, "GET /files/out.mp4?hdnts=AKSECRET HTTP/1.1" 200, '
        "plain https://api.example/v1/jobs?page=2&status=done"
    )
    masked = mask_url_secrets(text)
    for secret in ("AKIAEXAMPLE", "TOKSECRET", "SIGSECRET", "AZSECRET", "POLSECRET",
                   "CFSECRET", "KPSECRET", "PWSECRET", "AKSECRET"):
        assert secret not in masked
    for kept in ("https://bucket.s3.amazonaws.com/out/v.mp4?", "X-Amz-Expires=3600",
                 "se=2026-11-22T00%3A00Z&sp=r", "Expires=1790000000",
                 "http://***@127.0.0.1:9/x", "/files/out.mp4?hdnts=***",
                 "https://api.example/v1/jobs?page=2&status=done"):
        assert kept in masked


def test_error_messages_mask_signed_urls_and_userinfo() -> None:
    error = DownloadFailed(f"GET {SIGNED} answered HTTP 403 (via http://bob:PWSECRET@proxy/)")
    for text in (str(error), repr(error), error.message):
        assert "SIGSECRET" not in text and "TOKSECRET" not in text and "PWSECRET" not in text
        assert "https://bucket.s3.amazonaws.com/out/v.mp4?" in text


# --- keys that cannot be keys ---------------------------------------------------------------

BAD_KEYS = {
    "newline": "lbqLeft\nlbqRight",
    "carriage return": "lbqLeft\rlbqRight",
    "NUL": "lbqLeft\x00lbqRight",
    "NUL at the end": "lbqLeft-lbqRight\x00",
    "tab": "lbqLeft\tlbqRight",
    "DEL": "lbqLeft\x7flbqRight",
    "inner space": "lbqLeft lbqRight",
    "non-ASCII": "lbqLeft\u00e9lbqRight",
    "non-breaking space": "lbqLeft\u00a0lbqRight",
    "line separator": "lbqLeft\u2028lbqRight",
}
PLACES = {
    "LIPBRIDGE_ACME_API_KEY": lambda v: {"environ": {"LIPBRIDGE_ACME_API_KEY": v}},
    "ACME_KEY": lambda v: {"environ": {"ACME_KEY": v}},
    "api_keys['acme']": lambda v: {"api_keys": {"acme": v}, "environ": {}},
}


@pytest.mark.parametrize("place", PLACES, ids=PLACES.keys())
@pytest.mark.parametrize("value", BAD_KEYS.values(), ids=BAD_KEYS.keys())
def test_a_key_that_cannot_go_into_a_header_is_refused_naming_the_variable(
    standard_site: Path, server: ScriptedServer, clock: FakeClock, place: str, value: str
) -> None:
    kwargs = PLACES[place](value)
    kwargs["environ"]["LIPBRIDGE_ACME_BASE_URL"] = server.url
    client = Client(registry=make_registry(standard_site), clock=clock, **kwargs)
    for call in (lambda: client.submit("acme", REQUEST), lambda: client.poll(job())):
        with pytest.raises(ConfigurationError) as info:
            call()
        assert type(info.value) is ConfigurationError
        assert place in str(info.value) and "printable ASCII" in str(info.value)
        for text in error_texts(info.value):
            assert "lbqLeft" not in text and "lbqRight" not in text
    assert server.seen == []


@pytest.mark.parametrize("place", PLACES, ids=PLACES.keys())
def test_surrounding_whitespace_is_not_part_of_a_key(
    standard_site: Path, server: ScriptedServer, clock: FakeClock, place: str
) -> None:
    kwargs = PLACES[place](" \tlbx-padded-key-77a1\r\n")
    kwargs["environ"]["LIPBRIDGE_ACME_BASE_URL"] = server.url
    server.script("GET", "/v1/jobs/j1", Reply.json({"id": "j1", "status": "processing"}))
    client = Client(registry=make_registry(standard_site), clock=clock, **kwargs)
    client.poll(job())
    assert server.requests()[0].headers["authorization"] == "Bearer lbx-padded-key-77a1"


def error_message(stderr: str) -> str:
    """The error a command reported: its text line, or under --json its JSON object's."""
    if stderr.startswith("{"):
        return "error: " + json.loads(stderr.splitlines()[-1])["message"]
    return stderr


def test_the_cli_refuses_a_key_with_a_newline_without_showing_it(
    standard_site: Path, server: ScriptedServer, clock: FakeClock
) -> None:
    environ = {"LIPBRIDGE_ACME_API_KEY": "lbqLeft\nlbqRight", "LIPBRIDGE_ACME_BASE_URL": server.url}
    client = Client(registry=make_registry(standard_site), environ=environ, clock=clock)
    for args in (["status", "acme", "j1"], ["status", "acme", "j1", "--json"],
                 ["submit", "acme", *MEDIA, "--wait"]):
        result = cli_run(client, *args)
        assert result.exit_code == ExitCode.CONFIGURATION, result.output
        message = error_message(result.stderr)
        assert message.startswith("error: LIPBRIDGE_ACME_API_KEY contains a line break")
        assert "lbqLeft" not in result.output and "lbqRight" not in result.output
        assert "Traceback" not in result.output
    assert server.seen == []


@pytest.mark.parametrize("debug", [[], ["--debug"]], ids=["plain", "debug"])
def test_the_installed_command_never_prints_a_refused_key(
    standard_site: Path, debug: list[str]
) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(standard_site), str(SUPPORT)]),
        "LIPBRIDGE_ACME_API_KEY": "lbqLeft\nlbqRight",
    }
    code = "from lipbridge.cli import main; main()"
    done = subprocess.run([sys.executable, "-c", code, *debug, "status", "acme", "j1"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert "LIPBRIDGE_ACME_API_KEY contains a line break" in done.stderr
    assert "lbqLeft" not in done.stderr + done.stdout
    assert "lbqRight" not in done.stderr + done.stdout
    if debug:  # --debug lets the traceback through, still without the key
        assert "ConfigurationError" in done.stderr and "Traceback" in done.stderr
    else:
        assert done.returncode == ExitCode.CONFIGURATION and "Traceback" not in done.stderr


# --- a hostile provider echoing the key ------------------------------------------------------

ECHOES: dict[str, Callable[[str], bytes]] = {
    "json \\u": lambda k: b'{"error": {"message": "bad key %s", "code": "%s"}}'
    % (every_u(k).encode(), every_u(k).encode()),
    "json \\/": lambda k: json.dumps({"error": {"message": f"bad key {k}"}})
    .replace("/", "\\/").encode(),
    "url-encoded": lambda k: json.dumps({"error": {"message": f"see ?key={quote(k, safe='')}"}})
    .encode(),
    "html": lambda k: f"<html><p>key {entities(k)} or {html.escape(k)}</p></html>".encode(),
}
STATUSES = {400: RequestRejected, 500: SubmitOutcomeUnknown, 418: ProviderProtocolError}


def echo(encode: Callable[[str], bytes], status: int) -> Callable[[Seen], Reply]:
    """A reply quoting the key the request carried, in a body and in headers."""

    def reply(seen: Seen) -> Reply:
        key = seen.headers["authorization"].removeprefix("Bearer ")
        return Reply(status=status, body=encode(key),
                     headers={"X-Echo": key, "WWW-Authenticate": f'Bearer key="{key}"'})

    return reply


@pytest.mark.parametrize("status", STATUSES, ids=map(str, STATUSES))
@pytest.mark.parametrize("encode", ECHOES.values(), ids=ECHOES.keys())
def test_an_echoed_key_is_nowhere_in_errors_or_logs(
    hostile: Client,
    server: ScriptedServer,
    debug_logs: pytest.LogCaptureFixture,
    encode: Callable[[str], bytes],
    status: int,
) -> None:
    server.script("POST", "/v1/jobs", echo(encode, status))
    with pytest.raises(LipbridgeError) as info:
        hostile.submit("acme", REQUEST)
    assert type(info.value) is STATUSES[status]
    assert len(server.seen) == 1  # a submit is never blindly retried
    assert server.seen[0].headers["authorization"] == f"Bearer {HOSTILE}"  # so absence matters
    assert_clean(HOSTILE, *error_texts(info.value), *log_texts(debug_logs))
    if isinstance(info.value, SubmitOutcomeUnknown):
        assert REDACTED in info.value.details["body_excerpt"]
        assert_clean(HOSTILE, json.dumps(info.value.details))


@pytest.mark.parametrize("as_json", [[], ["--json"]], ids=["text", "json"])
@pytest.mark.parametrize("status", STATUSES, ids=map(str, STATUSES))
def test_an_echoed_key_is_nowhere_in_cli_output(
    hostile: Client, server: ScriptedServer, status: int, as_json: list[str]
) -> None:
    server.script("POST", "/v1/jobs", echo(ECHOES["json \\u"], status))
    result = cli_run(hostile, "submit", "acme", *MEDIA, *as_json)
    assert result.exit_code == ExitCode.PROVIDER
    assert error_message(result.stderr).startswith("error: acme: ")
    if status == 500:
        assert ("details" if as_json else "details: ") in result.stderr
        assert REDACTED in result.stderr
    assert_clean(HOSTILE, result.output)
    debug = cli_run(hostile, "--debug", "submit", "acme", *MEDIA, *as_json)
    assert type(debug.exception) is STATUSES[status]
    assert "DEBUG lipbridge.http: " in debug.stderr  # the debug log was printed
    assert_clean(HOSTILE, debug.output, *error_texts(debug.exception))
    assert len(server.seen) == 2


def unknown_word(seen: Seen) -> Reply:
    """A running job whose status word is the key, URL-encoded."""
    key = seen.headers["authorization"].removeprefix("Bearer ")
    return Reply.json({"id": "j1", "status": quote(key, safe=""), "progress": 50})


def failed(seen: Seen) -> Reply:
    """A failed job whose message quotes the key (``\\/`` escaped) and whose code is it."""
    key = seen.headers["authorization"].removeprefix("Bearer ")
    body = {"id": "j1", "status": "error",
            "error": {"message": f"rejected {key}", "code": html.escape(key)}}
    return Reply(body=json.dumps(body).replace("/", "\\/").encode(),
                 headers={"Content-Type": "application/json"})


def script_hostile_job(server: ScriptedServer) -> None:
    server.script("GET", "/v1/jobs/j1", unknown_word, failed)


def test_a_failed_jobs_message_and_an_unknown_status_word_never_show_the_key(
    hostile: Client, server: ScriptedServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    script_hostile_job(server)
    shown: list[JobStatus] = []
    with pytest.raises(JobFailed) as info:
        hostile.wait(job(), on_progress=shown.append)
    assert type(info.value) is JobFailed
    assert len(server.requests("GET", "/v1/jobs/j1")) == 2
    assert any("unknown provider status" in r.getMessage() for r in debug_logs.records)
    assert [s.raw_status for s in shown] == [REDACTED, "error"]
    assert_clean(HOSTILE, *error_texts(info.value), *log_texts(debug_logs), shown)


@pytest.mark.parametrize(
    "args",
    [["wait", "acme", "j1"], ["wait", "acme", "j1", "--json"], ["--debug", "wait", "acme", "j1"]],
    ids=["text", "json", "debug"],
)
def test_a_hostile_job_never_shows_the_key_on_the_command_line(
    hostile: Client, server: ScriptedServer, args: list[str]
) -> None:
    script_hostile_job(server)
    result = cli_run(hostile, *args)
    assert_clean(HOSTILE, result.output)
    if "--debug" in args:
        assert type(result.exception) is JobFailed
        assert "WARNING lipbridge.wire: unknown provider status" in result.stderr
        assert_clean(HOSTILE, *error_texts(result.exception))
    else:
        assert result.exit_code == ExitCode.JOB_FAILED
        reported = error_message(result.stderr)
        assert "error: acme: job j1 failed (error): rejected [REDACTED]" in reported
    if "--json" not in args:
        assert f"waiting: running ({REDACTED}) 50%" in result.stderr
    assert len(server.seen) == 2


def test_status_json_shows_the_failure_without_the_key(
    hostile: Client, server: ScriptedServer
) -> None:
    server.script("GET", "/v1/jobs/j1", failed)
    result = cli_run(hostile, "status", "acme", "j1", "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["error"]["message"] == f"rejected {REDACTED}"
    assert_clean(HOSTILE, result.output)
    assert len(server.seen) == 1


# --- logs at every level, from every logger lipbridge owns ----------------------------------


def test_log_records_of_any_lipbridge_logger_are_redacted_when_created(
    hostile: Client, debug_logs: pytest.LogCaptureFixture
) -> None:
    ctx = hostile.context("acme", hostile.info("acme"))
    ctx.logger.debug("sending headers %s", {"Authorization": f"Bearer {HOSTILE}"})
    logging.getLogger("lipbridge_someplugin.wire").info("raw body %r", every_u(HOSTILE))
    child = logging.getLogger("lipbridge.created.after.import")
    try:
        raise ValueError(f"cannot parse {quote(HOSTILE)}")
    except ValueError:
        child.exception("parse failed for %s", html.escape(HOSTILE))
    child.critical("download from %s", SIGNED)
    assert len(debug_logs.records) == 4
    assert_clean(HOSTILE, *log_texts(debug_logs))
    assert "SIGSECRET" not in debug_logs.text and "ValueError: cannot parse" in debug_logs.text


def test_a_record_without_secrets_is_left_exactly_as_it_was(
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    logging.getLogger("lipbridge.x").info("polled %s %d times", "j1", 3)
    (record,) = debug_logs.records
    assert (record.msg, record.args) == ("polled %s %d times", ("j1", 3))


def test_urllib3_logs_neither_keys_nor_signatures(
    server: ScriptedServer, debug_logs: pytest.LogCaptureFixture
) -> None:
    register(HOSTILE)
    server.script("GET", "/files/out.mp4", Reply(body=b"video"))
    query = f"?api_key={quote(HOSTILE, safe='')}&X-Amz-Signature=SIGSECRET&X-Amz-Expires=60"
    with urllib3.PoolManager() as pool:
        pool.request("GET", f"{server.url}/files/out.mp4{query}")
    lines = [r.getMessage() for r in debug_logs.records if r.name.startswith("urllib3")]
    assert any("/files/out.mp4?" in line and "X-Amz-Expires=60" in line for line in lines)
    assert "SIGSECRET" not in debug_logs.text
    assert_clean(HOSTILE, *log_texts(debug_logs))


def test_a_replaced_record_factory_can_be_wrapped_again(
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    register(HOSTILE)
    ours = logging.getLogRecordFactory()
    install_log_redaction()
    assert logging.getLogRecordFactory() is ours  # idempotent
    logging.setLogRecordFactory(logging.LogRecord)  # an application replacing it
    try:
        install_log_redaction()
        logging.getLogger("lipbridge").warning("key %s", HOSTILE)
    finally:
        logging.setLogRecordFactory(ours)
    assert_clean(HOSTILE, *log_texts(debug_logs))


def test_the_debug_handler_filter_redacts_records_of_any_logger() -> None:
    register(HOSTILE)
    record = logging.LogRecord("someone.else", logging.INFO, __file__, 1, "k=%s", (HOSTILE,),
                               None)
    assert RedactingFilter().filter(record)
    assert record.getMessage() == f"k={REDACTED}"


def test_the_debug_handler_goes_away_with_the_command(
    hostile: Client, server: ScriptedServer
) -> None:
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    server.script("GET", "/v1/jobs/j1", Reply.json({"id": "j1", "status": "processing"}))
    result = cli_run(hostile, "--debug", "status", "acme", "j1")
    assert result.exit_code == 0 and "DEBUG lipbridge.http: GET" in result.stderr
    assert (list(root.handlers), root.level) == before


# --- the rest of report() --------------------------------------------------------------------


def test_an_output_error_exits_7_and_says_how_to_fetch_again(
    capsys: pytest.CaptureFixture[str],
) -> None:
    error = OutputError("cannot save the video to out/: it is a directory", path="out/")
    assert exit_code_for(error) is ExitCode.OUTPUT and ExitCode.OUTPUT == 7
    report(error)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "error: cannot save the video to out/: it is a directory"
    assert lines[1].endswith("fetch it again with: lipbridge download PROVIDER JOB_ID PATH")


def test_report_redacts_whatever_an_error_was_given(capsys: pytest.CaptureFixture[str]) -> None:
    register(HOSTILE)
    error = SubmitOutcomeUnknown("lost", details={"nested": [{"echo": every_u(HOSTILE)}]})
    error.details["late"] = HOSTILE  # set after construction: report() scrubs again
    report(error)
    err = capsys.readouterr().err
    assert "details: " in err and REDACTED in err
    assert_clean(HOSTILE, err)
