"""The command's finish: errors as JSON, hints in its own words, one-line warnings, help for
every option, amounts one way, download progress, and no output file overwritten unasked."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import textwrap
from decimal import Decimal
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result
from rich.console import Console
from scripted_server import Reply, ScriptedServer

from lipbridge import Client, Registry
from lipbridge.cli import ExitCode, cli
from lipbridge.cli.jobs import describe
from lipbridge.cli.live import TransferColumn, live_progress, transfer_text
from lipbridge.cli.render import StepReporter, amount, dollars, money, spread
from lipbridge.cli.report import CLI_WORDS, MEANINGS, show_warning
from lipbridge.download import watching
from lipbridge.errors import TERMS, UnsupportedOption
from lipbridge.models import BilledUsage, JobResult, JobState, JobStatus

MEDIA = ["--video", "https://cdn.invalid/v.mp4", "--audio", "https://cdn.invalid/a.wav"]
VIDEO = b"\x00\x00\x00\x18ftypmp42" * 1000


def run(client: Client, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(
        cli, list(args), obj=lambda: client, input=input, prog_name="lipbridge"
    )


def error_object(result: Result) -> dict[str, object]:
    """The one JSON object a command printed on stderr for its error."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    found: dict[str, object] = json.loads(lines[0])
    return found


def script_finished(server: ScriptedServer) -> None:
    done = {"id": "j9", "status": "done", "output": {"url": f"{server.url}/files/out.mp4"}}
    server.script("GET", "/v1/jobs/j9", Reply.json(done))
    server.script("GET", "/files/out.mp4", Reply(body=VIDEO))


# --- amounts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (Decimal("0.240000000"), "USD", "0.24"),  # a product's digits trimmed to the cents
        (Decimal("0.16"), "USD", "0.16"),
        (Decimal("0.2"), "USD", "0.20"),  # a currency keeps its cents
        (Decimal("0.0125"), "USD", "0.0125"),  # more digits where they carry information
        (Decimal("0.012500"), "USD", "0.0125"),
        (Decimal(320000), "credits", "320000"),
        (Decimal("1E+3"), "USD", "1000.00"),  # never an exponent
        (Decimal("1.00"), "credits", "1.00"),  # given to the cent (JoggAI's 0.01 quantum)
        (Decimal("0.040000"), "credits", "0.04"),
        (Decimal("4.0"), "credits", "4"),
        (Decimal("0E-9"), "USD", "0.00"),
        (None, "USD", "-"),
    ],
)
def test_an_amount_reads_one_way(value: Decimal | None, unit: str, text: str) -> None:
    assert money(value, unit) == text


def test_amounts_with_units_dollars_and_ranges() -> None:
    assert amount(Decimal("0.04"), "credits") == "0.04 credits"
    assert amount(None, "credits") == "-"
    assert dollars(Decimal("0.240000000")) == "$0.24"
    assert dollars(Decimal("0.0125")) == "$0.0125"
    assert spread(Decimal(0), Decimal("0.129675"), "USD") == "0.00 to 0.129675"


def test_a_bill_in_usd_reads_as_cents_not_nine_digits() -> None:
    bill = BilledUsage(amount=Decimal(320000), unit="credits", usd=Decimal("0.240000000"))
    result = JobResult(video_url="https://cdn.invalid/out.mp4", billed=bill)
    assert describe(result).splitlines()[-1] == "billed: 320000 credits ($0.24)"


def jogg_client() -> Client:
    return Client(registry=Registry(environ={"LIPBRIDGE_PLUGINS": "jogg"}), environ={})


