"""The timing check's retried poll is answered with the success scenario's whole last
poll, so a plugin whose poll reads a status and then fetches the result (fal's) is
certified on a recorded 429 like any other, and a one-request poll is replayed as before."""

from __future__ import annotations

import shutil
from pathlib import Path

from shipped import cassettes

from lipbridge_contract.checks import PASS
from lipbridge_contract.checks.timing import TIMING, _last_poll
from lipbridge_contract.report import run_check
from lipbridge_contract.run import SuiteRun

FAL = cassettes("fal")
EXAMPLE = cassettes("example")
FAL_STATUS = (
    "https://queue.fal.run/fal-ai/sync-lipsync/requests/80e732af-660e-45cd-bd63-580e4f2a94cc"
)


def _copy(source: Path, tmp_path: Path, provider: str) -> Path:
    root = tmp_path / "cassettes"
    shutil.copytree(source, root / provider)
    return root


def test_a_poll_that_fetches_the_result_passes_timing_on_a_recorded_429(tmp_path: Path) -> None:
    run = SuiteRun("fal", _copy(FAL, tmp_path, "fal"), "high")
    found = run_check(run, TIMING)
    assert found.status is PASS, found.detail
    assert "Retry-After reached the injected sleep" in found.detail
    assert not run.bypassed  # no rate_limited bypass was relied on
    poll = _last_poll(run)
    assert [(i.method, i.uri, i.status) for i in poll] == [
        ("GET", f"{FAL_STATUS}/status?logs=1", 200),
        ("GET", FAL_STATUS, 200),
    ]


def test_a_poll_of_one_request_is_answered_by_the_last_poll_alone(tmp_path: Path) -> None:
    run = SuiteRun("example", _copy(EXAMPLE, tmp_path, "example"), "high")
    found = run_check(run, TIMING)
    assert found.status is PASS, found.detail
    poll = _last_poll(run)
    assert len(poll) == 1
    assert poll[0].method == "GET" and poll[0].status == 200
