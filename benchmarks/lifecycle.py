"""Lifecycle overhead: lipbridge's submit, polls and result against a hand-written urllib3 loop.

    python benchmarks/lifecycle.py [PROVIDER ...] [--repeat N]
                                   [--job-seconds S] [--interval S]

Both sides drive the same in-process emulator (real clock, 127.0.0.1) and make the same
HTTP calls: the same methods, paths, headers and bodies, checked on a warm-up job per
side before anything is timed, and the same number of polls, checked from the
emulator's ledger. The two sides alternate, ``--repeat`` times, and each figure is a
median. Two kinds of job are timed:

* instant (done at once, polled at once): a submit and one poll, so the ratio is
  lipbridge's own cost per call against the emulator's round trip;
* timed (``--job-seconds`` long, polled every ``--interval`` s by both sides): a
  lifecycle as an application lives it, where the sleeps are most of the time.

Neither side keeps a record of its jobs: lipbridge's client runs with ``ledger=False``,
as the hand-written loop has no ledger either. What the job ledger adds per lifecycle
(a few SQLite writes) is measured by ``benchmarks/ledger.py``.

Target: a ratio lipbridge/urllib3 of at most 1.10.
"""

from __future__ import annotations

import argparse
import itertools
import json
import re
import time
from collections import Counter
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

import attrs
import urllib3
from _common import TIMES, median, providers, sample_inputs, table

from lipbridge import Client, JobRequest
from lipbridge.polling import PollPolicy
from lipbridge_emulator import Emulator, Timing
from lipbridge_emulator.wire import Incoming, Outcome

TARGET = 1.10
TIMEOUT = urllib3.Timeout(connect=5.0, read=30.0)


@attrs.frozen
class Wire:
    """One provider's API as a hand-written client knows it, from the provider's docs."""

    submit_path: str
    body: Callable[[str, str], dict[str, Any]]  # (video URL, audio URL) -> submit body
    job_id: Callable[[Any], str]  # submit answer -> job id
    poll: Callable[[str], tuple[str, Mapping[str, str]]]  # job id -> (path, query)
    result: Callable[[Any], str | None]  # poll answer -> the video URL once done
    auth: Callable[[str], tuple[str, str]]  # key -> (header, value)


def _bearer(key: str) -> tuple[str, str]:
    return "Authorization", f"Bearer {key}"


def _gateway_result(answer: Any) -> str | None:
    done = answer["status"] == "completed" and answer.get("results")
    return answer["results"][0]["url"] if done else None


def _aimlapi_result(answer: Any) -> str | None:
    done = answer["status"] in ("completed", "succeeded") and answer.get("video")
    return answer["video"]["url"] if done else None


def _jogg_result(answer: Any) -> str | None:
    task = answer["data"]
    return task["data"]["result_url"] if task["status"] == "success" else None


_GATEWAY = Wire(
    submit_path="/v1/videos/generations",
    body=lambda v, a: {"model": "lipsync-2", "video_url": v, "audio_url": a, "sync_mode": "loop"},
    job_id=lambda answer: answer["id"],
    poll=lambda job: (f"/v1/tasks/{job}", {}),
    result=_gateway_result,
    auth=_bearer,
)
WIRES = {
    "foxapi": _GATEWAY,
    "aihubmax": _GATEWAY,
    "aimlapi": Wire(
        submit_path="/v2/video/generations",
        body=lambda v, a: {"model": "pixverse/lip-sync", "video_url": v, "audio_url": a},
        job_id=lambda answer: answer["id"],
        poll=lambda job: ("/v2/video/generations", {"generation_id": job}),
        result=_aimlapi_result,
        auth=_bearer,
    ),
    "jogg": Wire(
        submit_path="/v2/create_lip_sync_video",
        body=lambda v, a: {"video_url": v, "audio_url": a, "playback_type": "normal_reverse"},
        job_id=lambda answer: answer["data"]["task_id"],
        poll=lambda job: (f"/v2/lip_sync_video/{job}", {}),
        result=_jogg_result,
        auth=lambda key: ("x-api-key", key),
    ),
}


