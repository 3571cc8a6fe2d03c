"""The made-up Example Lipsync API as a lipbridge provider plugin: a template for authors.

The API (``https://api.example-lipsync.invalid``, ``Authorization: Bearer <key>``):

* ``POST /v1/lipsync`` ``{"model", "video_url", "audio_url", "sync_mode"?, "temperature"?,
  "webhook_url"?}`` -> 201 ``{"id", "status", "created_at"}``;
* ``GET /v1/lipsync/{id}`` -> ``{"id", "status", "progress", "result": {"video_url",
  "duration", "expires_at"} | null, "usage": {"credits"} | null, "error": {...} | null}``;
* ``POST /v1/lipsync/{id}/cancel`` -> the job, or 409 ``job_finished`` once it has ended;
* ``GET /v1/lipsync?model=&video_url=&audio_url=&created_after=<ISO 8601>`` -> ``{"data":
  [{"id", "status", "created_at"}, ...]}``: the jobs made from those inputs at or after
  ``created_after``, newest first (``{"data": []}`` when there are none);
* errors: ``{"error": {"message", "code"}}`` with the usual HTTP statuses.

This module is the declarations (provider info, prices) and the hooks; the JSON mapping
is in :mod:`lipbridge_example.wire`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from lipbridge import CostEstimate, JobHandle, JobRequest, JobStatus, SyncMode
from lipbridge.plugin import (
    CallContext,
    CallKind,
    MediaDurations,
    ModelCapabilities,
    PriceTable,
    ProviderInfo,
    hookimpl,
)
from lipbridge_example.wire import (
    JOBS,
    NAME,
    STATUSES,
    USD_PER_CREDIT,
    found_jobs,
    job_path,
    listing_query,
    status_of,
    submit_body,
)

PRICES = PriceTable(
    provider=NAME,
    unit="credits",
    rates={"example-1": Decimal("2"), "example-lite": Decimal("1")},
    usd_per_unit=USD_PER_CREDIT,
    round_seconds_up=True,
    source_url="https://docs.example-lipsync.invalid/pricing",
    as_of=dt.date(2026, 11, 1),
    version="2026-11",
)

INFO = ProviderInfo(
    name=NAME,
    display_name="Example Lipsync",
    docs_url="https://docs.example-lipsync.invalid/api",
    contract_version="1.2",  # the contract this plugin was written against, as a literal
    default_base_url="https://api.example-lipsync.invalid",
    models=(
        ModelCapabilities(
            name="example-1",
            sync_modes=frozenset(SyncMode),
            default_sync_mode=SyncMode.LOOP,
            temperature=True,
            callback=True,
            cancel=True,
            cost_estimate=True,
            output_url_ttl_seconds=3600,
        ),
        ModelCapabilities(
            name="example-lite",
            sync_modes=frozenset({SyncMode.LOOP, SyncMode.CUT_OFF}),
            default_sync_mode=SyncMode.CUT_OFF,
            cost_estimate=True,
            output_url_ttl_seconds=3600,
        ),
    ),
    default_model="example-1",
    api_key_env=("EXAMPLE_LIPSYNC_API_KEY",),
    status_words=STATUSES,
)


class ExampleLipsync:
    """The hook implementations; the entry point names the instance below."""

    @hookimpl
    def lipbridge_provider_info(self) -> ProviderInfo:
        return INFO

    @hookimpl
    def lipbridge_submit(self, request: JobRequest, ctx: CallContext) -> JobHandle:
        response = ctx.http.post(JOBS, kind=CallKind.SUBMIT, json=submit_body(request))
        return ctx.new_handle(ctx.require(response, ctx.read(response), "id"), model=request.model)

    @hookimpl
    def lipbridge_poll(self, handle: JobHandle, ctx: CallContext) -> JobStatus:
        response = ctx.http.get(job_path(handle.job_id), kind=CallKind.POLL)
        return status_of(response, ctx.read(response, handle.job_id), ctx, handle.job_id)

    @hookimpl
    def lipbridge_cancel(self, handle: JobHandle, ctx: CallContext) -> JobStatus:
        response = ctx.http.post(job_path(handle.job_id, "/cancel"), kind=CallKind.CANCEL)
        return status_of(response, ctx.read(response, handle.job_id), ctx, handle.job_id)

    @hookimpl
    def lipbridge_find_jobs(
        self, request: JobRequest, since: dt.datetime, ctx: CallContext
    ) -> list[JobHandle]:
        """The jobs made from ``request``'s inputs since ``since``, from the listing. The
        core calls it to find a job whose submit answer was lost, instead of paying twice."""
        query = listing_query(request, since)
        response = ctx.http.get(JOBS, kind=CallKind.POLL, params=query)
        return found_jobs(response, ctx.read(response), ctx, request, since)

    @hookimpl
    def lipbridge_estimate_cost(
        self, request: JobRequest, durations: MediaDurations
    ) -> CostEstimate:
        return PRICES.estimate(request.model or INFO.default_model, durations.output_seconds)


plugin = ExampleLipsync()
