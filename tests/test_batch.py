"""Batches: manifests, plans and budgets, caps, fallback, and continuing where they stopped."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import GLOBEX_KEY, KEY, FakeClock, make_registry, write_dist
from scripted_server import Reply, ScriptedServer, Seen

from lipbridge import Client, InvalidRequest, JobRequest, TextToSpeech
from lipbridge.aio import AsyncClient
from lipbridge.batch.manifest import ManifestError, Row, read_manifest, shorthand
from lipbridge.batch.plan import BudgetExceeded, plan_rows, totals
from lipbridge.batch.runner import BatchRun, Caps, Phase, RowOutcome, RowState
from lipbridge.ledger import LocalState


@pytest.fixture
def client(
    standard_site: Path, server: ScriptedServer, clock: FakeClock, tmp_path: Path
) -> Iterator[Client]:
    environ = {
        "LIPBRIDGE_ACME_API_KEY": KEY, "LIPBRIDGE_ACME_BASE_URL": server.url,
        "LIPBRIDGE_GLOBEX_API_KEY": GLOBEX_KEY, "LIPBRIDGE_GLOBEX_BASE_URL": server.url + "/g",
    }
    with Client(registry=make_registry(standard_site), environ=environ, clock=clock,
                rng=random.Random(7), ledger=tmp_path / "jobs.sqlite") as c:
        yield c


def rows(n: int, providers: tuple[str, ...] = ("acme",)) -> list[Row]:
    return [
        Row(line=i, providers=providers, request=JobRequest(
            video="https://cdn.invalid/v.mp4", audio=f"https://cdn.invalid/a{i}.wav"))
        for i in range(1, n + 1)
    ]


class Provider:
    """A scripted acme-like API that accepts every submit and finishes each job on its
    second poll, counting the jobs in flight (accepted, not yet seen finished)."""

    def __init__(self, server: ScriptedServer, prefix: str = "") -> None:
        self.lock = threading.Lock()
        self.polls: dict[str, int] = {}
        self.in_flight = 0
        self.most = 0
        self.prefix = prefix
        self.server = server
        server.script("POST", f"{prefix}/v1/jobs", self.accept)

    def accept(self, seen: Seen) -> Reply:
        with self.lock:
            job = f"{self.prefix.strip('/') or 'a'}{len(self.polls) + 1}"
            self.polls[job] = 0
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        self.server.script("GET", f"{self.prefix}/v1/jobs/{job}", self.poll)
        return Reply.json({"id": job, "status": "queued"})

    def poll(self, seen: Seen) -> Reply:
        job = seen.path.rsplit("/", 1)[1]
        with self.lock:
            self.polls[job] += 1
            done = self.polls[job] >= 2
            if done and self.polls[job] == 2:
                self.in_flight -= 1
        if not done:
            return Reply.json({"id": job, "status": "processing", "progress": 50})
        return Reply.json({"id": job, "status": "done",
                           "output": {"url": "https://cdn.invalid/out.mp4"},
                           "cost": {"credits": "4"}})


def on_fake_clock(client: Client, clock: FakeClock) -> AsyncClient:
    """An AsyncClient whose waits move ``clock`` on at once."""

    async def sleep(seconds: float) -> None:
        clock.sleep(seconds)
        await asyncio.sleep(0)

    return AsyncClient(client, sleep=sleep)


def run_batch(
    client: Client, clock: FakeClock, batch: list[Row], **options: object
) -> list[RowOutcome]:
    async def main() -> list[RowOutcome]:
        aio = on_fake_clock(client, clock)
        try:
            options.setdefault("allow_unknown_cost", True)
            return [o async for o in aio.batch(batch, **options)]  # type: ignore[arg-type]
        finally:
            await aio.aclose(close_client=False)

    return sorted(asyncio.run(main()), key=lambda o: o.line)


# -- manifests ------------------------------------------------------------------------------


def test_a_csv_manifest_names_each_bad_row_by_line_and_field(tmp_path: Path) -> None:
    manifest = tmp_path / "jobs.csv"
    manifest.write_text(
        "video,audio,provider,temperature,output\n"
        "https://cdn.invalid/v.mp4,https://cdn.invalid/a.wav,acme,,out/1.mp4\n"
        "https://cdn.invalid/v.mp4,,acme,,\n"
        "https://cdn.invalid/v.mp4,https://cdn.invalid/a.wav,acme,hot,\n"
        "https://cdn.invalid/v.mp4,https://cdn.invalid/b.wav,acme,,out/1.mp4\n"
    )
    good, problems = read_manifest(manifest, providers=())
    assert [r.line for r in good] == [2, 5]
    found = [(p.line, p.field) for p in problems]
    assert found == [(3, "audio"), (4, "temperature"), (5, "output")]
    assert "is also line 2's output" in problems[-1].message
    error = ManifestError(str(manifest), problems)
    assert "line 3, audio:" in error.message and "nothing was sent" in error.message


def test_a_json_lines_manifest_checks_fields_and_providers(tmp_path: Path) -> None:
    manifest = tmp_path / "jobs.jsonl"
    lines = [
        {"video": "https://cdn.invalid/v.mp4", "audio": "https://cdn.invalid/a.wav",
         "provider": "acme,globex", "options": {"segments": [1, 2]}},
        {"video": "https://cdn.invalid/v.mp4", "tts_text": "hi"},
        {"video": "https://cdn.invalid/v.mp4", "audio": "https://cdn.invalid/a.wav", "colour": 1},
    ]
    manifest.write_text("\n".join(json.dumps(x) for x in lines) + "\nnot json\n")
    good, problems = read_manifest(manifest, providers=("acme",))
    assert good[0].providers == ("acme", "globex")
    assert good[0].request.options == {"segments": [1, 2]}
    assert [(p.line, p.field) for p in problems] == [(2, "tts_text"), (3, "colour"), (4, "row")]


def test_the_shorthand_makes_one_row_per_voice(tmp_path: Path) -> None:
    voices = tmp_path / "voices"
    voices.mkdir()
    for name in ("fr.wav", "de.mp3", "notes.txt"):
        (voices / name).write_bytes(b"x")
    made, problems = shorthand(video="https://cdn.invalid/face.mp4", audio_dir=voices,
                               providers=("acme",), output=str(tmp_path / "{audio_stem}.mp4"))
    assert problems == []
    assert [(r.line, Path(r.output or "").name) for r in made] == [(1, "de.mp4"), (2, "fr.mp4")]
    with pytest.raises(Exception, match="each row gets its own file"):
        shorthand(video="v.mp4", audio_dir=voices, providers=("acme",), output="out.mp4")


# -- plans and budgets ----------------------------------------------------------------------


def test_a_plan_skips_providers_that_cannot_run_a_row_and_prices_the_rest(
    client: Client, tmp_path: Path
) -> None:
    tts = Row(line=1, providers=("acme", "globex"), request=JobRequest(
        video="https://cdn.invalid/v.mp4", tts=TextToSpeech(text="hi", voice="alice"),
        model="acme-lite"))
    plans, problems = plan_rows(client, [tts, *rows(2)])
    assert problems == [] and [p.providers for p in plans][1:] == [("acme",), ("acme",)]
    assert plans[0].estimate is not None
    (acme,) = [t for t in totals(plans) if t.provider == "acme"]
    assert acme.rows == 3 and acme.unknown == 3  # URLs: the lengths are unknown offline


def test_a_budget_refusal_sends_nothing(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    with pytest.raises(BudgetExceeded, match="--allow-unknown-cost"):
        run_batch(client, clock, rows(3), allow_unknown_cost=False)
    assert server.seen == []
    assert client.jobs is not None and client.jobs.list() == []


# -- running --------------------------------------------------------------------------------


def test_a_batch_runs_every_row_within_the_provider_cap(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    provider = Provider(server)
    outcomes = run_batch(client, clock, rows(12), caps=Caps(per_provider={"acme": 3}))
    assert [o.state for o in outcomes] == [RowState.DONE] * 12
    assert 1 < provider.most <= 3
    assert client.jobs is not None
    assert {j.state for j in client.jobs.list(limit=None)} == {LocalState.SUCCEEDED}


def test_the_tally_counts_rows_per_phase_and_provider_as_they_move(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    """What a live display reads: every row in one phase or outcome at every moment, the
    jobs in flight per provider within the cap, and nothing left in flight at the end."""
    from lipbridge.batch import open_batch

    Provider(server)
    batch = rows(6)
    plans, _ = plan_rows(client, batch)
    assert client.jobs is not None
    batch_id, _ = open_batch(client.jobs.ledger, batch, "test", {})
    seen: list[tuple[dict[Phase, int], int, int]] = []  # at each poll: phases, acme, ended

    async def main() -> BatchRun:
        aio = on_fake_clock(client, clock)
        run = BatchRun(aio, batch_id, plans, Caps(per_provider={"acme": 2}),
                       observe=lambda *_: seen.append((
                           +run.tally.phases, run.tally.in_flight["acme"],
                           sum(run.tally.ended.values()))))
        assert run.tally.phases == {Phase.QUEUED: 6}
        try:
            assert len([o async for o in run.outcomes()]) == 6
        finally:
            await aio.aclose(close_client=False)
        return run

    tally = asyncio.run(main()).tally
    assert seen, "no poll was observed"
    for phases, acme, ended in seen:
        assert sum(phases.values()) + ended == 6
        # In flight: submitting or running (no row has an output: nothing downloads).
        assert phases[Phase.SUBMITTING] + phases[Phase.RUNNING] == acme <= 2
        assert phases[Phase.RUNNING] >= 1  # the row whose poll this is
    assert any(acme == 2 and phases[Phase.QUEUED] for phases, acme, _ in seen)  # capped
    assert tally.ended == {RowState.DONE: 6}
    assert +tally.phases == {} and +tally.in_flight == {}


def test_a_plugin_s_declared_concurrency_is_the_default_cap(
    standard_site: Path, server: ScriptedServer, clock: FakeClock, tmp_path: Path
) -> None:
    write_dist(standard_site, "lipbridge-capped", {"capped": "lipbridge_testprov:capped"})
    environ = {"LIPBRIDGE_CAPPED_API_KEY": KEY, "LIPBRIDGE_CAPPED_BASE_URL": server.url}
    provider = Provider(server)
    with Client(registry=make_registry(standard_site), environ=environ, clock=clock,
                rng=random.Random(7), ledger=tmp_path / "capped.sqlite") as capped:
        outcomes = run_batch(capped, clock, rows(10, ("capped",)))
    assert {o.state for o in outcomes} == {RowState.DONE}
    assert 1 < provider.most <= 2


def test_running_the_same_batch_again_submits_nothing_twice(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    Provider(server)
    batch = rows(4)
    first = run_batch(client, clock, batch)
    posts = len(server.requests("POST"))
    again = run_batch(client, clock, batch)
    assert [o.state for o in again] == [RowState.DONE] * 4
    assert [o.local_id for o in again] == [o.local_id for o in first]
    assert len(server.requests("POST")) == posts == 4


def test_a_refused_row_falls_back_to_the_next_provider_only_before_acceptance(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("POST", "/v1/jobs", Reply.json({"error": {"message": "no credits"}}, 402))
    globex = Provider(server, "/g")
    (outcome,) = run_batch(client, clock, rows(1, ("acme", "globex")))
    assert (outcome.state, outcome.provider, outcome.attempts) == (
        RowState.DONE, "globex", ("acme", "globex"))
    assert globex.most == 1
    assert client.jobs is not None
    assert sorted(j.state.value for j in client.jobs.list()) == ["rejected", "succeeded"]


def test_a_failed_job_or_an_unknown_submit_never_falls_back(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("POST", "/v1/jobs", Reply.json({"id": "x1", "status": "queued"}),
                  Reply(reset="after_body"))
    server.script("GET", "/v1/jobs/x1", Reply.json(
        {"id": "x1", "status": "error", "error": {"message": "no face"}}))
    globex = Provider(server, "/g")
    outcomes = run_batch(client, clock, rows(2, ("acme", "globex")), caps=Caps(total=1))
    assert [o.state for o in outcomes] == [RowState.FAILED, RowState.UNKNOWN]
    assert globex.polls == {}  # globex was never asked
    retried = run_batch(client, clock, rows(2, ("acme", "globex")), caps=Caps(total=1))
    assert [o.state for o in retried] == [RowState.FAILED, RowState.UNKNOWN]  # no retry asked


def test_the_python_iterator_yields_rows_as_they_finish(
    client: Client, server: ScriptedServer
) -> None:
    Provider(server)
    client.poll_policy = type(client.poll_policy)(first=0.0, factor=1.0, cap=0.0, jitter=0.0)
    outcomes = list(client.batch(rows(3), allow_unknown_cost=True,
                                 max_cost=Decimal("100")))
    assert sorted(o.line for o in outcomes) == [1, 2, 3]
    assert {o.state for o in outcomes} == {RowState.DONE}


def test_a_changed_manifest_is_refused_rather_than_run_again_as_a_new_batch(
    client: Client, server: ScriptedServer, clock: FakeClock, tmp_path: Path
) -> None:
    from lipbridge.batch import open_batch

    assert client.jobs is not None
    ledger = client.jobs.ledger
    first, resumed = open_batch(ledger, rows(2), "jobs.csv", {}, refuse_changed=True)
    assert not resumed
    assert open_batch(ledger, rows(2), "jobs.csv", {}, refuse_changed=True) == (first, True)
    with pytest.raises(InvalidRequest, match=f"batch resume {first}`, or pass --new-batch"):
        open_batch(ledger, rows(3), "jobs.csv", {}, refuse_changed=True)
    second, resumed = open_batch(ledger, rows(3), "jobs.csv", {})
    assert second != first and not resumed


def test_leaving_the_python_iterator_early_stops_the_batch(
    client: Client, server: ScriptedServer
) -> None:
    provider = Provider(server)
    gate = threading.Event()  # the third submit is answered once the caller has left
    accept = provider.accept

    def held_third(seen: Seen) -> Reply:
        if len(provider.polls) == 2:
            gate.wait(30)
        return accept(seen)

    server.script("POST", "/v1/jobs", held_third)
    client.poll_policy = type(client.poll_policy)(first=0.0, factor=1.0, cap=0.0, jitter=0.0)
    for outcome in client.batch(rows(12), allow_unknown_cost=True,
                                caps=Caps(per_provider={"acme": 1})):
        assert outcome.state is RowState.DONE
        gate.set()
        break
    assert len(provider.polls) <= 3  # one row at a time; nothing submitted after leaving
    assert client.jobs is not None
    assert len(client.jobs.list(limit=None)) == len(provider.polls)  # every submit recorded
