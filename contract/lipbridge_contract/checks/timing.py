"""Timing independence: the plugin never sleeps or reads the wall clock itself.

Replays ran under :class:`~lipbridge_contract.harness.ClockWatch`; here the recorded
429 answer is also replayed into a poll, to prove its ``Retry-After`` reaches the
injected clock's sleep (the plugin's poll goes through ``ctx.http``). The retried request
is then answered with the success scenario's last poll as recorded, every request of it:
a poll that reads a status and then fetches the result (fal's) gets both answers in turn.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from lipbridge import RateLimited
from lipbridge.http import RetryPolicy, retry_after_seconds
from lipbridge_contract.catalogue import RATE_LIMITED, SUCCESS
from lipbridge_contract.checks.base import FAIL, Check, Verdict, needs_scenario
from lipbridge_contract.harness import ClockWatch, SteppedClock, plugin_modules
from lipbridge_contract.recorded import Interaction

POLL_PHASES = ("poll", "wait")  # the replay steps whose requests are polls

if TYPE_CHECKING:
    from lipbridge_contract.run import SuiteRun


def _limited(run: SuiteRun) -> Interaction | None:
    """A recorded 429 answer that carries a Retry-After."""
    return next(
        (i for i in run.all_recorded() if i.status == 429 and i.headers.get("retry-after")), None
    )


def _last_poll(run: SuiteRun) -> list[Interaction]:
    """The success scenario's last poll as recorded: from the last answer to the request a
    poll starts with (the first one its replay sent while polling) to the end. Without
    that replay, or when the request is not found, its last 2xx GET alone (a poll of one
    request, as every plugin's was before polls that fetch a result)."""
    recorded = run.recorded(SUCCESS.name)
    obs = run.observations.get(SUCCESS.name)
    first = next((s for s in obs.sent if s.phase in POLL_PHASES), None) if obs else None
    if first is not None:
        for k in reversed(range(len(recorded))):
            i = recorded[k]
            if (i.method, i.uri) == (first.method, first.url) and i.status < 300:
                return recorded[k:]
    answer = next((i for i in reversed(recorded) if i.method == "GET" and i.status < 300), None)
    return [answer] if answer else []


def _retry_after_problem(run: SuiteRun) -> str | None:
    limited = _limited(run)
    if limited is None:
        return None
    # The job's last good poll: what the retried poll should end with.
    answers = _last_poll(run)
    hinted = retry_after_seconds(limited.headers.get("retry-after"), SteppedClock())
    client, _, clock = run.scripted(limited.response(), *(i.response() for i in answers))
    watch = ClockWatch(plugin_modules(run.registry.plugin(run.provider)))
    try:
        with watch.watching():
            client.poll(run.sample_handle())
    except RateLimited as exc:
        if answers and hinted is not None and hinted <= RetryPolicy().retry_after_max:
            return f"poll gave up on a 429 the core retries: {exc}"
        if hinted is not None and (
            exc.retry_after is None or not math.isclose(exc.retry_after, hinted)
        ):
            return f"a recorded Retry-After of {hinted:g} s became retry_after={exc.retry_after}"
        return None
    except Exception as exc:
        return f"poll raised {type(exc).__name__} on a recorded 429: {exc}"
    if watch.calls:
        return f"while retrying a 429: {watch.calls[0]}"
    if hinted is not None and (not clock.sleeps or not math.isclose(clock.sleeps[0], hinted)):
        return (
            f"the recorded Retry-After of {hinted:g} s did not reach the injected sleep "
            f"(sleeps: {clock.sleeps})"
        )
    return None


def _timing(run: SuiteRun) -> Verdict:
    problems = []
    for name, obs in run.observations.items():
        problems += [f"{name}: {call}" for call in dict.fromkeys(obs.clock_calls)]
    problems += [f"generated inputs: {call}" for call in dict.fromkeys(run.watch.calls)]
    gate = needs_scenario(run, RATE_LIMITED.name, "the Retry-After timing check")
    if gate is not None and gate.status is FAIL:
        problems.append(gate.detail)
    if gate is None and _limited(run) is None:
        problems.append("rate_limited: no recorded 429 answer carries a Retry-After header")
    problem = _retry_after_problem(run)
    if problem:
        problems.append(f"rate_limited: {problem}")
    honoured = "Retry-After reached the injected sleep" if gate is None else gate.detail
    return Verdict.of(problems, f"no wall clock or sleep in plugin code; {honoured}")


TIMING = Check("timing", "Timing independence", _timing)
