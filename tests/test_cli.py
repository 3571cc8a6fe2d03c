"""The ``lipbridge`` command: output, JSON, exit codes, progress and extensions."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import click
import lipbridge_testprov as testprov
import pytest
from click.testing import CliRunner
from conftest import KEY, FakeClock, make_registry, write_dist
from scripted_server import Reply, ScriptedServer

from lipbridge import Client, Registry
from lipbridge.cli import ExitCode, cli
from lipbridge.cli.app import add_extensions
from lipbridge.plugin import hookimpl

SUPPORT = Path(__file__).parent / "support"
MEDIA = ["--video", "https://cdn.invalid/v.mp4", "--audio", "https://cdn.invalid/a.wav"]


def run(client: Client, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args), obj=lambda: client)


def script_job(server: ScriptedServer, final: str = "done") -> None:
    server.script("POST", "/v1/jobs", Reply.json({"id": "j9", "status": "queued"}))
    finished = {
        "id": "j9", "status": final, "progress": 100,
        "output": {"url": f"{server.url}/files/out.mp4", "duration": 3.5},
        "error": {"code": "bad_audio", "message": "audio unreadable"},
        "cost": {"credits": "18"},
    }
    server.script("GET", "/v1/jobs/j9",
                  Reply.json({"id": "j9", "status": "processing", "progress": 30}),
                  Reply.json(finished))
    server.script("GET", "/files/out.mp4", Reply(body=b"\x00\x00\x00\x18ftypmp42" * 1000))


def test_providers_lists_models_and_capabilities(client: Client) -> None:
    result = run(client, "providers", "--json")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert set(rows) == {"acme", "globex", "keyed"}
    models = {m["name"]: m for m in rows["acme"]["info"]["models"]}
    assert models["acme-lite"]["tts_voices"] == ["alice", "bob"]
    assert models["acme-1"]["cancel"] is True
    text = run(client, "providers").output
    assert "acme-1 (default)" in text and "lipbridge-globex" in text


def test_providers_shows_broken_plugins(site: Path) -> None:
    write_dist(site, "lipbridge-broken", {"broken": "lipbridge_testbroken:plugin"})
    write_dist(site, "lipbridge-acme", {"acme": "lipbridge_testprov:acme"})
    client = Client(registry=make_registry(site), environ={})
    result = run(client, "providers")
    assert result.exit_code == 0
    assert "Not usable" in result.output and "needs libfoo" in result.output
    assert "Acme" in result.output


def test_providers_with_nothing_installed_says_how_to_install(tmp_path: Path) -> None:
    result = run(Client(registry=make_registry(tmp_path), environ={}), "providers")
    assert result.exit_code == 0
    assert "No lipbridge provider plugins are installed" in result.output
    # not a bare `pip install lipbridge-<provider>`: the plugins are not on PyPI
    assert "pip install ./plugins/<provider>" in result.output
    assert "pip install --find-links dist lipbridge-<provider>" in result.output


def test_submit_prints_the_handle(client: Client, server: ScriptedServer) -> None:
    script_job(server)
    result = run(client, "submit", "acme", *MEDIA, "--sync-mode", "cut_off",
                 "--option", "segments=[1,2]", "--option", "note=plain", "--json")
    assert result.exit_code == 0, result.output
    handle = json.loads(result.stdout)
    assert handle["job_id"] == "j9" and handle["provider"] == "acme"
    body = server.requests("POST")[0].json()
    assert body["segments"] == [1, 2] and body["note"] == "plain" and body["mode"] == "cut_off"


def test_submit_wait_output_downloads(client: Client, server: ScriptedServer,
                                      tmp_path: Path) -> None:
    script_job(server)
    out = tmp_path / "out.mp4"
    result = run(client, "submit", "acme", *MEDIA, "--wait", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\x00\x00\x00\x18ftyp")
    assert "submitted acme job j9" in result.output
    assert "waiting: running (processing) 30%" in result.output  # plain lines when piped
    assert "billed: 18 credits" in result.output and f"saved: {out}" in result.output
    assert "authorization" not in server.requests("GET", "/files/out.mp4")[0].headers


def test_status_wait_cancel_download(client: Client, server: ScriptedServer,
                                     tmp_path: Path) -> None:
    script_job(server)
    server.script("POST", "/v1/jobs/j9/cancel", Reply.json({"id": "j9", "status": "cancelled"}))
    assert run(client, "status", "acme", "j9").output.startswith("running (processing) 30%")
    status = json.loads(run(client, "status", "acme", "j9", "--json").stdout)
    assert status["state"] == "succeeded" and status["result"]["duration_seconds"] == 3.5
    waited = json.loads(run(client, "wait", "acme", "j9", "--json").stdout)
    assert waited["result"]["video_url"].endswith("/files/out.mp4")
    assert run(client, "cancel", "acme", "j9").output.strip() == "cancelled (cancelled)"
    saved = run(client, "download", "acme", "j9", str(tmp_path / "d.mp4"))
    assert saved.exit_code == 0 and (tmp_path / "d.mp4").stat().st_size == 12000


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["submit", "acme", "--video", "ftp://x/v.mp4", "--audio", "https://a/b.wav"],
         ExitCode.USAGE, "video='ftp://x/v.mp4' uses scheme 'ftp'"),
        (["submit", "acme", *MEDIA, "--temperature", "2"], ExitCode.USAGE, "temperature=2.0"),
        (["submit", "acme", *MEDIA, "--model", "acme-lite", "--temperature", "0.5"],
         ExitCode.USAGE, "temperature=0.5 is not supported"),
        (["submit", "nobody", *MEDIA], ExitCode.USAGE, "known providers: acme, globex, keyed"),
        (["cancel", "acme", "j9", "--model", "acme-lite"], ExitCode.USAGE, "has no cancel"),
        (["submit", "acme", "--video", "https://a/v.mp4"], ExitCode.USAGE, "neither audio nor"),
        (["submit", "acme", *MEDIA, "--text", "hi"], ExitCode.USAGE, "--text and --voice"),
    ],
)
def test_bad_input_is_one_line_and_exit_code(
    client: Client, server: ScriptedServer, args: list[str], code: int, message: str
) -> None:
    result = run(client, *args)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert server.requests() == []  # nothing was sent


def test_missing_key_is_a_configuration_error(standard_site: Path) -> None:
    client = Client(registry=make_registry(standard_site), environ={})
    result = run(client, "submit", "acme", *MEDIA)
    assert result.exit_code == ExitCode.CONFIGURATION
    assert "LIPBRIDGE_ACME_API_KEY" in result.output


def test_provider_error_exit_code_and_no_key_in_output(
    client: Client, server: ScriptedServer
) -> None:
    server.script("POST", "/v1/jobs", Reply.json({"error": {"message": "bad key"}}, 401))
    result = run(client, "submit", "acme", *MEDIA)
    assert result.exit_code == ExitCode.PROVIDER
    assert "acme: HTTP 401: bad key" in result.output
    assert KEY not in result.output


def test_job_failed_exit_code(client: Client, server: ScriptedServer) -> None:
    script_job(server, final="error")
    result = run(client, "submit", "acme", *MEDIA, "--wait")
    assert result.exit_code == ExitCode.JOB_FAILED
    assert "audio unreadable" in result.output


def test_timeout_exit_code_prints_the_handle(client: Client, server: ScriptedServer) -> None:
    script_job(server)
    server.script("GET", "/v1/jobs/j9", Reply.json({"id": "j9", "status": "processing"}))
    result = run(client, "wait", "acme", "j9", "--timeout", "30")
    assert result.exit_code == ExitCode.TIMEOUT
    assert '"job_id": "j9"' in result.output and "resume with this handle" in result.output


def test_debug_shows_the_traceback(client: Client) -> None:
    result = run(client, "--debug", "submit", "nobody", *MEDIA)
    assert result.exit_code != 0
    assert type(result.exception).__name__ == "UnknownProvider"


def test_estimate_one_and_all(client: Client) -> None:
    one = run(client, "estimate", "acme", "--audio-duration", "4.2", "--json")
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout)["amount"] == "25"  # 5 whole seconds x 5 credits
    table = json.loads(run(client, "estimate", "--all", "--audio-duration", "4",
                           "--video-duration", "9", "--sync-mode", "cut_off", "--json").stdout)
    rows = {row["provider"]: row for row in table}
    assert rows["globex"]["cheapest"] and not rows["acme"]["cheapest"]
    assert rows["globex"]["estimate"]["usd"] == "0.16"  # 4 s x 4 credits x $0.01
    text = run(client, "estimate", "--all", "--audio-duration", "4").output
    assert "cheapest" in text
    lite = json.loads(run(client, "estimate", "--all", "--audio-duration", "4",
                          "--sync-mode", "bounce", "--model", "acme-lite", "--json").stdout)
    assert all(row["estimate"] is None and "not supported" in row["reason"] for row in lite)
    both = run(client, "estimate", "acme", "--all")
    assert both.exit_code == ExitCode.USAGE


def test_hook_lipbridge_add_commands(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ext = site / "lipbridge_testext.py"
    ext.write_text(
        "import click\nfrom lipbridge.plugin import hookimpl\n\n"
        "@hookimpl\ndef lipbridge_add_commands(cli):\n"
        "    @cli.command()\n    def hello():\n        click.echo('hello from an extension')\n"
    )
    info = write_dist(site, "lipbridge-testext", {}) / "lipbridge_testext-1.0.dist-info"
    (info / "entry_points.txt").write_text("[lipbridge.extensions]\nhello = lipbridge_testext\n")
    write_dist(site, "lipbridge-badext", {})
    (site / "lipbridge_badext-1.0.dist-info" / "entry_points.txt").write_text(
        "[lipbridge.extensions]\nbad = lipbridge_missing_module\n"
    )
    monkeypatch.syspath_prepend(str(site))
    group = click.Group("lipbridge")
    with pytest.warns(DeprecationWarning, match="'hello' adds commands through"):
        problems = add_extensions(group)
    assert "hello" in group.commands
    assert len(problems) == 1 and "'bad' not loaded" in problems[0]
    assert CliRunner().invoke(group, ["hello"]).output == "hello from an extension\n"


def test_the_installed_command_runs(standard_site: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(standard_site), str(SUPPORT)])}
    code = "from lipbridge.cli import main; main()"
    listed = subprocess.run([sys.executable, "-c", code, "providers", "--json"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0, listed.stderr
    # Other installed plugins (the example third-party plugin) may be listed too.
    assert {r["name"] for r in json.loads(listed.stdout)} >= {"acme", "globex", "keyed"}
    unknown = subprocess.run([sys.executable, "-c", code, "status", "nobody", "x"], env=env,
                             capture_output=True, text=True, timeout=60)
    assert unknown.returncode == ExitCode.USAGE
    assert unknown.stderr.startswith("error: unknown provider 'nobody'")
    assert "Traceback" not in unknown.stderr


def test_a_result_is_described_with_every_field_it_has() -> None:
    import datetime as dt
    from decimal import Decimal

    from lipbridge import BilledUsage, JobResult
    from lipbridge.cli.jobs import describe

    result = JobResult(
        video_url="https://cdn.invalid/out.mp4", cover_url="https://cdn.invalid/cover.jpg",
        duration_seconds=12.5, expires_at=dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc),
        billed=BilledUsage(amount=Decimal("0.10"), unit="credits"),
    )
    assert describe(result).splitlines() == [
        "video: https://cdn.invalid/out.mp4",
        "cover: https://cdn.invalid/cover.jpg",
        "duration: 12.5 s",
        "url expires: 2026-01-02T00:00:00+00:00",
        "billed: 0.10 credits",
    ]
    assert describe(JobResult(video_url="https://cdn.invalid/o.mp4")) == (
        "video: https://cdn.invalid/o.mp4"
    )


# --- a job shown again keeps what its handle carries (issue 11, section 6) -------------------

GENERATIONS = "/v2/video/generations"


def aimlapi_client(server: ScriptedServer, clock: FakeClock) -> Client:
    """The AI/ML API plugin keeps what the submit was billed in the handle's resume data."""
    environ = {"LIPBRIDGE_AIMLAPI_API_KEY": KEY, "LIPBRIDGE_AIMLAPI_BASE_URL": server.url}
    return Client(registry=Registry(environ={}), environ=environ, clock=clock)


