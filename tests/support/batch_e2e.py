"""``lipbridge batch`` end to end: manifests of rows on an in-process emulator, the command
as real processes whose progress lines a test waits for as they are printed, and what
the emulator's own ledger says of the rows' jobs (how many were in flight at once).

Built on :mod:`crash` (processes, holds, SIGKILL). Nothing here sleeps: a test waits on
conditions (a line printed, a hold reached, a process ended); timeouts only stop a
broken test from hanging.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import subprocess
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from attrs import define, field, frozen
from crash import COMMAND, PATIENCE, Finished, Lipbridge, Running
from emulated import sample_speech, sample_video

from lipbridge import SyncMode
from lipbridge_emulator import Emulator

VIDEO_SECONDS, AUDIO_SECONDS = 1.0, 1.5
# Each provider's sync mode for the sample inputs: bounce, JoggAI's only one, so that a
# row can move between them (AI/ML API's model takes none).
MODES: dict[str, SyncMode | None] = {
    "foxapi": SyncMode.BOUNCE,
    "aihubmax": SyncMode.BOUNCE,
    "aimlapi": None,
    "jogg": SyncMode.BOUNCE,
}
DONE = re.compile(r"\] line (\d+) (\w+)")  # a row's outcome line: "[3/8: ...] line 5 done (...)"


@frozen
class RowSpec:
    """One manifest row: its providers in fallback order and what it changes."""

    providers: tuple[str, ...]
    video: str | None = None  # None: the sample video on the emulator
    extra: dict[str, Any] = field(factory=dict)  # more manifest fields (temperature, ...)


@frozen
class Manifest:
    path: Path
    rows: dict[int, dict[str, Any]]  # by line: each row as written
    outputs: dict[int, Path]  # by line

    def line_of_audio(self, audio: str | None) -> int:
        [line] = [n for n, row in self.rows.items() if row["audio"] == audio]
        return line


def write_manifest(emu: Emulator, path: Path, specs: Sequence[RowSpec], out: Path) -> Manifest:
    """A JSON Lines manifest, one line per spec. Each row gets a speech file of its own
    (the same bytes under its own URL), so that every row's submit body differs and the
    emulator tells the rows' jobs apart; renders are shared, as the inputs' bytes are."""
    video = emu.upload(sample_video(VIDEO_SECONDS), "face.mp4")
    speech = sample_speech(AUDIO_SECONDS)
    out.mkdir(parents=True, exist_ok=True)
    rows, outputs = {}, {}
    for line, spec in enumerate(specs, start=1):
        output = out / f"row{line}.mp4"
        row: dict[str, Any] = {
            "video": spec.video or video,
            "audio": emu.upload(speech, f"speech{line}.wav"),
            "provider": ",".join(spec.providers),
            "output": str(output),
        }
        mode = MODES[spec.providers[0]]
        if mode is not None and "sync_mode" not in spec.extra:
            row["sync_mode"] = mode.value
        row.update(spec.extra)
        rows[line], outputs[line] = row, output
    path.write_text("".join(json.dumps(row) + "\n" for row in rows.values()))
    return Manifest(path=path, rows=rows, outputs=outputs)


@define
class Watched(Running):
    """A command whose stderr is read line by line as it is printed (and kept in its
    file), so that a test can wait for a row's outcome line."""

    lines: list[str] = field(factory=list)
    _cond: threading.Condition = field(factory=threading.Condition)
    _reader: threading.Thread | None = None
    _eof: bool = False

    def read(self, stream: IO[bytes]) -> None:
        with self.err.open("wb") as kept:
            for raw in stream:
                kept.write(raw)
                kept.flush()
                with self._cond:
                    self.lines.append(raw.decode(errors="replace"))
                    self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def wait_for_lines(self, enough: Callable[[list[str]], bool], what: str) -> list[str]:
        """The lines printed so far, once ``enough`` of them are; fails, with the output,
        when the command ended first."""
        with self._cond:
            done = self._cond.wait_for(lambda: enough(self.lines) or self._eof, PATIENCE)
            if done and enough(self.lines):
                return list(self.lines)
        raise AssertionError(f"never printed {what}:\n{self.finished()}")

    def outcomes(self) -> dict[int, str]:
        """Each row's outcome as printed so far, by line."""
        with self._cond:
            return {int(m[1]): m[2] for line in self.lines if (m := DONE.search(line))}

    def finished(self, code: int | None = None) -> Finished:
        if self._reader is not None and self.proc.poll() is not None:
            self._reader.join(PATIENCE)  # everything printed is in the file
        return super().finished(code)


