"""``lipbridge providers`` and ``lipbridge estimate``: what is installed and what it costs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import click
from attrs import frozen

from lipbridge.cli.app import cli, client_from, options_of, provider_records
from lipbridge.cli.options import provider_or_default
from lipbridge.cli.render import emit_json, money, print_table, spread, table
from lipbridge.cli.report import cli_hint
from lipbridge.config.prices import YOUR_PRICE
from lipbridge.errors import LipbridgeError
from lipbridge.models import CostEstimate, JobRequest, ModelCapabilities, SyncMode

if TYPE_CHECKING:
    from lipbridge.cli.sources import KeyOrigin
    from lipbridge.client import Client
    from lipbridge.registry import PluginRecord

PLACEHOLDER_VIDEO = "https://example.invalid/video.mp4"
PLACEHOLDER_AUDIO = "https://example.invalid/audio.wav"


def capability_summary(caps: ModelCapabilities) -> str:
    flags = [
        name
        for name in ("temperature", "active_speaker", "callback", "cancel")
        if getattr(caps, name)
    ]
    if caps.tts_voices:
        flags.append(f"tts({len(caps.tts_voices)} voices)")
    if caps.local_files:
        flags.append("local_files")
    if caps.cost_estimate:
        flags.append("price")
    modes = ", ".join(sorted(m.value for m in caps.sync_modes)) or "-"  # wraps between modes
    return f"modes={modes}; {' '.join(flags) or 'no options'}"


@cli.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def providers(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """List installed providers, their models and capabilities, where each one's key
    comes from, and broken plugins; with NAME, that provider in full."""
    if name is not None:
        from lipbridge.cli.provider_view import show_provider

        show_provider(ctx, name, as_json)
        return
    records = provider_records(ctx)
    keys = _key_origins(ctx, records)
    if as_json:
        from lipbridge.convert import unstructure

        rows = unstructure(records)
        for row in rows:
            row["key"] = unstructure(keys.get(row["name"]))
        emit_json(rows)
        return
    if not records:
        click.echo(
            "No lipbridge provider plugins are installed (they are not on PyPI).\n"
            "Install one from a lipbridge clone:  pip install ./plugins/<provider>\n"
            "or from its wheels (scripts/build-wheels):  "
            "pip install --find-links dist lipbridge-<provider>"
        )
        return
    good = table("provider", "name", "distribution", "model", "capabilities", title="Providers")
    for rec in records:
        if rec.info is None:
            continue
        for i, caps in enumerate(rec.info.models):
            first = i == 0
            default = " (default)" if caps.name == rec.info.default_model else ""
            good.add_row(
                rec.name if first else "",
                rec.info.display_name if first else "",
                f"{rec.distribution} {rec.version}" if first else "",
                caps.name + default,
                capability_summary(caps),
            )
    if good.row_count:
        print_table(good)
        where = table("provider", "API key from", title="Keys (lipbridge keys list)")
        for name, origin in keys.items():
            where.add_row(name, origin.text(short=True))
        print_table(where)
    bad = [rec for rec in records if rec.info is None]
    if bad:
        problems = table("provider", "distribution", "status", "error", title="Not usable")
        for rec in bad:
            problems.add_row(rec.name, rec.distribution, rec.status, rec.error or "")
        print_table(problems)


def _key_origins(ctx: click.Context, records: list[PluginRecord]) -> dict[str, KeyOrigin]:
    """Where each usable provider's key comes from (never the key)."""
    from lipbridge.cli.sources import Origins

    origins = Origins(ctx)
    return {rec.name: origins.key(rec.name, rec.info) for rec in records if rec.info}


def _sole_mode(client: Client, provider: str, request: JobRequest) -> str | None:
    """The model's only sync mode when the request names none, else None."""
    if request.sync_mode is not None:
        return None
    modes = client.info(provider).model(request.model).sync_modes
    return next(iter(modes)).value if len(modes) == 1 else None


def _estimate_one(
    client: Client, provider: str, request: JobRequest, video: float | None, audio: float | None
) -> CostEstimate:
    """The estimate; a model with exactly one sync mode is priced in it (without a mode some
    providers cannot say how long the output will be)."""
    mode = _sole_mode(client, provider, request)
    if mode is not None:
        request = attrs.evolve(request, sync_mode=mode)
    return client.estimate_cost(provider, request, video_seconds=video, audio_seconds=audio)


