"""Batch: many jobs through ``AsyncClient.batch`` in one process, against the emulator.

    python benchmarks/batch.py [--jobs N] [--per-provider N] [--total N]
                               [--default-jobs N] [--job-seconds S] [--no-output]
                               [--only big|default] [--profile FILE]

Two runs, each in a child process of its own (so that its peak RSS is its own), each
with a fresh emulator on the real clock in yet another process (as a provider is on
another machine: in-process, its threads would contend with the client's for the GIL),
the four emulated providers taking turns row by row, every job recorded in a job
ledger (on /dev/shm when it exists) and, unless ``--no-output``, its video downloaded
there:

* **big**: ``--jobs`` (10,000) jobs of 5 s within caps of ``--per-provider`` (64) jobs
  in flight at each provider and ``--total`` (256, the default ``--max-total``) in all.
  The ideal wall time is each provider's jobs in waves of its cap, each wave one job's
  duration (every call instant, every job seen done the moment it ends).
* **default**: ``--default-jobs`` (1,000) jobs of 5 s, all in flight at once (caps as
  large as the batch), with the default poll schedule. The ideal is one job's duration.

Each run prints: wall time from the batch's start to its last row against the ideal;
peak RSS of the client's process (its VmHWM) and its growth during the batch; CPU per
job for the client (the event loop's thread and the AsyncClient's pool threads:
lipbridge, urllib3, SQLite), beside what plain urllib3 needs for the same requests on
this machine, and for the emulator;
the requests per job the emulator saw; and the most jobs in flight at once per provider
and in all, from the emulator's own ledger (each job from its acceptance to the fetch
of its video, or its last poll). Targets (issue 14): wall at most 1.5x the ideal, peak
RSS at most 300 MiB, client CPU at most 2 ms a job, caps never exceeded.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import math
import multiprocessing
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import urllib3
from _common import TIMES, sample_inputs, table

TARGET_RATIO, TARGET_RSS_MIB, TARGET_CPU_MS = 1.5, 300.0, 2.0
BEFORE_DEFAULT = 2.3  # the default run's ratio when issue 14 was filed: a comparison
THREADS = 32  # the AsyncClient's default pool
PROVIDERS = ("aihubmax", "aimlapi", "foxapi", "jogg")
MODES = {"aihubmax": "bounce", "aimlapi": None, "foxapi": "bounce", "jogg": "bounce"}


def high_water_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise SystemExit("no VmHWM in /proc/self/status: this benchmark needs Linux")


def pool_cpu() -> float:
    """CPU seconds of the AsyncClient's pool threads (named ``lipbridge_N``) so far."""
    return sum(
        time.clock_gettime(time.pthread_getcpuclockid(t.ident))
        for t in threading.enumerate()
        if t.name.startswith("lipbridge_") and t.ident is not None
    )


def serve_emulator(seconds: float, pipe: Connection) -> None:
    """The emulator's process: serves until told to stop; tells its CPU time and, at the
    end, the submits it accepted twice."""
    from lipbridge_emulator import Emulator, Timing

    with Emulator(timing=Timing(job_seconds=seconds, results_lag=0.0)) as emu:
        pipe.send((emu.url, emu.key, *sample_inputs(emu)))
        while pipe.recv() == "cpu":
            pipe.send(time.process_time())
        pipe.send(len(emu.ledger.duplicate_submits()))


class EmulatorProcess:
    """The emulator in a process of its own, as a provider is on another machine: in
    the client's process its threads would contend with the client's for the GIL (which
    doubled the client's CPU per job), and its memory would count as the client's."""

    def __init__(self, seconds: float) -> None:
        context = multiprocessing.get_context("spawn")
        self._pipe, theirs = context.Pipe()
        self._process = context.Process(target=serve_emulator, args=(seconds, theirs))
        self._http = urllib3.PoolManager()

    def __enter__(self) -> EmulatorProcess:
        self._process.start()
        self.url, self.key, self.video, self.audio = self._pipe.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        self._process.kill()
        self._process.join()

    def base_url(self, provider: str) -> str:
        return f"{self.url}/{provider}"

    def cpu(self) -> float:
        """Its CPU seconds so far."""
        self._pipe.send("cpu")
        return float(self._pipe.recv())

    def duplicate_submits(self) -> int:
        """Submit bodies it accepted more than once; it stops serving."""
        self._pipe.send("stop")
        return int(self._pipe.recv())

    def snapshot(self) -> tuple[list[SimpleNamespace], list[SimpleNamespace]]:
        """(arrivals, accepted jobs) from its ledger's control route."""
        ledger = self._http.request("GET", f"{self.url}/_emulator/ledger").json()
        return (
            [SimpleNamespace(**a) for a in ledger["arrivals"]],
            [SimpleNamespace(**a) for a in ledger["accepted"]],
        )


