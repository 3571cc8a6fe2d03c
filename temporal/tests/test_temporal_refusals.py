"""What the local batch does and ``--engine temporal`` does not is refused before
anything is started, naming the option and what is allowed, never silently ignored:
a fallback between a row's providers, and ``--retry-failed``. The rows are checked
offline and no Temporal address is set, so a refusal that came late would fail on the
missing address instead."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lipbridge import Client
from lipbridge.cli import ExitCode, cli


def manifest(path: Path, provider: str) -> Path:
    row = {
        "video": "https://cdn.invalid/face.mp4",
        "audio": "https://cdn.invalid/speech.wav",
        "provider": provider,
        "sync_mode": "loop",
    }
    path.write_text(json.dumps(row) + "\n")
    return path


@pytest.mark.parametrize(
    ("provider", "extra", "named"),
    [
        ("syncso,foxapi", [], "line 1 can run on syncso, foxapi"),
        ("syncso", ["--retry-failed"], "--retry-failed is not supported"),
    ],
)
def test_an_option_the_engine_lacks_is_refused_before_anything_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, provider: str, extra: list[str], named: str
) -> None:
    monkeypatch.delenv("LIPBRIDGE_TEMPORAL_ADDRESS", raising=False)
    env = {  # keys the plan asks for; any request would go to a closed port
        f"LIPBRIDGE_{name}_{what}": value
        for name in ("SYNCSO", "FOXAPI")
        for what, value in (("API_KEY", "sk-test-refusals"), ("BASE_URL", "http://127.0.0.1:9"))
    }
    client = Client(environ=env, ledger=tmp_path / "jobs.db")
    rows = manifest(tmp_path / "rows.jsonl", provider)
    args = ["batch", str(rows), "--engine", "temporal", "--allow-unknown-cost", *extra]
    result = CliRunner().invoke(cli, args, obj=lambda: client)
    assert result.exit_code == ExitCode.USAGE, result.output
    assert named in result.output
    assert "allowed:" in result.output
    assert "no Temporal address" not in result.output
