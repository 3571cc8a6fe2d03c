"""Part files left behind by dead processes, and their removal.

A download writes ``.<name>.<pid>.<random>.part`` beside its target and renames it when
complete; a killed process leaves the part behind. The next download to the same target
removes it. Listing the folder for every download would cost time in proportion to the
files already there (4.5 ms a download at 10,000 videos), so each folder is listed at
most once a minute per process and the dead processes' parts are kept by target name.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

PART_SUFFIX = ".part"
RELIST_AFTER = 60.0  # seconds: parts of a process that died later are found this late


def part_name(target: Path, token: str) -> str:
    """This process's part file name for ``target``."""
    return f".{target.name}.{os.getpid()}.{token}{PART_SUFFIX}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _target_of(name: str) -> tuple[str, int] | None:
    """(target name, pid) of a part file's name, or None when it is not one."""
    if not (name.startswith(".") and name.endswith(PART_SUFFIX)):
        return None
    target, _, rest = name[1 : -len(PART_SUFFIX)].rpartition(".")  # drop the random
    target, _, pid = target.rpartition(".")
    return (target, int(pid)) if target and pid.isdigit() and rest else None


class Folders:
    """Dead processes' part files per folder and target name, listed once a minute."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._listed: dict[Path, tuple[float, dict[str, list[str]]]] = {}

    def take(self, target: Path) -> list[str]:
        """The stale part names of ``target``, handed out once."""
        folder, now = target.parent, self._monotonic()
        with self._lock:
            listed = self._listed.get(folder)
            if listed is None or now - listed[0] > RELIST_AFTER:
                listed = (now, self._list(folder))
                self._listed[folder] = listed
            return listed[1].pop(target.name, [])

    @staticmethod
    def _list(folder: Path) -> dict[str, list[str]]:
        stale: dict[str, list[str]] = {}
        alive: dict[int, bool] = {os.getpid(): True}
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in entries:
                found = _target_of(entry.name)
                if found is None:
                    continue
                target, pid = found
                if pid not in alive:
                    alive[pid] = _pid_alive(pid)
                if not alive[pid]:
                    stale.setdefault(target, []).append(entry.name)
        return stale


_FOLDERS = Folders()


def remove_stale_parts(target: Path, folders: Folders = _FOLDERS) -> None:
    """Delete ``target``'s part files left by processes that are no longer running."""
    for name in folders.take(target):
        with contextlib.suppress(OSError):
            os.unlink(target.parent / name)
