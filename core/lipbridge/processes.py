"""Whether a process on this host still runs: how leftovers of a killed one are spotted."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by someone else
        return True
    return True


def started(pid: int) -> str:
    """When ``pid`` started (clock ticks since boot, from /proc), or "" where unknown.

    With the pid it names one process for good: a pid reused by a later process has
    another start time.
    """
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("ascii", "replace")
    except OSError:
        return ""
    fields = stat.rpartition(")")[2].split()  # the name, in parentheses, may hold spaces
    return fields[19] if len(fields) > 19 else ""


def process_alive(pid: int, start: str) -> bool:
    """Whether the process ``pid`` that started at ``start`` (see :func:`started`) runs."""
    if not pid_alive(pid):
        return False
    return not start or started(pid) in ("", start)
