"""What went over the wire: request encoding, and the status-word mapping."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lipbridge import JobState
from lipbridge.plugin import Response
from lipbridge_contract.catalogue import SUCCESS
from lipbridge_contract.checks.base import Check, Verdict, needs_scenario
from lipbridge_contract.checks.lifecycle import replay_problems
from lipbridge_contract.harness import LogCapture, SentRequest
from lipbridge_contract.recorded import FormPart, Interaction, form_parts

if TYPE_CHECKING:
    from lipbridge_contract.run import SuiteRun

UNKNOWN_WORD = "lbcontract_unknown_status"


def json_diff(want: Any, got: Any, path: str = "$") -> list[str]:
    """Where two JSON values differ, as readable paths (at most a few)."""
    if isinstance(want, dict) and isinstance(got, dict):
        out = [f"{path}.{k}: missing (recorded {want[k]!r})" for k in want if k not in got]
        out += [f"{path}.{k}: unexpected {got[k]!r}" for k in got if k not in want]
        for k in want.keys() & got.keys():
            out += json_diff(want[k], got[k], f"{path}.{k}")
        return out
    if isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        pairs = enumerate(zip(want, got, strict=True))
        return [d for n, (a, b) in pairs for d in json_diff(a, b, f"{path}[{n}]")]
    return (
        [] if want == got and type(want) is type(got) else [f"{path}: {got!r}, recorded {want!r}"]
    )


def content_type(sent: SentRequest) -> str | None:
    """The Content-Type the request went with (header names as the plugin spelled them)."""
    return next((v for k, v in sent.headers.items() if k.lower() == "content-type"), None)


def form_diff(want: dict[str, FormPart], got: dict[str, FormPart]) -> list[str]:
    """Where two forms differ, part by part (their boundaries always do)."""
    out = [f"form part {k!r}: missing" for k in want if k not in got]
    out += [f"form part {k!r}: unexpected" for k in got if k not in want]
    for name in want.keys() & got.keys():
        for field in ("filename", "content_type", "data"):
            mine, theirs = getattr(got[name], field), getattr(want[name], field)
            if mine != theirs:
                out.append(f"form part {name!r}: {field} {mine!r:.80}, recorded {theirs!r:.80}")
    return out


def _body_problems(want: Interaction, got: SentRequest) -> list[str]:
    recorded, sent = want.request_body, got.body or b""
    form = form_parts(want.request_headers.get("content-type"), recorded)
    if form is not None:
        sent_form = form_parts(content_type(got), sent)
        if sent_form is None:
            return [f"body {sent[:80]!r} is not the recorded multipart/form-data"]
        return form_diff(form, sent_form)
    if not recorded and not sent:
        return []
    try:
        return json_diff(json.loads(recorded), json.loads(sent))
    except ValueError:
        return [] if recorded == sent else [f"body {sent[:80]!r}, recorded {recorded[:80]!r}"]


def _encoding(run: SuiteRun) -> Verdict:
    problems, compared = [], 0
    for name, obs in run.observations.items():
        if obs.harness_problem:
            problems += replay_problems(obs)
            continue
        if obs.scenario.sidecar.callbacks:  # its recording is the provider's POST to us
            continue
        for n, (want, got) in enumerate(zip(run.recorded(name), obs.sent, strict=False)):
            where = f"{name}: request {n} ({got.phase})"
            url = urlsplit(got.url)
            if run.key in got.url:
                problems.append(f"{where}: the API key is in the URL")
            if (want.method, want.path) != (got.method, url.path):
                problems.append(
                    f"{where}: {got.method} {url.path}, recorded {want.method} {want.path}"
                )
                continue
            compared += 1
            problems += [f"{where}: {d}" for d in _body_problems(want, got)]
    return Verdict.of(problems, f"{compared} requests matched their recording")


def _poll_seed(run: SuiteRun) -> tuple[Interaction, str] | None:
    """A recorded poll answer and, inside it, the status word of a non-terminal state."""
    assert run.info is not None
    waiting = {w.lower() for w, s in run.info.status_words.items() if not s.terminal}
    # A lookup's answer (a find step's) may be shaped as a list, not as a job.
    polled = [s.name for s in run.scenarios if not s.sidecar.finds]
    for item in (i for name in polled for i in run.recorded(name)):
        if item.method != "GET" or item.status >= 300:
            continue
        text = item.body.decode("utf-8", "replace")
        for word in waiting:
            for quoted in (f'"{word}"', f'"{word.upper()}"', f'"{word.title()}"'):
                if quoted in text:
                    return item, quoted
    return None


def _unknown_word_problem(run: SuiteRun) -> str | None:
    """Replay a running poll answer with its status word replaced by an unknown one."""
    seed = _poll_seed(run)
    if seed is None:
        return None
    item, quoted = seed
    body = item.body.decode("utf-8").replace(quoted, f'"{UNKNOWN_WORD}"', 1).encode()
    client, _, _ = run.scripted(
        Response(method="GET", url=item.uri, status=item.status, headers=item.headers, body=body)
    )
    try:
        with LogCapture().installed() as logs:
            status = client.poll(run.sample_handle())
    except Exception as exc:
        return f"an unknown status word made poll raise {type(exc).__name__}: {exc}"
    if not any(UNKNOWN_WORD in line for line in logs.warnings):
        return "an unknown status word was not logged as a warning naming it"
    if status.state is not JobState.RUNNING:
        return (
            f"an unknown status word mapped to {status.state.value}; the policy is running "
            "(never a guessed terminal state)"
        )
    return None


def _status_map(run: SuiteRun) -> Verdict:
    assert run.info is not None
    declared = {w.lower(): s for w, s in run.info.status_words.items()}
    problems = []
    if not declared:
        problems.append("ProviderInfo.status_words is empty: declare every documented word")
    seen = 0
    for name, obs in run.observations.items():
        for status in obs.statuses:
            seen += 1
            word = status.raw_status.lower()
            if declared and word not in declared:
                problems.append(
                    f"{name}: status word {status.raw_status!r} is not in status_words "
                    f"({', '.join(sorted(declared))})"
                )
            elif (
                declared
                and status.state is not declared[word]
                and not status.agrees_with(declared[word])
            ):
                problems.append(
                    f"{name}: {status.raw_status!r} became {status.state.value}; status_words "
                    f"maps it to {declared[word].value}"
                )
            if status.state is JobState.SUCCEEDED and status.error is not None:
                problems.append(f"{name}: {status.raw_status!r} succeeded while carrying an error")
    if not seen:
        gate = needs_scenario(run, SUCCESS.name, "status mapping")
        if gate is not None:
            return gate
    unknown = _unknown_word_problem(run)
    if unknown:
        problems.append(unknown)
    return Verdict.of(problems, f"{len(declared)} declared words, {seen} statuses observed")


ENCODING = Check("encoding", "Request encoding", _encoding)
STATUS_MAP = Check("status-map", "Status mapping totality", _status_map)
