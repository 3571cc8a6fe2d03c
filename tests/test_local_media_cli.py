"""Local media on the command line (issue 15): `run` and `submit` say per local file how
it reached the provider, `jobs show` lists the routes with any signature masked, a file
with no route is refused before anything is sent, and `estimate` measures local files
for every provider."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import test_local_media as python_api
from click.testing import CliRunner, Result
from scripted_server import ScriptedServer
from test_local_media import Api, sha

from lipbridge import Client
from lipbridge.cli import ExitCode, cli
from lipbridge.staging import Staging

# The Python tests' fixtures: the same providers, media and scripted API.
api, files, make_client, plugins = (
    python_api.api, python_api.files, python_api.make_client, python_api.plugins
)


def run(client: Client, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), obj=lambda: client)


def media(files: dict[str, Path]) -> list[str]:
    return ["--video", str(files["face"]), "--audio", str(files["speech"])]


def test_run_says_how_each_file_went_and_jobs_show_keeps_it(
    make_client: Callable[..., Client], api: Api, files: dict[str, Path]
) -> None:
    client = make_client()
    first = run(client, "run", "uploader", *media(files))
    assert first.exit_code == 0, first.output
    assert first.stderr.splitlines()[:2] == [
        "video face.mp4: uploaded to uploader (expires 2026-11-22 12:00 UTC)",
        "audio speech.wav: uploaded to uploader (expires 2026-11-22 12:00 UTC)",
    ]
    second = run(client, "submit", "uploader", *media(files))
    assert second.exit_code == 0, second.output
    assert second.stderr.splitlines()[0] == (
        "video face.mp4: reused upload to uploader (expires 2026-11-22 12:00 UTC)")
    assert client.jobs is not None
    jobs = [client.jobs.get(job.local_id) for job in client.jobs.list()]
    (local_id,) = [job.local_id for job in jobs if not job.routes[0].reused]  # the first
    shown = run(client, "jobs", "show", local_id).stdout
    assert "local files:\n  video face.mp4: uploaded to uploader" in shown
    assert f"video:        {files['face']}" in shown  # the path asked for, not the upload
    data = json.loads(run(client, "jobs", "show", local_id, "--json").stdout)
    (video, audio) = data["job"]["routes"]
    assert video["route"] == "upload" and video["reference"] == "https://cdn.invalid/u1?***"
    assert video["sha256"] == sha(files["face"]) and audio["field"] == "audio"
    assert "up-secret" not in shown + json.dumps(data)


def test_inline_and_staged_files_are_said_so(
    make_client: Callable[..., Client], api: Api, files: dict[str, Path], s3: Any,
    clock: Any,
) -> None:
    bucket = s3.new_bucket()
    client = make_client(staging=Staging(f"s3://{bucket}/in", clock=clock,
                                         storage_options={"endpoint_url": s3.url}))
    inline = run(client, "submit", "roomy", *media(files))
    size = files["face"].stat().st_size
    assert inline.stderr.splitlines()[0] == f"video face.mp4: inline data URI ({size} bytes)"
    staged = run(client, "submit", "acme", *media(files))
    assert staged.exit_code == 0, staged.output
    assert staged.stderr.splitlines()[0] == (
        f"video face.mp4: staged to s3://{bucket}/in/{sha(files['face'])}.mp4 "
        "(URL expires 2026-11-22 12:00 UTC)")
    assert client.jobs is not None
    (job,) = client.jobs.list(provider="acme")
    shown = run(client, "jobs", "show", job.local_id, "--json").stdout
    assert "X-Amz-Signature" not in shown and "?***" in shown


def test_a_file_with_no_route_is_refused_before_anything_is_sent(
    make_client: Callable[..., Client], server: ScriptedServer, files: dict[str, Path]
) -> None:
    client = make_client()
    for command in ("run", "submit"):
        result = run(client, command, "acme", *media(files))
        assert result.exit_code == ExitCode.USAGE, result.output
        assert "LIPBRIDGE_STAGING=s3://bucket/prefix" in result.stderr
    assert server.seen == []
    assert client.jobs is not None and client.jobs.list() == []


def test_estimate_measures_local_files_for_every_provider(
    make_client: Callable[..., Client], server: ScriptedServer, files: dict[str, Path]
) -> None:
    client = make_client()
    one = run(client, "estimate", "acme", *media(files))
    assert one.exit_code == 0, one.output
    assert one.stdout.startswith("acme/acme-1: 10 credits ($0.10)")  # the 2 s of audio, looped
    every = json.loads(run(client, "estimate", "--all", *media(files), "--json").stdout)
    reasons = {row["provider"]: row["reason"] for row in every}
    assert set(reasons) == {"acme", "both", "roomy", "undated", "uploader"}
    assert reasons["acme"] is None and reasons["uploader"] is None
    assert "lasts" not in json.dumps(every)  # 1.5 s is within roomy's 2 s
    assert server.seen == []
