"""Recording against the live API: the only code path in the suite that spends money.

Nothing is sent until every rule holds: not in CI unless insisted on, not against the
emulator, every script present, and the plugin's own estimate of every submit within
``--allow-spend``. Then the scenarios run one after another on the real clock.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import click

from lipbridge import Client, LipbridgeError
from lipbridge.models import is_loopback
from lipbridge_contract.catalogue import meaning
from lipbridge_contract.record.recorder import (
    INVALID_KEY,
    RecordRefused,
    record_one,
    scripts,
    write_sidecar,
)
from lipbridge_contract.record.scrubbers import Scrubbers
from lipbridge_contract.scenarios import Scenario, load_cassette_dir


def plan_spend(
    client: Client, provider: str, scenarios: Sequence[Scenario], allow_unpriced: bool = False
) -> Decimal:
    """USD the submits would cost, by the plugin's own estimates; refuses what it can't
    price unless ``allow_unpriced`` (then the unpriced submits are listed, not counted)."""
    total = Decimal(0)
    for scenario in scenarios:
        request = scenario.sidecar.request
        if request is None or scenario.sidecar.finds or meaning(scenario.name).invalid_key:
            continue  # nothing is submitted (a find step only looks a job up)
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


def looks_like_emulator(base_url: str, provider: str) -> bool:
    """A loopback base URL at ``/<provider>``: where ``lipbridge emulator`` mounts it."""
    parts = urlsplit(base_url)
    local = is_loopback(parts.hostname) or parts.hostname in ("0.0.0.0", "::")  # --host 0.0.0.0
    return local and parts.path.rstrip("/") == f"/{provider}"


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
    """Record ``names`` live into ``root/provider``; returns the cassettes written."""
    if environ.get("CI", "").lower() == "true" and not allow_ci:
        raise RecordRefused("CI=true: recording spends money; pass --allow-ci to insist")
    info = client.info(provider)
    live_base = client.base_url(provider, info)
    if looks_like_emulator(live_base, provider):
        raise RecordRefused(
            f"the base URL {live_base} is where the lipbridge emulator mounts {provider}; "
            "its answers are not live ones: record from it with `lipbridge contract record "
            "emulator` (provenance emulator)"
        )
    scenarios = scripts(load_cassette_dir(root / provider), names)
    spend = plan_spend(client, provider, scenarios, allow_unpriced)
    if spend > allow_spend:
        raise RecordRefused(
            f"the submits are estimated at ${spend}; --allow-spend is ${allow_spend}"
        )
    key = client.context(provider, info).credentials.require()
    dist, version = client.registry.distribution(provider)
    scrubbers = Scrubbers(
        secrets=(key, INVALID_KEY),
        rewrites=[(live_base.rstrip("/"), info.default_base_url.rstrip("/"))],
        secret_headers=(info.auth.header, *info.secret_headers),
    )
    written = []
    for scenario in scenarios:
        click.echo(f"recording {provider}/{scenario.name} against {live_base}")
        expect = record_one(client, provider, scenario, key, scenario.cassette, scrubbers)
        provenance = {
            "source": "live",
            "recorded_at": client.clock.now().astimezone(dt.timezone.utc).isoformat(),
            "plugin_version": f"{dist} {version}".strip(),
            "base_url": live_base,
        }
        write_sidecar(
            scenario.sidecar_path,
            scenario.sidecar_path,
            {"provenance": provenance, "expect": expect},
            scrubbers.secrets,
        )
        written.append(scenario.cassette)
    return written
