"""Uploading a local file: the optional ``lipbridge_upload`` hook, where a plugin has it.

The core hands the hook a local file before a submit, records what it returns in the job
ledger, reuses it until it expires and submits it in place of the path. So the hook must
return the reference the provider answered with the lifetime it documents, send the
whole file in the form the provider documents, and never hand the key to a URL the
provider gave out or to another host: a presigned URL is a storage service's, not the
provider's API.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from lipbridge_contract.catalogue import UPLOAD, UPLOAD_HOOK
from lipbridge_contract.checks.base import Check, Verdict, hook_missing, present
from lipbridge_contract.checks.lifecycle import replay_problems
from lipbridge_contract.checks.wire import content_type
from lipbridge_contract.recorded import form_parts

if TYPE_CHECKING:
    from lipbridge_contract.recorded import Interaction
    from lipbridge_contract.replay import Observation
    from lipbridge_contract.run import SuiteRun
    from lipbridge_contract.scenarios import ExpectedUpload, MediaFile


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def answered(interactions: Iterable[Interaction]) -> set[str]:
    """Every string in the recorded JSON answers: what the provider handed out."""
    out: set[str] = set()
    for item in interactions:
        try:
            out.update(_strings(json.loads(item.body)))
        except ValueError:
            continue
    return out


def key_problems(run: SuiteRun, obs: Observation, handed_out: set[str]) -> list[str]:
    """Requests to a URL the provider answered, or to another host than its APIs' (the
    default base URL's and those in ``api_base_urls``), that carried the auth header or
    the key."""
    assert run.info is not None
    apis = [urlsplit(url) for url in (run.info.default_base_url, *run.info.api_base_urls)]
    auth = run.info.auth.header.lower()
    problems = []
    for n, sent in enumerate(obs.sent):
        url = urlsplit(sent.url)
        if sent.url in handed_out:
            where = "a URL the provider answered"
        elif all((url.scheme, url.netloc) != (api.scheme, api.netloc) for api in apis):
            where = f"{url.netloc}, not the API's host"
        else:
            continue
        names = {name.lower() for name in sent.headers}
        text = " ".join([sent.url, *sent.headers.values(), (sent.body or b"").decode("latin-1")])
        if auth in names or run.key in text:
            problems.append(
                f"request {n} ({sent.method} to {where}) carries the API key; send a file to "
                "a presigned URL with ctx.http.put_file, which sends none"
            )
    return problems


def file_problems(
    obs: Observation, recorded: list[Interaction], media: MediaFile
) -> list[str]:
    """The file went whole, as the recording sends it: a form's file part, or raw."""
    carried = [(n, sent) for n, sent in enumerate(obs.sent) if sent.file is not None]
    if not carried:
        return ["no request carried the file (send it with ctx.http.upload or put_file)"]
    problems = []
    for n, sent in carried:
        if n >= len(recorded):
            continue  # sent off the recording: lifecycle reports it
        want, got = recorded[n], sent.body or b""
        recorded_form = form_parts(want.request_headers.get("content-type"), want.request_body)
        sent_form = form_parts(content_type(sent), got)
        where = f"request {n} ({sent.method})"
        if (recorded_form is None) != (sent_form is None):
            forms = ("raw", "in a form")
            sent_as, recorded_as = forms if sent_form is None else forms[::-1]
            problems.append(f"{where} sent the file {sent_as}; the recording has it {recorded_as}")
        elif sent_form is not None:
            files = [name for name, part in sent_form.items() if part.filename is not None]
            if [sent_form[name].data for name in files] != [media.content]:
                problems.append(
                    f"{where}: the form's file parts {files} do not hold the file's "
                    f"{len(media.content)} bytes exactly once"
                )
        else:
            if got != media.content:
                problems.append(f"{where}: the body is not the file's {len(media.content)} bytes")
            signed = want.request_headers.get("content-type")
            if signed is not None and content_type(sent) != signed:
                problems.append(
                    f"{where}: Content-Type {content_type(sent)!r}; the recording sends "
                    f"{signed!r} (a presigned URL is signed for one)"
                )
    return problems


def reference_problems(
    obs: Observation, expected: ExpectedUpload, handed_out: set[str]
) -> list[str]:
    """The upload returned what the provider answered, expiring when the sidecar says."""
    got = obs.uploaded
    if got is None:
        return ["the upload returned nothing"]
    problems = []
    if got.reference != expected.reference:
        problems.append(
            f"the reference is {got.reference!r}, the sidecar expects {expected.reference!r}"
        )
    if got.reference not in handed_out:
        problems.append(
            f"the reference {got.reference!r} is in no recorded answer; the submit must carry "
            "what the provider answered"
        )
    if got.expires_at is not None and got.expires_at.tzinfo is None:
        problems.append(f"expires_at {got.expires_at} has no timezone")
    elif got.expires_at != expected.expires_at:
        said = expected.expires_at.isoformat() if expected.expires_at else "none"
        gave = got.expires_at.isoformat() if got.expires_at else "none"
        problems.append(f"expires_at is {gave}, the sidecar expects {said}")
    return problems


def _meaning_problems(run: SuiteRun, problems: list[str], notes: list[str]) -> None:
    """The standard upload scenario exists and is an upload that returns a reference."""
    scenario = present(run, UPLOAD, problems, notes)
    if scenario is not None and scenario.sidecar.expect.uploaded is None:
        problems.append(
            f"{UPLOAD.name}: its sidecar expects no uploaded reference; this scenario means "
            "an upload step that returns one"
        )


def _upload(run: SuiteRun) -> Verdict:
    missing = hook_missing(run, UPLOAD_HOOK, "the core sends this provider's local files "
                           "inline or through staging")
    if missing is not None:
        return missing
    problems: list[str] = []
    notes: list[str] = []
    _meaning_problems(run, problems, notes)
    judged = 0
    for name, obs in run.observations.items():
        sidecar = obs.scenario.sidecar
        if not sidecar.uploads or replay_problems(obs):  # off its recording: lifecycle says
            continue
        judged += 1
        handed_out = answered(run.recorded(name))
        found = key_problems(run, obs, handed_out)
        expected = sidecar.expect.uploaded
        if expected is not None and obs.error is None:
            assert sidecar.media is not None
            found += reference_problems(obs, expected, handed_out)
            found += file_problems(obs, run.recorded(name), sidecar.media)
        problems += [f"{name}: {p}" for p in found]
    return Verdict.of(problems, "; ".join([f"{judged} uploads as recorded", *notes]))


UPLOADS = Check("upload", "Uploading a local file (optional hook)", _upload)