def test_joggai_prices_in_its_only_sync_mode_with_the_two_decimals_its_docs_give() -> None:
    # No --sync-mode: JoggAI's lipsync has one (bounce), so it is priced in it.
    result = run(
        jogg_client(), "estimate", "jogg", "--video-duration", "125", "--audio-duration", "125"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("jogg/lipsync: 1.00 credits, 1 credit per 125 s")
    # A submit without --sync-mode gets JoggAI's own default playback, so the price says how.
    assert "submit with --sync-mode bounce for this price" in result.stdout
    short = run(
        jogg_client(),
        "estimate",
        "jogg",
        "--video-duration",
        "10",
        "--audio-duration",
        "10",
        "--json",
    )
    assert json.loads(short.stdout)["amount"] == "0.08"


def test_a_model_with_several_sync_modes_is_not_given_one(client: Client) -> None:
    estimate = run(client, "estimate", "acme", "--audio-duration", "4", "--json")
    assert estimate.exit_code == 0, estimate.output
    assert "sync mode" not in estimate.stdout  # acme-1's own default prices it, as before


# --- errors ----------------------------------------------------------------------------------


def test_an_error_under_json_is_one_object_on_stderr(client: Client) -> None:
    result = run(client, "estimate", "nobody", "--json")
    assert result.exit_code == ExitCode.USAGE
    assert result.stdout == ""
    found = error_object(result)
    assert found["error"] == "UnknownProvider" and found["exit_code"] == 2
    assert found["exit"] == "USAGE" and found["hint"] is None
    assert "known providers: acme, globex, keyed" in str(found["message"])


def test_a_usage_error_under_json_is_an_object_too(client: Client) -> None:
    result = run(client, "estimate", "--json")  # neither PROVIDER nor --all
    assert result.exit_code == ExitCode.USAGE
    found = error_object(result)
    assert found["error"] == "UsageError" and found["exit_code"] == 2
    assert found["hint"] == "see: lipbridge estimate --help"


def test_a_hint_is_said_in_the_command_s_words(client: Client, server: ScriptedServer) -> None:
    args = ["submit", "acme", *MEDIA, "--model", "acme-lite", "--temperature", "0.5"]
    text = run(client, *args)
    assert text.exit_code == ExitCode.USAGE
    assert text.stderr == (
        "error: temperature=0.5 is not supported by acme/acme-lite; allowed: leave it unset; "
        "to leave it out with a warning instead, pass --drop-unsupported\n"
    )
    found = error_object(run(client, *args, "--json"))
    assert found["hint"] == "to leave it out with a warning instead, pass --drop-unsupported"
    assert found["field"] == "temperature" and found["error"] == "UnsupportedOption"
    assert server.requests() == []


def test_a_hint_names_only_options_the_command_has(client: Client) -> None:
    args = ["--model", "acme-lite", "--sync-mode", "bounce", "--audio-duration", "4"]
    estimate = run(client, "estimate", "acme", *args)  # estimate has no --drop-unsupported
    assert estimate.exit_code == ExitCode.USAGE
    assert estimate.stderr.startswith("error: sync_mode='bounce' is not supported")
    assert "drop" not in estimate.stderr
    compared = run(client, "estimate", "--all", *args, "--json")
    assert all("drop" not in row["reason"] for row in json.loads(compared.stdout))


def test_python_callers_keep_the_python_spelling() -> None:
    error = UnsupportedOption("x", hint=("to drop it, ", TERMS[0]))
    assert str(error) == "x; to drop it, pass drop_unsupported=True"
    assert error.summary == "x"


def test_every_hint_term_has_command_words() -> None:
    for term in TERMS:
        words = CLI_WORDS[term.name]
        assert "=True" not in words and "Client(" not in words and "JobRequest" not in words


def test_request_options_named_in_hints_exist() -> None:
    options = set()
    for name in ("submit", "estimate"):  # the lengths to price are estimate's
        command = cli.get_command(click.Context(cli), name)
        assert command is not None
        options |= {opt for param in command.params for opt in param.opts}
    named = re.findall(r"--[a-z-]+", " ".join(CLI_WORDS.values()))
    assert named and set(named) <= options


def test_a_provider_error_under_json_says_who_answered_what(
    client: Client, server: ScriptedServer
) -> None:
    refusal = {"error": {"message": "bad key", "code": "auth"}}
    server.script("POST", "/v1/jobs", Reply.json(refusal, 401))
    found = error_object(run(client, "submit", "acme", *MEDIA, "--json"))
    assert found["error"] == "AuthenticationError" and found["exit_code"] == 4
    assert (found["provider"], found["http_status"], found["code"]) == ("acme", 401, "auth")


def test_a_timeout_under_json_carries_the_handle(client: Client, server: ScriptedServer) -> None:
    server.script("GET", "/v1/jobs/j9", Reply.json({"id": "j9", "status": "processing"}))
    result = run(client, "wait", "acme", "j9", "--timeout", "30", "--json")
    assert result.exit_code == ExitCode.TIMEOUT
    found = error_object(result)
    assert found["error"] == "WaitTimeout"
    assert isinstance(found["handle"], dict) and found["handle"]["job_id"] == "j9"
    assert str(found["hint"]).startswith("resume with this handle: {")


# --- warnings -------------------------------------------------------------------------------


def test_a_warning_is_one_plain_line(capsys: pytest.CaptureFixture[str]) -> None:
    show_warning(UserWarning("temperature=0.5 dropped"), UserWarning, "/x/validation.py", 9)
    assert capsys.readouterr().err == "warning: temperature=0.5 dropped\n"


def test_the_console_script_shows_warnings_plainly_and_the_library_does_not() -> None:
    import warnings

    assert warnings.showwarning is not show_warning  # importing the CLI changes nothing
    script = textwrap.dedent(
        """
        import sys, warnings
        import click
        from lipbridge import cli as command

        @click.command()
        def noisy():
            warnings.warn("temperature=0.5 dropped: acme does not support it", UserWarning)

        command.cli.add_command(noisy, "noisy")
        sys.argv = ["lipbridge", "noisy"]
        command.main()
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "warning: temperature=0.5 dropped: acme does not support it\n"


# --- help ------------------------------------------------------------------------------------


def commands(command: click.Command, path: str, ctx: click.Context | None):  # type: ignore[no-untyped-def]
    """Every command under ``command``, with its path, extensions' included."""
    yield path, command
    if isinstance(command, click.Group):
        sub = click.Context(command, parent=ctx, info_name=path.split()[-1])
        for name in command.list_commands(sub):
            found = command.get_command(sub, name)
            assert found is not None, f"{path} {name}"
            yield from commands(found, f"{path} {name}", sub)


def test_every_option_and_argument_of_every_command_is_explained() -> None:
    missing = []
    for path, command in commands(cli, "lipbridge", None):
        text = command.help or ""
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden and not param.help:
                missing.append(f"{path} {param.opts[0]}: no help")
            if isinstance(param, click.Argument):
                shown = param.metavar if param.metavar is not None else param.name.upper()
                words = re.findall(r"[A-Z][A-Z_]+", shown)
                missing += [f"{path} {w}: not in its help" for w in words if w not in text]
    assert missing == []


def test_help_says_where_keys_come_from_and_lists_every_exit_code() -> None:
    result = CliRunner().invoke(cli, ["--help"], terminal_width=100)
    assert result.exit_code == 0
    text = result.output
    assert "LIPBRIDGE_<PROVIDER>_API_KEY" in text and "lipbridge keys set PROVIDER" in text
    for code in ExitCode:
        assert re.search(rf"^\s+{code.value}\s+{code.name}\s+\S", text, re.MULTILINE), code
    assert set(MEANINGS) == set(ExitCode)


# --- output files ---------------------------------------------------------------------------


def test_an_existing_output_needs_force_without_a_terminal(
    client: Client, server: ScriptedServer, tmp_path: Path
) -> None:
    out = tmp_path / "out.mp4"
    out.write_bytes(b"mine")
    for args in (
        ["download", "acme", "j9", str(out)],
        ["submit", "acme", *MEDIA, "--output", str(out)],
        ["run", "acme", *MEDIA, "-o", str(out)],
        ["wait", "acme", "j9", "--output", str(out)],
        ["jobs", "download", "01JF2Q8W3V6Z5X4Y3A2B1C0D9E", str(out)],
    ):
        result = run(client, *args)
        assert result.exit_code == ExitCode.USAGE, result.output
        assert result.stderr.startswith(f"error: output='{out}' exists; pass --force")
    assert out.read_bytes() == b"mine" and server.requests() == []  # nothing sent or paid
    script_finished(server)
    forced = run(client, "download", "acme", "j9", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert out.read_bytes() == VIDEO


@pytest.mark.parametrize(
    ("answer", "code", "content"), [("y\n", 0, VIDEO), ("n\n", ExitCode.USAGE, b"mine")]
)
def test_at_a_terminal_overwriting_is_asked(
    client: Client,
    server: ScriptedServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    code: int,
    content: bytes,
) -> None:
    monkeypatch.setattr("lipbridge.cli.options.interactive", lambda: True)
    script_finished(server)
    out = tmp_path / "out.mp4"
    out.write_bytes(b"mine")
    result = run(client, "download", "acme", "j9", str(out), input=answer)
    assert result.exit_code == code, result.output
    assert f"{out} exists; overwrite it? [y/N]" in result.stderr
    assert out.read_bytes() == content


def test_downloading_a_running_job_says_to_wait_for_it(
    client: Client, server: ScriptedServer, tmp_path: Path
) -> None:
    server.script("GET", "/v1/jobs/j9", Reply.json({"id": "j9", "status": "processing"}))
    out = tmp_path / "out.mp4"
    result = run(client, "download", "acme", "j9", str(out))
    assert result.exit_code == ExitCode.USAGE
    assert "job j9 is running (processing); it has no video yet" in result.stderr
    assert f"wait for it and save it with: lipbridge wait acme j9 --output {out}" in result.stderr
    assert not out.exists()


# --- progress ---------------------------------------------------------------------------------


def test_a_download_reports_its_bytes(
    client: Client, server: ScriptedServer, tmp_path: Path
) -> None:
    server.script("GET", "/files/out.mp4", Reply(body=VIDEO))
    seen: list[tuple[int, int | None]] = []
    with watching(lambda done, total: seen.append((done, total))):
        client.download(f"{server.url}/files/out.mp4", tmp_path / "out.mp4")
    assert seen[0] == (0, len(VIDEO)) and seen[-1] == (len(VIDEO), len(VIDEO))
    client.download(f"{server.url}/files/out.mp4", tmp_path / "again.mp4")
    assert len(seen) == 2  # outside the block nobody is told


def test_transfer_text_gives_bytes_and_speed() -> None:
    assert transfer_text(1_200_000, 3_400_000, 2_100_000.0) == "1.2 MB/3.4 MB at 2.1 MB/s"
    assert transfer_text(500, None, None) == "500 bytes"


def status(progress: float | None) -> JobStatus:
    return JobStatus(state=JobState.RUNNING, raw_status="processing", progress=progress)


def test_the_bar_pulses_without_a_percentage_and_shows_bytes_when_downloading() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    with live_progress(console) as live:
        reporter = StepReporter(live)
        task = live.tasks[0]
        reporter.poll(status(None))
        assert task.total is None  # rich draws a pulsing bar
        reporter.poll(status(40))
        assert (task.total, task.completed) == (100, 40)
        reporter.transfer(1_000_000, 4_000_000)
        assert task.description == "downloading"
        assert "1.0 MB/4.0 MB" in str(TransferColumn().render(task))
        reporter.transfer(2_000_000, None)  # no Content-Length: pulsing again
        assert task.total is None
        reporter.done()
        assert task.finished
