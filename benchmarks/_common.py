"""What the emulator benchmarks share: the emulator's providers, sample inputs, a table.

Not a benchmark itself (the leading underscore); each script imports it from beside itself.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Sequence

from lipbridge import Registry
from lipbridge_emulator import Emulator, samples

TIMES = "\N{MULTIPLICATION SIGN}"


def providers(emu: Emulator, wanted: Sequence[str], parser: argparse.ArgumentParser) -> list[str]:
    """``wanted``, else every provider both installed and spoken by the emulator."""
    installed = set(Registry(environ={}).names())
    both = sorted(installed & set(emu.dialects))
    unknown = sorted(set(wanted) - set(both))
    if unknown:
        parser.error(f"not both installed and emulated: {unknown}; choose from {both}")
    return list(wanted) or both


def sample_inputs(emu: Emulator) -> tuple[str, str]:
    """The project's sample video (2 s) and speech (3 s), uploaded: their emulator URLs."""
    video = emu.upload(samples.sample_video(2.0), "face.mp4")
    audio = emu.upload(samples.sample_speech(3.0), "speech.wav")
    return video, audio


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """Print ``rows`` under ``header``: the first column left-aligned, the rest right."""
    cells = [[str(c) for c in header], *([str(c) for c in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    for row in cells:
        aligned = [c.rjust(w) for c, w in zip(row, widths, strict=True)]
        aligned[0] = row[0].ljust(widths[0])
        print("  ".join(aligned).rstrip())