@cli.command()
@click.argument("provider", required=False)
@click.option("--all", "all_providers", is_flag=True, help="Compare every installed provider.")
@click.option("--video", help="Video URL or local file (local files are measured).")
@click.option("--audio", help="Audio URL or local file (local files are measured).")
@click.option("--video-duration", type=float, help="Video length in seconds.")
@click.option("--audio-duration", type=float, help="Audio length in seconds.")
@click.option("--model", help="Model name (default: each provider's default).")
@click.option(
    "--sync-mode",
    type=click.Choice([m.value for m in SyncMode]),
    help="Sync mode to price (default: the model's only one, else the provider's default).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def estimate(
    ctx: click.Context,
    provider: str | None,
    all_providers: bool,
    video: str | None,
    audio: str | None,
    video_duration: float | None,
    audio_duration: float | None,
    model: str | None,
    sync_mode: str | None,
    as_json: bool,
) -> None:
    """Estimate what a job would cost, offline, from your prices in the config file, else
    each plugin's price table. Without PROVIDER: the config file's default_provider."""
    client = client_from(ctx)
    if provider and all_providers:
        raise click.UsageError("give one PROVIDER or --all")
    if not all_providers:
        provider = provider_or_default(provider, client.default_provider, also=" or --all")
    request = JobRequest(
        video=video or PLACEHOLDER_VIDEO,
        audio=audio or PLACEHOLDER_AUDIO,
        model=model,
        sync_mode=sync_mode,
    )
    if provider:
        result = _estimate_one(client, provider, request, video_duration, audio_duration)
        if as_json:
            emit_json(result)
        elif result.known:
            usd = ""
            if result.usd is not None:
                usd = f" ({spread(result.low_usd, result.usd, 'USD', sign='$')})"
            click.echo(
                f"{provider}/{result.model}: {spread(result.low, result.amount, result.unit)} "
                f"{result.unit}{usd}, {result.basis} x {money(result.quantity)}"
            )
            if result.source and result.source.table_version == YOUR_PRICE:
                click.echo(f"price source: {YOUR_PRICE}, from {result.source.url}")
            elif result.source:
                click.echo(f"price source: {result.source.url} as of {result.source.as_of}")
            mode = _sole_mode(client, provider, request)
            if mode is not None:  # a submit without one gets the provider's own default
                click.echo(
                    f"priced in {mode}, its only sync mode: submit with --sync-mode {mode} "
                    "for this price"
                )
        else:
            click.echo(f"{provider}/{result.model}: unknown ({result.unknown_reason})")
        return
    rows = compare(client, request, video_duration, audio_duration, options_of(ctx))
    if as_json:
        emit_json(rows)
        return
    out = table("provider", "model", "amount", "USD", "basis", "note", title="Estimates")
    for row in rows:
        est = row.estimate
        if est is None:
            out.add_row(row.provider, "-", "-", "-", "-", f"cannot run: {row.reason}")
            continue
        amount = f"{spread(est.low, est.amount, est.unit)} {est.unit}" if est.known else "unknown"
        note = "cheapest" if row.cheapest else (est.unknown_reason or "")
        out.add_row(
            row.provider, est.model, amount, spread(est.low_usd, est.usd, "USD"), est.basis, note
        )
    print_table(out)


@frozen(kw_only=True)
class Comparison:
    """One provider's answer in ``estimate --all``: an estimate or why it cannot run."""

    provider: str
    estimate: CostEstimate | None = None
    reason: str | None = None
    cheapest: bool = False


def compare(
    client: Client,
    request: JobRequest,
    video: float | None,
    audio: float | None,
    options: frozenset[str] | None = None,
) -> list[Comparison]:
    """Estimates from every usable provider; the lowest USD amount is marked cheapest.
    A provider's error keeps its hint where it names ``options`` only (the command's)."""
    rows = []
    for rec in client.providers():
        if rec.info is None:
            continue
        try:
            est = _estimate_one(client, rec.name, request, video, audio)
        except LipbridgeError as exc:
            hint = cli_hint(exc.hint, options)  # in the command's words, or none
            reason = f"{exc.summary}; {hint}" if hint else exc.summary
            rows.append(Comparison(provider=rec.name, reason=reason))
        else:
            rows.append(Comparison(provider=rec.name, estimate=est))
    priced = [
        (row.estimate.usd, i)
        for i, row in enumerate(rows)
        if row.estimate is not None and row.estimate.usd is not None
    ]
    if priced:
        best = min(priced)[1]
        rows[best] = attrs.evolve(rows[best], cheapest=True)
    return rows
