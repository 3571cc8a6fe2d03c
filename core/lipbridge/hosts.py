"""The provider's other APIs that take the same key (fal.ai: the queue, the platform API
for listings, the storage API for uploads, each on its own host).

``ctx.http`` sends the key only to the base URL's host. A plugin declares each other
API's base URL in ``ProviderInfo.api_base_urls`` and reaches it with :func:`api_http`,
which gives a ``ProviderHTTP`` for that base URL with the same key, retries, deadline and
record of exchanges. When the user points the provider's base URL elsewhere
(``LIPBRIDGE_<PROVIDER>_BASE_URL``: an emulator, a proxy), every declared API follows it
there: the key then goes to no host the user did not choose.
"""

from __future__ import annotations

from lipbridge.context import CallContext
from lipbridge.errors import PluginContractError
from lipbridge.http import ProviderHTTP
from lipbridge.models import ProviderInfo


def _same(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def api_http(ctx: CallContext, info: ProviderInfo, base_url: str) -> ProviderHTTP:
    """HTTP to the provider's API at ``base_url``, one of ``info.api_base_urls``: on that
    base URL, or on the configured one when the user overrode the default."""
    if not any(_same(base_url, declared) for declared in info.api_base_urls):
        raise PluginContractError(
            f"{ctx.provider}: {base_url} is not among ProviderInfo.api_base_urls "
            f"{list(info.api_base_urls)}; declare it to send the key there"
        )
    http = ctx.http
    overridden = not _same(http.base_url, info.default_base_url)
    return http.on(http.base_url if overridden else base_url)
