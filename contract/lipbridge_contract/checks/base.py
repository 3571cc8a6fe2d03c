"""What a check is and what it returns.

A check is a function of the shared :class:`~lipbridge_contract.run.SuiteRun` that
returns a :class:`Verdict`. Failures list every problem found, each naming the
scenario and what differed, so one run shows everything wrong at once.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from attrs import field, frozen

from lipbridge_contract.catalogue import STEP_HOOKS
from lipbridge_contract.run import Strictness

if TYPE_CHECKING:
    from lipbridge_contract.catalogue import StandardScenario
    from lipbridge_contract.run import SuiteRun
    from lipbridge_contract.scenarios import Scenario

class VerdictStatus(str, enum.Enum):
    """A check's outcome; the values are what the table and the JSON show."""

    PASS = "pass"
    FAIL = "fail"  # a run with a failed check is not ok
    SKIP = "skip"  # the check could not judge (a missing scenario at low, a bypass)


PASS, FAIL, SKIP = VerdictStatus.PASS, VerdictStatus.FAIL, VerdictStatus.SKIP


@frozen
class Verdict:
    status: VerdictStatus = field(converter=VerdictStatus)  # a plugin's own check may say "pass"
    detail: str = ""

    @classmethod
    def of(cls, problems: Iterable[str], passed: str = "") -> Verdict:
        found = list(problems)
        return cls(FAIL, "\n".join(found)) if found else cls(PASS, passed)


def skip(reason: str) -> Verdict:
    return Verdict(SKIP, reason)


@frozen
class Check:
    id: str
    title: str
    run: Callable[[SuiteRun], Verdict]
    needs_plugin: bool = True  # False: runs, and reports, even when the plugin will not load


def needs_scenario(
    run: SuiteRun, name: str, why: str, present: bool | None = None, wanted: str = ""
) -> Verdict | None:
    """None when scenario ``name`` exists; else the verdict strictness dictates.

    ``present`` overrides the lookup for requirements met by any scenario (a request
    using tts, say), which ``wanted`` then describes; ``name`` is still the bypass key.
    """
    if run.scenario(name) is not None if present is None else present:
        return None
    reason = run.bypass(name)
    if reason:
        return skip(f"bypassed ({name}): {reason}")
    if run.strictness is Strictness.LOW:
        return skip(f"no {wanted}" if wanted else f"no {name} scenario")
    return Verdict(
        FAIL,
        f"strictness high: {why} needs {wanted or f'a {name!r} scenario'}, or a written "
        f"reason under bypass.{name} in suite.yaml",
    )


def hook_missing(run: SuiteRun, hook: str, without: str) -> Verdict | None:
    """None when the plugin implements the optional ``hook``; else the pass of a check of
    it, saying what happens ``without`` it and which scenarios were not replayed."""
    if run.implements(hook):
        return None
    skipped = [s.name for s in run.unreplayed if STEP_HOOKS.get(s.sidecar.steps[0]) == hook]
    tail = f"; not replayed: {', '.join(skipped)}" if skipped else ""
    return Verdict(PASS, f"{hook} not implemented (optional): {without}{tail}")


def file_gate(gate: Verdict | None, problems: list[str], notes: list[str]) -> bool:
    """File a missing scenario's verdict as a problem or a note; True when it was missing."""
    if gate is not None:
        (problems if gate.status == FAIL else notes).append(gate.detail)
    return gate is not None


def present(
    run: SuiteRun, standard: StandardScenario, problems: list[str], notes: list[str]
) -> Scenario | None:
    """The standard scenario, or None when it is missing, filed by :func:`file_gate`."""
    if file_gate(needs_scenario(run, standard.name, standard.required_by), problems, notes):
        return None
    return run.scenario(standard.name)


# How many generated inputs (requests, responses) a check tries at each strictness.
EXAMPLES = {Strictness.LOW: 40, Strictness.HIGH: 150}


def examples(run: SuiteRun) -> int:
    return EXAMPLES[run.strictness]