def spans(emu: EmulatorProcess) -> list[tuple[str, float, float, float]]:
    """(provider, accepted, last polled, last seen) of every accepted job, from the
    emulator's ledger; last seen is the fetch of its video, else its last poll."""
    arrivals, accepted = emu.snapshot()
    fetched: dict[str, float] = {}
    polled: dict[str, float] = {}
    for a in arrivals:
        if a.endpoint == "download":
            fetched[Path(a.path).stem] = max(a.at, fetched.get(Path(a.path).stem, a.at))
        elif a.endpoint == "poll" and a.identity:
            polled[a.identity] = max(a.at, polled.get(a.identity, a.at))
    return [
        (
            a.provider, a.at, polled.get(a.job_id, math.inf),
            fetched.get(a.job_id, polled.get(a.job_id, math.inf)),
        )
        for a in accepted
    ]


def urllib3_floor(emu: EmulatorProcess, threads: int, repeat: int = 3000) -> tuple[float, float]:
    """Client CPU ms of one plain urllib3 GET (no lipbridge) of a poll answer and of a
    video from this emulator, ``threads`` at a time as in the batch: the floor under
    the per-job figure on this machine."""
    arrivals, _ = emu.snapshot()
    poll = next(a for a in arrivals if a.endpoint == "poll" and a.provider == "aihubmax")
    video = next(a for a in arrivals if a.endpoint == "download")
    pool = urllib3.PoolManager(maxsize=threads)
    figures = []
    for url, headers in (
        (emu.base_url("aihubmax") + poll.path, {"Authorization": f"Bearer {emu.key}"}),
        (emu.base_url(video.provider or "aihubmax") + video.path, {}),
    ):
        def get(_: int, url: str = url, headers: dict[str, str] = headers) -> None:
            answer = pool.request("GET", url, headers=headers, preload_content=False)
            for _chunk in answer.stream(1 << 20):
                pass
            answer.release_conn()

        with ThreadPoolExecutor(threads) as executor:
            list(executor.map(get, range(threads)))  # connections open
            start = time.process_time()
            list(executor.map(get, range(repeat)))
            figures.append((time.process_time() - start) * 1000 / repeat)
    pool.clear()
    return figures[0], figures[1]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else math.nan


def most_in_flight(intervals: list[tuple[float, float]]) -> int:
    edges = sorted([(start, 0) for start, _ in intervals] + [(end, 1) for _, end in intervals])
    most = now = 0
    for _, kind in edges:
        now += 1 if kind == 0 else -1
        most = max(most, now)
    return most


def child(part: str, jobs: int, per_provider: int, total: int, seconds: float,
          output: bool, profile: str | None) -> None:
    """One run, in this (child) process, in a folder removed afterwards (the outputs of
    10,000 jobs take about 400 MB); prints its figures as JSON."""
    shm = Path("/dev/shm")
    where = shm if shm.is_dir() else None
    with tempfile.TemporaryDirectory(prefix="lipbridge-batch-", dir=where) as folder:
        measure(part, jobs, per_provider, total, seconds, output, profile, Path(folder))


