"""Emulator memory: a streaming render against one that keeps every decoded frame.

    python benchmarks/emulator_memory.py [--seconds S] [--modes MODE ...] [--dir DIR]

The input is the project's generated sample video at 1280x720, 25 fps, ``--seconds``
long (default 60), and sample speech a quarter longer, so loop decodes the video again,
bounce plays part of it backwards and remap stretches it. Each render runs in a child
process of its own, with the inputs already in memory; memory is the growth of the
child's peak RSS (VmHWM) during ``media.render``; time is the render's wall-clock and
CPU seconds (CPU time is steadier on a shared machine). Sides:

* ``streaming``: ``media.render`` as the emulator runs it (frames decoded when needed);
* ``all frames``: the same render fed from a list of every decoded frame, as the emulator
  rendered before (the baseline).

Both sides must write the same bytes; the script says so, or stops. MiB is 2**20 bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from _common import TIMES, table
from download import high_water_kib

from lipbridge.models import SyncMode
from lipbridge_emulator import media, samples

MIB = 2**20
SIDES = ("streaming", "all frames")
TARGET_MIB = 64  # issue 12: growth at most 64 MiB for a 720p 60 s input
AUDIO_SHARE = 1.25  # the speech's length over the video's


def keep_every_frame(clip: media._Clip, order: Sequence[int]) -> Iterator[media.av.VideoFrame]:
    """The baseline: decode every frame once, hold them all, and pick from the list."""
    with (
        media._reading(clip.data, "the video") as container,
        contextlib.closing(media._decode_from(clip, container, 0)) as frames,
    ):
        held = [frame for _, frame in frames]
    return (held[index] for index in order)


def child(side: str, mode: str, video: Path, audio: Path, out: Path) -> None:
    """Run in a child process: one render; print its seconds, memory and output digest."""
    data, speech = video.read_bytes(), audio.read_bytes()
    if side == "all frames":
        media._arranged = keep_every_frame
    before = high_water_kib()
    start, cpu = time.perf_counter(), time.process_time()
    media.render(data, speech, SyncMode(mode), out)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    growth = (high_water_kib() - before) * 1024 / MIB
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(json.dumps({"seconds": seconds, "cpu": cpu, "growth_mib": growth, "sha256": digest}))


def measure(side: str, mode: str, video: Path, audio: Path, out: Path) -> dict[str, object]:
    command = [sys.executable, __file__, "--child", side, mode, str(video), str(audio), str(out)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    report: dict[str, object] = json.loads(done.stdout)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="video length (60)")
    parser.add_argument("--modes", nargs="+", choices=[m.value for m in SyncMode],
                        default=[m.value for m in SyncMode], help="sync modes (all)")
    parser.add_argument("--dir", type=Path, help="where to write (default: the temp dir)")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        side, mode, video, audio, out = args.child
        child(side, mode, Path(video), Path(audio), Path(out))
        return
    with tempfile.TemporaryDirectory(prefix="lipbridge-bench-", dir=args.dir) as tmp:
        video, audio, out = Path(tmp) / "face.mp4", Path(tmp) / "speech.wav", Path(tmp) / "o.mp4"
        video.write_bytes(samples.sample_video(args.seconds, width=1280, height=720))
        audio.write_bytes(samples.sample_speech(args.seconds * AUDIO_SHARE))
        rows = []
        for mode in args.modes:
            streaming, kept = (measure(side, mode, video, audio, out) for side in SIDES)
            if streaming["sha256"] != kept["sha256"]:
                raise SystemExit(f"{mode}: the two sides wrote different files")
            grown = [float(str(r["growth_mib"])) for r in (streaming, kept)]
            took = [float(str(r["seconds"])) for r in (streaming, kept)]
            cpu = [float(str(r["cpu"])) for r in (streaming, kept)]
            rows.append([
                mode,
                f"{grown[0]:.1f}",
                f"{grown[1]:.1f}",
                f"{grown[1] / max(grown[0], 0.1):.0f}{TIMES}",
                f"{took[0]:.1f} ({cpu[0]:.1f})",
                f"{took[1]:.1f} ({cpu[1]:.1f})",
                f"{cpu[0] / cpu[1]:.2f}",
                "ok" if grown[0] <= TARGET_MIB else "OVER",
            ])
    print(f"720p {args.seconds:g} s video, {args.seconds * AUDIO_SHARE:g} s speech; "
          "growth of the render's peak RSS (MiB); seconds (CPU seconds); "
          "outputs identical on both sides")
    table(["mode", "streaming", "all frames", "saved", "s streaming", "s all frames",
           "cpu ratio", f"<= {TARGET_MIB} MiB"], rows)


if __name__ == "__main__":
    main()
