"""``lipbridge contract serve``: a scenario's recorded answers over real HTTP on 127.0.0.1."""

from __future__ import annotations

import threading

import attrs
import pytest
from click.testing import CliRunner
from conftest import FakeClock
from shipped import cassette_root

from lipbridge import Client, JobNotFound, JobRequest, JobState, Transport
from lipbridge.cli.app import cli
from lipbridge_contract.recorded import load_interactions
from lipbridge_contract.serve import CassetteServer

EXAMPLE = cassette_root("example")
REQUEST = JobRequest(
    video="https://cdn.example-lipsync.invalid/in/face.mp4",
    audio="https://cdn.example-lipsync.invalid/in/speech.wav",
    sync_mode="loop",
    temperature=0.5,
    callback_url="https://app.customer.invalid/hooks/lipsync",
)


def client_for(url: str) -> Client:
    return Client(
        api_keys={"example": "demo"}, base_urls={"example": url}, clock=FakeClock(),
        transport=Transport(), environ={},
    )


def test_the_success_scenario_runs_through_the_client_over_real_http() -> None:
    notes: list[str] = []
    interactions = load_interactions(EXAMPLE / "example" / "success.yaml")
    with CassetteServer(interactions, report=notes.append) as server, client_for(
        server.url
    ) as client:
        seen: list[JobState] = []
        handle = client.submit("example", REQUEST)
        result = client.wait(handle, on_progress=lambda s: seen.append(s.state))
        assert server.done.wait(timeout=10) and not server.unplayed  # set just after the reply
    assert handle.job_id == "ls_8f3k2m9q"
    assert seen == [JobState.QUEUED, JobState.RUNNING, JobState.SUCCEEDED]
    assert result.video_url == "https://cdn.example-lipsync.invalid/out/ls_8f3k2m9q.mp4"
    assert notes == []


def test_a_request_the_recording_lacks_gets_a_404_and_a_different_body_is_reported() -> None:
    notes: list[str] = []
    interactions = load_interactions(EXAMPLE / "example" / "success.yaml")
    with CassetteServer(interactions, report=notes.append) as server, client_for(
        server.url
    ) as client:
        handle = client.submit("example", JobRequest(video=REQUEST.video, audio=REQUEST.audio))
        with pytest.raises(JobNotFound):
            client.poll(attrs.evolve(handle, job_id="nope"))
        assert not server.done.is_set() and len(server.unplayed) == 3
    assert notes == [
        "POST /v1/lipsync: the body differs from the recording",
        "GET /v1/lipsync/nope: no recorded answer left",
    ]


def test_the_command_prints_where_to_point_the_plugin_and_exits_when_all_is_played(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started = threading.Event()
    urls: list[str] = []
    original = CassetteServer.__enter__

    def entered(self: CassetteServer) -> CassetteServer:
        original(self)
        urls.append(self.url)
        started.set()
        return self

    monkeypatch.setattr(CassetteServer, "__enter__", entered)

    def play() -> None:
        assert started.wait(10)
        with client_for(urls[0]) as client:
            client.wait(client.submit("example", REQUEST))

    player = threading.Thread(target=play)
    player.start()
    result = CliRunner().invoke(
        cli, ["contract", "serve", "example", "success", "--cassettes", str(EXAMPLE)]
    )
    player.join(10)
    assert result.exit_code == 0, result.output
    assert f"use it with: LIPBRIDGE_EXAMPLE_BASE_URL={urls[0]}" in result.output
    assert result.output.rstrip().endswith("served 4 of 4")


def test_a_missing_cassette_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    result = CliRunner().invoke(cli, ["contract", "serve", "example", "nope",
                                      "--cassettes", str(EXAMPLE)])
    assert result.exit_code == 2 and "cannot serve" in result.output
