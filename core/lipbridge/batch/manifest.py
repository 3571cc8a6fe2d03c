"""A batch's rows: read from a CSV or JSON Lines manifest, or made by the shorthand.

Each row is numbered by its line in the file, so that every problem names the line and
the field. Parsing never touches the network; checking rows against the providers'
models is :func:`lipbridge.batch.plan.check_rows`.
"""

from __future__ import annotations

import csv
import json
import string
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import frozen

from lipbridge.errors import InvalidRequest, LipbridgeError
from lipbridge.models import JobRequest, TextToSpeech, shown

COLUMNS = (
    "video",
    "audio",
    "tts_text",
    "tts_voice",
    "provider",
    "model",
    "sync_mode",
    "temperature",
    "active_speaker",
    "options",
    "callback_url",
    "output",
)
AUDIO_SUFFIXES = frozenset({".wav", ".mp3", ".m4a", ".aac", ".ogg", ".flac", ".opus"})
TEMPLATE_FIELDS = ("audio_stem", "audio_name", "video_stem", "video_name", "n", "provider")


@frozen(kw_only=True)
class Row:
    """One job of a batch: its request, the providers to try in order, where it goes."""

    line: int
    request: JobRequest
    providers: tuple[str, ...]
    output: str | None = None


@frozen(kw_only=True)
class RowProblem:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.field}: {self.message}"


class ManifestError(InvalidRequest):
    """Rows that cannot be run, each with its line and field; nothing was sent."""

    def __init__(self, source: str, problems: Sequence[RowProblem]) -> None:
        shown_ = "; ".join(str(p) for p in problems[:20])
        more = f"; and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(
            f"{source}: {len(problems)} invalid row(s), nothing was sent: {shown_}{more}",
            field=problems[0].field if problems else "manifest",
        )
        self.problems = tuple(problems)


def read_manifest(
    path: Path, *, providers: Sequence[str]
) -> tuple[list[Row], list[RowProblem]]:
    """The rows of a ``.csv`` or ``.jsonl`` manifest and the problems of the bad ones.

    ``providers`` (the command's ``--provider``/``--providers``) serves rows that name
    none; a row's own ``provider`` may list several, comma-separated, in fallback order.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"manifest {path}: cannot be read ({exc})", field="manifest") from None
    if path.suffix.lower() == ".csv":
        records = _csv_records(text)
    elif path.suffix.lower() in (".jsonl", ".ndjson"):
        records = _jsonl_records(text)
    else:
        raise InvalidRequest(
            f"manifest {path}: {path.suffix or 'no suffix'} is not a manifest format; "
            "allowed: .csv, .jsonl",
            field="manifest",
        )
    rows: list[Row] = []
    problems: list[RowProblem] = []
    for line, record in records:
        if isinstance(record, RowProblem):
            problems.append(record)
            continue
        try:
            rows.append(row_from(line, record, providers))
        except _Bad as bad:
            problems.append(RowProblem(line=line, field=bad.field, message=bad.message))
    problems += duplicate_outputs(rows)
    return rows, problems


def _csv_records(text: str) -> Iterable[tuple[int, Mapping[str, Any] | RowProblem]]:
    reader = csv.DictReader(text.splitlines())
    unknown = [c for c in reader.fieldnames or [] if c not in COLUMNS]
    if not reader.fieldnames or "video" not in reader.fieldnames or unknown:
        what = "no video column"
        if unknown:
            what = f"unknown column(s) {', '.join(map(repr, unknown))}"
        allowed = ", ".join(COLUMNS)
        yield 1, RowProblem(line=1, field="header", message=f"{what}; allowed: {allowed}")
        return
    for record in reader:
        line = reader.line_num
        if None in record:  # more cells than the header names
            yield line, RowProblem(line=line, field="row", message="more cells than columns")
            continue
        values = {k: v for k, v in record.items() if v not in (None, "")}
        if values:
            yield line, values


def _jsonl_records(text: str) -> Iterable[tuple[int, Mapping[str, Any] | RowProblem]]:
    for line, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError as exc:
            yield line, RowProblem(line=line, field="row", message=f"not JSON ({exc})")
            continue
        if not isinstance(record, dict):
            yield line, RowProblem(line=line, field="row", message="not a JSON object")
            continue
        unknown = sorted(set(record) - set(COLUMNS))
        if unknown:
            yield line, RowProblem(
                line=line, field=unknown[0],
                message=f"unknown field; allowed: {', '.join(COLUMNS)}",
            )
            continue
        yield line, record


class _Bad(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def row_from(line: int, record: Mapping[str, Any], default: Sequence[str]) -> Row:
    """One manifest record as a :class:`Row`; raises with the field at fault."""
    providers = _providers(record.get("provider"), default)
    options = record.get("options") or {}
    if isinstance(options, str):
        try:
            options = json.loads(options)
        except ValueError:
            raise _Bad("options", f"{shown(options)} is not a JSON object") from None
    if not isinstance(options, dict):
        raise _Bad("options", f"{shown(options)} is not a JSON object")
    tts = None
    if "tts_text" in record or "tts_voice" in record:
        if not (record.get("tts_text") and record.get("tts_voice")):
            raise _Bad("tts_text", "tts_text and tts_voice go together")
        tts = TextToSpeech(text=str(record["tts_text"]), voice=str(record["tts_voice"]))
    try:
        request = JobRequest(
            video=_text(record, "video"),
            audio=record.get("audio"),
            tts=tts,
            model=record.get("model"),
            sync_mode=record.get("sync_mode"),
            temperature=_number(record.get("temperature")),
            active_speaker=_flag(record.get("active_speaker")),
            options=options,
            callback_url=record.get("callback_url") or None,
        )
    except LipbridgeError as exc:
        raise _Bad(getattr(exc, "field", None) or "row", exc.message) from None
    output = record.get("output")
    if output is not None and not isinstance(output, str):
        raise _Bad("output", f"{shown(output)} is not a path")
    return Row(line=line, request=request, providers=providers, output=output)


def _providers(value: Any, default: Sequence[str]) -> tuple[str, ...]:
    if value is None:
        if not default:
            raise _Bad("provider", "no provider: give a provider column or --provider")
        return tuple(default)
    if not isinstance(value, str) or not value.strip():
        raise _Bad("provider", f"{shown(value)} is not a provider name")
    names = tuple(n.strip() for n in value.split(",") if n.strip())
    if len(set(names)) != len(names):
        raise _Bad("provider", f"{value!r} names a provider twice")
    return names


def _text(record: Mapping[str, Any], field: str) -> str:
    value = record.get(field)
    if not isinstance(value, str) or not value:
        raise _Bad(field, f"{shown(value)} is missing or not text")
    return value


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _Bad("temperature", f"{shown(value)} is not a number") from None


def _flag(value: Any) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    lowered = str(value).strip().lower()
    if lowered in ("true", "yes", "1"):
        return True
    if lowered in ("false", "no", "0"):
        return False
    raise _Bad("active_speaker", f"{shown(value)} is not true or false")


def duplicate_outputs(rows: Sequence[Row]) -> list[RowProblem]:
    """Two rows writing one file would overwrite each other's paid result."""
    seen: dict[str, int] = {}
    problems = []
    for row in rows:
        if row.output is None:
            continue
        key = str(Path(row.output).expanduser().resolve())
        if key in seen:
            problems.append(RowProblem(
                line=row.line, field="output",
                message=f"{row.output} is also line {seen[key]}'s output",
            ))
        seen.setdefault(key, row.line)
    return problems


