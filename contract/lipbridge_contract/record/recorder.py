"""Running one scripted scenario for real under vcrpy, for the live and emulator recorders.

The scenario's sidecar is the script: its steps run through a real client, vcrpy writes
what went over the wire (through :class:`~.scrubbers.Scrubbers`), and what was observed
becomes the sidecar's new ``expect``. A cassette lands in place only once its scenario
finished, so a failed recording never leaves half a file behind.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
import vcr
import yaml

from lipbridge import Client, LipbridgeError
from lipbridge.convert import unstructure
from lipbridge_contract.catalogue import meaning
from lipbridge_contract.record.scrubbers import Rewrites, Scrubbers, clean
from lipbridge_contract.replay import MATCH_ON, Observation, SafeYAML, run_steps
from lipbridge_contract.scenarios import SIDECAR_SUFFIX, CassetteDir, Scenario

INVALID_KEY = "lbcontract-deliberately-invalid-key"  # what auth_invalid is recorded with


class RecordRefused(click.ClickException):
    """Recording would break a safety rule (nothing was sent), or a recording does not show
    its scenario (nothing was written for it)."""


def scripts(folder: CassetteDir, names: Sequence[str]) -> list[Scenario]:
    """The named scenarios' scripts; every one must exist, and be one the recorder can
    write, before anything is sent."""
    scenarios = []
    for name in names:
        scenario = folder.get(name)
        if scenario is None:
            raise RecordRefused(
                f"{name}: no sidecar at {folder.path / (name + SIDECAR_SUFFIX)}; write its "
                "request (or handle) and steps first"
            )
        if scenario.sidecar.uploads:
            # Its bodies are read from a file as they are sent, and a presigned URL's
            # signature, which the scrubbers would redact, is what the replay must match.
            raise RecordRefused(
                f"{name}: upload scenarios are not recorded yet; write it from the provider's "
                "documented exchange (docs/contract.md, Writing cassettes from documentation)"
            )
        if scenario.sidecar.callbacks:
            # The provider sends it, to a receiver, when a job ends: nothing for a recorder
            # to ask for, and its signature is over bytes the scrubbers could change.
            raise RecordRefused(
                f"{name}: callback scenarios are not recorded; write it from the provider's "
                "documented callback (docs/contract.md, Writing cassettes from documentation)"
            )
        scenarios.append(scenario)
    return scenarios


def outcome(expect: dict[str, Any]) -> str:
    """An ``expect`` section in a few words: the error and its step, or the last state
    and how many jobs a find step found."""
    states, error, jobs = expect.get("states") or [], expect.get("error"), expect.get("jobs")
    if error:
        return f"{error['class']} at {error['step']}"
    said = f"no error, ending {states[-1]}" if states else "no error"
    if jobs is not None:
        said += f", finding {len(jobs)} job" + ("" if len(jobs) == 1 else "s")
    return said


def _observe(client: Client, provider: str, scenario: Scenario) -> dict[str, Any]:
    """Run the steps for real and return the sidecar's new ``expect`` section."""
    obs = Observation(scenario=scenario)
    error: LipbridgeError | None = None
    try:
        run_steps(
            obs,
            provider,
            lambda: client,
            wait_timeout=1800.0,
            # A job that reached the provider is billed: say how to find it at once.
            on_submit=lambda h: click.echo(f"  submitted job {h.job_id} (handle: {h.to_json()})"),
        )
    except LipbridgeError as exc:
        error = exc
    expect: dict[str, Any] = {"states": [s.state.value for s in obs.statuses]}
    if error is not None:
        expect["error"] = {
            "step": obs.error_step,
            "class": type(error).__name__,
            "retryable": error.retryable,
            **{
                name: getattr(error, name)
                for name in ("retry_after", "code")
                if getattr(error, name, None) is not None
            },
        }
    if scenario.sidecar.finds:
        expect["jobs"] = [
            {"job_id": h.job_id, "created_at": h.created_at.isoformat()} for h in obs.found or ()
        ]
    if obs.result is not None:
        expect["result"] = {
            k: v
            for k, v in unstructure(obs.result).items()
            if k in ("video_url", "duration_seconds", "billed") and v is not None
        }
    return expect


def _scenario_client(client: Client, provider: str, scenario: Scenario, key: str) -> Client:
    """The user's client setup with the scenario's settings, and its key: the one given, or
    for a scenario recorded with an invalid key, one the provider must refuse. It keeps
    the user's client's job ledger, or none when that client keeps none."""
    jobs = client.jobs
    return Client(
        registry=client.registry,
        transport=client.transport,
        clock=client.clock,
        api_keys={provider: INVALID_KEY if meaning(scenario.name).invalid_key else key},
        base_urls={provider: client.base_url(provider, client.info(provider))},
        settings={provider: scenario.sidecar.settings},
        environ={},
        ledger=jobs.ledger if jobs is not None else False,
    )


def record_one(
    client: Client,
    provider: str,
    scenario: Scenario,
    key: str,
    target: Path,
    scrubbers: Scrubbers,
    keep: Callable[[dict[str, Any]], str | None] = lambda expect: None,
) -> dict[str, Any]:
    """Run ``scenario`` through ``client`` under vcrpy and move the cassette to ``target``
    once it is complete, unless ``keep`` gives a reason not to; returns the observed
    ``expect``."""
    recorder = vcr.VCR(
        record_mode="all",
        match_on=MATCH_ON,
        serializer="safe_yaml",
        decode_compressed_response=True,
        before_record_request=scrubbers.request,
        before_record_response=scrubbers.response,
    )
    recorder.register_serializer("safe_yaml", SafeYAML)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        staged = Path(tmp) / target.name
        with recorder.use_cassette(str(staged)):
            expect = _observe(_scenario_client(client, provider, scenario, key), provider, scenario)
        if not staged.exists():
            raise RecordRefused(
                f"{scenario.name}: nothing was sent ({outcome(expect)}); there is no "
                "exchange to record"
            )
        reason = keep(expect)
        if reason is not None:
            raise RecordRefused(f"{scenario.name}: {reason}; not written")
        os.replace(staged, target)
    return expect


def write_sidecar(
    source: Path,
    dest: Path,
    changes: dict[str, Any],
    secrets: Sequence[str],
    rewrites: Rewrites = (),
) -> None:
    """The script at ``source`` with ``changes`` (provenance, the observed outcome, ...)
    written to ``dest``, rewritten and scrubbed like the cassette."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data.update(changes)
    data["expect"] = data.pop("expect")  # what happened reads last, after what was sent
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    dest.write_text(clean(text, secrets, rewrites), encoding="utf-8")
