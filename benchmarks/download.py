"""Download: ``Client.download`` of a large output against curl and a raw urllib3 stream.

    python benchmarks/download.py [--size-mb N] [--repeat N] [--dir DIR]

The emulator (in this process) serves a file of random bytes (``--size-mb``, default
200 MB, made in a temporary directory under ``--dir`` and deleted afterwards) with
sendfile. Each side fetches it to the same disk in a child process of its own, so its
peak memory is its own: Python children read their VmHWM before and after the
download, so the growth is the download's; curl's peak comes from GNU time, if
installed. After an untimed round, the sides take turns ``--repeat`` times; each
figure is a median; MB is 10**6 bytes. The time is the download call's (curl's
``time_total``), so interpreter start and imports are not in it.

* ``lipbridge``: ``Client.download`` (1 MiB chunks, length check, fsync, atomic rename);
* ``urllib3``: the same stream read by hand, 1 MiB chunks, no fsync;
* ``urllib3 + fsync``: the same, made as durable as lipbridge's file;
* ``curl``: ``curl -o`` (no fsync), if curl is on the PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MB = 10**6
CHUNK = 1 << 20
PYTHON_SIDES = ("lipbridge", "urllib3", "urllib3 + fsync")


def high_water_kib() -> int:
    """This process's peak RSS since its exec (VmHWM). Not ``ru_maxrss``: that one keeps
    the peak of the parent it was forked from, here the whole emulator's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise SystemExit("no VmHWM in /proc/self/status: this benchmark needs Linux")


def child(side: str, url: str, dest: Path) -> None:
    """Run in a child process: fetch ``url`` to ``dest``; print seconds and peak memory."""
    import urllib3

    from lipbridge import Client

    client = Client(environ={}, allow_private_hosts=True)  # the emulator is on 127.0.0.1
    pool = urllib3.PoolManager(retries=False)
    before = high_water_kib()
    start = time.perf_counter()
    if side == "lipbridge":
        client.download(url, dest)
    else:
        answer = pool.request("GET", url, preload_content=False)
        with dest.open("wb") as out:
            for chunk in answer.stream(CHUNK, decode_content=False):
                out.write(chunk)
            if side == "urllib3 + fsync":
                out.flush()
                os.fsync(out.fileno())
        answer.release_conn()
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "before_kib": before, "peak_kib": high_water_kib()}))


def fetch(side: str, url: str, dest: Path) -> tuple[float, float | None, float | None]:
    """One download in a child: (seconds, peak RSS in MB, growth during the download)."""
    if side == "curl":
        # GNU time forks curl from its own small process, so %M is curl's own peak.
        timer = ["/usr/bin/time", "-f", "%M"] if Path("/usr/bin/time").exists() else []
        curl = ["curl", "-sS", "--fail", "-o", str(dest), "-w", "%{time_total}", url]
        done = subprocess.run([*timer, *curl], capture_output=True, text=True, check=True)
        peak = int(done.stderr.split()[-1]) * 1024 / MB if timer else None
        return float(done.stdout), peak, None
    command = [sys.executable, __file__, "--child", side, url, str(dest)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    peak = report["peak_kib"] * 1024 / MB
    return report["seconds"], peak, peak - report["before_kib"] * 1024 / MB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200, help="output size, MB (200)")
    parser.add_argument("--repeat", type=int, default=5, help="downloads per side (5)")
    parser.add_argument("--dir", type=Path, help="where to write (default: the temp dir)")
    parser.add_argument("--child", nargs=3, metavar=("SIDE", "URL", "DEST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        side, url, dest = args.child
        child(side, url, Path(dest))
        return
    if args.repeat < 1 or args.size_mb < 1:
        parser.error("--repeat and --size-mb must be at least 1")
    # Imported here, not at the top: the children must not load the emulator (and PyAV),
    # whose memory is no part of a download's.
    from _common import TIMES, median, table

    from lipbridge_emulator import Emulator

    sides = [*PYTHON_SIDES, *(["curl"] if shutil.which("curl") else [])]
    baseline = "curl" if "curl" in sides else "urllib3"
    size = args.size_mb * MB
    figures: dict[str, list[tuple[float, float | None, float | None]]] = {s: [] for s in sides}
    with tempfile.TemporaryDirectory(prefix="lipbridge-bench-", dir=args.dir) as tmp:
        source, dest = Path(tmp) / "output.mp4", Path(tmp) / "fetched.mp4"
        with source.open("wb") as out:
            for offset in range(0, size, CHUNK):
                out.write(os.urandom(min(CHUNK, size - offset)))
        with Emulator() as emu:
            url = emu.serve_path(source)
            for i in range(args.repeat + 1):  # round 0 warms the disk and the page cache
                for side in sides[i % len(sides) :] + sides[: i % len(sides)]:
                    figure = fetch(side, url, dest)
                    if dest.stat().st_size != size:
                        raise SystemExit(f"{side} wrote {dest.stat().st_size} bytes of {size}")
                    dest.unlink()
                    if i:
                        figures[side].append(figure)
    speed = {s: size / MB / median([f[0] for f in figures[s]]) for s in sides}
    rows = []
    for side in sides:
        peaks = [f[1] for f in figures[side] if f[1] is not None]
        growth = [f[2] for f in figures[side] if f[2] is not None]
        rows.append(
            [
                side,
                f"{speed[side]:.0f}",
                f"{speed[side] / speed[baseline]:.2f}",
                f"{median(peaks):.1f}" if peaks else "-",
                f"{median(growth):.1f}" if growth else "-",
            ]
        )
    print(f"{args.size_mb} MB from the emulator on 127.0.0.1 (median of {args.repeat})")
    table(["side", "MB/s", f"{TIMES} {baseline}", "peak RSS MB", "growth MB"], rows)
    print(f"\nlipbridge/{baseline} throughput ratio: {speed['lipbridge'] / speed[baseline]:.2f}")


if __name__ == "__main__":
    main()
