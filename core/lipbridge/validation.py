"""Checks a request against a provider's declared capabilities, before any network call.

The same function guards ``submit`` and ``estimate_cost``, so the two always agree on
what is invalid. Errors name the field, the value and what is allowed.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any
from urllib.parse import unquote, unquote_to_bytes, urlsplit

import attrs

from lipbridge.errors import DROP_UNSUPPORTED, InvalidRequest, OptionDropped, UnsupportedOption
from lipbridge.models import JobRequest, ModelCapabilities, ProviderInfo, shown
from lipbridge.urls import HTTP, parse_url, try_split


def local_path(ref: str) -> Path | None:
    """The filesystem path ``ref`` names, or None when it is a URL or data URI."""
    parts = urlsplit(ref)
    if parts.scheme == "file":
        return Path(unquote(parts.path))
    if len(parts.scheme) <= 1:  # no scheme, or a Windows drive letter
        return Path(ref)
    return None


def _check_media(
    field: str, ref: str, info: ProviderInfo, caps: ModelCapabilities, max_bytes: int | None
) -> None:
    parts = try_split(ref)
    formats = caps.video_formats if field == "video" else caps.audio_formats
    if parts is None or parts.scheme in HTTP:  # unsplittable: a URL with a broken host
        parse_url(ref, field=field)
        return
    if parts.scheme == "data":
        if not caps.local_files:
            raise UnsupportedOption(
                f"{field}={shown(ref)} is a data: URI; {info.name}/{caps.name} accepts only "
                "http(s) URLs or local files (lipbridge uploads those): pass the file's path",
                field=field,
                allowed=["http", "https"],
            )
        _check_data_uri(field, ref, info, caps, max_bytes)
        return
    path = local_path(ref)
    if path is None:
        raise InvalidRequest(
            f"{field}={shown(ref)} uses scheme {parts.scheme!r}; allowed: http(s) URLs "
            "or local files",
            field=field,
        )
    # A local file: the client probes it (lipbridge.media) and chooses how it reaches the
    # provider (lipbridge.routes); here only its name is checked.
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in formats:
        raise UnsupportedOption(
            f"{field}={shown(ref)} is a .{suffix or '?'} file; allowed: {', '.join(formats)}",
            field=field,
            allowed=formats,
        )


def data_uri_size(uri: str) -> int | None:
    """The decoded size of a ``data:`` URI, without decoding it; None when malformed."""
    header, comma, payload = uri[5:].partition(",")
    if uri[:5].lower() != "data:" or not comma:
        return None
    if header.lower().endswith(";base64"):
        return len(payload.rstrip("=")) * 3 // 4
    return len(unquote_to_bytes(payload))


def _check_data_uri(
    field: str, ref: str, info: ProviderInfo, caps: ModelCapabilities, max_bytes: int | None
) -> None:
    """A data URI given directly gets the checks a local file gets: kind and size."""
    head, comma, _ = ref[5:].partition(",")
    media = head.split(";")[0].lower()
    if not comma or not head.endswith(";base64") or not media.startswith(f"{field}/"):
        raise InvalidRequest(
            f"{field}={shown(ref)} is not a base64 {field} data URI; allowed: "
            f"data:{field}/<type>;base64,<data>",
            field=field,
        )
    size = data_uri_size(ref)
    if size is not None and max_bytes is not None and size > max_bytes:
        raise InvalidRequest(
            f"{field} data URI holds {size} bytes; allowed: at most {max_bytes} bytes "
            f"for {info.name}/{caps.name}",
            field=field,
        )


def validate(
    info: ProviderInfo, request: JobRequest, *, drop_unsupported: bool = False
) -> JobRequest:
    """The request with its model filled in, or an error; optional options may be dropped."""
    caps = info.model(request.model)
    where = f"{info.name}/{caps.name}"
    _check_media("video", request.video, info, caps, caps.limits.max_video_bytes)
    if request.audio is not None:
        if not caps.audio_input:
            raise UnsupportedOption(
                f"audio is not accepted by {where}; allowed: tts", field="audio", allowed=["tts"]
            )
        _check_media("audio", request.audio, info, caps, caps.limits.max_audio_bytes)
    if request.tts is not None:
        if not caps.tts_voices:
            raise UnsupportedOption(
                f"tts is not supported by {where}; allowed: audio", field="tts", allowed=["audio"]
            )
        if request.tts.voice not in caps.tts_voices:
            raise UnsupportedOption(
                f"tts.voice={shown(request.tts.voice)} is not a voice of {where}; "
                f"allowed: {', '.join(caps.tts_voices)}",
                field="tts.voice",
                allowed=caps.tts_voices,
            )

    changes: dict[str, Any] = {}

    def unsupported(field: str, value: object, allowed: list[str], hint: str = "") -> None:
        if drop_unsupported:
            warnings.warn(
                f"{field}={shown(value)} dropped: {where} does not support it",
                OptionDropped,
                stacklevel=3,
            )
            changes[field] = None
        else:
            options = ", ".join(allowed) or "leave it unset"
            raise UnsupportedOption(
                f"{field}={shown(value)} is not supported by {where}; allowed: {options}"
                + (f"; {hint}" if hint else ""),
                field=field,
                allowed=allowed,
                hint=("to leave it out with a warning instead, ", DROP_UNSUPPORTED),
            )

    if request.sync_mode is not None and request.sync_mode not in caps.sync_modes:
        unsupported(
            "sync_mode",
            request.sync_mode.value,
            sorted(m.value for m in caps.sync_modes),
            caps.sync_mode_hint,
        )
    if request.temperature is not None and not caps.temperature:
        unsupported("temperature", request.temperature, [])
    if request.active_speaker is not None and not caps.active_speaker:
        unsupported("active_speaker", request.active_speaker, [])
    if request.callback_url is not None and not caps.callback:
        unsupported("callback_url", request.callback_url, [])
    return attrs.evolve(request, model=caps.name, **changes)
