"""Hostile provider: the client's peak memory under huge answers and its time under stalls.

    python benchmarks/hostile.py [--size-mb N] [--bomb-mb N] [--timeout S] [--cap S]

A raw server on 127.0.0.1 (``tests/support/hostile_server.py``) plays a provider that
answers the FoxAPI plugin's poll with, in turn:

* ``answer``: a 200 of ``--size-mb`` (300) MB;
* ``bomb``: a gzip bomb, ``--bomb-mb`` (1024) MiB of zeros in about a MiB on the wire;
* ``error page``: a 503 of ``--size-mb`` MB;
* ``stall``: nothing at all after reading the request;
* ``drip``: one byte per second of headers, forever.

Each side runs each case in a child process of its own, so its peak memory (VmHWM,
growth from just before the call) is its own:

* ``lipbridge``: ``Client.poll`` for the three big answers, ``Client.wait(timeout=10)``
  for the stall and the drip (real clock, default timeouts);
* ``urllib3``: a plain ``PoolManager().request`` with a 10 s read timeout, what a
  hand-written client does; stopped after ``--cap`` (30) seconds.

The limits checked are issue 11's: growth under the answer limit (8 MiB) plus 32 MiB,
and a ``wait(timeout=10)`` over within 15 s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))

from _common import table  # noqa: E402  (beside this script)
from hostile_server import HostileServer, answer, drip, send_all, stall, stream  # noqa: E402

from lipbridge.transport import MAX_BODY_BYTES  # noqa: E402

MB = 10**6
MIB = 1 << 20
MEMORY_CASES = ("answer", "bomb", "error page")
TIME_CASES = ("stall", "drip")


def high_water_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise SystemExit("no VmHWM in /proc/self/status: this benchmark needs Linux")


def child(side: str, case: str, url: str, timeout: float) -> None:
    """In a child process: one call against ``url``; print seconds, peak growth, outcome."""
    import datetime as dt

    import urllib3

    from lipbridge import Client, JobHandle, LipbridgeError

    environ = {
        "LIPBRIDGE_FOXAPI_API_KEY": "bench-key-0123456789",
        "LIPBRIDGE_FOXAPI_BASE_URL": url,
    }
    client = Client(environ=environ)
    now = dt.datetime.now(dt.timezone.utc)
    handle = JobHandle(provider="foxapi", job_id="job-1", created_at=now)
    pool = urllib3.PoolManager(retries=False)
    client.info("foxapi")  # load the plugin now: its imports are not the answer's memory
    before = high_water_kib()
    start = time.perf_counter()
    try:
        if side == "urllib3":
            got = pool.request("GET", url + "/poll", timeout=urllib3.Timeout(connect=5, read=10))
            outcome = f"HTTP {got.status}, {len(got.data) / MB:.0f} MB read"
        elif case in TIME_CASES:
            client.wait(handle, timeout=timeout)
            outcome = "finished"
        else:
            client.poll(handle)
            outcome = "returned"
    except (LipbridgeError, urllib3.exceptions.HTTPError) as exc:
        outcome = type(exc).__name__
    seconds = time.perf_counter() - start
    growth = (high_water_kib() - before) * 1024 / MB
    print(json.dumps({"seconds": seconds, "growth_mb": growth, "outcome": outcome}))


def endless(block: bytes) -> Iterator[bytes]:
    while True:
        yield block


def gzip_bomb(mib: int) -> bytes:
    """``mib`` MiB of zeros, gzip-compressed, built a MiB at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * MIB
    parts = [packer.compress(zeros) for _ in range(mib)]
    return b"".join([*parts, packer.flush()])


def behaviour(case: str, size: int, bomb: bytes):  # type: ignore[no-untyped-def]
    if case == "answer":
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode()
        return stream(head, endless(b"x" * (1 << 16)))
    if case == "bomb":
        return send_all(answer(200, bomb, Content_Encoding="gzip"))
    if case == "error page":
        head = f"HTTP/1.1 503 Busy\r\nContent-Length: {size}\r\n\r\n".encode()
        return stream(head, endless(b"<p>busy</p>" * 6000))
    if case == "stall":
        return stall()
    return drip(b"HTTP/1.1 200 OK\r\nX-Drip: ", lambda: time.sleep(1.0))


def run(side: str, case: str, url: str, timeout: float, cap: float) -> dict[str, object]:
    command = [sys.executable, __file__, "--child", side, case, url, str(timeout)]
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=cap)
    except subprocess.TimeoutExpired:
        return {"seconds": cap, "growth_mb": None, "outcome": f"still running at {cap:g} s"}
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=300, help="big answers, MB (300)")
    parser.add_argument("--bomb-mb", type=int, default=1024, help="bomb, decoded MiB (1024)")
    parser.add_argument("--timeout", type=float, default=10.0, help="wait's timeout, s (10)")
    parser.add_argument("--cap", type=float, default=30.0, help="stop a side after S s (30)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        side, case, url, timeout = args.child
        child(side, case, url, float(timeout))
        return
    bomb = gzip_bomb(args.bomb_mb)
    print(f"gzip bomb: {args.bomb_mb} MiB decoded, {len(bomb) / MB:.2f} MB on the wire")
    memory_limit = (MAX_BODY_BYTES + 32 * MIB) / MB
    time_limit = args.timeout + 5
    rows = []
    for case in (*MEMORY_CASES, *TIME_CASES):
        figures = {}
        for side in ("lipbridge", "urllib3"):
            with HostileServer(behaviour(case, args.size_mb * MB, bomb)) as server:
                figures[side] = run(side, case, server.url, args.timeout, args.cap)
        ours, theirs = figures["lipbridge"], figures["urllib3"]
        if case in MEMORY_CASES:
            mine = float(ours["growth_mb"])  # type: ignore[arg-type]
            limit, verdict = memory_limit, mine < memory_limit
            shown = f"{mine:.1f} MB"
        else:
            mine = float(ours["seconds"])  # type: ignore[arg-type]
            limit, verdict = time_limit, mine < time_limit
            shown = f"{mine:.1f} s"
        other = theirs["growth_mb"] if case in MEMORY_CASES else theirs["seconds"]
        ratio = f"{float(other) / mine:.0f}x" if other is not None and mine > 0 else "-"
        rows.append(
            (
                case,
                f"{shown} ({ours['outcome']})",
                f"< {limit:.0f}: {'ok' if verdict else 'OVER'}",
                f"{other if other is None else round(float(other), 1)} ({theirs['outcome']})",
                ratio,
            )
        )
    table(("case", "lipbridge", "limit", "urllib3", "urllib3/lipbridge"), rows)


if __name__ == "__main__":
    main()
