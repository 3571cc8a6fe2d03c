"""Everything is checked before anything is paid for (issue 11, section 5).

URLs, timeouts, output paths and options are refused with an error naming the field,
and nothing reaches the network: ``offline_client`` fails the test on any request, and
the CLI tests check the scripted server saw none.
"""

from __future__ import annotations

import math
import os
import sys
import unicodedata
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult

import pytest
import urllib3.util
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st
from scripted_server import ScriptedServer

from lipbridge import Client, ConfigurationError, InvalidRequest, JobRequest, TextToSpeech
from lipbridge.cli import ExitCode, cli
from lipbridge.models import OPTION_MAX_DEPTH, shown
from lipbridge.urls import _ODD, _host_name, check_output_path, check_timeout, parse_url

VIDEO = "https://cdn.invalid/v.mp4"
AUDIO = "https://cdn.invalid/a.wav"
MEDIA = ["--video", VIDEO, "--audio", AUDIO]


def run(client: Client, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=lambda: client)


def refused(client: Client, args: list[str], *texts: str) -> Result:
    """The command fails as a usage error, one message naming ``texts``, nothing sent."""
    result = run(client, *args)
    assert result.exit_code == ExitCode.USAGE, result.output
    for text in texts:
        assert text in result.output, result.output
    assert "Traceback" not in result.output
    return result


# --- URLs -------------------------------------------------------------------------------------

MALFORMED = {
    "unbalanced-open": ("https://[cdn.invalid/v.mp4", "unbalanced ["),
    "unbalanced-close": ("https://cdn]invalid/v.mp4", "unbalanced ["),
    "not-ipv6": ("https://[v1.cdn]/v.mp4", "not an IPv6 address"),
    "junk-after-ipv6": ("https://[::1]x/v.mp4", "after its IPv6 host"),
    "port-too-big": ("https://cdn.invalid:65536/v.mp4", "port"),
    "port-zero": ("https://cdn.invalid:0/v.mp4", "port"),
    "port-word": ("https://cdn.invalid:http/v.mp4", "port"),
    "port-negative": ("https://cdn.invalid:-1/v.mp4", "port"),
    "space-in-path": ("https://cdn.invalid/my video.mp4", "whitespace"),
    "leading-space": (" https://cdn.invalid/v.mp4", "whitespace"),
    "newline": ("https://cdn.invalid/v.mp4\n", "whitespace"),
    "tab-in-host": ("https://cdn.\tinvalid/v.mp4", "whitespace"),
    "nul": ("https://cdn.invalid/v\x00.mp4", "control character"),
    "bell": ("https://cdn.invalid\x07/v.mp4", "control character"),
    "odd-host": ("https://cdn<invalid/v.mp4", "not a host name"),
    "no-host": ("https:///v.mp4", "no host"),
    "no-scheme": ("cdn.invalid/v.mp4", "no scheme"),
    "other-scheme": ("ftp://cdn.invalid/v.mp4", "scheme 'ftp'"),
    "empty": ("", "empty"),
}


@pytest.mark.parametrize(("url", "says"), list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_url_is_refused_naming_field_value_and_what_is_allowed(
    url: str, says: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_url(url, field="video")
    assert type(caught.value) is InvalidRequest
    assert caught.value.field == "video"
    assert caught.value.message.startswith(f"video={shown(url)} ")
    assert says in caught.value.message and "allowed: https://host/path" in caught.value.message


# Without an http(s) scheme, media is a local file or a data URI, which have their own checks.
BROKEN_HTTP = {k: url for k, (url, _) in MALFORMED.items() if url.lstrip().startswith("http")}


@pytest.mark.parametrize("url", list(BROKEN_HTTP.values()), ids=list(BROKEN_HTTP))
def test_a_malformed_media_url_costs_nothing(offline_client: Client, url: str) -> None:
    with pytest.raises(InvalidRequest) as by_submit:
        offline_client.submit("acme", JobRequest(video=url, audio=AUDIO))
    with pytest.raises(InvalidRequest) as by_estimate:
        offline_client.estimate_cost("acme", JobRequest(video=VIDEO, audio=url), audio_seconds=4)
    for caught, field in ((by_submit, "video"), (by_estimate, "audio")):
        assert type(caught.value) is InvalidRequest
        assert caught.value.field == field
        assert caught.value.message.startswith(f"{field}={shown(url)} ")


def test_a_base_url_that_cannot_be_parsed_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_url(
            "https://[api.acme.invalid", field="LIPBRIDGE_ACME_BASE_URL", error=ConfigurationError
        )
    assert not isinstance(caught.value, InvalidRequest)
    assert caught.value.message.startswith("LIPBRIDGE_ACME_BASE_URL='https://[api.acme.invalid'")


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://hooks.invalid/cb", True),
        ("http://127.0.0.1:8080/cb", True),
        ("http://localhost/cb", True),
        ("http://[::1]:9/cb", True),
        ("http://hooks.invalid/cb", False),
        ("http://10.0.0.1/cb", False),
    ],
)
def test_local_http_only_lets_plain_http_reach_this_machine_only(url: str, accepted: bool) -> None:
    if accepted:
        assert parse_url(url, field="callback_url", local_http_only=True).geturl() == url
        return
    with pytest.raises(InvalidRequest, match="plain http only on") as caught:
        parse_url(url, field="callback_url", local_http_only=True)
    assert caught.value.field == "callback_url"


