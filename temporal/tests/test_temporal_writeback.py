"""Jobs run on Temporal, written back to the ledger of whoever started them: each end
becomes the state a local run would leave, with the provider's job id, the masked result
URL, what was billed and the saved file; a job the ledger already has is left alone."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from lipbridge import JobRequest
from lipbridge.ledger import Ledger, LocalState
from lipbridge.ledger.costs import cost_lines
from lipbridge_temporal.specs import Billed, Outcome
from lipbridge_temporal.writeback import record

REQUEST = JobRequest(video="https://example.com/face.mp4", audio="https://example.com/a.wav")
IDS = iter(f"01M8T{n:021d}" for n in range(1, 100))


def outcome(state: str, **fields: object) -> Outcome:
    return Outcome(local_id=next(IDS), provider="foxapi", state=state, **fields)  # type: ignore[arg-type]


def test_a_finished_job_is_recorded_downloaded_with_its_bill(tmp_path: Path) -> None:
    video = tmp_path / "out.mp4"
    done = outcome(
        "done",
        provider_job_id="task-1",
        output=str(video),
        size=1234,
        sha256="ab" * 32,
        result_url="https://cdn.example.com/out.mp4?***",
        billed=Billed(amount="12.5", unit="credits", usd="0.25"),
        line=3,
    )
    with Ledger(tmp_path / "jobs.sqlite") as ledger:
        batch = ledger.create_batch("fp", "rows.jsonl", {}, [(3, "{}")])
        record(ledger, REQUEST, done, batch=(batch, 3))
        job = ledger.get(done.local_id)
        lines = cost_lines(ledger.cost_rows(), "provider")
        attempts = ledger.batch_attempts(batch)
    assert job.state is LocalState.DOWNLOADED
    assert (job.provider_job_id, job.output_path, job.output_size, job.output_sha256) == (
        "task-1",
        str(video),
        1234,
        "ab" * 32,
    )
    assert job.result is not None and job.result.billed is not None
    assert job.result.video_url == "https://cdn.example.com/out.mp4?***"
    assert (job.result.billed.amount, job.result.billed.usd) == (Decimal("12.5"), Decimal("0.25"))
    assert [line.key for line in lines] == ["foxapi"]
    assert [j.local_id for j in attempts[3]] == [done.local_id]


@pytest.mark.parametrize(
    ("end", "fields", "state"),
    [
        ("rejected", {"error": "InsufficientCredits: top up"}, LocalState.REJECTED),
        ("unknown", {"error": "NeedsReconciling: lookup found none"}, LocalState.UNKNOWN),
        ("failed", {"provider_job_id": "t", "error": "face not found"}, LocalState.FAILED),
        ("waiting", {"provider_job_id": "t"}, LocalState.QUEUED),
    ],
)
def test_every_other_end_is_the_state_a_local_run_leaves(
    tmp_path: Path, end: str, fields: dict[str, object], state: LocalState
) -> None:
    ended = outcome(end, **fields)
    with Ledger(tmp_path / "jobs.sqlite") as ledger:
        record(ledger, REQUEST, ended, batch=None)
        job = ledger.get(ended.local_id)
    assert job.state is state
    if "error" in fields:
        assert str(fields["error"]) in (job.error_message or "")


def test_a_job_a_worker_recorded_in_this_ledger_is_left_as_it_is(tmp_path: Path) -> None:
    with Ledger(tmp_path / "jobs.sqlite") as ledger:
        mine = ledger.begin("foxapi", REQUEST)
        ledger.release(mine.local_id)
        record(
            ledger,
            REQUEST,
            Outcome(local_id=mine.local_id, provider="foxapi", state="done", provider_job_id="x"),
            batch=None,
        )
        assert ledger.get(mine.local_id).state is LocalState.SUBMITTING