def measure(part: str, jobs: int, per_provider: int, total: int, seconds: float,
            output: bool, profile: str | None, folder: Path) -> None:
    from lipbridge import Client, JobRequest
    from lipbridge.aio import AsyncClient
    from lipbridge.batch.manifest import Row
    from lipbridge.batch.runner import Caps
    from lipbridge.transport import Transport

    with EmulatorProcess(seconds) as emu:
        video, audio = emu.video, emu.audio
        client = Client(
            transport=Transport(maxsize=64),
            api_keys={p: emu.key for p in PROVIDERS},
            base_urls={p: emu.base_url(p) for p in PROVIDERS},
            ledger=folder / "jobs.sqlite",
            environ={},
        )
        rows = [
            Row(
                line=n,
                providers=(PROVIDERS[n % 4],),
                # Each row its own body (the emulator ignores the query), one render in all.
                request=JobRequest(video=video, audio=f"{audio}?row={n}",
                                   sync_mode=MODES[PROVIDERS[n % 4]]),
                output=str(folder / f"{n}.mp4") if output else None,
            )
            for n in range(1, jobs + 1)
        ]
        caps = Caps(per_provider={p: per_provider for p in PROVIDERS}, total=total)
        outcomes: Counter[str] = Counter()
        timing: dict[str, float] = {}

        async def run() -> None:
            aio = AsyncClient(client, max_threads=THREADS)
            loop_cpu = time.thread_time()
            timing["start"] = time.monotonic()
            async for outcome in aio.batch(rows, caps=caps, allow_unknown_cost=True):
                outcomes[outcome.state.value] += 1
            timing["end"] = time.monotonic()
            timing["loop_cpu"] = time.thread_time() - loop_cpu
            timing["pool_cpu"] = pool_cpu()  # before the pool's threads end
            await aio.aclose(close_client=False)

        before = high_water_kib()
        emulator_cpu = emu.cpu()
        profiler = cProfile.Profile() if profile else None
        if profiler is not None:
            profiler.enable()
        asyncio.run(run())
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(profile)  # type: ignore[arg-type]
        emulator_cpu = emu.cpu() - emulator_cpu
        peak = high_water_kib()
        client.close()
        arrivals, accepted = emu.snapshot()
        requests = Counter(a.endpoint for a in arrivals)
        floor_call, floor_video = urllib3_floor(emu, THREADS)
        by: dict[str, list[tuple[float, float]]] = defaultdict(list)
        every, late = [], []
        for provider, start, polled, end in spans(emu):
            by[provider].append((start, end))
            every.append((start, end))
            late.append(polled - (start + seconds))  # seen done after finishing
        per_count = Counter(PROVIDERS[n % 4] for n in range(1, jobs + 1))
        waves = max(math.ceil(per_count[p] / per_provider) for p in PROVIDERS)
        ideal = max(waves, math.ceil(jobs / total)) * seconds
        print(json.dumps({
            "part": part, "jobs": jobs, "per_provider": per_provider, "total": total,
            "seconds": seconds, "output": output,
            "wall": timing["end"] - timing["start"], "ideal": ideal,
            "submitted": max(a.at for a in accepted) - timing["start"],
            "late": [percentile(late, 0.5), percentile(late, 0.95)],
            "peak_mib": peak / 1024, "growth_mib": (peak - before) / 1024,
            "client_cpu": timing["pool_cpu"] + timing["loop_cpu"], "loop_cpu": timing["loop_cpu"],
            "emulator_cpu": emulator_cpu,
            "outcomes": dict(outcomes), "accepted": len(accepted),
            "requests": {k: v for k, v in requests.items() if k},
            "most": {p: most_in_flight(v) for p, v in sorted(by.items())},
            "most_total": most_in_flight(every),
            "floor_call_ms": floor_call, "floor_video_ms": floor_video,
            "duplicates": emu.duplicate_submits(),
        }))


def most_each(most: dict[str, int]) -> str:
    values = set(most.values())
    if len(values) == 1:
        return f"{values.pop()} at each"
    return ", ".join(f"{p} {v}" for p, v in most.items())


