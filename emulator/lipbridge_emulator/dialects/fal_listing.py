"""fal.ai's platform API listing of an endpoint's requests, for the fal dialect:
``GET /v1/models/requests/by-endpoint`` (fal.ai/docs/platform-apis/v1/models/requests/
by-endpoint), which the emulator serves under the same mount as the queue (a base URL
pointed at the emulator takes every fal API there).

Query ``endpoint_id`` (comma-separated), ``start`` and ``end`` (ISO 8601; start defaults
to the last 24 hours), ``limit`` (at most 100), ``cursor``, ``expand=payloads``; answer
``{"items": [{"request_id", "endpoint_id", "sent_at", "started_at", "ended_at",
"status_code", "duration", "json_input"?, "json_output"?}], "next_cursor", "has_more"}``.

The engine routes a request to one job and a dialect sees no job it is not given, so the
dialect remembers each request it accepted (its id, endpoint, time and input) and the
listing is rendered from that memory, newest first. The emulator's choices: requests
still queued or running are listed (not documented), with ``ended_at``, ``status_code``
and ``json_output`` null, as are those of a request the listing is not routed to; the
cursor is the base64 offset into the list; without ``start`` every request is listed
(a dialect has no clock, and an emulator's run is shorter than fal's default 24 hours).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import threading
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from lipbridge.wire import timestamp
from lipbridge_emulator.dialect import JobView, Reply

LISTING_PATH = "/v1/models/requests/by-endpoint"
NO_MATCH = "no-listed-request"  # routed to when nothing is listed: no job has this id
MAX_LIMIT = 100


@frozen(kw_only=True)
class Sent:
    request_id: str
    endpoint_id: str
    sent_at: dt.datetime
    json_input: Mapping[str, Any]


class Listing:
    """The requests a fal dialect accepted, as its listing shows them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sent: list[Sent] = []

    def remember(self, job: JobView) -> None:
        sent = Sent(
            request_id=job.id,
            endpoint_id=job.spec.model,
            sent_at=job.created,
            json_input=dict(job.spec.echo.get("input") or {}),
        )
        with self._lock:
            self._sent.append(sent)

    def _listed(self, query: Mapping[str, str]) -> list[Sent]:
        wanted = {e.strip() for e in query.get("endpoint_id", "").split(",") if e.strip()}
        start = timestamp(query.get("start"))
        end = timestamp(query.get("end"))
        with self._lock:
            sent = list(self._sent)
        chosen = [
            s
            for s in sent
            if s.endpoint_id in wanted
            and (start is None or s.sent_at >= start)
            and (end is None or s.sent_at < end)
        ]
        return sorted(chosen, key=lambda s: s.sent_at, reverse=True)

    def route_id(self, query: Mapping[str, str]) -> str:
        """The newest listed request's id (the job the engine is asked for), or NO_MATCH."""
        listed = self._listed(query)
        return listed[0].request_id if listed else NO_MATCH

    def page(self, query: Mapping[str, str], job: JobView | None) -> Reply:
        """One page of the listing; ``job`` (the one routed to) shows its outcome."""
        if not query.get("endpoint_id"):
            return Reply.json(422, {"detail": "endpoint_id is required"})
        try:
            limit = min(int(query.get("limit", str(MAX_LIMIT))), MAX_LIMIT)
            offset = int(base64.b64decode(query.get("cursor", "MA==")).decode())
        except (ValueError, binascii.Error):
            return Reply.json(422, {"detail": "limit and cursor must be what the API gave"})
        listed = self._listed(query)
        items = [
            _item(s, job, query.get("expand") == "payloads")
            for s in listed[offset : offset + max(limit, 1)]
        ]
        more = offset + limit < len(listed)
        cursor = base64.b64encode(str(offset + limit).encode()).decode() if more else None
        return Reply.json(200, {"items": items, "next_cursor": cursor, "has_more": more})


def _item(sent: Sent, job: JobView | None, payloads: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "request_id": sent.request_id,
        "endpoint_id": sent.endpoint_id,
        "sent_at": _iso(sent.sent_at),
        "started_at": None,
        "ended_at": None,
        "status_code": None,
        "duration": None,
    }
    if job is not None and job.id == sent.request_id and job.completed is not None:
        item["ended_at"] = _iso(job.completed)
        item["status_code"] = 200 if job.failure is None else 422
        item["duration"] = (job.completed - job.created).total_seconds()
    if payloads:
        item["json_input"] = dict(sent.json_input)
        item["json_output"] = None
    return item


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
