"""What a status carries for the people watching a job, beside its state: the provider's
queue position and its log lines.

Providers such as fal.ai and Replicate send a job's whole log at every poll, so a status
keeps only its newest lines, with keys scrubbed and URL credentials masked when it is
built: what a plugin hands over can go to a terminal, a callback or an exception as it is.
"""

from __future__ import annotations

from collections.abc import Iterable

from lipbridge.redact import redact_message

LOG_LINES = 20  # the newest lines a status keeps ...
LOG_CHARS = 4000  # ... and at most this many characters of them


def bounded_logs(lines: Iterable[str] | str | None) -> tuple[str, ...]:
    """The newest non-blank lines of ``lines`` that fit in ``LOG_LINES`` and ``LOG_CHARS``
    (a longer newest line is cut), each redacted before it is cut so that no part of a
    key survives a cut. A string is split into its lines; anything but strings is left out.
    """
    if not lines:
        return ()
    texts = [lines] if isinstance(lines, str) else [x for x in lines if isinstance(x, str)]
    kept: list[str] = []
    room = LOG_CHARS
    for line in reversed([part for text in texts for part in text.splitlines()]):
        if len(kept) == LOG_LINES or room <= 0:
            break
        line = line.rstrip()
        if line:
            kept.append(redact_message(line)[:room])
            room -= len(kept[-1])
    return tuple(reversed(kept))


def fresh_lines(shown: tuple[str, ...], logs: tuple[str, ...]) -> tuple[str, ...]:
    """The lines of ``logs`` that follow what ``shown`` (the previous poll's) already had.

    Each poll brings the newest lines of a log that only grows, so the two overlap where
    the end of ``shown`` is the start of ``logs``; without an overlap all of ``logs`` is new.
    """
    for overlap in range(min(len(shown), len(logs)), 0, -1):
        if shown[-overlap:] == logs[:overlap]:
            return logs[overlap:]
    return logs


def check_queue_position(_: object, __: object, value: int | None) -> None:
    """``JobStatus.queue_position``: the number of jobs ahead, a whole number or None."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"queue_position={value!r}; allowed: None or a whole number >= 0")
