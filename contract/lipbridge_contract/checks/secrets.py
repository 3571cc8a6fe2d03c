"""The canary: the key the suite ran with must not surface anywhere it could leak from."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from lipbridge_contract.checks.base import Check, Verdict
from lipbridge_contract.checks.lifecycle import error_chain
from lipbridge_contract.scrub import scrub_headers, scrub_text

if TYPE_CHECKING:
    from lipbridge_contract.harness import SentRequest
    from lipbridge_contract.replay import Observation
    from lipbridge_contract.run import SuiteRun


def as_recorded(sent: SentRequest, secret_headers: tuple[str, ...]) -> str:
    """The request as the recorder would write it, after its scrubbers."""
    body = (sent.body or b"").decode("utf-8", "replace")
    return str(
        yaml.safe_dump(
            {
                "method": sent.method,
                "uri": scrub_text(sent.url),
                "headers": scrub_headers({k: [v] for k, v in sent.headers.items()}, secret_headers),
                "body": scrub_text(body),
            }
        )
    )


def _places(obs: Observation, auth_header: str, secret_headers: tuple[str, ...]) -> dict[str, Any]:
    """Every place the key could leak to, as text to search."""
    places: dict[str, Any] = {"log record": obs.logs}
    for exc in error_chain(obs.error):
        places[f"{type(exc).__name__} message"] = str(exc)
        places[f"{type(exc).__name__} repr"] = repr(exc)
        places[f"{type(exc).__name__} attributes"] = repr(vars(exc))
    places["handle repr"] = repr(obs.handle)
    places["handle JSON"] = obs.handle_json
    places["found handles"] = [(repr(h), h.to_json()) for h in obs.found or ()]
    places["status repr"] = repr(obs.statuses)
    places["result repr"] = repr(obs.result)
    places["uploaded repr"] = repr(obs.uploaded)
    places["callback repr"] = repr(obs.callback)
    for n, sent in enumerate(obs.sent):
        places[f"request {n} URL"] = sent.url
        places[f"request {n} body"] = (sent.body or b"").decode("utf-8", "replace")
        places[f"request {n} headers other than {auth_header}"] = {
            k: v for k, v in sent.headers.items() if k.lower() != auth_header.lower()
        }
        places[f"request {n} as a recorded cassette would hold it"] = as_recorded(
            sent, secret_headers
        )
    return places


def _canary(run: SuiteRun) -> Verdict:
    assert run.info is not None
    problems = []
    secret_headers = (run.info.auth.header, *run.info.secret_headers)
    used = 0
    for name, obs in run.observations.items():
        for where, value in _places(obs, run.info.auth.header, secret_headers).items():
            if run.key in str(value):
                problems.append(f"{name}: the API key appears in the {where}")
        used += sum(1 for s in obs.sent if any(run.key in v for v in s.headers.values()))
    client, _, _ = run.scripted()
    ctx = client.context(run.provider, run.info)
    for what, text in (("client repr", repr(client)), ("call context repr", repr(ctx))):
        if run.key in text:
            problems.append(f"the API key appears in the {what}")
    if run.observations and not used:
        problems.append("no request carried the key in its auth header; the canary proves nothing")
    return Verdict.of(problems, f"canary key sent in {used} requests, found nowhere else")


SECRETS_CANARY = Check("secrets-canary", "Canary key never leaks", _canary)
