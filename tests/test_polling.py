"""When wait polls: the schedule, progress bringing a poll forward, and plugins' poll hints.

Every wait here runs the real ``Waiter`` on a virtual clock: nothing sleeps, and the
numbers are the schedule's, not a machine's.
"""

from __future__ import annotations

import datetime as dt
import inspect
import random
import re
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
import pytest
from conftest import FakeClock, make_registry, write_dist

import lipbridge.plugin
from lipbridge import (
    Client,
    JobHandle,
    JobRequest,
    JobState,
    JobStatus,
    PollPolicy,
    RateLimited,
)
from lipbridge.hints import poll_hint, progress_eta
from lipbridge.plugin import Response
from lipbridge.polling import Waiter
from lipbridge_contract.harness import ScriptedTransport
from lipbridge_contract.testing import answer

ROOT = Path(__file__).resolve().parent.parent
BEFORE = PollPolicy(first=2.0, factor=1.5, cap=15.0, progress=False)  # the old defaults
# A schedule of its own for the tests of progress, so they do not follow the defaults.
FIXED = PollPolicy(first=1.0, factor=1.3, cap=25.0, jitter=0.0)
HANDLE = JobHandle(provider="acme", job_id="j1",
                   created_at=dt.datetime(2026, 11, 21, tzinfo=dt.timezone.utc))
Progress = Callable[[float], "float | None"]


def running(progress: float | None = None, poll_after: float | None = None) -> JobStatus:
    return JobStatus(state=JobState.RUNNING, raw_status="processing", progress=progress,
                     poll_after=poll_after)


def wait_for(policy: PollPolicy, seconds: float, progress: Progress | None = None,
             seed: int = 1) -> list[float]:
    """The poll times (s after the submit) of a wait on a job that ends at ``seconds``."""
    clock = FakeClock()
    start = clock.monotonic()
    waiter = Waiter(HANDLE, clock=clock, policy=policy, timeout=None, rng=random.Random(seed))
    polls: list[float] = []
    while not polls or polls[-1] < seconds:
        clock.sleep(waiter.next_sleep())
        polls.append(clock.monotonic() - start)
        waiter.seen(running(None if progress is None else progress(polls[-1])))
    return polls


def linear(seconds: float) -> Progress:
    """Progress in whole percents, 0 % for the first fifth (as the emulator reports it)."""
    return lambda t: 0.0 if t < 0.2 * seconds else float(min(99, int(100 * t / seconds)))


# --- the schedule -----------------------------------------------------------------------------


def test_the_schedule_counts_from_the_time_waited() -> None:
    policy = PollPolicy(jitter=0.0)
    assert [policy.interval(waited, random.Random(1)) for waited in (0, 10, 80, 500)] == [
        1.5, 4.0, 21.5, 25.0
    ]
    nominal = wait_for(policy, 100)
    assert [round(t, 2) for t in nominal[:6]] == [1.5, 3.38, 5.72, 8.65, 12.31, 16.89]
    old = PollPolicy(first=2.0, factor=1.5, cap=15.0, jitter=0.0)  # x1.5 a poll, as it was
    assert [round(t, 2) for t in wait_for(old, 30)] == [2.0, 5.0, 9.5, 16.25, 26.38, 41.38]


@pytest.mark.parametrize("seconds", [300, 1800])
def test_long_jobs_are_polled_no_more_often_than_before(seconds: float) -> None:
    for seed in range(20):
        assert len(wait_for(PollPolicy(), seconds, seed=seed)) <= len(
            wait_for(BEFORE, seconds, seed=seed)
        )
    assert len(wait_for(PollPolicy(jitter=0.0), seconds)) < len(
        wait_for(PollPolicy(first=2.0, factor=1.5, cap=15.0, jitter=0.0), seconds)
    )
    # Progress adds no polls to a long job that reports it.
    with_progress = wait_for(PollPolicy(jitter=0.0), seconds, linear(seconds))
    assert len(with_progress) <= len(wait_for(PollPolicy(jitter=0.0, progress=False), seconds))


