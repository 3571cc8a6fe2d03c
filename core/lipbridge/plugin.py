"""The plugin author's API: everything a provider plugin builds, reads or calls.

Applications import from :mod:`lipbridge` (the client, requests, handles, results,
errors); plugins import from here, so the application namespace stays small and the
plugin contract has one documented home (docs/hooks.md). A plugin also uses the
application types its hooks exchange (``JobRequest``, ``JobHandle``, ``JobStatus``,
``JobResult``, ``CostEstimate``, the errors), from :mod:`lipbridge`.
"""

from __future__ import annotations

from lipbridge.context import CallContext, env_name, env_var
from lipbridge.http import CallKind, ProviderHTTP, error_for_status
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
from lipbridge.pricing import PriceTable
from lipbridge.transport import Response
from lipbridge.wire import (
    StatusMap,
    dig,
    malformed,
    message_text,
    number,
    read_object,
    request_body,
    required_text,
    text,
    timestamp,
)

__all__ = [
    "AuthScheme",
    "CallContext",
    "CallKind",
    "InputLimits",
    "MediaDurations",
    "ModelCapabilities",
    "PriceTable",
    "ProviderHTTP",
    "ProviderInfo",
    "Response",
    "StatusMap",
    "data_uri",
    "dig",
    "env_name",
    "env_var",
    "error_for_status",
    "hookimpl",
    "inline_local",
    "malformed",
    "message_text",
    "number",
    "read_object",
    "request_body",
    "required_text",
    "shown",
    "text",
    "timestamp",
]
