"""Local files into fal's storage, for the submit to use (``lipbridge_upload``).

fal's clients know two routes (fal-ai/fal ``fal_client/client.py``; notes: uploads.md §5):
a CDN token, then a POST of the bytes to ``v3.fal.media`` under that token; or the
storage API's signed upload, used here, as fal-js's storage client does it (``initiate``
with ``storage_type=fal-cdn-v3``, then a PUT of the bytes with the matching content type):

1. ``POST https://rest.fal.ai/storage/upload/initiate?storage_type=fal-cdn-v3`` with
   ``Authorization: Key`` and ``{"file_name", "content_type"}`` -> ``{"upload_url",
   "file_url"}``, and, where the user chose a lifetime, ``X-Fal-Object-Lifecycle:
   {"expiration_duration_seconds": N}`` (fal's media-expiration page; the header fal's
   clients send with CDN uploads);
2. ``PUT {upload_url}`` with the bytes under the same Content-Type, without the key
   (``ctx.http.put_file``);
3. ``file_url`` goes into the submit.

Why this route: the CDN route sends a bearer token of its own to a host its first
answer names, which lipbridge would have to handle as a second secret; the signed PUT
carries no credential at all. The storage API is on its own host, declared in
``ProviderInfo.api_base_urls``. A billing lock refuses the initiate with 403 "User is
locked. Reason: Exhausted balance" (fal-ai/fal issue threads), read as for a submit. How
long fal keeps an upload by default is not documented ("Generated media (CDN files) |
Configurable"): ``expires_at`` is None unless ``LIPBRIDGE_FAL_UPLOAD_EXPIRY_SECONDS`` (the
setting ``upload_expiry_seconds``) asks fal to drop the file after that many seconds.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from urllib.parse import urlsplit

from lipbridge import ConfigurationError
from lipbridge.hosts import api_http
from lipbridge.plugin import (
    CallContext,
    CallKind,
    FileBody,
    LocalMedia,
    ProviderInfo,
    UploadedMedia,
    env_var,
    malformed,
)
from lipbridge_fal.wire import NAME, read

STORAGE = "https://rest.fal.ai"
INITIATE = "/storage/upload/initiate"
PUT_HINT = "fal's signed upload URL takes the file under the Content-Type it was made for"


EXPIRY = "upload_expiry_seconds"


def expiry(settings: Mapping[str, str]) -> int | None:
    """The lifetime the user chose for uploads, in whole seconds (at least 60), or None."""
    value = settings.get(EXPIRY, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 60:
        raise ConfigurationError(
            f"{env_var(NAME, EXPIRY.upper())}={value!r}: a whole number of seconds, at least "
            "60 (fal's shortest preset, 'immediate'), or unset to let fal keep uploads"
        )
    return int(value)


def upload(media: LocalMedia, ctx: CallContext, info: ProviderInfo) -> UploadedMedia:
    """Initiate, PUT the bytes to the signed URL, and hand back ``file_url``."""
    seconds = expiry(ctx.settings)  # refused before anything is sent
    lifecycle = {"expiration_duration_seconds": seconds} if seconds else None
    http = api_http(ctx, info, STORAGE)
    response = http.request(
        "POST",
        INITIATE,
        kind=CallKind.UPLOAD,
        params={"storage_type": "fal-cdn-v3"},
        json={"file_name": media.path.name, "content_type": media.media_type},
        headers={"X-Fal-Object-Lifecycle": json.dumps(lifecycle)} if lifecycle else None,
    )
    data = read(response, ctx)
    upload_url = ctx.require(response, data, "upload_url")
    file_url = ctx.require(response, data, "file_url")
    for name, url in (("upload_url", upload_url), ("file_url", file_url)):
        try:
            parts = urlsplit(url)
            usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            usable = False
        if not usable:
            raise malformed(response, f"whose {name} is not an http(s) URL", provider=NAME)
    ctx.http.put_file(upload_url, FileBody.raw(media.path, media.media_type), hint=PUT_HINT)
    until = ctx.clock.now() + dt.timedelta(seconds=seconds) if seconds else None
    return UploadedMedia(reference=file_url, expires_at=until)
