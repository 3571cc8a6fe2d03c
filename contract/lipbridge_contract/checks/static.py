"""Checks of the cassette files themselves; they never need the plugin and never bypass."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lipbridge_contract.checks.base import Check, Verdict
from lipbridge_contract.recorded import CassetteFormatError, load_interactions
from lipbridge_contract.scenarios import MEDIA_BUDGET
from lipbridge_contract.scrub import REDACTED, find_secrets, secret_header_names

if TYPE_CHECKING:
    from lipbridge_contract.run import SuiteRun

CASSETTE_BUDGET = 64 * 1024  # bytes per cassette file
BODY_BUDGET = 16 * 1024  # bytes per recorded body
MEDIA_TYPES = ("video/", "audio/", "image/", "application/octet-stream")
MEDIA_MAGIC = (
    b"\x00\x00\x00\x18ftyp",
    b"\x00\x00\x00\x1cftyp",
    b"\x00\x00\x00 ftyp",
    b"ID3",
    b"RIFF",
    b"OggS",
    b"\x1aE\xdf\xa3",
    b"\xff\xfb",
    b"\xff\xd8\xff",
    b"\x89PNG",
    b"fLaC",
)


def _media(body: bytes, content_type: str | None) -> str | None:
    if content_type and content_type.lower().startswith(MEDIA_TYPES):
        return f"Content-Type {content_type}"
    if body[4:8] == b"ftyp" or body.startswith(MEDIA_MAGIC):
        return "a media file signature"
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "a binary (non-UTF-8) body"
    return None


def _hygiene(run: SuiteRun) -> Verdict:
    problems = list(run.dir.problems)
    files = run.dir.cassette_files
    if not run.dir.path.is_dir():
        return Verdict.of([f"no cassette directory at {run.dir.path}"])
    cassettes = [s.cassette for s in run.scenarios]
    if not cassettes and not problems:
        problems.append(f"{run.dir.path} holds no scenarios")
    for scenario in run.scenarios:
        path = scenario.cassette
        size = path.stat().st_size
        if size > CASSETTE_BUDGET:
            problems.append(f"{path.name}: {size} bytes; budget {CASSETTE_BUDGET}")
        try:
            interactions = load_interactions(path)
        except CassetteFormatError as exc:
            problems.append(str(exc))
            continue
        if not interactions:
            problems.append(f"{path.name}: no interactions recorded")
        for n, item in enumerate(interactions):
            sent_type = item.request_headers.get("content-type")
            if scenario.sidecar.uploads and len(item.request_body) <= MEDIA_BUDGET:
                sent_type = None  # an upload sends its stand-in file under the file's type
            for what, body, ctype in (
                ("request", item.request_body, sent_type),
                ("response", item.body, item.headers.get("content-type")),
            ):
                media = _media(body, ctype)
                if media:
                    problems.append(f"{path.name}: interaction {n} {what} holds {media}")
                if len(body) > BODY_BUDGET:
                    problems.append(
                        f"{path.name}: interaction {n} {what} body is {len(body)} bytes; "
                        f"budget {BODY_BUDGET}"
                    )
    return Verdict.of(problems, f"{len(cassettes)} cassettes, {len(files)} files")


def _secrets_static(run: SuiteRun) -> Verdict:
    problems = []
    extra = (run.info.auth.header, *run.info.secret_headers) if run.info is not None else ()
    names = secret_header_names(extra)
    paths = sorted(run.dir.path.glob("*")) if run.dir.path.is_dir() else []
    for path in paths:
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path.name}: unreadable ({exc}); cannot prove it holds no secret")
            continue
        for found in find_secrets(text):
            problems.append(f"{path.name} line {found.line}: {found.kind} {found.masked}")
    for scenario in run.scenarios:
        try:
            interactions = load_interactions(scenario.cassette)
        except CassetteFormatError:
            continue  # reported by hygiene
        for n, item in enumerate(interactions):
            for name, value in item.request_headers.items():
                if name in names and value not in ("", REDACTED):
                    problems.append(
                        f"{scenario.cassette.name}: interaction {n} keeps a value for the "
                        f"credential header {name!r}; the recorder writes {REDACTED}"
                    )
    return Verdict.of(problems, f"{len(paths)} files scanned")


HYGIENE = Check("hygiene", "Cassette hygiene", _hygiene, needs_plugin=False)
SECRETS_STATIC = Check(
    "secrets-static", "No secrets in recorded files", _secrets_static, needs_plugin=False
)
