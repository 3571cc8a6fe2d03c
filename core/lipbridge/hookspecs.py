"""The hooks a provider plugin implements, and the one hook for CLI extensions.

Routed hooks (all but ``lipbridge_add_commands``) are called by the core on the one
plugin that owns ``provider`` and on no other, so a plugin never needs to check
whether a call is its own. Each takes ``ctx`` last: new data reaches plugins as new
``CallContext`` fields, never as new arguments.

Plugins accept any subset of a hook's arguments, as pluggy allows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lipbridge.markers import hookspec

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Mapping

    import click

    from lipbridge.callbacks import CallbackUpdate
    from lipbridge.context import CallContext
    from lipbridge.models import (
        CostEstimate,
        JobHandle,
        JobRequest,
        JobStatus,
        MediaDurations,
        ProviderInfo,
    )
    from lipbridge.uploads import LocalMedia, UploadedMedia

# The contract plugins are written against. A plugin declares the version it was built
# for in ``ProviderInfo.contract_version``; it loads when the major numbers are equal and
# its minor number is not newer than this one.
CONTRACT_VERSION = "1.4"


@hookspec(firstresult=True)
def lipbridge_provider_info(provider: str) -> ProviderInfo:
    """Describe the provider: names, docs URL, auth, models and their capabilities.

    Called once, when the plugin loads; must not do I/O. The result is validated
    (name equals the entry-point name, contract version compatible) and cached.
    """


@hookspec(firstresult=True)
def lipbridge_submit(provider: str, request: JobRequest, ctx: CallContext) -> JobHandle:
    """Start a job and return its handle, built with ``ctx.new_handle``.

    ``request`` was already validated against the model's capabilities and has its
    model filled in. Send exactly one submit through ``ctx.http`` with
    ``CallKind.SUBMIT``; the core decides whether a failed attempt may be retried.
    """


@hookspec(firstresult=True)
def lipbridge_poll(provider: str, handle: JobHandle, ctx: CallContext) -> JobStatus:
    """Fetch the job's current status, mapping the provider's status word to a state.

    A failed job is a status with ``state=failed`` and an error, not an exception;
    HTTP-level errors raise the matching ``ProviderError``.
    """


@hookspec(firstresult=True)
def lipbridge_cancel(provider: str, handle: JobHandle, ctx: CallContext) -> JobStatus:
    """Ask the provider to cancel the job and return the status that follows.

    Only called for models whose capabilities declare ``cancel``; the core raises
    ``UnsupportedCapability`` for the others without calling.
    """


@hookspec(firstresult=True)
def lipbridge_estimate_cost(
    provider: str, request: JobRequest, durations: MediaDurations, ctx: CallContext
) -> CostEstimate:
    """Price the request offline from the plugin's versioned price table.

    ``durations`` holds the input lengths and the output length the core derived from
    the sync mode. Return ``CostEstimate.unknown(...)`` with a reason when the price
    cannot be known; never return zero for unknown. Must not do network I/O.
    """


@hookspec(firstresult=True)
def lipbridge_find_jobs(
    provider: str, request: JobRequest, since: dt.datetime, ctx: CallContext
) -> list[JobHandle]:
    """Optional: the provider's jobs made from ``request``'s inputs at or after ``since``.

    How a job whose submit answer was lost is found without paying for it again: the
    core calls this while reconciling a job recorded as submitted but never answered,
    adopts the one job that matches and no other, and changes nothing when none or
    several match. Return handles as ``lipbridge_submit`` would have, with
    ``created_at`` set to the provider's creation time where it reports one; the
    core drops jobs created before ``since`` and jobs the ledger already knows. Use
    ``CallKind.POLL`` for the requests (reads, safe to retry). Implement it only when
    the provider documents a listing or search of jobs. A listing on another API of the
    same provider (fal's platform API) is reached with ``lipbridge.hosts.api_http`` on a
    base URL declared in ``ProviderInfo.api_base_urls``: the key goes nowhere else.
    """


@hookspec(firstresult=True)
def lipbridge_upload(provider: str, media: LocalMedia, ctx: CallContext) -> UploadedMedia:
    """Optional: put a local file in the provider's own storage, for the submit to use.

    Implement it where the provider documents an upload API. ``media`` was probed
    already (it exists, is media of its ``kind``, within the model's limits). Send the
    file with ``ctx.http.upload`` (to the provider's API, with its key) or, for a
    presigned URL the provider hands out, ``ctx.http.put_file`` (without the key); build
    the body with ``FileBody.multipart`` or ``FileBody.raw``, which read the file as it
    is sent; a storage API of its own that takes the same key is reached with
    ``lipbridge.hosts.api_http`` (declared in ``ProviderInfo.api_base_urls``). Return the
    reference the submit takes in place of the path, and when the provider forgets it
    where documented. The core records the upload in the job ledger
    and reuses it for the same file while it is valid, so one file is uploaded once.
    """


@hookspec(firstresult=True)
def lipbridge_parse_callback(
    provider: str, headers: Mapping[str, str], body: bytes, ctx: CallContext
) -> CallbackUpdate:
    """Optional: read a callback (webhook) the provider sent about one of its jobs.

    Implement it where the provider documents its callback's payload. ``headers`` have
    lower-cased names; ``body`` is the raw request body, as received. Where the provider
    signs its callbacks, check the signature against ``ctx.webhook_secret`` (raise
    ``CallbackRejected`` when it is missing, wrong or stale, and ``ConfigurationError``
    when no secret is configured) and return ``verified=True``; otherwise return
    ``verified=False``. A provider that signs with a published key set (fal's Ed25519
    JWKS) declares ``ProviderInfo.webhook_jwks_url``; the core fetches and caches the
    keys and hands them over as ``ctx.webhook_keys`` (JWK mappings), so this hook still
    does no I/O. Build ``status`` as ``lipbridge_poll`` would from the same data.
    Must not do I/O.
    """


@hookspec(firstresult=True)
def lipbridge_emulator_dialect(provider: str) -> object | None:
    """Optional: a ``lipbridge_emulator.Dialect`` that speaks this provider's API.

    Lets ``lipbridge emulator`` stand in for a third-party provider too. Import
    ``lipbridge_emulator`` inside the implementation, so the plugin does not depend on
    the emulator at run time. Must not do I/O.
    """


@hookspec
def lipbridge_add_commands(cli: click.Group) -> None:
    """Deprecated: add subcommands to the ``lipbridge`` CLI.

    Declare each command as an entry point in the ``lipbridge.commands`` group instead
    (``name = "module:command"``): it is then imported only when it runs or is listed.
    This hook is still called, on packages in the ``lipbridge.extensions`` group, but
    only when the CLI lists its commands or meets a name it finds nowhere else, and each
    such package gets a ``DeprecationWarning``. Not routed: every extension is called.
    """
