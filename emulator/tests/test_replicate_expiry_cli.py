"""Replicate removes a prediction's output an hour after it completes, so ``lipbridge
wait``/``submit --wait`` and ``run`` that did not save the video say until when it is kept
and how to download it before then (issue 17); a saved video gets no such notice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from emulated import LONG, SHORT, Emulated, emulated

from lipbridge import Client
from lipbridge.cli import ExitCode, cli
from lipbridge_emulator import Timing

NOTICE = "the provider keeps the video until "


@pytest.fixture(scope="module")
def env() -> Iterator[Emulated]:
    with emulated(timing=Timing(job_seconds=0, results_lag=0)) as running:
        yield running


def lipbridge(env: Emulated, *args: str) -> Result:
    return CliRunner().invoke(
        cli, list(args), env=env.env("replicate", None), obj=lambda: Client(clock=env.clock)
    )


def media(env: Emulated) -> list[str]:
    return ["--video", env.videos[SHORT].url, "--audio", env.speeches[LONG].url]


def expiry(result: Result) -> str:
    [line] = [s for s in result.stdout.splitlines() if s.startswith("url expires: ")]
    return line.removeprefix("url expires: ")


def test_submit_wait_without_output_says_to_download_within_the_hour(
    env: Emulated, tmp_path: Path
) -> None:
    result = lipbridge(env, "submit", "replicate", *media(env), "--wait")
    assert result.exit_code == ExitCode.OK, result.output
    [notice] = [s for s in result.stderr.splitlines() if s.startswith(NOTICE)]
    head, _, command = notice.partition(": download it before then with: ")
    assert head == f"{NOTICE}{expiry(result)}"
    # the command it gives works, with PATH filled in
    program, verb, *ref, placeholder = command.split(" ")
    assert (program, verb, placeholder) == ("lipbridge", "download", "PATH")
    out = tmp_path / "later.mp4"
    fetched = lipbridge(env, "download", *ref, str(out))
    assert fetched.exit_code == ExitCode.OK, fetched.output
    assert out.stat().st_size > 0


def test_run_without_output_names_its_local_id_in_the_notice(env: Emulated) -> None:
    result = lipbridge(env, "run", "replicate", *media(env))
    assert result.exit_code == ExitCode.OK, result.output
    [notice] = [s for s in result.stderr.splitlines() if s.startswith(NOTICE)]
    assert notice.startswith(f"{NOTICE}{expiry(result)}: download it before then with: ")
    local_id = notice.rsplit(" ", 2)[1]
    assert f"job {local_id}: replicate job " in result.stderr


def test_a_saved_video_gets_no_notice(env: Emulated, tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"
    result = lipbridge(env, "run", "replicate", *media(env), "--output", str(out))
    assert result.exit_code == ExitCode.OK, result.output
    assert out.stat().st_size > 0
    assert NOTICE not in result.stderr
