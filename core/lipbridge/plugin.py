"""The plugin author's API: everything a provider plugin builds, reads or calls.

Applications import from :mod:`lipbridge` (the client, requests, handles, results,
errors); plugins import from here, so the application namespace stays small and the
plugin contract has one documented home (docs/hooks.md). A plugin also uses the
application types its hooks exchange (``JobRequest``, ``JobHandle``, ``JobStatus``,
``JobResult``, ``CostEstimate``, the errors), from :mod:`lipbridge`.

Names are imported on first use: a plugin that describes itself with ``ProviderInfo``,
``ModelCapabilities``, ``StatusMap``, ``CallKind`` and ``Response`` loads without the
HTTP stack (``ProviderHTTP``, ``error_for_status``), so ``lipbridge providers`` does not
import urllib3.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lipbridge import lazy_names

if TYPE_CHECKING:
    from lipbridge.callbacks import (
        CallbackUpdate,
        check_timestamp,
        hmac_sha256_hex,
        same_signature,
    )
    from lipbridge.calls import CallKind, Response
    from lipbridge.context import CallContext, env_name, env_var
    from lipbridge.hints import poll_hint
    from lipbridge.http import ProviderHTTP, error_for_status
    from lipbridge.inline import data_uri, inline_local
    from lipbridge.markers import hookimpl
    from lipbridge.models import (
        AuthScheme,
        InputLimits,
        MediaDurations,
        ModelCapabilities,
        ProviderInfo,
        shown,
    )
    from lipbridge.options import split_options
    from lipbridge.pricing import PriceTable
    from lipbridge.rates import ComputeTime, Multiplier, Rate
    from lipbridge.uploads import FileBody, LocalMedia, UploadedMedia
    from lipbridge.wire import (
        StatusMap,
        dig,
        log_lines,
        malformed,
        message_text,
        number,
        read_object,
        request_body,
        required_text,
        text,
        timestamp,
        whole_number,
    )

# Each name's module, imported when the name is first used.
_HOMES = {
    **dict.fromkeys(
        ("CallbackUpdate", "check_timestamp", "hmac_sha256_hex", "same_signature"), "callbacks"
    ),
    **dict.fromkeys(("CallKind", "Response"), "calls"),
    **dict.fromkeys(("CallContext", "env_name", "env_var"), "context"),
    "poll_hint": "hints",
    **dict.fromkeys(("ProviderHTTP", "error_for_status"), "http"),
    **dict.fromkeys(("data_uri", "inline_local"), "inline"),
    "hookimpl": "markers",
    **dict.fromkeys(
        (
            "AuthScheme",
            "InputLimits",
            "MediaDurations",
            "ModelCapabilities",
            "ProviderInfo",
            "shown",
        ),
        "models",
    ),
    "split_options": "options",
    "PriceTable": "pricing",
    **dict.fromkeys(("ComputeTime", "Multiplier", "Rate"), "rates"),
    **dict.fromkeys(("FileBody", "LocalMedia", "UploadedMedia"), "uploads"),
    **dict.fromkeys(
        (
            "StatusMap",
            "dig",
            "log_lines",
            "malformed",
            "message_text",
            "number",
            "read_object",
            "request_body",
            "required_text",
            "text",
            "timestamp",
            "whole_number",
        ),
        "wire",
    ),
}

__all__ = [
    "AuthScheme",
    "CallContext",
    "CallKind",
    "CallbackUpdate",
    "ComputeTime",
    "FileBody",
    "InputLimits",
    "LocalMedia",
    "MediaDurations",
    "ModelCapabilities",
    "Multiplier",
    "PriceTable",
    "ProviderHTTP",
    "ProviderInfo",
    "Rate",
    "Response",
    "StatusMap",
    "UploadedMedia",
    "check_timestamp",
    "data_uri",
    "dig",
    "env_name",
    "env_var",
    "error_for_status",
    "hmac_sha256_hex",
    "hookimpl",
    "inline_local",
    "log_lines",
    "malformed",
    "message_text",
    "number",
    "poll_hint",
    "read_object",
    "request_body",
    "required_text",
    "same_signature",
    "shown",
    "split_options",
    "text",
    "timestamp",
    "whole_number",
]


__getattr__ = lazy_names("lipbridge.plugin", "lipbridge", _HOMES, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
