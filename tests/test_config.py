"""The config file: precedence, clear errors before any request, and your prices."""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FakeClock, ForbiddenTransport, make_registry

from lipbridge import Client, JobRequest
from lipbridge.cli import ExitCode, cli
from lipbridge.config import load_config
from lipbridge.errors import ConfigurationError

REQUEST = JobRequest(video="https://v.invalid/a.mp4", audio="https://a.invalid/b.wav")


def user_dir() -> Path:
    return Path(os.environ["LIPBRIDGE_USER_DIR"])


def write_config(text: str) -> Path:
    path = user_dir() / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def client(site: Path, **environ: str) -> Client:
    env = {"LIPBRIDGE_USER_DIR": str(user_dir()), "LIPBRIDGE_ACME_API_KEY": "k" * 20, **environ}
    return Client(
        registry=make_registry(site),
        environ=env,
        clock=FakeClock(),
        transport=ForbiddenTransport(),
        ledger=False,
    )


def lipbridge(site: Path, *args: str, **environ: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), obj=lambda: client(site, **environ))


def test_a_toml_syntax_error_names_the_file_line_and_column() -> None:
    path = write_config('default_provider = "acme"\n\n[providers.acme]\nbase_url = \n')
    with pytest.raises(ConfigurationError) as caught:
        load_config(path)
    assert str(path) in caught.value.message
    assert "line 4, column 12" in caught.value.message


def test_a_bad_config_file_stops_a_submit_before_any_request(standard_site: Path) -> None:
    path = write_config("[providers.acme\n")
    with pytest.raises(ConfigurationError, match=f"{path} is not valid TOML: .*line 1"):
        client(standard_site).submit("acme", REQUEST)  # ForbiddenTransport: no request sent
    result = lipbridge(standard_site, "config", "show")
    assert result.exit_code == ExitCode.CONFIGURATION
    assert f"{path} is not valid TOML" in result.output and "line 1" in result.output


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[providers.acmee]\nbase_url = 'https://x.invalid'\n",
            "providers.acmee is not an installed provider; allowed: acme, globex, keyed",
        ),
        (
            "default_provider = 'nobody'\n",
            "default_provider = 'nobody' is not an installed provider; allowed: acme, "
            "globex, keyed",
        ),
        (
            "[providers.acme]\nbase_urll = 'https://x.invalid'\n",
            "providers.acme.base_urll is not a setting; allowed: base_url, settings, prices",
        ),
        (
            "[providers.acme]\napi_key = 'sk-abc'\n",
            "keys go in the keys file: lipbridge keys set PROVIDER",
        ),
        (
            "[providers.acme.prices]\nacme-1 = 'cheap'\n",
            "providers.acme.prices.acme-1 = 'cheap' is not a price; allowed: a number >= 0",
        ),
        (
            "[providers.acme.prices]\nacme-1 = -0.5\n",
            "providers.acme.prices.acme-1 = -0.5 is not a price",
        ),
        (
            "[providers.acme.prices.acme-1]\nper_second = 1\nper = 'input'\n",
            "providers.acme.prices.acme-1.per = 'input'; allowed: 'output', 'video', 'audio'",
        ),
        (
            "[providers.acme.prices.acme-1]\nunit = 'USD'\n",
            "providers.acme.prices.acme-1.per_second is missing",
        ),
        (
            "[providers.acme.prices]\nacme-9 = 0.1\n",
            "providers.acme.prices.acme-9 is not a model of acme; allowed: acme-1, acme-lite",
        ),
        (
            "[providers.acme]\nbase_url = 'http://api.example.com'\n",
            "providers.acme.base_url='http://api.example.com'",
        ),
    ],
)
def test_a_mistake_names_the_key_path_and_what_is_allowed_before_any_request(
    standard_site: Path, text: str, message: str
) -> None:
    path = write_config(text)
    with pytest.raises(ConfigurationError) as caught:
        client(standard_site).estimate_cost("acme", REQUEST, video_seconds=3, audio_seconds=3)
    assert str(path) in caught.value.message
    assert message in caught.value.message


