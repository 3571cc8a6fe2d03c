"""Polling: how soon a finished job is seen and how many polls it costs, before and now.

    python benchmarks/polling.py [PROVIDER ...] [--jobs N] [--job-seconds S] [--rounds N]
                                 [--schedule-only]

Two parts, three sides: the previous default ``PollPolicy`` (first poll after 2 s, then
x1.5 up to 15 s), the new schedule alone (1.5 s, then 1.5 s plus a quarter of the time
waited, up to 25 s) and the new defaults, which also bring a poll forward when the job's
progress says it will be done sooner.

* **From the schedule.** The real ``Waiter`` on a virtual clock, for jobs of 5 s to
  30 min that end exactly on time: the polls each job costs and how long after finishing
  it is seen, without jitter and as the mean of 500 jittered waits. The progress side's
  jobs report progress as the emulator does (0 % for the first fifth, then in step
  with time, in whole percents).
* **Against the emulator.** 1,000 jobs of 5 s through one shared ``Client`` (as
  ``throughput.py``: one thread per job, all in flight at once), the four providers
  taking turns, each side on a fresh emulator, the sides taking turns for ``--rounds``
  rounds. The ideal wall time is one job's duration. Only FoxAPI and AIHubMax report
  progress, so only half the jobs can be brought forward.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from _common import TIMES, median, providers, sample_inputs, table
from throughput import Job, one_job, percentile, requests_for

from lipbridge import Client, JobHandle, JobState, JobStatus
from lipbridge.polling import PollPolicy, Waiter
from lipbridge.transport import Transport
from lipbridge_emulator import Emulator, Timing

SIDES: dict[str, PollPolicy] = {
    "before (2 s, x1.5, 15 s)": PollPolicy(first=2.0, factor=1.5, cap=15.0, progress=False),
    "now, schedule only": PollPolicy(progress=False),
    "now (schedule + progress)": PollPolicy(),
}
LENGTHS = (5.0, 30.0, 60.0, 120.0, 300.0, 1800.0)
QUEUED_SHARE = 0.2  # the emulator's: the first fifth of a job is spent queued, at 0 %
SEEDS = 500


class VirtualClock:
    """Monotonic time that moves only when slept on; the wall clock never moves."""

    def __init__(self) -> None:
        self.mono = 0.0

    def now(self) -> dt.datetime:
        return dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        self.mono += max(0.0, seconds)


def emulator_progress(elapsed: float, seconds: float) -> float:
    """What the emulator reports ``elapsed`` s into a job of ``seconds``: whole percents."""
    if elapsed < QUEUED_SHARE * seconds:
        return 0.0
    return float(min(99, max(1, int(100 * elapsed / seconds))))


def simulated(policy: PollPolicy, seconds: float, rng: random.Random) -> tuple[int, float]:
    """(polls, seconds seen late) for one job of ``seconds``, waited on by the real Waiter."""
    clock = VirtualClock()
    handle = JobHandle(provider="sim", job_id="1", created_at=clock.now())
    waiter = Waiter(handle, clock=clock, policy=policy, timeout=None, rng=rng)
    polls = 0
    while True:
        clock.sleep(waiter.next_sleep())
        polls += 1
        if clock.mono >= seconds:
            return polls, clock.mono - seconds
        progress = emulator_progress(clock.mono, seconds) if policy.progress else None
        waiter.seen(JobStatus(state=JobState.RUNNING, raw_status="running", progress=progress))


def from_the_schedule() -> None:
    print("From the schedule: polls per job / seen done after finishing (s), jobs that end on time")
    rows = []
    for name, policy in SIDES.items():
        exact = PollPolicy(
            first=policy.first, factor=policy.factor, cap=policy.cap, jitter=0.0,
            progress=policy.progress,
        )
        nominal, jittered = [name + ", no jitter"], [name + ", jittered mean"]
        for seconds in LENGTHS:
            polls, late = simulated(exact, seconds, random.Random(0))
            nominal.append(f"{polls} / {late:.1f}")
            runs = [simulated(policy, seconds, random.Random(seed)) for seed in range(SEEDS)]
            mean_polls = statistics.fmean(p for p, _ in runs)
            mean_late = statistics.fmean(late for _, late in runs)
            jittered.append(f"{mean_polls:.1f} / {mean_late:.1f}")
        rows += [nominal, jittered]
    table(["job length", *(_length(s) for s in LENGTHS)], rows)
    print()


def _length(seconds: float) -> str:
    return f"{seconds:g} s" if seconds < 60 else f"{seconds / 60:g} min"


def on_the_emulator(
    policy: PollPolicy, names: Sequence[str] | None, args: argparse.Namespace,
    parser: argparse.ArgumentParser, seed: int,
) -> dict[str, float]:
    """One side's run on a fresh emulator: its figures."""
    with Emulator(timing=Timing(job_seconds=args.job_seconds, results_lag=0.0)) as emu:
        chosen = providers(emu, names or [], parser)
        client = Client(
            transport=Transport(maxsize=args.jobs),
            api_keys={name: emu.key for name in chosen},
            base_urls={name: emu.base_url(name) for name in chosen},
            poll_policy=policy,
            rng=random.Random(seed),
        )
        requests = requests_for(client, chosen, sample_inputs(emu))
        with client, ThreadPoolExecutor(args.jobs, thread_name_prefix="job") as pool:
            futures = [
                pool.submit(one_job, client, chosen[i % len(chosen)], requests[i % len(chosen)])
                for i in range(args.jobs)
            ]
            jobs = [future.result() for future in futures]
        return figures(emu, jobs, args.job_seconds)


