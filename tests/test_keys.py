"""The keys file: mode 0600 from its first byte, environment over file, never printed."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import FakeClock, make_registry
from scripted_server import Reply, ScriptedServer

from lipbridge import Client, JobRequest
from lipbridge.cli import ExitCode, cli
from lipbridge.errors import ConfigurationError
from lipbridge.keys import KeyStore

FILE_KEY = "sk-file-7Hq2LmZx9Pw4Rt6Yv8Nb"
ENV_KEY = "sk-env-3Kd8Fj2Lq9Wm5Xz1Cv7B"
ARG_KEY = "sk-arg-5Gh1Jk3Lm7Np9Qr2St4U"


def user_dir() -> Path:
    """The test's own user folder (the private_ledger plugin sets it for every test)."""
    return Path(os.environ["LIPBRIDGE_USER_DIR"])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def lipbridge(site: Path, *args: str, environ: dict[str, str] | None = None, stdin: str = ""):  # type: ignore[no-untyped-def]
    """The command with a client on ``site``'s providers reading the test's user folder."""
    env = {"LIPBRIDGE_USER_DIR": str(user_dir()), **(environ or {})}

    def factory() -> Client:
        return Client(registry=make_registry(site), environ=env, clock=FakeClock())

    return CliRunner().invoke(cli, list(args), obj=factory, input=stdin, env=environ)


def test_keys_set_stores_the_key_in_a_0600_file_in_a_0700_folder(standard_site: Path) -> None:
    old = os.umask(0)  # the widest umask: the mode must not depend on it
    try:
        result = lipbridge(standard_site, "keys", "set", "acme", stdin=FILE_KEY + "\n")
    finally:
        os.umask(old)
    assert result.exit_code == 0, result.output
    path = user_dir() / "keys.json"
    assert json.loads(path.read_text()) == {"acme": FILE_KEY}
    assert mode(path) == 0o600
    assert mode(path.parent) == 0o700
    assert FILE_KEY not in result.output


def test_the_keys_file_is_never_readable_by_others_even_before_its_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    replace = os.replace

    def spy(src: str, dst: Path) -> None:
        seen.append(mode(Path(src)))
        replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    store = KeyStore(tmp_path / "keys.json")
    store.set("acme", FILE_KEY)
    store.set("globex", ENV_KEY)
    assert seen == [0o600, 0o600]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keys.json"]  # no temp file left


def test_a_keys_file_readable_by_others_is_made_private_with_a_warning(
    standard_site: Path,
) -> None:
    path = user_dir() / "keys.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"acme": FILE_KEY}))
    path.chmod(0o644)
    result = lipbridge(standard_site, "keys", "remove", "acme")
    assert result.exit_code == 0, result.output
    assert "was readable by others (mode 644); it is now 600" in result.output
    assert mode(path) == 0o600
    assert json.loads(path.read_text()) == {}


def test_the_environment_wins_over_the_file_and_arguments_over_both(standard_site: Path) -> None:
    KeyStore(user_dir() / "keys.json").set("acme", FILE_KEY)
    base = {"LIPBRIDGE_USER_DIR": str(user_dir())}
    info = make_registry(standard_site).info("acme")

    def found(environ: dict[str, str], **kwargs: dict[str, str]) -> tuple[str | None, str]:
        client = Client(registry=make_registry(standard_site), environ=environ, **kwargs)
        credentials = client.credentials("acme", info)
        return credentials.source, credentials.require()

    assert found(base) == ("the keys file", FILE_KEY)
    assert found({**base, "ACME_KEY": ENV_KEY}) == ("ACME_KEY", ENV_KEY)
    with_env = {**base, "LIPBRIDGE_ACME_API_KEY": ENV_KEY}
    assert found(with_env) == ("LIPBRIDGE_ACME_API_KEY", ENV_KEY)
    assert found(with_env, api_keys={"acme": ARG_KEY}) == ("api_keys['acme']", ARG_KEY)


def test_a_client_given_an_environment_reads_no_files_it_does_not_name(
    standard_site: Path,
) -> None:
    """So neither a test nor the contract suite's replay ever picks up the user's keys."""
    KeyStore(user_dir() / "keys.json").set("acme", FILE_KEY)
    client = Client(registry=make_registry(standard_site), environ={})
    assert client.user_files is None
    with pytest.raises(ConfigurationError, match="lipbridge keys set acme"):
        client.prepare(
            "acme", JobRequest(video="https://v.invalid/a.mp4", audio="https://a.invalid/b.wav")
        )
    assert Client(registry=make_registry(standard_site)).user_files is not None  # os.environ's
    named = Client(registry=make_registry(standard_site), environ={}, user_dir=user_dir())
    assert named.credentials("acme", named.info("acme")).require() == FILE_KEY


def test_a_stored_key_reaches_the_plugin_as_an_environment_key_does(
    standard_site: Path, server: ScriptedServer, clock: FakeClock
) -> None:
    KeyStore(user_dir() / "keys.json").set("acme", FILE_KEY)
    server.script("POST", "/v1/jobs", Reply.json({"id": "j1", "status": "queued"}))
    environ = {"LIPBRIDGE_USER_DIR": str(user_dir()), "LIPBRIDGE_ACME_BASE_URL": server.url}
    with Client(
        registry=make_registry(standard_site), environ=environ, clock=clock, ledger=False
    ) as client:
        handle = client.submit(
            "acme", JobRequest(video="https://v.invalid/a.mp4", audio="https://a.invalid/b.wav")
        )
    assert handle.job_id == "j1"
    [seen] = server.requests("POST", "/v1/jobs")
    assert seen.headers["authorization"] == f"Bearer {FILE_KEY}"