def test_arguments_beat_the_environment_which_beats_the_file_which_beats_the_plugin(
    standard_site: Path,
) -> None:
    write_config(
        "[providers.acme]\nbase_url = 'https://file.invalid'\n"
        "settings = { region = 'eu', tier = 2, fast = true }\n"
        "[providers.globex]\nbase_url = 'https://file.invalid/globex'\n"
    )
    env = {"LIPBRIDGE_ACME_BASE_URL": "https://env.invalid", "LIPBRIDGE_ACME_REGION": "us"}
    info = make_registry(standard_site).info("acme")
    from_env = client(standard_site, **env)
    assert from_env.base_url("acme", info) == "https://env.invalid"
    assert from_env.base_url("globex", from_env.info("globex")) == "https://file.invalid/globex"
    assert from_env.base_url("keyed", from_env.info("keyed")) == "https://api.keyed.invalid"
    settings = from_env.context("acme", info).settings
    assert dict(settings) == {
        "region": "us",
        "tier": "2",
        "fast": "true",
        "base_url": "https://env.invalid",
    }
    explicit = Client(
        registry=make_registry(standard_site),
        environ={"LIPBRIDGE_USER_DIR": str(user_dir()), **env},
        base_urls={"acme": "https://arg.invalid"},
        settings={"acme": {"region": "ap"}},
    )
    assert explicit.base_url("acme", info) == "https://arg.invalid"
    assert explicit.context("acme", info).settings["region"] == "ap"


def test_config_show_says_where_each_part_comes_from(standard_site: Path) -> None:
    path = write_config(
        "default_provider = 'globex'\n[providers.acme]\nbase_url = 'https://file.invalid'\n"
        "settings = { region = 'eu' }\nprices = { acme-1 = 0.04 }\n"
    )
    result = lipbridge(standard_site, "config", "show", "--json", LIPBRIDGE_ACME_REGION="us")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["config_file"] == str(path) and shown["default_provider"] == "globex"
    assert "> keys/config files >" in shown["precedence"]
    acme = next(p for p in shown["providers"] if p["provider"] == "acme")
    assert acme["base_url"] == {"value": "https://file.invalid", "source": "config file"}
    assert acme["settings"]["region"] == {
        "value": "us",
        "source": "environment (LIPBRIDGE_ACME_REGION)",
    }
    assert acme["your_prices"] == {"acme-1": "0.04 USD per second of output"}
    assert acme["key"]["variable"] == "LIPBRIDGE_ACME_API_KEY"
    text = lipbridge(standard_site, "config", "show").output
    assert f"config file: {path}" in text and "plugin default" in text