def figures(emu: Emulator, jobs: list[Job], job_seconds: float) -> dict[str, float]:
    arrivals, accepted, _ = emu.ledger.snapshot()
    created = {a.job_id: a.at for a in accepted}
    start = min(j.started for j in jobs)
    wall = max(j.finished or j.started for j in jobs) - start
    # How long after finishing at the emulator each job was seen done by its waiter.
    lags = [j.finished - (created[j.job_id] + job_seconds) for j in jobs if j.job_id in created]
    polls = sum(a.endpoint == "poll" for a in arrivals)
    return {
        "wall": wall,
        "ideal": wall / job_seconds,
        "submitted": max(j.submitted for j in jobs) - start,
        "lag_mean": statistics.fmean(lags) if lags else float("nan"),
        "lag_median": median(lags),
        "lag_p95": percentile(lags, 0.95),
        "lag_max": max(lags, default=float("nan")),
        "polls": polls / len(jobs),
        "failed": sum(j.error is not None for j in jobs),
    }


def against_the_emulator(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in SIDES}
    for round_ in range(args.rounds):
        for name, policy in SIDES.items():  # the sides take turns
            runs[name].append(on_the_emulator(policy, args.providers, args, parser, round_))
    print(
        f"Against the emulator: {args.jobs} jobs of {args.job_seconds:g} s, "
        f"median of {args.rounds} run(s) per side"
    )

    def cell(name: str, key: str, form: str) -> str:
        return format(median([run[key] for run in runs[name]]), form)

    rows = [  # label, figure, format
        ("wall time, first submit to last result (s)", "wall", ".2f"),
        (f"wall {TIMES} ideal ({args.job_seconds:g} s)", "ideal", ".2f"),
        ("all submits answered after (s)", "submitted", ".2f"),
        ("seen done after finishing: mean (s)", "lag_mean", ".2f"),
        ("seen done after finishing: median (s)", "lag_median", ".2f"),
        ("seen done after finishing: p95 (s)", "lag_p95", ".2f"),
        ("seen done after finishing: max (s)", "lag_max", ".2f"),
        ("polls per job", "polls", ".2f"),
        ("jobs that failed", "failed", "g"),
    ]
    table(["", *SIDES], [[label, *(cell(n, key, form) for n in SIDES)]
                         for label, key, form in rows])
    for name in SIDES:
        each = ", ".join(f"{run['wall']:.2f} s" for run in runs[name])
        print(f"  {name}: wall time of each run {each}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("providers", nargs="*", help="default: all four, in turn")
    parser.add_argument("--jobs", type=int, default=1000, help="jobs per run (1000)")
    parser.add_argument("--job-seconds", type=float, default=5.0, help="each job's length (5)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per side (3)")
    parser.add_argument("--schedule-only", action="store_true", help="skip the emulator runs")
    args = parser.parse_args()
    if min(args.jobs, args.job_seconds, args.rounds) <= 0:
        parser.error("--jobs, --job-seconds and --rounds must be above 0")
    started = time.monotonic()
    from_the_schedule()
    if not args.schedule_only:
        against_the_emulator(args, parser)
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
