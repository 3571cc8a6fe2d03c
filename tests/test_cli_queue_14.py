"""What the CLI shows of contract 1.4's statuses: the queue position and the provider's
log lines in `wait`, `run` and `status`, a cancel the provider confirms later in
`cancel`, and, on `batch`'s live bar, the rows waiting in each provider's queue."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.console import Console
from rich.progress import Progress
from test_batch_progress import PLANS, ended
from test_plugin_api_14 import REQUEST, queuey_client, status, submitted

from lipbridge import Client, JobState, JobStatus
from lipbridge.batch.runner import RowState, Tally
from lipbridge.cli import cli
from lipbridge.cli.batch_progress import LiveBar, PlainLines
from lipbridge.cli.render import StepReporter

MEDIA = ["--video", REQUEST.video, "--audio", REQUEST.audio or ""]
DONE = {"video": {"url": "https://cdn.queuey.invalid/out.mp4"}}


def run(client: Client, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), obj=lambda: client)


def test_wait_shows_the_queue_position_and_each_log_line_once(tmp_path: Path) -> None:
    client, _ = queuey_client(
        tmp_path, submitted(), status("IN_QUEUE", 1), status("IN_QUEUE", 0),
        status("IN_PROGRESS", logs=("loading",)), status("IN_PROGRESS", logs=("loading", "50%")),
        status("COMPLETED", logs=("loading", "50%", "done")), DONE,
    )
    handle = client.submit("queuey", REQUEST)
    result = run(client, "wait", handle.local_id or "")
    assert result.exit_code == 0, result.output
    err = result.stderr
    assert "waiting: queued (IN_QUEUE), 1 ahead in the queue" in err
    assert "waiting: queued (IN_QUEUE), 0 ahead in the queue" in err
    assert [line for line in err.splitlines() if "log:" in line] == [
        "  log: loading", "  log: 50%", "  log: done"]
    assert "video: https://cdn.queuey.invalid/out.mp4" in result.stdout


def test_run_shows_the_queue_position(tmp_path: Path) -> None:
    client, _ = queuey_client(tmp_path, submitted(), status("IN_QUEUE", 3), status("COMPLETED"),
                              DONE)
    result = run(client, "run", "queuey", *MEDIA)
    assert result.exit_code == 0, result.output
    assert "waiting: queued (IN_QUEUE), 3 ahead in the queue" in result.stderr


def test_status_shows_the_queue_position_and_the_log(tmp_path: Path) -> None:
    client, _ = queuey_client(tmp_path, submitted(),
                              status("IN_QUEUE", 4, logs=("waiting for a GPU",)))
    handle = client.submit("queuey", REQUEST)
    result = run(client, "status", handle.local_id or "")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "queued (IN_QUEUE), 4 ahead in the queue", "  log: waiting for a GPU"]


def test_cancel_says_the_provider_confirms_later_and_how_to_follow_the_job(
    tmp_path: Path,
) -> None:
    client, _ = queuey_client(tmp_path, submitted(), {"status": "CANCELLATION_REQUESTED"})
    handle = client.submit("queuey", REQUEST)
    result = run(client, "cancel", handle.local_id or "")
    assert result.exit_code == 0, result.output
    assert result.stdout == "cancelling (CANCELLATION_REQUESTED)\n"
    assert "confirms it later; the job may still finish (and be billed)" in result.stderr
    assert f"follow it with: lipbridge wait {handle.local_id}" in result.stderr


def test_cancel_of_a_job_outside_the_ledger_names_its_whole_handle(tmp_path: Path) -> None:
    client, _ = queuey_client(tmp_path, submitted(), {"status": "CANCELLATION_REQUESTED"},
                              ledger=False)
    handle = client.submit("queuey", REQUEST)
    result = run(client, "cancel", "queuey", handle.to_json())
    assert result.exit_code == 0, result.output
    assert "follow it with: lipbridge wait queuey '{" in result.stderr


def test_the_live_bar_prints_new_log_lines_above_it() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with Progress(console=console, transient=False) as live:
        show = StepReporter(live)
        for logs in (("a",), ("a", "b"), (), ("a", "b", "c")):
            show.poll(JobStatus(state=JobState.RUNNING, raw_status="IN_PROGRESS", logs=logs))
    printed = out.getvalue()
    assert [printed.count(f"log: {line}") for line in "abc"] == [1, 1, 1]


def test_the_batch_bar_shows_the_rows_waiting_in_each_providers_queue() -> None:
    bar = LiveBar("B1", PLANS, Tally(len(PLANS)), console=Console(file=io.StringIO()))
    queued = JobStatus(state=JobState.QUEUED, raw_status="IN_QUEUE", queue_position=5)
    bar.observe(1, "foxapi", queued)
    bar.observe(2, "foxapi", JobStatus(state=JobState.QUEUED, raw_status="q", queue_position=2))
    bar.observe(3, "jogg", JobStatus(state=JobState.RUNNING, raw_status="running"))
    line = bar.providers_line()
    assert "foxapi 2 in its queue (nearest 2 ahead)" in line
    assert "jogg none yet" in line
    bar.observe(2, "foxapi", JobStatus(state=JobState.RUNNING, raw_status="IN_PROGRESS"))
    assert "foxapi 1 in its queue (nearest 5 ahead)" in bar.providers_line()
    bar.row(ended(1, RowState.FAILED, "foxapi", error="no face"))
    assert "in its queue" not in bar.providers_line()


def test_piped_batch_lines_take_polls_and_print_nothing_for_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    PlainLines(3).observe(1, "foxapi", JobStatus(state=JobState.QUEUED, raw_status="q",
                                                 queue_position=1))
    assert capsys.readouterr().err == ""