def test_a_key_that_cannot_be_sent_is_refused_without_showing_it(standard_site: Path) -> None:
    result = lipbridge(standard_site, "keys", "set", "acme", stdin="sk-has a-space-in-it\n")
    assert result.exit_code == ExitCode.CONFIGURATION
    assert "contains a space" in result.output and "a-space" not in result.output
    assert not (user_dir() / "keys.json").exists()


def test_keys_set_warns_when_the_vendors_own_variable_wins(standard_site: Path) -> None:
    """ACME_KEY (the variable the plugin documents) wins as LIPBRIDGE_ACME_API_KEY does."""
    result = lipbridge(standard_site, "keys", "set", "acme", stdin=FILE_KEY,
                       environ={"ACME_KEY": ENV_KEY})
    assert result.exit_code == 0, result.output
    assert "warning: ACME_KEY is set in this environment and wins over the keys file" in (
        result.output
    )
    assert ENV_KEY not in result.output and FILE_KEY not in result.output


def test_keys_set_refuses_a_provider_that_is_not_installed(standard_site: Path) -> None:
    result = lipbridge(standard_site, "keys", "set", "acmee", stdin=FILE_KEY)
    assert result.exit_code == ExitCode.USAGE
    assert "'acmee' is not an installed provider; allowed: acme, globex, keyed" in result.output


def test_keys_path_and_remove(standard_site: Path, tmp_path: Path) -> None:
    assert lipbridge(standard_site, "keys", "path").output == f"{user_dir() / 'keys.json'}\n"
    moved = tmp_path / "elsewhere" / "k.json"
    assert (
        lipbridge(standard_site, "keys", "path", environ={"LIPBRIDGE_KEYS_PATH": str(moved)}).output
        == f"{moved}\n"
    )
    lipbridge(standard_site, "keys", "set", "globex", stdin=FILE_KEY)
    missing = lipbridge(standard_site, "keys", "remove", "acme")
    assert missing.exit_code == ExitCode.USAGE
    assert "no key for 'acme'" in missing.output and "stored: globex" in missing.output
    assert lipbridge(standard_site, "keys", "remove", "globex").exit_code == 0
    assert json.loads((user_dir() / "keys.json").read_text()) == {}


def test_keys_list_names_where_each_key_comes_from(standard_site: Path) -> None:
    KeyStore(user_dir() / "keys.json").set("acme", FILE_KEY)
    KeyStore(user_dir() / "keys.json").set("globex", FILE_KEY)
    result = lipbridge(standard_site, "keys", "list", "--json", environ={"GLOBEX_KEY": ENV_KEY})
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    rows = {row["provider"]: row for row in listed["keys"]}
    assert rows["acme"]["source"] == "keys file"
    assert rows["globex"]["source"] == "environment"
    assert rows["globex"]["variable"] == "GLOBEX_KEY"
    assert "unused" in rows["globex"]["note"]
    assert rows["keyed"]["source"] == "missing"
    assert "environment variables > keys/config files" in listed["precedence"]


def forms(key: str) -> list[str]:
    """The key and its base64 (standard and URL-safe, at each alignment)."""
    found = [key]
    for pad in ("", "x", "xx"):
        encoded = base64.b64encode((pad + key).encode()).decode()
        urlsafe = base64.urlsafe_b64encode((pad + key).encode()).decode()
        skip = {"": 0, "x": 4, "xx": 4}[pad]
        found += [encoded[skip : skip + 16], urlsafe[skip : skip + 16]]
    return found


@pytest.mark.parametrize(
    "args",
    [
        ("keys", "list"),
        ("keys", "list", "--json"),
        ("providers",),
        ("providers", "--json"),
        ("providers", "acme"),
        ("providers", "acme", "--json"),
        ("config", "show"),
        ("config", "show", "--json"),
        ("estimate", "--all", "--video-duration", "3", "--audio-duration", "3"),
        ("keys", "path"),
    ],
    ids=" ".join,
)
def test_no_command_prints_a_key(standard_site: Path, args: tuple[str, ...]) -> None:
    KeyStore(user_dir() / "keys.json").set("acme", FILE_KEY)
    result = lipbridge(standard_site, *args, environ={"LIPBRIDGE_GLOBEX_API_KEY": ENV_KEY})
    assert result.exit_code == 0, result.output
    for key in (FILE_KEY, ENV_KEY):
        for form in forms(key):
            assert form not in result.output, (form, result.output)
    assert "keys file" in result.output or "key" in result.output


def test_a_broken_keys_file_names_the_file_and_never_quotes_it(standard_site: Path) -> None:
    path = user_dir() / "keys.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"acme": "' + FILE_KEY)  # cut short
    result = lipbridge(standard_site, "keys", "list")
    assert result.exit_code == ExitCode.CONFIGURATION
    assert str(path) in result.output and "not valid JSON" in result.output
    assert FILE_KEY not in result.output
    assert "KeyStore(" in repr(KeyStore(path)) and FILE_KEY not in repr(KeyStore(path))


def test_on_a_terminal_the_key_is_typed_at_a_prompt_that_does_not_echo_it(
    standard_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("lipbridge.cli.keys.interactive", lambda: True)
    result = lipbridge(standard_site, "keys", "set", "acme", stdin=FILE_KEY + "\n")
    assert result.exit_code == 0, result.output
    assert "API key for acme: " in result.output
    assert FILE_KEY not in result.output
    assert KeyStore(user_dir() / "keys.json").get("acme") == FILE_KEY
