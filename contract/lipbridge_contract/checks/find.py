"""Finding a job again: the optional ``lipbridge_find_jobs`` hook, where a plugin has it.

The core calls the hook while reconciling a job whose submit answer was lost, and adopts
the one job that matches. So the hook must return this provider's jobs, with usable
ids and handles, and never one created before ``since``: a wrong match is a job adopted
twice, a missed one a job paid for twice.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from lipbridge import JobHandle, LipbridgeError
from lipbridge_contract.catalogue import FIND_HOOK, FIND_JOBS, FIND_JOBS_NO_MATCH
from lipbridge_contract.checks.base import Check, Verdict, hook_missing, present
from lipbridge_contract.replay import call_find_jobs

if TYPE_CHECKING:
    from lipbridge_contract.replay import Observation
    from lipbridge_contract.run import SuiteRun
    from lipbridge_contract.scenarios import Scenario

_SECOND = dt.timedelta(seconds=1)


def handle_problems(provider: str, since: dt.datetime, found: list[JobHandle]) -> list[str]:
    """What is wrong with the handles a find returned, whatever the sidecar says."""
    problems = []
    seen: set[str] = set()
    for n, handle in enumerate(found):
        where = f"job {n} ({handle.job_id!r})"
        if handle.provider != provider:
            problems.append(f"{where} names provider {handle.provider!r}, not {provider!r}")
        if not handle.job_id:
            problems.append(f"job {n} has an empty job id")
        elif handle.job_id in seen:
            problems.append(f"{where} was returned twice")
        seen.add(handle.job_id)
        if handle.created_at.tzinfo is None:
            problems.append(f"{where}: created_at {handle.created_at} has no timezone")
        elif handle.created_at < since.replace(microsecond=0):  # providers report seconds
            problems.append(
                f"{where} was created at {handle.created_at.isoformat()}, before since "
                f"{since.isoformat()}; a job older than since must be dropped"
            )
        try:
            portable = JobHandle.from_json(handle.to_json()) == handle
        except LipbridgeError:
            portable = False
        if not portable:
            problems.append(f"{where} changed in a JSON round trip: {handle!r}")
    return problems


def _expected_problems(scenario: Scenario, found: list[JobHandle]) -> list[str]:
    """Where the jobs found differ from the sidecar's ``expect.jobs``."""
    want = scenario.sidecar.expect.jobs or ()
    got = [h.job_id for h in found]
    if got != [j.job_id for j in want]:
        return [f"found jobs {got}; the sidecar expects {[j.job_id for j in want]}"]
    return [
        f"job {job.job_id!r} was created at {handle.created_at.isoformat()}; the sidecar "
        f"expects {job.created_at.isoformat()}"
        for job, handle in zip(want, found, strict=True)
        if job.created_at is not None and handle.created_at != job.created_at
    ]


def _meaning_problems(run: SuiteRun, problems: list[str], notes: list[str]) -> None:
    """The standard find scenarios exist, and their sidecars say what their names mean."""
    for standard in (FIND_JOBS, FIND_JOBS_NO_MATCH):
        scenario = present(run, standard, problems, notes)
        if scenario is None:
            continue
        if not scenario.sidecar.finds:
            problems.append(
                f"{standard.name}: its steps start with {scenario.sidecar.steps[0]}; this "
                "scenario means a find step"
            )
            continue
        expected = len(scenario.sidecar.expect.jobs or ())
        if bool(expected) != standard.finds:
            means = "finds the job" if standard.finds else "finds no job"
            problems.append(
                f"{standard.name}: the sidecar expects {expected} job(s); this scenario means "
                f"a lookup that {means}"
            )


def _since_probe(run: SuiteRun, obs: Observation) -> str | None:
    """The recorded lookup answered again, with ``since`` just after every job it found:
    a plugin that ignores ``since`` still returns them."""
    found, request = obs.found or [], obs.scenario.sidecar.request
    if not found or request is None:
        return None
    asked = sum(1 for sent in obs.sent if sent.phase == "find")
    answers = [i.response() for i in run.recorded(obs.scenario.name)[:asked]]
    later = max(h.created_at for h in found) + _SECOND
    assert run.info is not None
    client, _, _ = run.scripted(*answers)
    try:
        again = call_find_jobs(client, client.context(run.provider, run.info), request, later)
    except Exception as exc:
        return f"with since {later.isoformat()}, the same answer made it raise {exc!r}"
    older = [h for h in again if h.created_at < later.replace(microsecond=0)]
    if older:
        return (
            f"with since {later.isoformat()}, after every job found, the same answer still "
            f"gave {older[0].job_id!r} created at {older[0].created_at.isoformat()}; a job "
            "older than since must be dropped"
        )
    return None


def _find(run: SuiteRun) -> Verdict:
    missing = hook_missing(run, FIND_HOOK, "the core reconciles this provider's unknown jobs "
                           "without it")
    if missing is not None:
        return missing
    problems: list[str] = []
    notes: list[str] = []
    _meaning_problems(run, problems, notes)
    judged = 0
    for name, obs in run.observations.items():
        # A find that raised or went off its recording: lifecycle and errors say so.
        if not obs.scenario.sidecar.finds or obs.found is None:
            continue
        judged += 1
        since = obs.scenario.sidecar.since
        assert since is not None
        problems += [f"{name}: {p}" for p in handle_problems(run.provider, since, obs.found)]
        problems += [f"{name}: {p}" for p in _expected_problems(obs.scenario, obs.found)]
        probe = _since_probe(run, obs)
        if probe:
            problems.append(f"{name}: {probe}")
    return Verdict.of(problems, "; ".join([f"{judged} lookups as recorded", *notes]))


FIND = Check("find-jobs", "Finding a job again (optional hook)", _find)