def test_no_job_of_three_and_a_half_minutes_or_more_costs_more_polls_than_before() -> None:
    new, old = PollPolicy(jitter=0.0), PollPolicy(first=2.0, factor=1.5, cap=15.0, jitter=0.0)
    longer = [s for s in range(210, 3601, 7) if len(wait_for(new, s)) > len(wait_for(old, s))]
    assert longer == []


def test_a_five_second_job_is_seen_sooner() -> None:
    def late(policy: PollPolicy, progress: Progress | None = None) -> float:
        seen = [wait_for(policy, 5.0, progress, seed)[-1] - 5.0 for seed in range(200)]
        return sum(seen) / len(seen)

    before, schedule = late(BEFORE), late(PollPolicy(progress=False))
    with_progress = late(PollPolicy(), linear(5.0))
    assert before > 2.0 and schedule < 1.5 and with_progress < 0.5


# --- progress ---------------------------------------------------------------------------------


def test_progress_brings_the_last_poll_forward_to_when_the_job_ends() -> None:
    plain = wait_for(PollPolicy(jitter=0.0, progress=False), 5.0, linear(5.0))
    forward = wait_for(PollPolicy(jitter=0.0), 5.0, linear(5.0))
    assert [round(t, 2) for t in plain] == [1.5, 3.38, 5.72]
    # At 3.38 s the job is at 67 %, 37 points in 1.88 s since 30 % at 1.5 s: 1.68 s to go.
    assert [round(t, 2) for t in forward] == [1.5, 3.38, 5.05]


def waiter(policy: PollPolicy | None = None) -> tuple[Waiter, FakeClock]:
    clock = FakeClock()
    policy = policy or FIXED
    return Waiter(HANDLE, clock=clock, policy=policy, timeout=None, rng=random.Random(1)), clock


def seen_at(w: Waiter, clock: FakeClock, progress: Sequence[float | None]) -> list[float]:
    """Feed one reading per poll, each after the delay the waiter chose; those delays."""
    delays = []
    for value in progress:
        delay = w.next_sleep()
        delays.append(round(delay, 3))
        clock.sleep(delay)
        w.seen(running(value))
    delays.append(round(w.next_sleep(), 3))
    return delays


def test_progress_never_delays_a_poll_and_never_brings_one_closer_than_hint_min() -> None:
    w, clock = waiter()
    # Slow progress (1 point a poll): the estimate is far beyond the schedule.
    assert seen_at(w, clock, [1, 2, 3]) == [1.0, 1.3, 1.69, 2.197]
    w, clock = waiter()
    # 10 % to 90 % in 1.3 s: 0.16 s to go, but never less than hint_min (1 s).
    assert seen_at(w, clock, [10, 90]) == [1.0, 1.3, 1.0]


def test_readings_of_zero_or_falling_progress_start_the_estimate_afresh() -> None:
    w, clock = waiter()
    # 40 % at 1 s and 80 % at 3.99 s would say 1.5 s to go, but 0 % came between: the
    # job may have started over, so the 80 % is a first reading and the schedule holds.
    assert seen_at(w, clock, [40, 0, 80]) == [1.0, 1.3, 1.69, 2.197]
    w, clock = waiter()
    assert seen_at(w, clock, [40, 20, 80]) == [1.0, 1.3, 1.69, 1.0]  # 20 % to 80 % in 1.69 s
    w, clock = waiter()
    # A poll without progress keeps the readings: 40 % at 2.3 s, 80 % at 6.19 s.
    assert seen_at(w, clock, [None, 40, None, 80]) == [1.0, 1.3, 1.69, 2.197, 1.943]


def test_estimates_that_keep_missing_cost_at_most_twice_the_schedules_polls() -> None:
    """Progress that keeps closing in on 100 % without reaching it promises the end at
    every poll; the schedule's polls bound the ones it brings forward."""
    nearly = lambda t: 100 - 60 / (1 + t) ** 2  # noqa: E731
    polls = wait_for(PollPolicy(jitter=0.0), 300.0, nearly)
    scheduled = wait_for(PollPolicy(jitter=0.0, progress=False), 300.0)
    assert len(scheduled) < len(polls) <= 2 * len(scheduled) + 1
    slowing = lambda t: min(99.0, 90 + t / 10) if t > 2 else 45 * t  # noqa: E731
    # A job that slows down near the end is followed: the rate is the later half's.
    assert len(wait_for(PollPolicy(jitter=0.0), 90.0, slowing)) <= len(
        wait_for(PollPolicy(jitter=0.0, progress=False), 90.0)
    ) + 2


