"""What a check is and what it returns.

A check is a function of the shared :class:`~lipbridge_contract.run.SuiteRun` that
returns a :class:`Verdict`. Failures list every problem found, each naming the
scenario and what differed, so one run shows everything wrong at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from attrs import frozen

if TYPE_CHECKING:
    from lipbridge_contract.run import SuiteRun

PASS, FAIL, SKIP = "pass", "fail", "skip"


@frozen
class Verdict:
    status: str  # pass, fail or skip
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
    needs_plugin: bool = True  # static checks of the cassette files run even if it won't load


def needs_scenario(run: SuiteRun, name: str, why: str) -> Verdict | None:
    """None when scenario ``name`` exists; else the verdict strictness dictates."""
    if run.scenario(name) is not None:
        return None
    reason = run.bypass(name)
    if reason:
        return skip(f"bypassed ({name}): {reason}")
    if run.strictness.value == "low":
        return skip(f"no {name} scenario")
    return Verdict(
        FAIL,
        f"strictness high: {why} needs a {name!r} scenario, or a written reason under "
        f"bypass.{name} in suite.yaml",
    )
