"""The ledger's commands: run, jobs ..., and job references by local id or saved handle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import KEY, FakeClock, make_registry
from scripted_server import Reply, ScriptedServer

from lipbridge import Client
from lipbridge.cli import ExitCode, cli
from lipbridge.ledger import Ledger, LocalState

MEDIA = ["--video", "https://cdn.invalid/v.mp4", "--audio", "https://cdn.invalid/a.wav"]
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8


@pytest.fixture
def client(acme_with_ledger: Client) -> Client:
    return acme_with_ledger


def run(client: Client, *args: str, stdin: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), obj=lambda: client, input=stdin)


def script_job(server: ScriptedServer, job_id: str = "j9") -> None:
    server.script("POST", "/v1/jobs", Reply.json({"id": job_id, "status": "queued"}))
    server.script("GET", f"/v1/jobs/{job_id}",
                  Reply.json({"id": job_id, "status": "processing", "progress": 30}),
                  Reply.json({"id": job_id, "status": "done", "progress": 100,
                              "output": {"url": f"{server.url}/files/out.mp4"},
                              "cost": {"credits": "18"}}))
    server.script("GET", "/files/out.mp4", Reply(body=VIDEO))


def only_job(client: Client) -> str:
    assert client.jobs is not None
    (job,) = client.jobs.list()
    return job.local_id


def test_run_prints_the_local_id_before_waiting_and_saves_the_video(
    client: Client, server: ScriptedServer, tmp_path: Path
) -> None:
    script_job(server)
    out = tmp_path / "out.mp4"
    result = run(client, "run", "acme", *MEDIA, "-o", str(out))
    assert result.exit_code == 0, result.output
    local_id = only_job(client)
    first = result.stderr.splitlines()[0]
    assert first == (f"job {local_id}: acme job j9; if this stops, resume with: "
                     f"lipbridge jobs resume {local_id}")
    assert f"saved: {out}" in result.stdout and out.read_bytes() == VIDEO
    assert client.jobs is not None and client.jobs.get(local_id).state is LocalState.DOWNLOADED


def test_run_with_a_bad_output_path_sends_and_records_nothing(
    client: Client, server: ScriptedServer, tmp_path: Path
) -> None:
    result = run(client, "run", "acme", *MEDIA, "-o", str(tmp_path / "missing" / "o.mp4"))
    assert result.exit_code == ExitCode.USAGE and "missing" in result.stderr
    assert server.seen == [] and client.jobs is not None and client.jobs.list() == []


def test_ctrl_c_during_a_run_exits_130_and_says_how_to_resume(
    client: Client, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    script_job(server)

    def interrupted(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(client.clock, "sleep", interrupted)
    result = run(client, "run", "acme", *MEDIA)
    local_id = only_job(client)
    assert result.exit_code == 130
    assert f"interrupted; job {local_id} is in the ledger" in result.stderr
    assert f"lipbridge jobs resume {local_id}" in result.stderr
    assert client.jobs is not None
    job = client.jobs.get(local_id)
    assert job.state is LocalState.QUEUED and job.lease_owner is None  # free to resume


def test_jobs_list_show_and_costs(client: Client, server: ScriptedServer) -> None:
    script_job(server)
    assert run(client, "run", "acme", *MEDIA).exit_code == 0
    local_id = only_job(client)
    listed = run(client, "jobs", "list")
    assert listed.stdout.splitlines()[1].split() == [local_id, "acme", "succeeded", "j9"]
    assert run(client, "jobs", "list", "--state", "running").stdout.count("\n") == 1
    rows = [json.loads(line) for line in run(client, "jobs", "list", "--json").stdout.splitlines()]
    assert [(r["local_id"], r["state"]) for r in rows] == [(local_id, "succeeded")]
    shown = run(client, "jobs", "show", local_id[:8]).stdout
    assert f"local id:     {local_id}" in shown and "billed:       18 credits" in shown
    assert "  status     succeeded (done) 100%" in shown.replace(shown.split("  status")[0], "")
    data = json.loads(run(client, "jobs", "show", local_id, "--json").stdout)
    assert [e["kind"] for e in data["events"]] == ["intent", "submitted", "status", "status"]
    costs = run(client, "jobs", "costs", "--by", "model")
    assert "acme/acme-1" in costs.stdout and "18 credits" in costs.stdout
    assert "1 unknown" in costs.stdout  # no estimate for URL inputs: never shown as 0
    bad = run(client, "jobs", "list", "--since", "yesterday")
    assert bad.exit_code == ExitCode.USAGE and "allowed: an ISO date" in bad.stderr


def test_status_wait_download_and_cancel_take_a_local_id(
    client: Client, server: ScriptedServer, tmp_path: Path
) -> None:
    script_job(server)
    assert run(client, "submit", "acme", *MEDIA).exit_code == 0
    local_id = only_job(client)
    assert run(client, "status", local_id).stdout.startswith("running (processing) 30%")
    waited = run(client, "wait", local_id[:10])
    assert waited.exit_code == 0 and "video: " in waited.stdout
    saved = run(client, "download", local_id, str(tmp_path / "v.mp4"))
    assert saved.exit_code == 0 and (tmp_path / "v.mp4").read_bytes() == VIDEO
    server.script("POST", "/v1/jobs/j9/cancel", Reply.json({"id": "j9", "status": "cancelled"}))
    assert run(client, "cancel", local_id).stdout == "cancelled (cancelled)\n"
    bad = run(client, "status", "acme", "j9", "extra")
    assert bad.exit_code == ExitCode.USAGE and "LOCAL_ID" in bad.stderr


def test_a_saved_handle_is_read_from_a_file_or_stdin(
    client: Client, server: ScriptedServer, tmp_path: Path
) -> None:
    script_job(server)
    handle = run(client, "submit", "acme", *MEDIA, "--json").stdout
    saved = tmp_path / "handle.json"
    saved.write_text(handle)
    assert run(client, "status", "--handle", str(saved)).stdout.startswith("running")
    assert run(client, "status", "--handle", "-", stdin=handle).stdout.startswith("succeeded")
    both = run(client, "status", "acme", "j9", "--handle", str(saved))
    assert both.exit_code == ExitCode.USAGE and "not both" in both.stderr


def test_an_unknown_job_is_resumed_only_after_the_user_reconciles_it(
    client: Client, server: ScriptedServer
) -> None:
    server.script("POST", "/v1/jobs", Reply(reset="after_body"))
    lost = run(client, "submit", "acme", *MEDIA)
    local_id = only_job(client)
    assert lost.exit_code == ExitCode.PROVIDER
    assert f"`lipbridge jobs resume {local_id}` settles it" in lost.stderr
    stuck = run(client, "jobs", "resume", "--all")
    assert stuck.exit_code == ExitCode.PROVIDER
    assert f"lipbridge jobs reconcile {local_id} --provider-job JOB_ID" in stuck.stderr
    script_job(server, "j4")
    adopted = run(client, "jobs", "reconcile", local_id, "--provider-job", "j4")
    assert adopted.stdout == f"{local_id}  running as acme job j4\n"
    done = run(client, "jobs", "resume", local_id)
    assert done.exit_code == 0 and done.stdout == f"{local_id}  succeeded\n"
    assert len(server.requests("POST")) == 1  # the submit was never sent again


def test_a_job_driven_elsewhere_exits_busy(
    client: Client, server: ScriptedServer, tmp_path: Path, clock: FakeClock
) -> None:
    script_job(server)
    run(client, "submit", "acme", *MEDIA)
    local_id = only_job(client)
    with Ledger(tmp_path / "jobs.sqlite", clock=clock) as other, other.driving(local_id):
        busy = run(client, "wait", local_id)
    assert busy.exit_code == ExitCode.BUSY and "is being driven by process" in busy.stderr


def test_a_corrupt_ledger_is_a_configuration_error_before_anything_is_sent(
    standard_site: Path, server: ScriptedServer, tmp_path: Path
) -> None:
    ledger = tmp_path / "jobs.sqlite"
    ledger.write_bytes(b"not a ledger" * 100)
    environ = {"LIPBRIDGE_ACME_API_KEY": KEY, "LIPBRIDGE_ACME_BASE_URL": server.url}
    with Client(registry=make_registry(standard_site), environ=environ, ledger=ledger) as c:
        result = run(c, "run", "acme", *MEDIA)
    assert result.exit_code == ExitCode.CONFIGURATION
    assert f"error: the job ledger {ledger} is corrupt" in result.stderr
    assert server.seen == [] and ledger.read_bytes() == b"not a ledger" * 100


def test_the_ledger_option_and_variable_choose_the_file(tmp_path: Path) -> None:
    env = {**os.environ, "LIPBRIDGE_LEDGER": str(tmp_path / "from-env.sqlite")}
    code = "from lipbridge.cli import main; main()"
    for extra in ([], ["--ledger", str(tmp_path / "from-option.sqlite")]):
        listed = subprocess.run([sys.executable, "-c", code, *extra, "jobs", "list"],
                                env=env, capture_output=True, text=True, timeout=60)
        assert listed.returncode == 0, listed.stderr
    assert (tmp_path / "from-env.sqlite").exists() and (tmp_path / "from-option.sqlite").exists()