class Baseline:
    """The loop an application would write with urllib3 alone: no validation, no retries,
    no error mapping; the same headers as lipbridge, so the emulator sees the same calls."""

    def __init__(self, emu: Emulator, provider: str, inputs: tuple[str, str]) -> None:
        self.wire = WIRES[provider]
        self.base = emu.base_url(provider)
        self.pool = urllib3.PoolManager(retries=False, timeout=TIMEOUT)
        name, value = self.wire.auth(emu.key)
        dist = f"lipbridge-{provider}"
        self.headers = {
            "User-Agent": f"lipbridge/{metadata.version('lipbridge')} "
            f"{dist}/{metadata.version(dist)}",
            "Accept": "application/json",
            name: value,
        }
        self.body = json.dumps(self.wire.body(*inputs), separators=(",", ":")).encode()

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        answer = self.pool.request(method, self.base + path, **kw)
        if answer.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {answer.status}")
        return json.loads(answer.data)

    def submit(self) -> str:
        headers = {**self.headers, "Content-Type": "application/json"}
        answer = self._json("POST", self.wire.submit_path, body=self.body, headers=headers)
        return self.wire.job_id(answer)

    def wait(self, job: str, interval: float) -> str:
        path, query = self.wire.poll(job)
        while True:
            if interval > 0:
                time.sleep(interval)
            url = self.wire.result(self._json("GET", path, fields=query, headers=self.headers))
            if url is not None:
                return url


class Recorder:
    """Records what reaches the emulator (method, path, query, headers, body) while on."""

    def __init__(self, emu: Emulator) -> None:
        self.emu, self.calls, self._handle = emu, list[tuple[Any, ...]](), emu.handle

    def __enter__(self) -> Recorder:
        self.emu.handle = self._spy  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        del self.emu.handle

    def _spy(self, incoming: Incoming) -> Outcome:
        def read_body() -> bytes:
            body = incoming.read_body()
            self.calls.append((method, incoming.path, incoming.query, incoming.headers, body))
            return body

        method = incoming.method
        return self._handle(attrs.evolve(incoming, read_body=read_body))


def same_calls(emu: Emulator, lb: Callable[[], str], base: Callable[[], str]) -> str | None:
    """Run one job per side; None if both sent the same calls, else the first difference.

    Repeated polls count once here: how many each side made is the ledger's to tell.
    """
    sides = []
    for side in (lb, base):
        with Recorder(emu) as rec:
            job = side()
        calls = [re.sub(re.escape(job), "<job>", repr(call)) for call in rec.calls]
        sides.append([call for i, call in enumerate(calls) if i == 0 or call != calls[i - 1]])
    for ours, theirs in itertools.zip_longest(*sides, fillvalue="nothing"):
        if ours != theirs:
            return f"lipbridge sent\n  {ours}\nthe baseline sent\n  {theirs}"
    return None


def measure(
    emu: Emulator, provider: str, inputs: tuple[str, str], interval: float, repeat: int
) -> tuple[list[float], list[float], list[str], list[str]]:
    """Seconds per lifecycle for each side, alternating which goes first, and the job ids."""
    client = Client(
        api_keys={provider: emu.key},
        base_urls={provider: emu.base_url(provider)},
        poll_policy=PollPolicy(first=interval, factor=1.0, cap=interval, jitter=0.0),
        ledger=False,  # like the baseline: no record kept (benchmarks/ledger.py times one)
    )
    info = client.info(provider)
    caps = info.model(info.default_model)
    modes = sorted(caps.sync_modes, key=lambda m: m.value)
    mode = caps.default_sync_mode or next(iter(modes), None)
    request = JobRequest(video=inputs[0], audio=inputs[1], sync_mode=mode)
    baseline = Baseline(emu, provider, inputs)

    def lipbridge() -> str:
        handle = client.submit(provider, request)
        client.wait(handle)
        return handle.job_id

    def by_hand() -> str:
        job = baseline.submit()
        baseline.wait(job, interval)
        return job

    lipbridge()  # untimed: the emulator renders this job's output once, then reuses it
    difference = same_calls(emu, lipbridge, by_hand)
    if difference is not None:
        raise SystemExit(f"{provider}: the two sides made different calls:\n{difference}")
    times: dict[str, list[float]] = {"lipbridge": [], "urllib3": []}
    jobs: dict[str, list[str]] = {"lipbridge": [], "urllib3": []}
    sides = [("lipbridge", lipbridge), ("urllib3", by_hand)]
    for i in range(repeat):
        for name, side in sides if i % 2 == 0 else sides[::-1]:
            start = time.perf_counter()
            jobs[name].append(side())
            times[name].append(time.perf_counter() - start)
    client.close()
    baseline.pool.clear()
    return times["lipbridge"], times["urllib3"], jobs["lipbridge"], jobs["urllib3"]