def test_config_path_and_edit(standard_site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = user_dir() / "config.toml"
    assert lipbridge(standard_site, "config", "path").output == f"{path}\n"
    opened: list[str] = []

    def fake_edit(*, filename: str) -> None:
        opened.append(filename)
        assert Path(filename).read_text().startswith("# lipbridge's config file")
        Path(filename).write_text("[providers.acme]\nbase_url = 'https://x.invalid'\n")

    monkeypatch.setattr("click.edit", fake_edit)
    result = lipbridge(standard_site, "config", "edit")
    assert result.exit_code == 0, result.output
    assert opened == [str(path)] and f"{path} is valid" in result.output


def test_your_price_is_used_exactly_and_labelled(standard_site: Path) -> None:
    write_config(
        "[providers.acme.prices]\nacme-1 = 0.0333\n"
        "[providers.globex.prices.acme-1]\nper_second = 1.5\nunit = 'credits'\n"
        "usd_per_unit = 0.011\nstep = 5\nminimum = 9\n"
    )
    c = client(standard_site)
    mine = c.estimate_cost("acme", REQUEST, video_seconds=10.1, audio_seconds=7.3)
    assert mine.amount == Decimal("0.24309")  # 0.0333 x 7.3: a loop lasts as long as the audio
    assert mine.unit == "USD" and mine.usd == mine.amount
    assert mine.basis == "your price: 0.0333 USD per second of output"
    assert mine.source is not None and mine.source.table_version == "your price"
    stepped = c.estimate_cost("globex", REQUEST, video_seconds=3, audio_seconds=11)
    assert stepped.amount == Decimal("22.5")  # 11 s of audio (a loop) billed as 15 s at 1.5
    assert stepped.usd == Decimal("0.2475")
    short = c.estimate_cost("globex", REQUEST, video_seconds=1, audio_seconds=1)
    assert short.amount == Decimal("9")  # the minimum
    plugin = c.estimate_cost("keyed", REQUEST, video_seconds=3, audio_seconds=3)
    assert plugin.source is not None and plugin.source.table_version == "2026-11"


def test_estimate_labels_your_price_and_uses_the_default_provider(standard_site: Path) -> None:
    path = write_config("default_provider = 'acme'\n[providers.acme.prices]\nacme-1 = 0.05\n")
    result = lipbridge(standard_site, "estimate", "--video-duration", "4", "--audio-duration", "4")
    assert result.exit_code == 0, result.output
    assert "acme/acme-1: 0.2" in result.output
    assert "your price: 0.05 USD per second of output" in result.output
    assert f"price source: your price, from {path}" in result.output
    compared = lipbridge(
        standard_site,
        "estimate",
        "--all",
        "--video-duration",
        "4",
        "--audio-duration",
        "4",
        "--json",
    )
    rows = {row["provider"]: row["estimate"] for row in json.loads(compared.stdout)}
    assert rows["acme"]["basis"].startswith("your price")
    assert rows["globex"]["source"]["table_version"] == "2026-11"


def test_estimate_without_a_provider_or_default_says_how_to_set_one(standard_site: Path) -> None:
    result = lipbridge(standard_site, "estimate", "--video-duration", "4")
    assert result.exit_code == ExitCode.USAGE
    assert "default_provider" in result.output


@pytest.mark.parametrize("command", ["submit", "run"])
def test_submit_and_run_take_the_default_provider(standard_site: Path, command: str) -> None:
    media = ["--video", "https://cdn.invalid/v.mp4", "--audio", "https://cdn.invalid/a.wav"]
    unnamed = lipbridge(standard_site, command, *media)
    assert unnamed.exit_code == ExitCode.USAGE
    assert "give a PROVIDER (or set default_provider" in unnamed.output
    write_config("default_provider = 'acme'\n")
    chosen = lipbridge(standard_site, command, *media, "--model", "nope")
    assert chosen.exit_code == ExitCode.USAGE  # refused by acme's models, before any request
    assert "acme" in chosen.output and "nope" in chosen.output


def test_providers_name_shows_everything_wrapped_not_cut(standard_site: Path) -> None:
    write_config("[providers.acme]\nsettings = { region = 'eu' }\nprices = { acme-1 = 0.05 }\n")

    def shown(width: int) -> str:
        result = CliRunner().invoke(
            cli,
            ["providers", "acme"],
            obj=lambda: client(standard_site),
            env={"COLUMNS": str(width)},
        )
        assert result.exit_code == 0, result.output
        return result.output

    wide, narrow = shown(400), shown(60)
    for fact in (
        "https://acme.invalid/docs",
        "tts voices: alice, bob",
        "region=eu (config file)",
        "environment (LIPBRIDGE_ACME_API_KEY)",
        "acme-1: 0.05 USD per second of output",
        "https://api.acme.invalid (plugin default)",
        "acme-lite",
        "video file: at most 1000 bytes",
        "your price: 0.05 USD per second of output",
    ):
        assert fact in wide, fact
    assert max(len(line) for line in narrow.splitlines()) <= 60
    assert "…" not in narrow  # nothing cut short: every character is there, only wrapped

    def letters(text: str) -> list[str]:
        return sorted(c for c in text if c.isalnum() or c in ".:/()=,@-_")

    assert letters(narrow) == letters(wide)


def test_config_show_refuses_what_a_command_would_refuse(standard_site: Path) -> None:
    path = write_config("[providers.acme.prices]\nacme-9 = 0.1\n")
    result = lipbridge(standard_site, "config", "show")
    assert result.exit_code == ExitCode.CONFIGURATION
    assert f"{path}: providers.acme.prices.acme-9 is not a model of acme" in result.output
    write_config("[providers.nobody]\n")  # with the installed plugins, read from os.environ
    listed = CliRunner().invoke(cli, ["config", "show"])
    assert listed.exit_code == ExitCode.CONFIGURATION
    assert "providers.nobody is not an installed provider" in listed.output


def test_a_disabled_provider_in_the_file_is_not_a_mistake(standard_site: Path) -> None:
    write_config("[providers.globex]\nbase_url = 'https://file.invalid'\n")
    env = {"LIPBRIDGE_USER_DIR": str(user_dir()), "LIPBRIDGE_PLUGINS": "acme"}
    c = Client(registry=make_registry(standard_site, **env), environ=env)
    assert c.user_files is not None
    assert c.file_config("globex").base_url == "https://file.invalid"
