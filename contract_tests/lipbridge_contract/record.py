"""Re-record scenarios against the live API: real key, real clock, one job at a time.

The scenario's existing sidecar is the script (its request, or handle, and steps).
Before anything is sent, the plugin's own ``estimate_cost`` prices every submit and the
total must fit ``--allow-spend``. Each cassette is scrubbed as it is written (the key,
credential headers, anything :mod:`.scrub` recognises) and its base URL is rewritten
to the provider's default, so replays match; the sidecar gets live provenance and the
outcome that was observed.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import click
import vcr
import yaml

from lipbridge import Client, LipbridgeError
from lipbridge.convert import unstructure
from lipbridge_contract.cli import cassettes_option
from lipbridge_contract.replay import MATCH_ON, Observation, SafeYAML, run_steps
from lipbridge_contract.scenarios import SIDECAR_SUFFIX, Scenario, load_cassette_dir
from lipbridge_contract.scrub import scrub_headers, scrub_text

INVALID_KEY = "lbcontract-deliberately-invalid-key"  # what auth_invalid is recorded with


class RecordRefused(click.ClickException):
    """Recording would break a safety rule; nothing was sent."""


def _scrubbers(
    key: str, live_base: str, default_base: str, secret_headers: Sequence[str]
) -> tuple[Callable[[Any], Any], Callable[[dict[str, Any]], dict[str, Any]]]:
    secrets = [key, INVALID_KEY]

    def request(req: Any) -> Any:
        uri = req.uri
        if uri.startswith(live_base.rstrip("/")):
            uri = default_base.rstrip("/") + uri[len(live_base.rstrip("/")) :]
        req.uri = scrub_text(uri, secrets)
        req.headers = scrub_headers(dict(req.headers), secret_headers)
        if req.body:
            text = req.body.decode("utf-8", "replace") if isinstance(req.body, bytes) else req.body
            req.body = scrub_text(text, secrets).encode()
        return req

    def response(resp: dict[str, Any]) -> dict[str, Any]:
        resp["headers"] = scrub_headers(dict(resp.get("headers") or {}), secret_headers)
        body = resp.get("body", {}).get("string", b"")
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        resp["body"] = {"string": scrub_text(text, secrets)}
        return resp

    return request, response


def plan_spend(
    client: Client, provider: str, scenarios: Sequence[Scenario], allow_unpriced: bool = False
) -> Decimal:
    """USD the submits would cost, by the plugin's own estimates; refuses what it can't
    price unless ``allow_unpriced`` (then the unpriced submits are listed, not counted)."""
    total = Decimal(0)
    for scenario in scenarios:
        request = scenario.sidecar.request
        if request is None or scenario.name == "auth_invalid":
            continue
        durations = scenario.sidecar.durations
        try:
            estimate = client.estimate_cost(
                provider,
                request,
                video_seconds=durations.video_seconds if durations else None,
                audio_seconds=durations.audio_seconds if durations else None,
            )
        except LipbridgeError as exc:
            raise RecordRefused(f"{scenario.name}: cannot price the submit: {exc}") from None
        if estimate.usd is None:
            why = estimate.unknown_reason or f"priced in {estimate.unit} with no USD rate"
            if not allow_unpriced:
                raise RecordRefused(
                    f"{scenario.name}: no USD estimate ({why}); refusing to spend "
                    "(--allow-unpriced records it anyway, outside the --allow-spend cap)"
                )
            click.echo(f"  {scenario.name}: not counted against --allow-spend: {why}")
            continue
        total += estimate.usd
    return total


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
    if obs.result is not None:
        expect["result"] = {
            k: v
            for k, v in unstructure(obs.result).items()
            if k in ("video_url", "duration_seconds", "billed") and v is not None
        }
    return expect


def record_scenarios(
    client: Client,
    provider: str,
    root: Path,
    names: Sequence[str],
    allow_spend: Decimal,
    environ: dict[str, str] | os._Environ[str] = os.environ,
    allow_ci: bool = False,
    allow_unpriced: bool = False,
) -> list[Path]:
    """Record ``names`` into ``root/provider``; returns the cassettes written."""
    if environ.get("CI", "").lower() == "true" and not allow_ci:
        raise RecordRefused("CI=true: recording spends money; pass --allow-ci to insist")
    info = client.info(provider)
    folder = load_cassette_dir(root / provider)
    scenarios = []
    for name in names:
        scenario = folder.get(name)
        if scenario is None:
            raise RecordRefused(
                f"{name}: no sidecar at {root / provider / (name + SIDECAR_SUFFIX)}; write its "
                "request (or handle) and steps first"
            )
        scenarios.append(scenario)
    spend = plan_spend(client, provider, scenarios, allow_unpriced)
    if spend > allow_spend:
        raise RecordRefused(
            f"the submits are estimated at ${spend}; --allow-spend is ${allow_spend}"
        )
    key = client.context(provider, info).credentials.require()
    live_base = client.base_url(provider, info)
    dist, version = client.registry.distribution(provider)
    written = []
    for scenario in scenarios:
        click.echo(f"recording {provider}/{scenario.name} against {live_base}")
        request_scrub, response_scrub = _scrubbers(
            key, live_base, info.default_base_url, (info.auth.header, *info.secret_headers)
        )
        recorder = vcr.VCR(
            record_mode="all",
            match_on=MATCH_ON,
            serializer="safe_yaml",
            decode_compressed_response=True,
            before_record_request=request_scrub,
            before_record_response=response_scrub,
        )
        recorder.register_serializer("safe_yaml", SafeYAML)
        target = scenario.cassette
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            staged = Path(tmp) / target.name
            with recorder.use_cassette(str(staged)):
                run_key = INVALID_KEY if scenario.name == "auth_invalid" else key
                expect = _observe(_scenario_client(client, provider, scenario, run_key),
                                  provider, scenario)
            os.replace(staged, target)
        _write_sidecar(
            scenario,
            expect,
            {
                "source": "live",
                "recorded_at": client.clock.now().astimezone(dt.timezone.utc).isoformat(),
                "plugin_version": f"{dist} {version}".strip(),
                "base_url": live_base,
            },
            [key, INVALID_KEY],
        )
        written.append(target)
    return written


def _scenario_client(client: Client, provider: str, scenario: Scenario, key: str) -> Client:
    """The user's client setup with the scenario's settings (and, for auth_invalid, a key
    the provider must refuse)."""
    return Client(
        registry=client.registry,
        transport=client.transport,
        clock=client.clock,
        api_keys={provider: key},
        base_urls={provider: client.base_url(provider, client.info(provider))},
        settings={provider: scenario.sidecar.settings},
        environ={},
    )


def _write_sidecar(
    scenario: Scenario, expect: dict[str, Any], provenance: dict[str, str], secrets: list[str]
) -> None:
    """The sidecar with live provenance and the observed outcome, scrubbed like the cassette."""
    data = yaml.safe_load(scenario.sidecar_path.read_text(encoding="utf-8"))
    data["provenance"] = provenance
    data["expect"] = expect
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    scenario.sidecar_path.write_text(scrub_text(text, secrets), encoding="utf-8")


@click.command("record")
@click.argument("provider")
@click.option("--scenario", "names", multiple=True, required=True, help="Repeat for several.")
@click.option(
    "--allow-spend",
    type=Decimal,
    required=True,
    help="USD the submits may cost, by the plugin's own estimate.",
)
@cassettes_option
@click.option("--allow-ci", is_flag=True, help="Record even when CI=true.")
@click.option(
    "--allow-unpriced",
    is_flag=True,
    help="Also record submits the plugin cannot price in USD (not counted in the cap).",
)
def record(
    provider: str,
    names: tuple[str, ...],
    allow_spend: Decimal,
    root: Path,
    allow_ci: bool,
    allow_unpriced: bool,
) -> None:
    """Re-record scenarios against the live API (spends real money)."""
    with Client() as client:
        for path in record_scenarios(
            client, provider, root, names, allow_spend,
            allow_ci=allow_ci, allow_unpriced=allow_unpriced,
        ):
            click.echo(f"wrote {path} and its sidecar")