def report(r: dict[str, Any]) -> None:
    n = r["jobs"]
    ratio = r["wall"] / r["ideal"]
    client_ms = r["client_cpu"] * 1000 / n
    rest_ms = r["emulator_cpu"] * 1000 / n
    caps_ok = all(v <= r["per_provider"] for v in r["most"].values()) and (
        r["most_total"] <= r["total"]
    )
    done = r["outcomes"].get("done", 0)
    calls = sum(r["requests"].get(k, 0) for k in ("submit", "poll")) / n
    videos = r["requests"].get("download", 0) / n
    floor_ms = calls * r["floor_call_ms"] + videos * r["floor_video_ms"]
    print(
        f"{r['part']}: {n} jobs of {r['seconds']:g} s over {', '.join(PROVIDERS)}; caps "
        f"{r['per_provider']} per provider, {r['total']} in all; "
        f"{'downloaded' if r['output'] else 'not downloaded'}"
    )
    table(["", "value", "target"], [
        ["wall time, batch start to last row", f"{r['wall']:.1f} s", ""],
        ["ideal (waves of the caps x one job)", f"{r['ideal']:.1f} s", ""],
        [f"wall {TIMES} ideal", f"{ratio:.2f}", f"was {BEFORE_DEFAULT}"
         if r["part"] == "default" else f"<= {TARGET_RATIO}: "
         f"{'met' if ratio <= TARGET_RATIO else 'MISSED'}"],
        ["last submit accepted after", f"{r['submitted']:.1f} s", ""],
        ["seen done after finishing: median / p95",
         f"{r['late'][0]:.2f} / {r['late'][1]:.2f} s", ""],
        ["peak RSS of the client process", f"{r['peak_mib']:.0f} MiB",
         f"<= {TARGET_RSS_MIB:.0f}: {'met' if r['peak_mib'] <= TARGET_RSS_MIB else 'MISSED'}"],
        ["  of which grown during the batch", f"{r['growth_mib']:.0f} MiB", ""],
        ["CPU per job: client (loop + pool threads)", f"{client_ms:.2f} ms",
         f"<= {TARGET_CPU_MS}: {'met' if client_ms <= TARGET_CPU_MS else 'MISSED'}"],
        ["  of which the event loop's thread", f"{r['loop_cpu'] * 1000 / n:.2f} ms", ""],
        [f"  urllib3 alone, the same requests {THREADS} at a time (GET "
         f"{r['floor_call_ms']:.2f} ms, video {r['floor_video_ms']:.2f} ms)",
         f"{floor_ms:.2f} ms", ""],
        [f"  client {TIMES} urllib3 alone", f"{client_ms / floor_ms:.2f}", ""],
        ["CPU per job: the emulator (its own process)", f"{rest_ms:.2f} ms", ""],
        ["requests per job (submit/poll/download)", " / ".join(
            f"{r['requests'].get(k, 0) / n:.2f}" for k in ("submit", "poll", "download")), ""],
        ["most in flight at one provider (emulator)", most_each(r["most"]),
         f"<= {r['per_provider']}"],
        ["most in flight in all (emulator)", str(r["most_total"]),
         f"<= {r['total']}: {'met' if caps_ok else 'EXCEEDED'}"],
        ["rows done / duplicate submits", f"{done} of {n} / {r['duplicates']}", ""],
    ])
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000, help="jobs of the big run (10000)")
    parser.add_argument("--per-provider", type=int, default=64, help="cap per provider (64)")
    parser.add_argument("--total", type=int, default=256, help="cap in all (256)")
    parser.add_argument("--default-jobs", type=int, default=1000, help="jobs of the default "
                        "schedule run, all in flight (1000)")
    parser.add_argument("--job-seconds", type=float, default=5.0, help="each job's length (5)")
    parser.add_argument("--no-output", action="store_true", help="do not download the videos")
    parser.add_argument("--only", choices=("big", "default"), help="run one part")
    parser.add_argument("--profile", help="cProfile the (one) run into this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if min(args.jobs, args.per_provider, args.total, args.default_jobs, args.job_seconds) <= 0:
        parser.error("every number must be above 0")
    if args.child:
        jobs, per, total = (
            (args.jobs, args.per_provider, args.total) if args.child == "big"
            else (args.default_jobs, args.default_jobs, args.default_jobs)
        )
        child(args.child, jobs, per, total, args.job_seconds, not args.no_output, args.profile)
        return
    parts = [args.only] if args.only else ["big", "default"]
    for part in parts:
        command = [sys.executable, __file__, *sys.argv[1:], "--child", part]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise SystemExit(f"the {part} run failed:\n{done.stderr}")
        report(json.loads(done.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
