"""Real ``lipbridge`` processes for crash tests: started against an in-process emulator
with a ledger of their own, stopped at an emulator hold, killed with SIGKILL, and told
apart by the sockets they hold.

Nothing here sleeps: a test waits for a hold on the emulator's condition (woken also when
a process ends, so a command that fails early fails the test at once, with its output)
and for processes with ``wait``. Timeouts only stop a broken test from hanging.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from attrs import define, field, frozen

from lipbridge.context import SystemClock, env_name
from lipbridge_emulator import Emulator
from lipbridge_emulator.holds import Held, HoldPoint

# The installed console script's entry point, run by this interpreter (as test_cli does).
COMMAND = (sys.executable, "-c", "from lipbridge.cli import main; main()")
PATIENCE = 120.0  # real seconds before a hung test is failed; never what decides a pass


class JumpingClock(SystemClock):
    """The system's clock, which a test can also move forward at once: an emulator on it
    runs jobs in real time, and finishes a long one the moment the test ``jump``s past
    its end, however slowly a loaded machine runs the processes that wait for it."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def jump(self, seconds: float) -> None:
        with self._lock:
            self._offset += seconds

    def now(self) -> dt.datetime:
        return super().now() + dt.timedelta(seconds=self._offset)

    def monotonic(self) -> float:
        return super().monotonic() + self._offset


@frozen
class Finished:
    """A command that ended: how, and what it printed."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (
            f"lipbridge {' '.join(self.args)} exited {self.returncode}\n"
            f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
        )

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


@define
class Running:
    """A command still running; its output goes to files (no pipe can fill and stall it)."""

    args: tuple[str, ...]
    proc: subprocess.Popen[bytes]
    out: Path
    err: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def ended(self) -> bool:
        return self.proc.poll() is not None

    def kill(self) -> None:
        """SIGKILL: no handler, no ``finally``, no flush runs in the process."""
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=PATIENCE)

    def wait(self, timeout: float = PATIENCE) -> Finished:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"still running after {timeout:g} s:\n{self.finished()}") from None
        return self.finished(code)

    def finished(self, code: int | None = None) -> Finished:
        return Finished(
            args=self.args,
            returncode=self.proc.returncode if code is None else code,
            stdout=self.out.read_text(errors="replace"),
            stderr=self.err.read_text(errors="replace"),
        )


@define
class Lipbridge:
    """The ``lipbridge`` command for ``providers`` on ``emu``, with the ledger ``ledger``."""

    emu: Emulator
    providers: Sequence[str]
    ledger: Path
    logs: Path  # where each command's output is kept
    _count: itertools.count[int] = field(factory=itertools.count)
    _started: list[Running] = field(factory=list)

    def env(self) -> dict[str, str]:
        """This environment without any lipbridge setting, plus the emulator's keys and
        base URLs (as a user's shell would have them)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LIPBRIDGE_")}
        for provider in self.providers:
            env[f"LIPBRIDGE_{env_name(provider)}_API_KEY"] = self.emu.key
            env[f"LIPBRIDGE_{env_name(provider)}_BASE_URL"] = self.emu.base_url(provider)
        return env

    def start(self, *args: str) -> Running:
        n = next(self._count)
        out, err = self.logs / f"{n}.out", self.logs / f"{n}.err"
        self.logs.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(
                [*COMMAND, "--ledger", str(self.ledger), *args],
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=stderr,
                env=self.env(),
            )
        running = Running(args=args, proc=proc, out=out, err=err)
        self._started.append(running)
        threading.Thread(target=self._poke_when_done, args=(proc,), daemon=True).start()
        return running

    def _poke_when_done(self, proc: subprocess.Popen[bytes]) -> None:
        proc.wait()
        self.emu.holds.poke()  # a wait for a hold re-checks whether its processes ended

    def run(self, *args: str) -> Finished:
        return self.start(*args).wait()

    def jobs(self) -> list[dict[str, Any]]:
        """``jobs list --json``: every job in the ledger, newest first."""
        listed = self.run("jobs", "list", "--json")
        assert listed.returncode == 0, listed
        return listed.json_lines()

    def show(self, local_id: str) -> dict[str, Any]:
        """``jobs show ID --json``: the job and its events."""
        shown = self.run("jobs", "show", local_id, "--json")
        assert shown.returncode == 0, shown
        data: dict[str, Any] = json.loads(shown.stdout)
        return data

    def close(self) -> None:
        """Kill whatever is still running (a failed test's leftovers)."""
        for running in self._started:
            if not running.ended():
                running.kill()


def wait_for_holds(
    emu: Emulator,
    processes: Iterable[Running],
    count: int = 1,
    point: HoldPoint | None = None,
) -> list[Held]:
    """The first ``count`` requests held (at ``point``); fails, with their output, when
    every one of ``processes`` ended first."""
    processes = list(processes)
    held = emu.holds.wait(
        count, point=point, timeout=PATIENCE, unless=lambda: all(p.ended() for p in processes)
    )
    if len(held) < count:
        raise AssertionError(
            f"{len(held)} of {count} holds reached before the processes ended:\n"
            + "\n".join(str(p.finished()) for p in processes)
        )
    return held


def port_of(peer: str | None) -> int:
    assert peer is not None
    return int(peer.rsplit(":", 1)[1])


def socket_owners(pids: Iterable[int]) -> dict[int, int]:
    """Local TCP port -> pid, for the sockets these processes hold open now (Linux: the
    socket inodes in /proc/PID/fd matched against /proc/net/tcp)."""
    inodes: dict[int, int] = {}
    for pid in pids:
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:  # it has ended
            continue
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes[int(target[len("socket:[") : -1])] = pid
    owners: dict[int, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            inode = int(fields[9])
            if inode in inodes:
                owners[int(fields[1].rsplit(":", 1)[1], 16)] = inodes[inode]
    return owners