@pytest.mark.parametrize(
    "url",
    ["https://cdn.invalid/v.mp4", "HTTPS://CDN.invalid:443/v.mp4?sig=a%20b#t",
     "https://[2001:db8::1]:8443/v.mp4", "https://bücher.example/v.mp4", "https://cdn_1.invalid/"],
)  # fmt: skip
def test_well_formed_urls_pass(url: str) -> None:
    assert parse_url(url, field="video").hostname


def test_a_refused_url_never_shows_its_password() -> None:
    with pytest.raises(InvalidRequest) as caught:
        parse_url("https://user:s3cr3t-pw@hooks.invalid:99999/cb", field="callback_url")
    assert "s3cr3t-pw" not in caught.value.message
    assert "https://***@hooks.invalid:99999/cb" in caught.value.message


def outcome(url: str) -> SplitResult | InvalidRequest:
    try:
        return parse_url(url, field="url")
    except InvalidRequest as exc:
        return exc


URLISH = st.text(alphabet=st.sampled_from("[]:@/?#%.-_ \t\n\x00\x7fé0aZ9"), max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["http://", "https://", "", "ftp://", "https://["]), URLISH)
def test_any_text_is_a_url_or_an_invalid_request(prefix: str, rest: str) -> None:
    """Never a bare ValueError; and what passes, urllib3 (the transport) reads the same way."""
    url = prefix + rest
    parts = outcome(url)
    if isinstance(parts, InvalidRequest):
        assert parts.field == "url"
        return
    if parts.hostname is not None and parts.hostname.isascii():
        sent = urllib3.util.parse_url(url)
        assert (sent.host or "").strip("[]").lower() == parts.hostname
        assert sent.port == parts.port


def test_a_url_may_hold_no_whitespace_control_character_or_lone_surrogate() -> None:
    """The one regex the URL checks search with refuses exactly the characters that are
    whitespace (str.isspace) or of Unicode category Cc or Cs, of every code point."""
    every = "".join(map(chr, range(sys.maxunicode + 1)))
    odd = {c for c in every if c.isspace() or unicodedata.category(c) in ("Cc", "Cs")}
    assert set(_ODD.findall(every)) == odd


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from("aZ09-._ :@/%é٣²\u2028!_"), max_size=8))
def test_a_host_name_is_letters_digits_and_dashes_dots_underscores(host: str) -> None:
    assert _host_name(host) == all(c.isalnum() or c in "-._" for c in host)


@settings(max_examples=100, deadline=None)
@given(st.none() | st.integers() | st.binary() | st.lists(st.text(), max_size=2))
def test_anything_but_a_string_is_not_a_url(value: object) -> None:
    with pytest.raises(InvalidRequest, match="is not a URL"):
        parse_url(value, field="url")


