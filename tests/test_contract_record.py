"""``lipbridge contract record`` end to end, against a provider-like server on 127.0.0.1.

The recorder runs the example plugin for real over HTTP (with the fake clock, so the
test never sleeps) and must write cassettes and sidecars that are scrubbed, rewritten
to the provider's default base URL, and that the suite then replays cleanly.
"""

from __future__ import annotations

import functools
import shutil
from decimal import Decimal
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner
from conftest import FakeClock
from scripted_server import Reply, ScriptedServer
from shipped import cassettes

from lipbridge import Client, Registry
from lipbridge.registry import discover
from lipbridge_contract import SuiteRun
from lipbridge_contract.checks import CHECKS, PASS
from lipbridge_contract.record import INVALID_KEY, RecordRefused, record, record_scenarios
from lipbridge_contract.report import run_check

LIVE_KEY = "live-key-0123456789abcdefXYZ"
SIGNED = "https://cdn.example-lipsync.invalid/out/ls_live.mp4?X-Amz-Signature=abc123def456"
SOURCE = cassettes("example")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    shutil.copytree(SOURCE, tmp_path / "cassettes" / "example")
    return tmp_path / "cassettes"


@pytest.fixture
def live(server: ScriptedServer, clock: FakeClock) -> Client:
    return Client(
        registry=Registry(discover(), environ={}),
        clock=clock,
        api_keys={"example": LIVE_KEY},
        base_urls={"example": server.url},
        environ={},
    )


def script_success(server: ScriptedServer) -> None:
    server.script("POST", "/v1/lipsync", Reply.json(
        {"id": "ls_live", "status": "pending", "echo": f"Bearer {LIVE_KEY}"}, 201
    ))
    server.script(
        "GET",
        "/v1/lipsync/ls_live",
        Reply.json({"id": "ls_live", "status": "processing", "progress": 40}),
        Reply.json({
            "id": "ls_live", "status": "completed", "progress": 100,
            "result": {"video_url": SIGNED, "duration": 12.0},
            "usage": {"credits": 24},
        }),
    )


def test_a_recording_is_scrubbed_rewritten_and_replays(
    root: Path, live: Client, server: ScriptedServer
) -> None:
    script_success(server)
    written = record_scenarios(live, "example", root, ["success"], Decimal("1"), environ={})

    cassette = root / "example" / "success.yaml"
    assert written == [cassette]
    text = cassette.read_text()
    sidecar_text = (root / "example" / "success.sidecar.yaml").read_text()
    for leaked in (LIVE_KEY, "abc123def456", "127.0.0.1"):
        assert leaked not in text
    assert LIVE_KEY not in sidecar_text and "abc123def456" not in sidecar_text
    interactions = yaml.safe_load(text)["interactions"]
    assert [i["request"]["uri"] for i in interactions] == [
        "https://api.example-lipsync.invalid/v1/lipsync",
        "https://api.example-lipsync.invalid/v1/lipsync/ls_live",
        "https://api.example-lipsync.invalid/v1/lipsync/ls_live",
    ]
    assert interactions[0]["request"]["headers"]["Authorization"] == ["[REDACTED]"]
    # The server really was called with the real key: the scrubbing happened on write.
    assert server.requests("POST")[0].headers["authorization"] == f"Bearer {LIVE_KEY}"

    sidecar = yaml.safe_load(sidecar_text)
    provenance = sidecar["provenance"]
    assert provenance.pop("recorded_at").startswith("2026-11-21T12:00:")  # the fake clock's
    assert provenance == {
        "source": "live",
        "plugin_version": "lipbridge-example 1.0.0",
        "base_url": server.url,
    }
    assert sidecar["expect"]["states"] == ["running", "succeeded"]
    assert sidecar["expect"]["result"]["billed"] == {"amount": "24", "unit": "credits",
                                                     "usd": "0.24"}
    assert sidecar["request"]["model"] == "example-1"  # the script itself is kept

    run = SuiteRun("example", root, "high")
    for check in ("lifecycle", "encoding", "secrets-static", "hygiene", "cost"):
        verdict = run_check(run, next(c for c in CHECKS if c.id == check))
        assert verdict.status is PASS, (check, verdict.detail)


def test_auth_invalid_is_recorded_with_a_key_that_must_be_refused(
    root: Path, live: Client, server: ScriptedServer
) -> None:
    server.script("POST", "/v1/lipsync", Reply.json(
        {"error": {"message": "invalid api key", "code": "invalid_api_key"}}, 401
    ))
    record_scenarios(live, "example", root, ["auth_invalid"], Decimal("0"), environ={})

    assert server.requests("POST")[0].headers["authorization"] == f"Bearer {INVALID_KEY}"
    assert INVALID_KEY not in (root / "example" / "auth_invalid.yaml").read_text()
    expect = yaml.safe_load((root / "example" / "auth_invalid.sidecar.yaml").read_text())["expect"]
    assert expect["error"] == {"step": "submit", "class": "AuthenticationError",
                               "retryable": False, "code": "invalid_api_key"}


