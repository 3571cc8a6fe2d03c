"""Throughput: many concurrent jobs through one shared Client on the emulator.

    python benchmarks/throughput.py [PROVIDER ...] [--jobs N] [--job-seconds S]
                                    [--workers N] [--interval S]

Each worker thread submits one job and waits for it (``Client.submit`` then
``Client.wait``), the providers taking turns; with as many workers as jobs (the
default), every job is in flight at once. The ideal wall time is one job's duration,
as if every submit and every poll took no time and each job were seen done the moment
it finished. The emulator's ledger counts the calls that really arrived.

Polling follows the Client's default ``PollPolicy`` (first poll after 2 s, then x1.5,
±20 %), so a job is seen done up to one poll interval after it finishes; ``--interval``
polls at a fixed interval instead, without jitter.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from _common import TIMES, median, providers, sample_inputs, table
from attrs import frozen

from lipbridge import Client, JobRequest, LipbridgeError
from lipbridge.polling import PollPolicy
from lipbridge.transport import Transport
from lipbridge_emulator import Emulator, Timing


@frozen(kw_only=True)
class Job:
    provider: str
    started: float  # time.monotonic(), which is the emulator's clock too
    submitted: float = 0.0  # 0: never (an error)
    finished: float = 0.0
    job_id: str | None = None
    error: str | None = None
    cpu: float = 0.0  # CPU seconds of this job's own thread: the client's share


def requests_for(client: Client, names: Sequence[str], inputs: tuple[str, str]) -> list[JobRequest]:
    """One request per provider, in each model's default (or first) sync mode."""
    requests = []
    for name in names:
        info = client.info(name)
        caps = info.model(info.default_model)
        modes = sorted(caps.sync_modes, key=lambda m: m.value)
        mode = caps.default_sync_mode or next(iter(modes), None)
        requests.append(JobRequest(video=inputs[0], audio=inputs[1], sync_mode=mode))
    return requests


def one_job(client: Client, provider: str, request: JobRequest) -> Job:
    started, cpu = time.monotonic(), time.thread_time()
    try:
        handle = client.submit(provider, request)
        submitted = time.monotonic()
        result = client.wait(handle, timeout=600)
    except LipbridgeError as exc:
        return Job(provider=provider, started=started, error=type(exc).__name__)
    if not result.video_url:
        return Job(provider=provider, started=started, error="no video URL")
    return Job(
        provider=provider,
        started=started,
        submitted=submitted,
        finished=time.monotonic(),
        job_id=handle.job_id,
        cpu=time.thread_time() - cpu,
    )


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def report(emu: Emulator, jobs: list[Job], job_seconds: float, policy: str, cpu: float) -> None:
    """Print the figures; ``cpu`` is the whole process's CPU seconds during the run."""
    start = min(j.started for j in jobs)
    wall = max(j.finished or j.started for j in jobs) - start
    arrivals, accepted, _ = emu.ledger.snapshot()
    by_endpoint = Counter(a.endpoint for a in arrivals)
    refused = Counter(a.status for a in arrivals if a.status is None or a.status >= 400)
    created = {a.job_id: a.at for a in accepted}
    done = [(j.submitted, j.finished, created[j.job_id]) for j in jobs if j.job_id in created]
    spread = max(submitted for submitted, _, _ in done) - start if done else float("nan")
    # How long after finishing at the emulator each job was seen done by its waiter.
    lags = [finished - (at + job_seconds) for _, finished, at in done]
    n = len(jobs)
    client_cpu = sum(j.cpu for j in jobs)
    client_ms, rest_ms = client_cpu * 1000 / n, (cpu - client_cpu) * 1000 / n
    print(
        f"{n} jobs of {job_seconds:g} s on {', '.join(sorted({j.provider for j in jobs}))}; "
        f"polling: {policy}"
    )
    table(
        ["", "value"],
        [
            ["wall time, first submit to last result", f"{wall:.2f} s"],
            ["ideal (one job's duration)", f"{job_seconds:.2f} s"],
            [f"wall {TIMES} ideal", f"{wall / job_seconds:.2f}"],
            ["all submits answered after", f"{spread:.2f} s"],
            [
                "seen done after finishing: median / p95",
                f"{median(lags):.2f} / {percentile(lags, 0.95):.2f} s",
            ],
            ["submits per job", f"{by_endpoint['submit'] / n:.2f}"],
            ["polls per job", f"{by_endpoint['poll'] / n:.2f}"],
            ["requests per second, overall", f"{len(arrivals) / wall:.0f}"],
            ["CPU per job: client threads (lipbridge, urllib3)", f"{client_ms:.2f} ms"],
            ["CPU per job: the rest (emulator, renders)", f"{rest_ms:.2f} ms"],
            ["error answers (status: count)", dict(refused) or "none"],
            ["jobs completed", f"{sum(j.error is None for j in jobs)} of {n}"],
            ["errors", dict(Counter(j.error for j in jobs if j.error)) or "none"],
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("providers", nargs="*", help="default: all four, in turn")
    parser.add_argument("--jobs", type=int, default=1000, help="jobs in all (1000)")
    parser.add_argument("--job-seconds", type=float, default=5.0, help="each job's duration (5)")
    parser.add_argument("--workers", type=int, help="threads (default: one per job)")
    parser.add_argument("--interval", type=float, help="fixed poll interval in seconds")
    args = parser.parse_args()
    workers = args.workers or args.jobs
    interval = args.interval if args.interval is not None else 1.0
    if min(args.jobs, workers, args.job_seconds, interval) <= 0:
        parser.error("--jobs, --workers, --job-seconds and --interval must be above 0")
    if args.interval is not None:
        poll = PollPolicy(first=args.interval, factor=1.0, cap=args.interval, jitter=0.0)
        described = f"every {args.interval:g} s"
    else:
        poll = PollPolicy()
        described = "the default PollPolicy"
    with Emulator(timing=Timing(job_seconds=args.job_seconds, results_lag=0.0)) as emu:
        names = providers(emu, args.providers, parser)
        client = Client(
            # One pooled connection per worker: a smaller pool would open and discard
            # connections under load (urllib3 warns "Connection pool is full").
            transport=Transport(maxsize=workers),
            api_keys={name: emu.key for name in names},
            base_urls={name: emu.base_url(name) for name in names},
            poll_policy=poll,
        )
        requests = requests_for(client, names, sample_inputs(emu))
        cpu = time.process_time()
        with client, ThreadPoolExecutor(workers, thread_name_prefix="job") as pool:
            futures = [
                pool.submit(one_job, client, names[i % len(names)], requests[i % len(names)])
                for i in range(args.jobs)
            ]
            jobs = [future.result() for future in futures]
        cpu = time.process_time() - cpu
        report(emu, jobs, args.job_seconds, described, cpu)


if __name__ == "__main__":
    main()
