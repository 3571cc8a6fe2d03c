"""Run a probe over Hypothesis-generated values; keep the minimal problem it finds.

Runs are derandomised and keep no example database, so a contract run is the same on
every machine. (Hypothesis may still cache source constants under ``.hypothesis/``.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.reporting import with_reporter

T = TypeVar("T")


class _Found(Exception):
    pass


def explore(
    strategy: st.SearchStrategy[T], examples: int, probe: Callable[[T], str | None]
) -> tuple[str | None, int]:
    """(the problem of the shrunk failing example or None, how many values were tried)."""
    found: list[str] = []
    tried = 0

    @settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @given(strategy)
    def run(value: T) -> None:
        nonlocal tried
        tried += 1
        problem = probe(value)
        if problem:
            found.append(problem)
            raise _Found(problem)

    try:
        with with_reporter(lambda *_: None):
            run()
    except _Found:
        pass
    # Hypothesis replays the shrunk example last, so the last problem is the minimal one.
    return (found[-1] if found else None), tried