def test_a_provider_hint_wins_over_progress() -> None:
    w, clock = waiter()
    clock.sleep(w.next_sleep())
    w.seen(running(20))
    clock.sleep(w.next_sleep())
    w.seen(running(90, poll_after=7))
    assert w.next_sleep() == 7.0


def test_progress_can_be_switched_off() -> None:
    w, clock = waiter(attrs.evolve(FIXED, progress=False))
    assert seen_at(w, clock, [20, 46, 79]) == [1.0, 1.3, 1.69, 2.197]


def test_after_a_long_retry_after_the_next_interval_fits_the_jobs_age() -> None:
    w, clock = waiter()
    clock.sleep(w.next_sleep())
    w.failed(RateLimited("slow down", provider="acme", retry_after=60))
    assert w.next_sleep() == 60.0
    clock.sleep(60.0)
    w.seen(running())
    assert w.next_sleep() == pytest.approx(1 + 0.3 * 61)  # not 1.3 s, as if just submitted


def test_progress_eta() -> None:
    assert progress_eta((1.0, 20.0), (2.0, 40.0)) == 3.0
    assert progress_eta((0.0, 50.0), (10.0, 99.0)) == pytest.approx(10 / 49)
    for earlier, later in [((1, 0), (2, 40)), ((1, 40), (2, 40)), ((1, 50), (2, 40)),
                           ((1, 20), (2, 100)), ((2, 20), (2, 40)), ((3, 20), (2, 40))]:
        assert progress_eta(earlier, later) is None, (earlier, later)


# --- poll_hint, for plugins -------------------------------------------------------------------


def reply(status: int = 200, **headers: str) -> Response:
    return answer({}, status, headers)


@pytest.mark.parametrize(
    ("response", "eta", "hint"),
    [
        (reply(202, **{"Retry-After": "3"}), None, 3.0),
        (reply(200, **{"Retry-After": "2.5"}), 40, 2.5),  # the provider's word wins
        (reply(202, **{"Retry-After": "Sat, 21 Nov 2026 12:00:30 GMT"}), None, 30.0),
        (reply(202, **{"Retry-After": "Sat, 21 Nov 2026 11:00:00 GMT"}), None, 0.0),
        (reply(202, **{"Retry-After": "soon"}), 12, 12.0),  # garbled: no instruction
        (reply(202, **{"Retry-After": "inf"}), None, None),
        (reply(503, **{"Retry-After": "9"}), None, None),  # an error's: ctx.read raises it
        (reply(), 12.5, 12.5),
        (reply(), 0, None),  # an ETA that has passed says nothing
        (reply(), -4, None),
        (reply(), True, None),
        (reply(), "30", None),
        (reply(), float("inf"), None),
        (reply(), None, None),
    ],
)
def test_poll_hint(response: Response, eta: object, hint: float | None) -> None:
    assert poll_hint(response, FakeClock(), eta=eta) == hint


PLUGIN = '''
from lipbridge import JobHandle, JobResult, JobState, JobStatus
from lipbridge.plugin import CallContext, CallKind, ModelCapabilities, ProviderInfo
from lipbridge.plugin import StatusMap, dig, hookimpl, poll_hint

STATUSES = StatusMap({"running": JobState.RUNNING, "done": JobState.SUCCEEDED})


@hookimpl
def lipbridge_provider_info():
    return ProviderInfo(name="hinted", display_name="Hinted", docs_url="https://h.invalid",
                        contract_version="1.1", default_base_url="https://api.h.invalid",
                        models=(ModelCapabilities(name="h-1"),), default_model="h-1",
                        status_words=STATUSES)


@hookimpl
def lipbridge_submit(request, ctx: CallContext) -> JobHandle:
    response = ctx.http.post("/jobs", kind=CallKind.SUBMIT, json={"video": request.video})
    return ctx.new_handle(ctx.require(response, ctx.read(response), "id"))


@hookimpl
def lipbridge_poll(handle, ctx: CallContext) -> JobStatus:
    response = ctx.http.get(f"/jobs/{handle.job_id}", kind=CallKind.POLL)
    data = ctx.read(response)
    state = STATUSES.state(ctx.require(response, data, "status"))
    result = JobResult(video_url=data["url"]) if state is JobState.SUCCEEDED else None
    return JobStatus(state=state, raw_status=data["status"], result=result,
                     poll_after=poll_hint(response, ctx.clock, eta=dig(data, "eta")))
'''