# --- timeouts ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [-1, 0, 0.0, -0.0, math.nan, math.inf, -math.inf, True, "30", None, Decimal(5)]
)
def test_a_timeout_must_be_positive_finite_seconds(value: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_timeout(value, "timeout")
    assert caught.value.field == "timeout"
    assert caught.value.message.startswith(f"timeout={shown(value)} is not a number of seconds")


@pytest.mark.parametrize("value", [1e-3, 1, 30.0, 1800])
def test_a_positive_finite_timeout_is_seconds(value: float) -> None:
    assert check_timeout(value) == float(value)


# --- output paths -----------------------------------------------------------------------------


def test_an_output_path_in_an_existing_folder_is_kept_as_given(tmp_path: Path) -> None:
    assert check_output_path(tmp_path / "out.mp4") == tmp_path / "out.mp4"
    (tmp_path / "old.mp4").write_bytes(b"old")
    assert check_output_path(str(tmp_path / "old.mp4")) == tmp_path / "old.mp4"  # replaced later


@pytest.mark.parametrize(
    ("path", "says"),
    [
        ("missing/out.mp4", "not an existing folder"),
        ("file.txt/out.mp4", "not an existing folder"),
        (".", "is a folder"),
        ("sub", "is a folder"),
        ("new/", "is a folder"),
        ("", "is not a file path"),
        (5, "is not a file path"),
    ],
)
def test_an_output_path_that_cannot_be_written_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, path: object, says: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(InvalidRequest, match=says) as caught:
        check_output_path(path)
    assert caught.value.field == "output"


def test_an_output_folder_this_user_cannot_write_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Faked through ``os.access``: the tests may run as root, who can write anywhere."""
    seen: list[str] = []

    def access(path: Any, mode: int) -> bool:
        seen.append(os.fspath(path))
        return False

    monkeypatch.setattr(os, "access", access)
    with pytest.raises(InvalidRequest, match="cannot write to") as caught:
        check_output_path(tmp_path / "out.mp4")
    assert caught.value.field == "output" and seen == [str(tmp_path)]


# --- the request's own fields -----------------------------------------------------------------


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def cycle() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["again"] = loop
    return loop


OPTIONS = {
    "nan": ({"seed": math.nan}, "options.seed", "not a finite number"),
    "inf-in-list": ({"weights": [1.0, math.inf]}, "options.weights[1]", "not a finite number"),
    "minus-inf-deep": ({"a": {"b": -math.inf}}, "options.a.b", "not a finite number"),
    "too-deep": ({"segments": nested(OPTION_MAX_DEPTH + 1)},
                 "options.segments" + "[0]" * OPTION_MAX_DEPTH, "nested more than 32"),
    "cycle": ({"loop": cycle()}, "options.loop" + ".again" * OPTION_MAX_DEPTH, "nested"),
    "int-key-nested": ({"map": {1: "x"}}, "options.map", "has the key 1"),
    "int-key": ({2: "x"}, "options", "has the key 2"),
    "decimal": ({"price": Decimal("1.5")}, "options.price", "is a Decimal"),
    "set": ({"tags": {"a"}}, "options.tags", "is a set"),
    "bytes": ({"blob": b"x"}, "options.blob", "is a bytes"),
    "not-a-mapping": ([("k", "v")], "options", "is not a mapping"),
}  # fmt: skip


@pytest.mark.parametrize(("options", "field", "says"), list(OPTIONS.values()), ids=list(OPTIONS))
def test_options_must_be_finite_json(
    offline_client: Client, options: Any, field: str, says: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        offline_client.submit("acme", JobRequest(video=VIDEO, audio=AUDIO, options=options))
    assert type(caught.value) is InvalidRequest
    assert caught.value.field == field
    assert says in caught.value.message


def test_options_as_deep_as_allowed_pass() -> None:
    deep = nested(OPTION_MAX_DEPTH)
    kept = {"a": deep, "b": (1, 2.5, None, True, "x"), "c": {"d": -0.0}}
    assert JobRequest(video=VIDEO, audio=AUDIO, options=kept).options == kept


@pytest.mark.parametrize(
    "tts", [{"text": "hi", "voice": "alice"}, "alice", ("hi", "alice")], ids=["dict", "str", "pair"]
)
def test_tts_of_the_wrong_type_is_refused(offline_client: Client, tts: object) -> None:
    with pytest.raises(InvalidRequest) as caught:
        offline_client.submit("acme", JobRequest(video=VIDEO, tts=tts))  # type: ignore[arg-type]
    assert type(caught.value) is InvalidRequest
    assert caught.value.field == "tts" and "TextToSpeech" in caught.value.message


def test_tts_of_the_right_type_passes() -> None:
    spoken = TextToSpeech(text="hi", voice="alice")
    assert JobRequest(video=VIDEO, tts=spoken).tts is spoken


@pytest.mark.parametrize(
    ("url", "says"),
    [("https://[hooks.invalid/cb", "unbalanced"), ("https://hooks.invalid:99999/cb", "port"),
     ("https://hooks.invalid/c b", "whitespace"), ("https://hooks.invalid/\x1b", "control")],
)  # fmt: skip
def test_a_malformed_callback_url_is_refused(offline_client: Client, url: str, says: str) -> None:
    with pytest.raises(InvalidRequest, match=says) as caught:
        offline_client.submit("acme", JobRequest(video=VIDEO, audio=AUDIO, callback_url=url))
    assert caught.value.field == "callback_url"


# --- the command line -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--video", "https://[cdn.invalid/v.mp4", "--audio", AUDIO], "video='https://[cdn"),
        (["--video", VIDEO, "--audio", "https://cdn.invalid:99999/a.wav"], "audio='https://cdn"),
        (["--video", VIDEO, "--audio", "https://cdn.invalid:wav/a.wav"], "port"),
        (["--video", "https://cdn.invalid/my video.mp4", "--audio", AUDIO], "whitespace"),
        ([*MEDIA, "--callback-url", "https://hooks.invalid:0/cb"], "callback_url="),
        ([*MEDIA, "--option", "seed=NaN"], "--option"),
        ([*MEDIA, "--option", "seed=Infinity"], "Infinity is not a finite number"),
        ([*MEDIA, "--option", "seed=-Infinity"], "-Infinity is not a finite number"),
        ([*MEDIA, "--option", "seed=1e999"], "1e999 is not a finite number"),
        ([*MEDIA, "--option", "w=[1, NaN]"], "NaN is not a finite number"),
        ([*MEDIA, "--option", "deep=" + "[" * 100_000], "nested too deeply"),
        ([*MEDIA, "--option", "deep=" + "[" * 40 + "]" * 40], "options.deep[0][0]"),
        ([*MEDIA, "--wait", "--timeout", "-1"], "--timeout"),
        ([*MEDIA, "--wait", "--timeout", "0"], "timeout=0.0"),
        ([*MEDIA, "--wait", "--timeout", "nan"], "timeout=nan"),
        ([*MEDIA, "--wait", "--timeout", "inf"], "timeout=inf"),
        ([*MEDIA, "--timeout", "-5"], "--timeout"),  # checked even without --wait
    ],
)
def test_submit_checks_everything_before_sending(
    client: Client, server: ScriptedServer, args: list[str], says: str
) -> None:
    refused(client, ["submit", "acme", *args], says)
    assert server.requests() == []


@pytest.mark.parametrize("command", ["status", "wait", "cancel"])
@pytest.mark.parametrize("job_id", ["", "   "], ids=["empty", "blank"])
def test_an_empty_job_id_is_refused(
    client: Client, server: ScriptedServer, command: str, job_id: str
) -> None:
    refused(client, [command, "acme", job_id], "JOB_ID", "empty")
    assert server.requests() == []


def test_wait_refuses_a_bad_timeout_before_polling(client: Client, server: ScriptedServer) -> None:
    refused(client, ["wait", "acme", "j9", "--timeout", "nan"], "--timeout", "timeout=nan")
    assert server.requests() == []


def test_submit_output_into_a_missing_folder_is_refused_before_the_submit(
    client: Client, server: ScriptedServer, tmp_path: Path
) -> None:
    out = tmp_path / "no-such-folder" / "out.mp4"
    for flags in (["--wait", "--output", str(out)], ["--output", str(out)]):
        refused(client, ["submit", "acme", *MEDIA, *flags], "error: output=", "existing folder")
    assert server.requests() == []


def test_submit_output_into_a_folder_it_cannot_write_is_refused(
    client: Client, server: ScriptedServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    refused(client, ["submit", "acme", *MEDIA, "--output", str(tmp_path / "o.mp4")], "output=")
    assert server.requests() == []


def test_wait_and_download_check_the_path_before_polling(
    client: Client, server: ScriptedServer, tmp_path: Path
) -> None:
    out = str(tmp_path / "missing" / "out.mp4")
    refused(client, ["wait", "acme", "j9", "--output", out], "output=")
    refused(client, ["download", "acme", "j9", out], "output=")
    refused(client, ["download", "acme", "j9", str(tmp_path / "new") + "/"], "is a folder")
    assert server.requests() == []
