"""Small helpers for plugins' wire mapping: status words and nested JSON lookups."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from attrs import field, frozen

from lipbridge.models import JobState

log = logging.getLogger("lipbridge.wire")


def dig(data: Any, *path: str | int) -> Any:
    """``data[p0][p1]...`` or None when any step is missing or of the wrong type."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(data, list) or not -len(data) <= step < len(data):
                return None
        elif not isinstance(data, Mapping) or step not in data:
            return None
        data = data[step]
    return data


def _lower_keys(states: Mapping[str, JobState]) -> dict[str, JobState]:
    return {str(word).lower(): state for word, state in states.items()}


@frozen
class StatusMap:
    """A provider's status words, case-insensitively mapped to canonical states.

    Policy for a word the plugin does not know: treat it as ``running`` (the job is not
    declared finished on a guess) and log a warning naming the word. ``wait`` then goes
    on polling until a known terminal word or its deadline.
    """

    states: Mapping[str, JobState] = field(converter=_lower_keys, hash=False)

    def state(self, raw: object) -> JobState:
        word = str(raw).lower()
        known = self.states.get(word)
        if known is None:
            log.warning("unknown provider status %r; treating it as running", raw)
            return JobState.RUNNING
        return known
