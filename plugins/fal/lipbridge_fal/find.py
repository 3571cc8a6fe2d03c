"""Finding a request whose submit answer was lost: fal's platform API lists an
endpoint's requests (``GET https://api.fal.ai/v1/models/requests/by-endpoint``,
``Authorization: Key``), with their inputs when asked (``expand=payloads``).

The reference (fal.ai/docs/platform-apis/v1/models/requests/by-endpoint): query
``endpoint_id``, ``start`` (ISO 8601; "If start is omitted, defaults to the last 24
hours"), ``end``, ``limit`` (at most 100), ``cursor``, ``expand=payloads``; the answer
``{"items": [{"request_id", "endpoint_id", "started_at", "sent_at", "ended_at",
"status_code", "duration", "json_input", "json_output"}], "next_cursor", "has_more"}``.

A request matches when its ``json_input`` holds every field the submit would send; its
creation time is ``sent_at``. Whether requests still queued are listed is not
documented: one that is not listed is not found, and the core then leaves the job as it
is (nothing adopted, nothing paid twice).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import attrs

from lipbridge import JobHandle, JobRequest, ProviderProtocolError
from lipbridge.hosts import api_http
from lipbridge.plugin import CallContext, CallKind, ProviderInfo, text, timestamp
from lipbridge_fal.wire import read

PLATFORM = "https://api.fal.ai"
LISTING = "/v1/models/requests/by-endpoint"
PAGE = "100"  # "limit" at most 100
MAX_PAGES = 20  # 2,000 requests of one endpoint since ``since``: beyond, a lost submit is old


def find(
    request: JobRequest,
    since: dt.datetime,
    ctx: CallContext,
    info: ProviderInfo,
    body: Mapping[str, Any],
) -> list[JobHandle]:
    """The requests of ``request``'s endpoint sent at or after ``since`` whose input is
    ``body`` (what the submit sends), newest first as listed."""
    caps = info.model(request.model)
    http = api_http(ctx, info, PLATFORM)
    query = {
        "endpoint_id": caps.native_id or caps.name,
        "start": since.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
        "limit": PAGE,
        "expand": "payloads",
    }
    found: list[JobHandle] = []
    for _ in range(MAX_PAGES):
        response = http.get(LISTING, kind=CallKind.POLL, params=query)
        data = read(response, ctx)
        items = data.get("items")
        if not isinstance(items, list):
            raise ProviderProtocolError(
                "fal's request listing has no items list",
                provider=ctx.provider,
                body_excerpt=response.excerpt(),
            )
        for item in items:
            handle = _match(item, body, request, since, ctx)
            if handle is not None and handle.job_id not in {h.job_id for h in found}:
                found.append(handle)
        cursor = text(data.get("next_cursor"))
        if data.get("has_more") is not True or cursor is None:
            break
        query = {**query, "cursor": cursor}
    return found


def _match(
    item: object,
    body: Mapping[str, Any],
    request: JobRequest,
    since: dt.datetime,
    ctx: CallContext,
) -> JobHandle | None:
    """The handle of a listed request made from ``body`` at or after ``since``, else None."""
    if not isinstance(item, dict):
        return None
    job_id, given = text(item.get("request_id")), item.get("json_input")
    if job_id is None or not isinstance(given, dict):
        return None  # no id, or its input not kept: it cannot be told apart
    if any(given.get(name) != value for name, value in body.items()):
        return None
    sent = timestamp(item.get("sent_at"))
    if sent is None or sent < since:
        return None
    return attrs.evolve(ctx.new_handle(job_id, model=request.model), created_at=sent)
