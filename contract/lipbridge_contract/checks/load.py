"""Does the plugin load cleanly, and do its declared capabilities match its scenarios?"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from lipbridge import InvalidRequest, JobState
from lipbridge.validation import validate
from lipbridge_contract.catalogue import CATALOGUE
from lipbridge_contract.checks.base import Check, Verdict, file_gate, needs_scenario

if TYPE_CHECKING:
    from lipbridge.plugin import ProviderInfo
    from lipbridge_contract.run import SuiteRun

_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*$")


def info_problems(info: ProviderInfo) -> list[str]:
    problems = []
    for field in ("docs_url", "default_base_url"):
        url = urlsplit(getattr(info, field))
        if url.scheme != "https" or not url.hostname:
            problems.append(f"{field}={getattr(info, field)!r} is not an https URL")
    if not info.display_name.strip():
        problems.append("display_name is empty")
    names = [m.name for m in info.models]
    if not names or len(set(names)) != len(names):
        problems.append(f"models must be non-empty with unique names, got {names}")
    for caps in info.models:
        if caps.default_sync_mode is not None and caps.default_sync_mode not in caps.sync_modes:
            problems.append(f"{caps.name}: default_sync_mode is not one of its sync_modes")
        if caps.output_url_ttl_seconds is not None and caps.output_url_ttl_seconds <= 0:
            problems.append(f"{caps.name}: output_url_ttl_seconds must be positive")
        if not caps.audio_input and not caps.tts_voices:
            problems.append(f"{caps.name}: accepts neither audio nor any tts voice")
    bad_env = [n for n in info.api_key_env if not _ENV.match(n)]
    if bad_env:
        problems.append(f"api_key_env holds names that are not variable names: {bad_env}")
    for needed in (JobState.SUCCEEDED, JobState.FAILED):  # failed may come through results
        if info.status_words and not info.reports(needed):
            problems.append(f"status_words has no word for {needed.value}")
    bad = [w for w, s in info.status_words.items() if not isinstance(s, JobState)]
    if bad:
        problems.append(f"status_words values must be JobState members: {bad}")
    return problems


def _load(run: SuiteRun) -> Verdict:
    info = run.info
    if info is None:
        return Verdict.of([f"the plugin does not load: {run.load_error}"])
    problems = [f"network access while loading: {a}" for a in run.load_network]
    problems += info_problems(info)
    dist, version = run.registry.distribution(run.provider)
    return Verdict.of(problems, f"{dist} {version}".strip())


def _capabilities(run: SuiteRun) -> Verdict:
    info = run.info
    assert info is not None
    problems: list[str] = []
    notes: list[str] = []
    # A scenario that needs a capability no model declares must not exist.
    refused = [
        s for s in CATALOGUE
        if s.capability and not any(getattr(m, s.capability) for m in info.models)
    ]
    problems += [
        f"{s.name}: a {s.capability} scenario exists, but no model declares {s.capability}"
        for s in refused
        if run.scenario(s.name) is not None
    ]
    for standard in CATALOGUE:
        # An optional hook's scenarios are required with it and not replayed without it.
        if standard not in refused and (standard.hook is None or run.implements(standard.hook)):
            file_gate(needs_scenario(run, standard.name, standard.required_by), problems, notes)
    requests = {s.name: s.sidecar.request for s in run.scenarios if s.sidecar.request}
    for name, request in requests.items():
        try:
            validate(info, request)
        except InvalidRequest as exc:
            problems.append(
                f"{name}: the recorded request is not valid for the declared capabilities: {exc}"
            )
    for feature, declared, used in (
        (
            "tts",
            any(m.tts_voices for m in info.models),
            any(r.tts is not None for r in requests.values()),
        ),
        (
            "callback",
            any(m.callback for m in info.models),
            any(r.callback_url for r in requests.values()),
        ),
    ):
        if declared:
            gate = needs_scenario(
                run,
                feature,
                f"the declared {feature} capability",
                present=used,
                wanted=f"a scenario whose request uses {feature}",
            )
            file_gate(gate, problems, notes)
    for name, obs in run.observations.items():
        for status in obs.statuses:
            if status.result is None or status.result.expires_at is None:
                continue
            model = info.model(obs.resumed_handle.model if obs.resumed_handle else None)
            if model.output_url_ttl_seconds is None:
                problems.append(
                    f"{name}: the result expires, but {model.name} declares no "
                    "output_url_ttl_seconds"
                )
    return Verdict.of(problems, "; ".join(notes) or f"{len(run.scenarios)} scenarios agree")


# Not gated on the plugin loading: reporting why it does not is this check's job.
LOAD = Check("load", "Loads offline; provider info well formed", _load, needs_plugin=False)
CAPABILITIES = Check("capabilities", "Capabilities match scenarios and results", _capabilities)
