"""Replicate's prediction list, ``GET /v1/predictions``, for the Replicate dialect.

From the prediction reference (the list operation of the clients generated from its
OpenAPI spec): "a paginated list of all predictions created by the user or organization
... 100 records per page", "sorted with the most recent prediction first", as ``{"next",
"previous", "results"}``; ``created_after`` keeps those "created at or after this
date-time", ``created_before`` those "created before" it, both ISO 8601. Each result is
the prediction with ``source`` ("api" here: every emulated prediction came through it).

The emulator's choices: ``next``/``previous`` are URLs on the emulator's base URL with a
``cursor`` (the page's offset) and the same filters, as Replicate's JavaScript client
types them (``...?cursor=...``); a time that is not ISO 8601 is a 400 problem (assumed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from lipbridge_emulator.dialect import JobView, Reply, Request

PAGE = 100
FILTERS = ("created_after", "created_before")


def listing(
    request: Request,
    jobs: list[JobView],
    path: str,
    render: Callable[[JobView], dict[str, Any]],
    refuse: Callable[[str], Reply],
) -> Reply:
    """The page of ``jobs`` the request's cursor and filters pick, newest first."""
    bounds: dict[str, dt.datetime] = {}
    for name in FILTERS:
        value = request.query.get(name)
        if value is not None:
            when = _instant(value)
            if when is None:
                return refuse(f"{name}={value!r} is not an ISO 8601 date-time")
            bounds[name] = when
    after, before = bounds.get("created_after"), bounds.get("created_before")
    kept = [
        job
        for job in jobs
        if (after is None or job.created >= after) and (before is None or job.created < before)
    ]
    kept.sort(key=lambda job: job.created, reverse=True)
    start = _offset(request.query.get("cursor"))
    base = f"{request.base_url}{path}"
    filters = {k: v for k, v in request.query.items() if k in FILTERS}
    return Reply.json(
        200,
        {
            "next": _page_url(base, filters, start + PAGE) if start + PAGE < len(kept) else None,
            "previous": _page_url(base, filters, max(0, start - PAGE)) if start else None,
            "results": [{**render(job), "source": "api"} for job in kept[start : start + PAGE]],
        },
    )


def _page_url(base: str, filters: Mapping[str, str], offset: int) -> str:
    return f"{base}?{urlencode({'cursor': str(offset), **filters})}"


def _offset(cursor: str | None) -> int:
    """A cursor this dialect handed out; anything else is the first page."""
    return int(cursor) if cursor is not None and cursor.isdigit() else 0


def _instant(value: str) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)