def test_the_spend_cap_is_checked_before_anything_is_sent(
    root: Path, live: Client, server: ScriptedServer
) -> None:
    with pytest.raises(RecordRefused, match=r"estimated at \$0\.24; --allow-spend is \$0\.10"):
        record_scenarios(live, "example", root, ["success"], Decimal("0.10"), environ={})
    assert server.requests() == []


def test_an_unpriced_submit_is_refused_unless_allowed_outside_the_cap(
    root: Path, live: Client, server: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    import attrs

    import lipbridge_example

    monkeypatch.setattr(lipbridge_example, "PRICES",
                        attrs.evolve(lipbridge_example.PRICES, rates={}))
    with pytest.raises(RecordRefused, match=r"success: no USD estimate \(no published price "
                       r"for example-1 .*--allow-unpriced records it anyway"):
        record_scenarios(live, "example", root, ["success"], Decimal("0"), environ={})
    assert server.requests() == []
    script_success(server)
    record_scenarios(live, "example", root, ["success"], Decimal("0"), environ={},
                     allow_unpriced=True)
    assert len(server.requests()) == 3


def test_recording_refuses_ci_and_unscripted_scenarios(
    root: Path, live: Client, server: ScriptedServer
) -> None:
    with pytest.raises(RecordRefused, match="CI=true"):
        record_scenarios(live, "example", root, ["success"], Decimal("1"), environ={"CI": "true"})
    with pytest.raises(RecordRefused, match="no sidecar"):
        record_scenarios(live, "example", root, ["brand_new"], Decimal("1"), environ={})
    assert server.requests() == []
    script_success(server)
    record_scenarios(live, "example", root, ["success"], Decimal("1"),
                     environ={"CI": "true"}, allow_ci=True)
    assert len(server.requests()) == 3


def test_the_record_command_refuses_under_ci(
    root: Path, monkeypatch: pytest.MonkeyPatch, server: ScriptedServer
) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("LIPBRIDGE_EXAMPLE_API_KEY", LIVE_KEY)
    monkeypatch.setenv("LIPBRIDGE_EXAMPLE_BASE_URL", server.url)
    group = click.Group("lipbridge", commands={"record": record})
    result = CliRunner().invoke(
        group, ["record", "live", "example", "--scenario", "success", "--allow-spend", "1",
                "--cassettes", str(root)]
    )
    assert result.exit_code == 1
    assert "CI=true" in result.output
    assert server.requests() == []


def test_the_old_spelling_still_records_live_and_says_what_to_type(
    root: Path, monkeypatch: pytest.MonkeyPatch, server: ScriptedServer, clock: FakeClock
) -> None:
    # The command's own client, on the fake clock: its polls wait, and tests never sleep.
    monkeypatch.setattr(
        "lipbridge_contract.record.command.Client", functools.partial(Client, clock=clock)
    )
    monkeypatch.setenv("LIPBRIDGE_EXAMPLE_API_KEY", LIVE_KEY)
    monkeypatch.setenv("LIPBRIDGE_EXAMPLE_BASE_URL", server.url)
    monkeypatch.delenv("CI", raising=False)
    script_success(server)
    group = click.Group("lipbridge", commands={"record": record})
    result = CliRunner().invoke(
        group, ["record", "example", "--scenario", "success", "--allow-spend", "1",
                "--cassettes", str(root)]
    )
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "`lipbridge record PROVIDER` is deprecated and goes in lipbridge-contract 0.2; type "
        "instead:\n  lipbridge record live example --scenario success --allow-spend 1 "
        f"--cassettes {root}\n"
    )
    assert f"wrote {root / 'example' / 'success.yaml'} and its sidecar" in result.stdout
    assert len(server.requests()) == 3


def test_a_lookup_is_recorded_live_without_spending_and_replays(
    root: Path, live: Client, server: ScriptedServer
) -> None:
    """A find step submits nothing, so it costs nothing against --allow-spend; the
    sidecar's expect gains the jobs found."""
    from urllib.parse import urlencode

    listing = "/v1/lipsync?" + urlencode({
        "model": "example-1",
        "video_url": "https://cdn.example-lipsync.invalid/in/face.mp4",
        "audio_url": "https://cdn.example-lipsync.invalid/in/speech.wav",
        "created_after": "2026-11-05T09:59:00Z",
    })
    server.script("GET", listing, Reply.json(
        {"data": [{"id": "ls_live", "status": "processing", "created_at": "2026-11-21T12:00:00Z"}]}
    ))
    server.script("GET", "/v1/lipsync/ls_live", Reply.json(
        {"id": "ls_live", "status": "processing", "progress": 40}
    ))
    record_scenarios(live, "example", root, ["find_jobs"], Decimal("0"), environ={})

    assert [r.method for r in server.requests()] == ["GET", "GET"]
    expect = yaml.safe_load((root / "example" / "find_jobs.sidecar.yaml").read_text())["expect"]
    assert expect == {"states": ["running"],
                      "jobs": [{"job_id": "ls_live", "created_at": "2026-11-21T12:00:00+00:00"}]}
    run = SuiteRun("example", root, "high")
    for check in ("lifecycle", "encoding", "find-jobs", "secrets-static"):
        verdict = run_check(run, next(c for c in CHECKS if c.id == check))
        assert verdict.status is PASS, (check, verdict.detail)