def script_generation(server: ScriptedServer) -> None:
    billed = {"x-aimlapi-credits-used": "320000", "x-aimlapi-usd-spent": "0.16"}
    server.script("POST", GENERATIONS, Reply.json({"id": "gen-1", "status": "queued"}, **billed))
    done = {"id": "gen-1", "status": "completed", "video": {"url": f"{server.url}/o.mp4"}}
    server.script("GET", f"{GENERATIONS}?generation_id=gen-1", Reply.json(done))


def follow_up(output: str) -> list[str]:
    """The arguments of the ``follow it with: lipbridge ...`` line, as a shell splits them."""
    line = next(x for x in output.splitlines() if x.startswith("follow it with: "))
    return shlex.split(line.removeprefix("follow it with: lipbridge "))


def test_the_follow_up_of_a_submit_shows_what_was_billed_again(
    server: ScriptedServer, clock: FakeClock, tmp_path: Path
) -> None:
    script_generation(server)
    with aimlapi_client(server, clock) as client:
        submitted = run(client, "submit", "aimlapi", *MEDIA)
        assert submitted.exit_code == 0, submitted.output
        command, provider, handle = follow_up(submitted.output)
        assert (command, provider) == ("wait", "aimlapi")
        assert json.loads(handle)["resume"] == {"credits_used": "320000", "usd_spent": "0.16"}
        for command in ("status", "wait"):
            shown_again = run(client, command, "aimlapi", handle)
            assert shown_again.exit_code == 0, shown_again.output
            assert "billed: 320000 credits ($0.16)" in shown_again.output
        server.script("GET", "/o.mp4", Reply(body=b"video"))
        saved = run(client, "download", "aimlapi", handle, str(tmp_path / "o.mp4"), "--json")
        assert saved.exit_code == 0, saved.output
        assert json.loads(saved.stdout)["result"]["billed"]["usd"] == "0.16"
        bare = run(client, "status", "aimlapi", "gen-1")  # what a bare id loses
        assert bare.exit_code == 0 and "billed" not in bare.output