def test_a_plugin_hint_through_a_wait(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 202 with Retry-After, then an ETA, then an ETA past hint_max, as a plugin sends them."""
    (site / "lipbridge_hinted.py").write_text(PLUGIN)
    write_dist(site, "lipbridge-hinted", {"hinted": "lipbridge_hinted"})
    monkeypatch.syspath_prepend(str(site))
    transport = ScriptedTransport([
        answer({"id": "h1"}, status=201),
        answer({"status": "running"}, 202, {"Retry-After": "4"}),
        answer({"status": "running", "eta": 12}),
        answer({"status": "running", "eta": 600}),
        answer({"status": "done", "url": "https://cdn.h.invalid/out.mp4"}),
    ])
    clock = FakeClock()
    client = Client(registry=make_registry(site), transport=transport, clock=clock,
                    api_keys={"hinted": "hinted-test-key"}, environ={},
                    poll_policy=PollPolicy(jitter=0.0))
    handle = client.submit("hinted", JobRequest(video="https://a.invalid/v.mp4",
                                                audio="https://a.invalid/a.wav"))
    assert client.wait(handle).video_url == "https://cdn.h.invalid/out.mp4"
    assert clock.sleeps == [1.5, 4.0, 12.0, 60.0]


# --- the plugin author's API and its documentation --------------------------------------------


def rendered(fn: Callable[..., object]) -> str:
    """``name(arg: Type, *, kw: Type = default) -> Return`` from the (string) annotations."""
    sig, parts, starred = inspect.signature(fn), [], False
    for p in sig.parameters.values():
        if p.kind is p.KEYWORD_ONLY and not starred:
            parts.append("*")
            starred = True
        default = "" if p.default is p.empty else f" = {p.default!r}"
        parts.append(f"{p.name}: {p.annotation}{default}")
    return f"{fn.__name__}({', '.join(parts)}) -> {sig.return_annotation}"


def test_poll_hint_is_in_the_plugin_api_and_documented_with_its_signature() -> None:
    from test_docs import hooks_section, table_names

    assert "poll_hint" in lipbridge.plugin.__all__
    assert lipbridge.plugin.poll_hint is poll_hint
    section = hooks_section(f"### `{rendered(poll_hint)}`")
    assert table_names(section) == list(inspect.signature(poll_hint).parameters)
    docs = (ROOT / "docs" / "hooks.md").read_text()
    assert re.search(r"`shown` and\s+`poll_hint`", docs)  # in the list of lipbridge.plugin


def test_importing_poll_hint_loads_no_http_stack() -> None:
    """A plugin imports it when it loads; ``lipbridge providers`` must not pay for urllib3."""
    code = "import sys; from lipbridge.plugin import poll_hint; print('urllib3' in sys.modules)"
    assert subprocess.check_output([sys.executable, "-c", code], text=True).strip() == "False"


def test_the_schedule_documented_in_reliability_md_is_the_default() -> None:
    docs = " ".join((ROOT / "docs" / "reliability.md").read_text().split())
    policy = PollPolicy()
    assert (policy.first, policy.factor, policy.cap, policy.jitter) == (1.5, 1.25, 25.0, 0.2)
    assert "`PollPolicy(first=1.5, factor=1.25, cap=25.0, jitter=0.2)`" in docs
    nominal = ", ".join(f"{t:.1f}" for t in wait_for(PollPolicy(jitter=0.0), 40))
    assert nominal in docs
