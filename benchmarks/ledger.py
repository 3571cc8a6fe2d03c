"""The job ledger's cost: per lifecycle, and listing a large ledger.

    python benchmarks/ledger.py [PROVIDER] [--repeat N] [--rows N]

1. The same instant lifecycle (submit, one poll, the result) through two clients: one
   with ``ledger=False``, one recording into a ledger file on this machine's disk. The
   sides alternate, ``--repeat`` times; medians are compared. Once against the
   emulator in this process (as the other benchmarks), once against ``lipbridge
   emulator`` in its own process, where the client shares no interpreter with the
   server, as with a real provider. Target: the ledger adds at most 0.5 ms per
   lifecycle.
2. ``lipbridge jobs list`` over a ledger of ``--rows`` jobs (default 100,000), as a
   user runs it (a fresh process, output to /dev/null): the newest 50 (the default),
   then every row, plain and ``--json``; beside ``Ledger.list()`` in-process and the
   CLI's start-up alone. Target: under 0.5 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _common import TIMES, median, providers, sample_inputs, table

from lipbridge import Client, JobRequest
from lipbridge.ledger import Ledger, LocalState, new_local_id
from lipbridge.polling import PollPolicy
from lipbridge_emulator import Emulator, Timing

LIFECYCLE_TARGET_MS = 0.5
LIST_TARGET_S = 0.5


def lifecycle(provider: str, repeat: int, folder: Path) -> list[list[str]]:
    rows = []
    with Emulator(timing=Timing(job_seconds=0.0, results_lag=0.0)) as emu:
        video, audio = sample_inputs(emu)
        rows.append(["in-process", *_compare(provider, emu.base_url(provider), emu.key,
                                             (video, audio), repeat, folder / "a.sqlite")])
    with _emulator_process() as (base, key, inputs):
        rows.append(["own process", *_compare(provider, f"{base}/{provider}", key, inputs,
                                              repeat, folder / "b.sqlite")])
    return rows


@contextmanager
def _emulator_process() -> Iterator[tuple[str, str, tuple[str, str]]]:
    """``lipbridge emulator`` in a process of its own: the client then shares no
    interpreter (and no GIL) with the server, as with a real provider."""
    lipbridge = str(Path(sys.executable).with_name("lipbridge"))
    with subprocess.Popen(
        [lipbridge, "emulator", "--port", "0", "--job-seconds", "0", "--speed", "10000"],
        stdout=subprocess.PIPE, text=True,
    ) as server:
        assert server.stdout is not None
        lines = [server.stdout.readline() for _ in range(7)]
        first = lines[0].split()
        base, key = first[3].rstrip(";"), first[6].strip("'();")
        video = next(line.split()[-1] for line in lines if line.startswith("sample video"))
        audio = next(line.split()[-1] for line in lines if line.startswith("sample speech"))
        # Keep reading what it prints, or a full pipe would stall it mid-answer.
        threading.Thread(target=server.stdout.read, daemon=True).start()
        try:
            yield base, key, (video, audio)
        finally:
            server.terminate()


def _compare(
    provider: str, base_url: str, key: str, inputs: tuple[str, str], repeat: int, ledger: Path
) -> list[str]:
    def client(recorded: Path | bool) -> Client:
        return Client(
            api_keys={provider: key},
            base_urls={provider: base_url},
            poll_policy=PollPolicy(first=0.0, factor=1.0, cap=0.0, jitter=0.0),
            ledger=recorded,
        )

    sides = {"no ledger": client(False), "ledger": client(ledger)}
    info = sides["ledger"].info(provider)
    caps = info.model(info.default_model)
    request = JobRequest(video=inputs[0], audio=inputs[1], sync_mode=caps.default_sync_mode)
    times: dict[str, list[float]] = {name: [] for name in sides}
    for c in sides.values():  # warm-up: connections, the emulator's render, the file
        c.wait(c.submit(provider, request))
    order = list(sides.items())
    for i in range(repeat):
        for name, c in order if i % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            c.wait(c.submit(provider, request))
            times[name].append(time.perf_counter() - start)
    for c in sides.values():
        c.close()
    bare, recorded_ms = median(times["no ledger"]) * 1000, median(times["ledger"]) * 1000
    return [f"{bare:.2f}", f"{recorded_ms:.2f}", f"{recorded_ms - bare:+.2f}",
            f"{recorded_ms / bare:.3f}"]


def fill(path: Path, rows: int) -> None:
    """``rows`` finished jobs written straight into a ledger's tables (fast to build)."""
    with Ledger(path):
        pass
    import sqlite3

    start = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    request = json.dumps({"video": "https://cdn.invalid/face.mp4",
                          "audio": "https://cdn.invalid/speech.wav"})
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT INTO jobs (local_id, provider, model, request_json, fingerprint, state, "
            "created_at, updated_at, provider_job_id, output_path) "
            "VALUES (?, ?, 'lipsync-2', ?, 'f', ?, ?, ?, ?, ?)",
            (
                (
                    new_local_id(at := start + dt.timedelta(seconds=n)),
                    ("foxapi", "jogg", "aimlapi", "aihubmax")[n % 4],
                    request,
                    LocalState.DOWNLOADED.value,
                    at.isoformat(),
                    at.isoformat(),
                    f"job-{n:08d}",
                    f"out/{n}.mp4",
                )
                for n in range(rows)
            ),
        )
    conn.close()


def listing(rows: int, repeat: int, folder: Path) -> list[list[str]]:
    path = folder / "big.sqlite"
    fill(path, rows)
    env = {**os.environ, "LIPBRIDGE_LEDGER": str(path)}
    lipbridge = str(Path(sys.executable).with_name("lipbridge"))  # the console script
    command = [lipbridge, "jobs", "list", "--limit", "0"]

    def timed(run: list[str]) -> float:
        start = time.perf_counter()
        subprocess.run(run, env=env, stdout=subprocess.DEVNULL, check=True)
        return time.perf_counter() - start

    def in_process() -> float:
        start = time.perf_counter()
        with Ledger(path) as ledger:
            assert len(ledger.list()) == rows
        return time.perf_counter() - start

    newest = [lipbridge, "jobs", "list"]
    figures = {
        "Ledger.list()": median([in_process() for _ in range(repeat)]),
        "lipbridge jobs list (the newest 50)": median([timed(newest) for _ in range(repeat)]),
        "lipbridge jobs list --limit 0": median([timed(command) for _ in range(repeat)]),
        "... --json": median([timed([*command, "--json"]) for _ in range(repeat)]),
        "lipbridge --help (start-up alone)": median(
            [timed([lipbridge, "--help"]) for _ in range(repeat)]
        ),
    }
    return [[name, f"{seconds:.3f}"] for name, seconds in figures.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("provider", nargs="?", default="foxapi")
    parser.add_argument("--repeat", type=int, default=200, help="lifecycles per side (200)")
    parser.add_argument("--rows", type=int, default=100_000, help="jobs to list (100,000)")
    args = parser.parse_args()
    with Emulator() as emu:
        providers(emu, [args.provider], parser)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"instant lifecycle (median of {args.repeat}, sides alternating)")
        print(f"provider {args.provider}")
        table(["emulator", "no ledger ms", "ledger ms", "added ms", f"{TIMES} no ledger"],
              lifecycle(args.provider, args.repeat, folder))
        print(f"target: at most {LIFECYCLE_TARGET_MS} ms added\n")
        print(f"listing {args.rows:,} jobs (median of 5)")
        table(["what", "seconds"], listing(args.rows, 5, folder))
        print(f"target: under {LIST_TARGET_S} s")


if __name__ == "__main__":
    main()
