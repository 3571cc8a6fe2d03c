"""AsyncClient: the same jobs from asyncio, in bounded threads, cancel-safe, on a fake clock."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from conftest import FakeClock
from scripted_server import Reply, ScriptedServer, Seen

from lipbridge import Client, JobRequest, WaitTimeout
from lipbridge.aio import AsyncClient
from lipbridge.ledger import EventKind, LocalState

REQUEST = JobRequest(video="https://cdn.invalid/v.mp4", audio="https://cdn.invalid/a.wav")
VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8


@pytest.fixture
def client(acme_with_ledger: Client) -> Client:
    return acme_with_ledger


def fake_sleep(clock: FakeClock):  # type: ignore[no-untyped-def]
    async def sleep(seconds: float) -> None:
        clock.sleep(seconds)  # virtual time moves; the loop lets other tasks run
        await asyncio.sleep(0)

    return sleep


def script(server: ScriptedServer, job_id: str = "j1") -> None:
    server.script("POST", "/v1/jobs", Reply.json({"id": job_id, "status": "queued"}))
    server.script("GET", f"/v1/jobs/{job_id}",
                  Reply.json({"id": job_id, "status": "processing", "progress": 50}),
                  Reply.json({"id": job_id, "status": "done", "progress": 100,
                              "output": {"url": f"{server.url}/files/{job_id}.mp4"},
                              "cost": {"credits": "7"}}))
    server.script("GET", f"/files/{job_id}.mp4", Reply(body=VIDEO))


def test_run_records_every_step_as_the_blocking_client_does(
    client: Client, server: ScriptedServer, clock: FakeClock, tmp_path: Path
) -> None:
    script(server)

    async def main() -> None:
        async with AsyncClient(client, sleep=fake_sleep(clock)) as aio:
            seen: list[str] = []
            result = await aio.run("acme", REQUEST, tmp_path / "out.mp4",
                                   on_progress=lambda s: seen.append(s.raw_status))
            assert result.billed is not None and str(result.billed.amount) == "7"
            assert seen == ["processing", "done"]

    asyncio.run(main())
    assert client.jobs is not None
    (job,) = client.jobs.list()
    full = client.jobs.get(job.local_id)
    assert full.state is LocalState.DOWNLOADED and full.lease_owner is None
    assert (tmp_path / "out.mp4").read_bytes() == VIDEO
    assert [e.kind for e in client.jobs.events(job.local_id)] == [
        EventKind.INTENT, EventKind.SUBMITTED, EventKind.STATUS, EventKind.STATUS,
        EventKind.DOWNLOADED,
    ]
    assert clock.sleeps and all(s > 0 for s in clock.sleeps)  # no real time was slept


def test_many_jobs_share_a_few_threads(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    threads: set[str] = set()
    lock = threading.Lock()

    def accept(seen: Seen) -> Reply:
        with lock:
            threads.add(threading.current_thread().name)
            accept.n += 1  # type: ignore[attr-defined]
            return Reply.json({"id": f"j{accept.n}", "status": "queued"})  # type: ignore[attr-defined]

    accept.n = 0  # type: ignore[attr-defined]
    server.script("POST", "/v1/jobs", accept)
    used: set[str] = set()
    original = client.poll

    def poll(*args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        used.add(threading.current_thread().name)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    client.poll = poll  # type: ignore[method-assign]
    for n in range(1, 61):
        server.script("GET", f"/v1/jobs/j{n}", Reply.json(
            {"id": f"j{n}", "status": "done", "output": {"url": "https://cdn.invalid/o.mp4"}}))

    async def main() -> int:
        async with AsyncClient(client, max_threads=3, sleep=fake_sleep(clock)) as aio:
            handles = await asyncio.gather(*(aio.submit("acme", REQUEST) for _ in range(60)))
            results = await asyncio.gather(*(aio.wait(h) for h in handles))
            return len(results)

    assert asyncio.run(main()) == 60
    assert len(used) <= 3  # the polls ran in the pool's 3 threads, never one per job
    assert client.jobs is not None
    assert {j.state for j in client.jobs.list(limit=None)} == {LocalState.SUCCEEDED}


def test_a_cancelled_task_never_leaves_its_submit_unrecorded(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    arrived, answer = threading.Event(), threading.Event()

    def slow_accept(_: Seen) -> Reply:
        arrived.set()
        answer.wait(30)
        return Reply.json({"id": "late", "status": "queued"})

    server.script("POST", "/v1/jobs", slow_accept)

    async def main() -> None:
        aio = AsyncClient(client, sleep=fake_sleep(clock))
        task = asyncio.create_task(aio.submit("acme", REQUEST))
        await asyncio.get_running_loop().run_in_executor(None, arrived.wait, 30)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        answer.set()
        await aio.aclose()  # the submit finishes in its thread

    asyncio.run(main())
    assert client.jobs is not None
    (job,) = client.jobs.list()
    assert job.state is LocalState.QUEUED and job.provider_job_id == "late"


def test_a_wait_times_out_on_the_fake_clock_with_the_handle(
    client: Client, server: ScriptedServer, clock: FakeClock
) -> None:
    server.script("POST", "/v1/jobs", Reply.json({"id": "j1", "status": "queued"}))
    server.script("GET", "/v1/jobs/j1", Reply.json({"id": "j1", "status": "processing"}))

    async def main() -> None:
        async with AsyncClient(client, sleep=fake_sleep(clock)) as aio:
            handle = await aio.submit("acme", REQUEST)
            with pytest.raises(WaitTimeout) as info:
                await aio.wait(handle, timeout=60)
            assert info.value.handle.job_id == "j1"

    start = clock.monotonic()
    asyncio.run(main())
    assert clock.monotonic() - start == pytest.approx(60)
    assert client.jobs is not None
    (job,) = client.jobs.list()
    assert client.jobs.events(job.local_id)[-1].kind is EventKind.ERROR
