"""``lipbridge providers NAME``: one provider in full, every list wrapped, nothing cut.

Its models with their modes, options, inputs and limits; a price for a sample length
(the plugin's, or yours from the config file); its docs; and where its key, base URL and
settings come from. Never the key.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import click

from lipbridge.cli.app import client_from, provider_records
from lipbridge.cli.render import emit_json, money, print_table, spread, table
from lipbridge.cli.sources import Origins, prices_text, settings_text
from lipbridge.errors import LipbridgeError, PluginLoadError, UnknownProvider
from lipbridge.media import nearest_length
from lipbridge.models import (
    CostEstimate,
    JobRequest,
    ModelCapabilities,
    ProviderInfo,
    SyncMode,
    TextToSpeech,
)

if TYPE_CHECKING:
    from rich.table import Table

    from lipbridge.client import Client

SAMPLE_SECONDS = 60.0  # the input lengths each model is priced for
_SAMPLE = "https://example.invalid/sample"


def sample_request(caps: ModelCapabilities) -> JobRequest:
    """A request ``caps`` accepts, for pricing: its default (or only, or cut_off) mode."""
    modes = caps.sync_modes
    mode = caps.default_sync_mode
    if mode is None and modes:
        mode = SyncMode.CUT_OFF if SyncMode.CUT_OFF in modes else sorted(modes)[0]
    speech = None
    if not caps.audio_input and caps.tts_voices:
        speech = TextToSpeech(text="Hello.", voice=caps.tts_voices[0])
    return JobRequest(
        video=f"{_SAMPLE}.mp4",
        audio=None if speech else f"{_SAMPLE}.wav",
        tts=speech,
        model=caps.name,
        sync_mode=mode,
    )


def sample_price(client: Client, provider: str, caps: ModelCapabilities) -> str:
    """``caps``'s price for :data:`SAMPLE_SECONDS` of video and audio, in words; for the
    nearest lengths the model takes where it declares limits that refuse them."""
    video = nearest_length(SAMPLE_SECONDS, "video", caps.limits)
    audio = nearest_length(SAMPLE_SECONDS, "audio", caps.limits)
    try:
        est = client.estimate_cost(
            provider, sample_request(caps), video_seconds=video, audio_seconds=audio
        )
    except LipbridgeError as exc:
        return f"cannot price: {exc.message}"
    if (video, audio) == (SAMPLE_SECONDS, SAMPLE_SECONDS):
        return price_words(est)
    return f"{price_words(est)} (for {video:g} s of video, {audio:g} s of audio: its limits)"


def price_words(est: CostEstimate) -> str:
    if not est.known:
        return f"unknown: {est.unknown_reason}"
    usd = f" (${money(est.usd)})" if est.usd is not None and est.unit != "USD" else ""
    text = f"{spread(est.low, est.amount)} {est.unit}{usd}; {est.basis}"
    if est.source is not None:
        text += f"; source: {est.source.url} ({est.source.as_of})"
    return text


def _size(value: int | None) -> str | None:
    """Bytes in the largest binary unit they fill: 52428800 -> "50 MiB"."""
    if value is None:
        return None
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= scale:
            size = (Decimal(value) / scale).quantize(Decimal("0.01")).normalize()
            return f"{size:f} {unit}"
    return f"{value} bytes"


def fold(out: Table) -> Table:
    """Every column of ``out`` wraps a word too long for it rather than cutting it."""
    for column in out.columns:
        column.overflow = "fold"
    return out


def limits_text(caps: ModelCapabilities) -> str:
    limits = caps.limits
    parts = {
        "video": _length(limits.min_video_seconds, limits.max_video_seconds),
        "audio": _length(limits.min_audio_seconds, limits.max_audio_seconds),
        "video file": _size(limits.max_video_bytes) and f"at most {_size(limits.max_video_bytes)}",
        "audio file": _size(limits.max_audio_bytes) and f"at most {_size(limits.max_audio_bytes)}",
        "result URL lasts": caps.output_url_ttl_seconds and f"{caps.output_url_ttl_seconds:g} s",
    }
    return (
        "\n".join(f"{k}: {v}" if "URL" not in k else f"{k} {v}" for k, v in parts.items() if v)
        or "-"
    )


def _length(least: float | None, most: float | None) -> str | None:
    """A declared length range: "2 to 10 s", "at most 10 s", "at least 2 s" or None."""
    if least is not None and most is not None:
        return f"{least:g} to {most:g} s"
    if most is not None:
        return f"at most {most:g} s"
    return None if least is None else f"at least {least:g} s"


def options_text(caps: ModelCapabilities) -> str:
    flags = [
        name
        for name in ("temperature", "active_speaker", "callback", "cancel", "local_files")
        if getattr(caps, name)
    ]
    lines = [", ".join(flags) or "none"]
    if caps.tts_voices:
        lines.append(f"tts voices: {', '.join(caps.tts_voices)}")
    if caps.envelope_options:
        lines.append(f"envelope options: {', '.join(sorted(caps.envelope_options))}")
    if caps.version:
        lines.append(f"version: {caps.version} (choose another with {caps.name}@VERSION)")
    return "\n".join(lines)


def modes_text(caps: ModelCapabilities) -> str:
    modes = ", ".join(sorted(m.value for m in caps.sync_modes)) or "-"
    default = caps.default_sync_mode
    return f"{modes} (default {default.value})" if default else modes


def models_table(client: Client, info: ProviderInfo) -> Table:
    out = table(
        "model",
        "sync modes",
        "options",
        "inputs",
        "limits",
        f"price for {SAMPLE_SECONDS:g} s",
        title="Models",
    )
    fold(out)
    for caps in info.models:
        name = caps.name + (" (default)" if caps.name == info.default_model else "")
        inputs = f"video: {', '.join(caps.video_formats)}\naudio: {', '.join(caps.audio_formats)}"
        out.add_row(
            name,
            modes_text(caps),
            options_text(caps),
            inputs,
            limits_text(caps),
            sample_price(client, info.name, caps),
        )
    return out


def show_provider(ctx: click.Context, name: str, as_json: bool) -> None:
    records = provider_records(ctx)
    record = next((rec for rec in records if rec.name == name), None)
    if record is None:
        raise UnknownProvider(name, [rec.name for rec in records])
    if record.info is None:
        raise PluginLoadError(name, record.distribution, record.error or record.status)
    info = record.info
    view = Origins(ctx).view(name, info)
    client = client_from(ctx)
    if as_json:
        prices = {caps.name: sample_price(client, name, caps) for caps in info.models}
        emit_json(
            {
                "record": record,
                "setup": view,
                "sample_prices": prices,
                "sample_seconds": SAMPLE_SECONDS,
            }
        )
        return
    facts = {
        "provider": f"{name}: {info.display_name} ({record.distribution} {record.version}, "
        f"contract {info.contract_version})",
        "docs": info.docs_url,
        "base URL": f"{view.base_url.value} ({view.base_url.source})",
        "API key": view.key.text(),
        "settings": settings_text(view.settings).replace("\n", "; "),
        "your prices": prices_text(view.your_prices).replace("\n", "; "),
        "jobs at once": str(info.max_concurrent_jobs or "not documented"),
    }
    about = table("", "", title=None)
    about.show_header = False
    fold(about)
    for label, text in facts.items():
        about.add_row(label, text)
    print_table(about)
    print_table(models_table(client, info))