def polls(emu: Emulator, jobs: list[str]) -> float:
    """Median polls per job, counted by the emulator."""
    counts = Counter(a.identity for a in emu.ledger.snapshot()[0] if a.endpoint == "poll")
    return median([counts[job] for job in jobs])


def round_trip(emu: Emulator, provider: str, repeat: int) -> float:
    """The floor: a bare keep-alive poll of a job that does not exist (a short refusal)."""
    pool = urllib3.PoolManager(retries=False, timeout=TIMEOUT)
    url = f"{emu.base_url(provider)}{WIRES[provider].poll('none')[0]}"
    header, value = WIRES[provider].auth(emu.key)
    times = []
    for _ in range(repeat + 1):  # the first opens the connection
        start = time.perf_counter()
        pool.request("GET", url, headers={header: value})
        times.append(time.perf_counter() - start)
    pool.clear()
    return median(times[1:])


# A bare round trip to the emulator on 127.0.0.1 takes well under a millisecond; about
# 40 ms means a server writing an answer in two sends without TCP_NODELAY, which waits
# for the client's delayed ACK (Nagle's algorithm). Then the stall is what gets measured.
STALL_MS = 10.0


def run(kind: str, job_seconds: float, interval: float, names: list[str], repeat: int) -> float:
    """Time one kind of job on a fresh emulator; print its table; return the worst ratio."""
    rows, ratios, warnings = [], [], []
    with Emulator(timing=Timing(job_seconds=job_seconds, results_lag=0.0)) as emu:
        inputs = sample_inputs(emu)
        for provider in names:
            lb, base, lb_jobs, base_jobs = measure(emu, provider, inputs, interval, repeat)
            lb_ms, base_ms = median(lb) * 1000, median(base) * 1000
            ratios.append(lb_ms / base_ms)
            lb_polls, base_polls = polls(emu, lb_jobs), polls(emu, base_jobs)
            if lb_polls != base_polls:
                warnings.append(f"{provider}: the sides polled a different number of times")
            floor = round_trip(emu, provider, repeat) * 1000
            if floor > STALL_MS:
                warnings.append(
                    f"{provider}: a bare round trip takes {floor:.0f} ms: the "
                    "emulator's server stalls (no TCP_NODELAY?)"
                )
            rows.append(
                [
                    provider,
                    f"{lb_ms:.2f}",
                    f"{base_ms:.2f}",
                    f"{ratios[-1]:.3f}",
                    f"{lb_ms - base_ms:+.2f}",
                    f"{lb_polls:g} / {base_polls:g}",
                    f"{floor:.2f}",
                ]
            )
    print(
        f"{kind}: jobs of {job_seconds:g} s, polled every {interval:g} s "
        f"(median of {repeat}, sides alternating)"
    )
    table(
        [
            "provider",
            "lipbridge ms",
            "urllib3 ms",
            f"{TIMES} urllib3",
            "extra ms",
            "polls lb / urllib3",
            "bare GET ms",
        ],
        rows,
    )
    for warning in warnings:
        print(f"WARNING {warning}: these figures do not compare like with like")
    print()
    return max(ratios)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("providers", nargs="*", help="default: all four")
    parser.add_argument("--repeat", type=int, default=40, help="lifecycles per side (40)")
    parser.add_argument("--job-seconds", type=float, default=0.2, help="timed jobs (0.2)")
    parser.add_argument("--interval", type=float, default=0.08, help="timed polling (0.08)")
    args = parser.parse_args()
    if args.repeat < 1 or args.job_seconds <= 0 or args.interval <= 0:
        parser.error("--repeat must be at least 1, --job-seconds and --interval above 0")
    with Emulator() as emu:
        names = providers(emu, args.providers, parser)
    unknown = [name for name in names if name not in WIRES]
    if unknown:
        parser.error(f"no hand-written baseline for {unknown}")
    instant = run("instant", 0.0, 0.0, names, args.repeat)
    timed = run("timed", args.job_seconds, args.interval, names, max(3, args.repeat // 4))
    print(
        f"worst lipbridge/urllib3: instant {instant:.3f}, timed {timed:.3f} "
        f"(target: at most {TARGET:.2f})"
    )


if __name__ == "__main__":
    main()