def test_submit_wait_gives_the_handle_first_where_it_carries_resume_data(
    server: ScriptedServer, clock: FakeClock
) -> None:
    script_generation(server)
    with aimlapi_client(server, clock) as client:
        waited = run(client, "submit", "aimlapi", *MEDIA, "--wait")
    assert waited.exit_code == 0, waited.output
    assert json.loads(follow_up(waited.stderr)[2])["job_id"] == "gen-1"
    assert "billed: 320000 credits ($0.16)" in waited.stdout


def test_a_handle_without_resume_data_is_followed_by_its_id(
    client: Client, server: ScriptedServer
) -> None:
    script_job(server)
    assert follow_up(run(client, "submit", "acme", *MEDIA).output) == ["wait", "acme", "j9"]
    waited = run(client, "submit", "acme", *MEDIA, "--wait")
    assert "follow it with" not in waited.output  # the id on stderr is all there is


def test_the_handle_printed_at_a_timeout_resumes_the_job(
    client: Client, server: ScriptedServer
) -> None:
    script_job(server)
    server.script("GET", "/v1/jobs/j9", Reply.json({"id": "j9", "status": "processing"}))
    timed_out = run(client, "wait", "acme", "j9", "--timeout", "30")
    assert timed_out.exit_code == ExitCode.TIMEOUT
    handle = timed_out.stderr.split("resume with this handle: ", 1)[1].strip()
    script_job(server)
    server.script("GET", "/v1/jobs/j9", Reply.json({"id": "j9", "status": "done", "output": {
        "url": f"{server.url}/files/out.mp4"}, "cost": {"credits": "18"}}))
    resumed = run(client, "wait", "acme", handle)
    assert resumed.exit_code == 0, resumed.output
    assert "billed: 18 credits" in resumed.output


