"""``lipbridge emulator`` prints (and with ``--env FILE`` writes) every variable a user
needs: with those alone, and nothing else, a client reaches each emulated provider."""

from __future__ import annotations

import os
import stat
import subprocess
import types
from pathlib import Path

import pytest
from click.testing import CliRunner
from emulated import emulated, emulated_providers

from lipbridge import Client, JobRequest
from lipbridge.context import env_var
from lipbridge_emulator import cli as emulator_cli
from lipbridge_emulator.cli import export_lines, exports

PROVIDERS = emulated_providers()


def test_the_exports_alone_reach_every_emulated_provider() -> None:
    with emulated() as env:
        variables = exports(env.emu)
        for name in env.emu.dialects:
            assert variables[env_var(name, "BASE_URL")] == env.emu.base_url(name)
            assert variables[env_var(name, "API_KEY")] == env.emu.key
        secret = getattr(env.emu.dialects["syncso"], "webhook_secret", None)
        assert secret and variables["LIPBRIDGE_SYNCSO_WEBHOOK_SECRET"] == secret
        video, audio = env.videos[min(env.videos)], env.speeches[min(env.speeches)]
        # Only the exports: no api_keys, no base_urls, no files.
        with Client(environ=variables, clock=env.clock, ledger=False, user_dir=False) as client:
            for provider in PROVIDERS:
                info = client.info(provider)
                caps = info.model(None)
                request = JobRequest(
                    video=video.url,
                    audio=audio.url,
                    sync_mode=caps.default_sync_mode or min(caps.sync_modes, default=None),
                )
                handle = client.submit(provider, request)
                assert handle.provider == provider and handle.job_id
                assert client.poll(handle).error is None  # the key and URL were right


class _StopAtOnce:
    def wait(self) -> None:
        raise KeyboardInterrupt


def test_the_command_prints_the_exports_and_writes_them_to_a_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(emulator_cli, "threading", types.SimpleNamespace(Event=_StopAtOnce))
    path = tmp_path / "emulator.env"
    result = CliRunner().invoke(emulator_cli.emulator, ["--env", str(path), "--key", "sk-emu-1"])
    assert result.exit_code == 0, result.output
    written = path.read_text().splitlines()
    printed = [line.strip() for line in result.output.splitlines() if "export " in line]
    assert printed == written
    assert "export LIPBRIDGE_FOXAPI_API_KEY=sk-emu-1" in written
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    shell = subprocess.run(
        ["sh", "-c", f'. "{path}" && env'],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ["PATH"]},
    )
    sourced = dict(line.split("=", 1) for line in shell.stdout.splitlines() if "=" in line)
    assert sourced["LIPBRIDGE_FOXAPI_API_KEY"] == "sk-emu-1"
    assert sourced["LIPBRIDGE_FOXAPI_BASE_URL"].endswith("/foxapi")


def test_an_export_line_quotes_what_the_shell_would_split() -> None:
    assert export_lines({"A": "x y", "B": "plain"}) == ["export A='x y'", "export B=plain"]