@define
class BatchCli(Lipbridge):
    """:class:`crash.Lipbridge` that can also start watched commands."""

    def start_watched(self, *args: str) -> Watched:
        n = next(self._count)
        out, err = self.logs / f"{n}.out", self.logs / f"{n}.err"
        self.logs.mkdir(parents=True, exist_ok=True)
        with out.open("wb") as stdout:
            proc = subprocess.Popen(
                [*COMMAND, "--ledger", str(self.ledger), *args],
                stdin=subprocess.DEVNULL,
                stdout=stdout,
                stderr=subprocess.PIPE,
                env=self.env(),
            )
        watched = Watched(args=args, proc=proc, out=out, err=err)
        assert proc.stderr is not None
        watched._reader = threading.Thread(target=watched.read, args=(proc.stderr,), daemon=True)
        watched._reader.start()
        self._started.append(watched)
        threading.Thread(target=self._poke_when_done, args=(proc,), daemon=True).start()
        return watched


def batch_id_of(finished: Finished) -> str:
    """The batch id the command printed first ("batch ID: N rows; ...")."""
    found = re.search(r"^batch (\w+)", finished.stderr, re.MULTILINE)
    assert found is not None, finished
    return found[1]


# -- what the emulator saw --------------------------------------------------------------------


@frozen
class Span:
    """One job as the provider saw it: accepted at ``start``, its result fetched (or
    last polled) at ``end``."""

    provider: str
    job_id: str
    start: float
    end: float


def job_spans(emu: Emulator) -> list[Span]:
    """Every accepted job's time in flight, from the emulator's ledger alone: from its
    acceptance to the last fetch of its video (the client holds its place until the file
    is saved), or to its last poll when it was never fetched."""
    arrivals, accepted, _ = emu.ledger.snapshot()
    fetched: dict[str, float] = {}
    polled: dict[str, float] = {}
    for arrival in arrivals:
        if arrival.endpoint == "download":  # /files/TOKEN/JOB_ID.mp4
            seen, job_id = fetched, Path(arrival.path).stem
        elif arrival.endpoint == "poll" and arrival.identity:
            seen, job_id = polled, arrival.identity
        else:
            continue
        seen[job_id] = max(arrival.at, seen.get(job_id, arrival.at))
    return [
        Span(a.provider, a.job_id, a.at, fetched.get(a.job_id, polled.get(a.job_id, math.inf)))
        for a in accepted
    ]


def most_in_flight(spans: Iterable[Span]) -> int:
    """The most spans open at one moment (a start at the very moment of an end counts
    both: the strict reading)."""
    edges = sorted([(s.start, 0) for s in spans] + [(s.end, 1) for s in spans])
    most = now = 0
    for _, kind in edges:
        now += 1 if kind == 0 else -1
        most = max(most, now)
    return most


def peaks(emu: Emulator) -> dict[str, int]:
    """The most jobs in flight at once per provider, and overall ("*")."""
    spans = job_spans(emu)
    by: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        by[span.provider].append(span)
    return {"*": most_in_flight(spans), **{p: most_in_flight(s) for p, s in by.items()}}


def submits(emu: Emulator, provider: str | None = None) -> list[Any]:
    """The submit requests that reached the emulator (at ``provider``)."""
    return [
        a for a in emu.ledger.snapshot()[0]
        if a.endpoint == "submit" and provider in (None, a.provider)
    ]


@contextlib.contextmanager
def side_by_side(
    cases: Mapping[str, Callable[[Path], None]],
    names: Iterable[str],
    folder: Callable[[str], Path],
) -> Iterator[dict[str, Future[None]]]:
    """Start the named cases at once, each on a thread and in a ``folder(name)`` of its
    own (they are independent: their own emulator, ledger and files); the caller waits
    for each one's future, whose exception is its failure. Leaving waits for them all."""
    names = list(dict.fromkeys(names))
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        yield {name: pool.submit(cases[name], folder(name)) for name in names}
