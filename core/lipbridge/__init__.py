"""lipbridge: one Python interface to every hosted lip-sync video API.

This namespace is the application's: the client, requests, handles, results, errors and
policies. Plugin authors import from :mod:`lipbridge.plugin`. Names are imported on first
use, so the CLI's start-up loads only the modules it runs; the plugin names once exported
here still resolve, with a ``DeprecationWarning`` naming their new home.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lipbridge.client import Client
    from lipbridge.context import Clock, Credentials, SystemClock
    from lipbridge.errors import (
        AuthenticationError,
        CallbackRejected,
        ConfigurationError,
        DownloadFailed,
        InsufficientCredits,
        InvalidRequest,
        JobBusy,
        JobCancelled,
        JobFailed,
        JobNotFound,
        LedgerError,
        LipbridgeError,
        OptionDropped,
        OutputError,
        PluginContractError,
        PluginLoadError,
        ProviderConflict,
        ProviderError,
        ProviderProtocolError,
        ProviderUnavailable,
        RateLimited,
        RequestRejected,
        StagingUnavailable,
        SubmitOutcomeUnknown,
        UnknownProvider,
        UnsupportedCapability,
        UnsupportedOption,
        WaitTimeout,
    )
    from lipbridge.hookspecs import CONTRACT_VERSION
    from lipbridge.http import RetryPolicy
    from lipbridge.jobs import Jobs, NeedsReconciling, ResumeOutcome
    from lipbridge.ledger import Ledger, LedgerEvent, LedgerJob, LocalState
    from lipbridge.models import (
        BilledUsage,
        CostEstimate,
        JobError,
        JobHandle,
        JobRequest,
        JobResult,
        JobState,
        JobStatus,
        PriceSource,
        SyncMode,
        TextToSpeech,
    )

    # Deprecated here (lipbridge.plugin is their home); re-exported for type checkers.
    from lipbridge.plugin import AuthScheme as AuthScheme
    from lipbridge.plugin import CallContext as CallContext
    from lipbridge.plugin import CallKind as CallKind
    from lipbridge.plugin import InputLimits as InputLimits
    from lipbridge.plugin import MediaDurations as MediaDurations
    from lipbridge.plugin import ModelCapabilities as ModelCapabilities
    from lipbridge.plugin import PriceTable as PriceTable
    from lipbridge.plugin import ProviderHTTP as ProviderHTTP
    from lipbridge.plugin import ProviderInfo as ProviderInfo
    from lipbridge.plugin import Response as Response
    from lipbridge.plugin import StatusMap as StatusMap
    from lipbridge.plugin import data_uri as data_uri
    from lipbridge.plugin import dig as dig
    from lipbridge.plugin import error_for_status as error_for_status
    from lipbridge.plugin import hookimpl as hookimpl
    from lipbridge.plugin import inline_local as inline_local
    from lipbridge.plugin import malformed as malformed
    from lipbridge.plugin import message_text as message_text
    from lipbridge.plugin import number as number
    from lipbridge.plugin import read_object as read_object
    from lipbridge.plugin import request_body as request_body
    from lipbridge.plugin import required_text as required_text
    from lipbridge.plugin import text as text
    from lipbridge.plugin import timestamp as timestamp
    from lipbridge.polling import PollPolicy
    from lipbridge.registry import Registry
    from lipbridge.transport import Timeouts, Transport

# Each application name's module, imported when the name is first used.
_HOMES = {
    "Client": "client",
    **dict.fromkeys(("Clock", "Credentials", "SystemClock"), "context"),
    **dict.fromkeys(
        (
            "AuthenticationError",
            "CallbackRejected",
            "ConfigurationError",
            "DownloadFailed",
            "InsufficientCredits",
            "InvalidRequest",
            "JobBusy",
            "JobCancelled",
            "JobFailed",
            "JobNotFound",
            "LedgerError",
            "LipbridgeError",
            "OptionDropped",
            "OutputError",
            "PluginContractError",
            "PluginLoadError",
            "ProviderConflict",
            "ProviderError",
            "ProviderProtocolError",
            "ProviderUnavailable",
            "RateLimited",
            "RequestRejected",
            "StagingUnavailable",
            "SubmitOutcomeUnknown",
            "UnknownProvider",
            "UnsupportedCapability",
            "UnsupportedOption",
            "WaitTimeout",
        ),
        "errors",
    ),
    "CONTRACT_VERSION": "hookspecs",
    "RetryPolicy": "http",
    **dict.fromkeys(("Jobs", "NeedsReconciling", "ResumeOutcome"), "jobs"),
    **dict.fromkeys(("Ledger", "LedgerEvent", "LedgerJob", "LocalState"), "ledger"),
    **dict.fromkeys(
        (
            "BilledUsage",
            "CostEstimate",
            "JobError",
            "JobHandle",
            "JobRequest",
            "JobResult",
            "JobState",
            "JobStatus",
            "PriceSource",
            "SyncMode",
            "TextToSpeech",
        ),
        "models",
    ),
    "PollPolicy": "polling",
    "Registry": "registry",
    **dict.fromkeys(("Timeouts", "Transport"), "transport"),
}

# The plugin author's names that were exported here before lipbridge.plugin existed
# (contract 1.0); kept as deprecated aliases for one minor version.
_MOVED = frozenset(
    {
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
        "error_for_status",
        "hookimpl",
        "inline_local",
        "malformed",
        "message_text",
        "number",
        "read_object",
        "request_body",
        "required_text",
        "text",
        "timestamp",
    }
)

__all__ = [
    "CONTRACT_VERSION",
    "AuthenticationError",
    "BilledUsage",
    "CallbackRejected",
    "Client",
    "Clock",
    "ConfigurationError",
    "CostEstimate",
    "Credentials",
    "DownloadFailed",
    "InsufficientCredits",
    "InvalidRequest",
    "JobBusy",
    "JobCancelled",
    "JobError",
    "JobFailed",
    "JobHandle",
    "JobNotFound",
    "JobRequest",
    "JobResult",
    "JobState",
    "JobStatus",
    "Jobs",
    "Ledger",
    "LedgerError",
    "LedgerEvent",
    "LedgerJob",
    "LipbridgeError",
    "LocalState",
    "NeedsReconciling",
    "OptionDropped",
    "OutputError",
    "PluginContractError",
    "PluginLoadError",
    "PollPolicy",
    "PriceSource",
    "ProviderConflict",
    "ProviderError",
    "ProviderProtocolError",
    "ProviderUnavailable",
    "RateLimited",
    "Registry",
    "RequestRejected",
    "ResumeOutcome",
    "RetryPolicy",
    "StagingUnavailable",
    "SubmitOutcomeUnknown",
    "SyncMode",
    "SystemClock",
    "TextToSpeech",
    "Timeouts",
    "Transport",
    "UnknownProvider",
    "UnsupportedCapability",
    "UnsupportedOption",
    "WaitTimeout",
]


def lazy_names(
    package: str, parent: str, homes: Mapping[str, str], namespace: MutableMapping[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``homes`` maps each name to the module
    under ``parent`` that defines it; a name found once is kept in ``namespace`` (the
    package's globals), so later lookups skip this function. It lives here so that
    ``import lipbridge`` loads no other module; ``lipbridge.plugin`` and
    ``lipbridge.ledger`` use it too."""

    def resolve(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{parent}.{home}"), name)
        namespace[name] = value
        return value

    return resolve


_resolve = lazy_names("lipbridge", "lipbridge", _HOMES, globals())


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        warnings.warn(
            f"lipbridge.{name} is deprecated: import it from lipbridge.plugin "
            f"(lipbridge.plugin.{name}); the alias is kept for one minor version",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(importlib.import_module("lipbridge.plugin"), name)
    return _resolve(name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