def handle_json(provider: str, job_id: str = "j9") -> str:
    return json.dumps({"provider": provider, "job_id": job_id, "model": "acme-1",
                       "created_at": "2026-11-21T12:00:00+00:00", "resume": {}})


@pytest.mark.parametrize(
    ("job_id", "extra", "says"),
    [
        ('{"job_id": "j9"', [], "neither a job id nor a job handle"),
        ('{"job_id": "j9"}', [], "neither a job id nor a job handle"),
        (handle_json("globex"), [], "is the handle of a job on globex, not on acme"),
        (handle_json("acme"), ["--model", "acme-lite"], "the handle's model acme-1"),
        (handle_json("acme", job_id=" "), [], "empty job id"),
    ],
    ids=["broken-json", "not-a-handle", "other-provider", "other-model", "empty-id"],
)
def test_a_handle_that_does_not_fit_the_command_is_refused(
    client: Client, server: ScriptedServer, job_id: str, extra: list[str], says: str
) -> None:
    for command in ("status", "wait", "cancel"):
        result = run(client, command, "acme", job_id, *extra)
        assert result.exit_code == ExitCode.USAGE, result.output
        assert says in result.output and "Traceback" not in result.output
    assert server.requests() == []


class ReturnsADict(testprov.AcmeLike):
    @hookimpl
    def lipbridge_poll(self, handle, ctx):  # type: ignore[no-untyped-def]
        return {"status": "done"}


def test_a_plugin_bug_exits_1(client: Client) -> None:
    client.registry.register("wrong", ReturnsADict("wrong"))
    result = run(client, "status", "wrong", "j1")
    assert result.exit_code == ExitCode.ERROR == 1
    assert "wrong: lipbridge_poll returned dict, not JobStatus" in result.output


def test_an_estimate_that_is_a_range_reads_as_one() -> None:
    from decimal import Decimal

    from lipbridge.cli.render import spread

    assert spread(Decimal("0"), Decimal("0.129675")) == "0 to 0.129675"
    assert spread(None, Decimal("0.2")) == spread(Decimal("0.2"), Decimal("0.2")) == "0.2"
    assert spread(None, Decimal("0.2"), "USD") == "0.20"  # a currency keeps its cents
    assert spread(None, None) == "-"