def shorthand(
    *,
    video: str,
    audio_dir: Path,
    providers: Sequence[str],
    output: str | None,
    model: str | None = None,
    sync_mode: str | None = None,
) -> tuple[list[Row], list[RowProblem]]:
    """One row per audio file in ``audio_dir`` (sorted), all with ``video``.

    ``output`` is a template: ``{audio_stem}``, ``{audio_name}``, ``{video_stem}``,
    ``{video_name}``, ``{n}`` (1-based) and ``{provider}`` (the first one).
    """
    if not audio_dir.is_dir():
        raise InvalidRequest(f"--audio-dir {audio_dir} is not a folder", field="audio_dir")
    if not providers:
        raise InvalidRequest("give --provider or --providers", field="provider")
    if output is not None:
        fields = {f for _, f, _, _ in string.Formatter().parse(output) if f is not None}
        unknown = sorted(fields - set(TEMPLATE_FIELDS))
        per_row = fields & {"audio_stem", "audio_name", "n"}
        if unknown or not per_row:
            raise InvalidRequest(
                f"-o {output!r} names {', '.join(unknown) or 'no per-row field'}; allowed: "
                f"{', '.join('{' + f + '}' for f in TEMPLATE_FIELDS)}, with {{audio_stem}}, "
                "{audio_name} or {n} so that each row gets its own file",
                field="output",
            )
    audios = sorted(p for p in audio_dir.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES)
    if not audios:
        raise InvalidRequest(
            f"--audio-dir {audio_dir} holds no audio file ({', '.join(sorted(AUDIO_SUFFIXES))})",
            field="audio_dir",
        )
    video_path = Path(video)
    rows, problems = [], []
    for n, audio in enumerate(audios, start=1):
        record: dict[str, Any] = {"video": video, "audio": str(audio)}
        if model:
            record["model"] = model
        if sync_mode:
            record["sync_mode"] = sync_mode
        if output is not None:
            record["output"] = output.format(
                audio_stem=audio.stem, audio_name=audio.name, video_stem=video_path.stem,
                video_name=video_path.name, n=n, provider=providers[0],
            )
        try:
            rows.append(row_from(n, record, providers))
        except _Bad as bad:
            problems.append(RowProblem(line=n, field=bad.field, message=bad.message))
    return rows, problems + duplicate_outputs(rows)
