"""AI/ML API (``https://api.aimlapi.com``) as a lipbridge provider, for ``pixverse/lip-sync``.

The API (``Authorization: Bearer <key>``):

* ``POST /v2/video/generations`` ``{"model", "video_url", "audio_url"? |
  "lip_sync_tts_content" + "lip_sync_tts_speaker"}`` -> ``{"id", "status", "meta"}``, with
  the ``x-aimlapi-credits-used`` / ``x-aimlapi-usd-spent`` cost headers;
* ``GET /v2/video/generations?generation_id=<id>`` -> ``{"id", "status", "video": {"url"},
  "error": {"name", "message"}, "meta": {"usage": {"credits_used"}}}``;
* no cancel, no callback, no sync mode or temperature;
* errors: ``{"message", "path", "requestId", "statusCode", "timestamp"}``; 403 = no credits.

This module is the declarations and the hooks; the JSON mapping is in
:mod:`lipbridge_aimlapi.wire`.
"""

from __future__ import annotations

import datetime as dt

from lipbridge import CostEstimate, JobHandle, JobRequest, JobStatus
from lipbridge.plugin import (
    CallContext,
    CallKind,
    InputLimits,
    MediaDurations,
    ModelCapabilities,
    PriceTable,
    ProviderInfo,
    hookimpl,
)
from lipbridge_aimlapi.wire import (
    ERROR_MESSAGE,
    ERROR_OVERRIDES,
    GENERATIONS,
    MODEL,
    NAME,
    STATUSES,
    VOICES,
    body_usage,
    header_usage,
    status_of,
    submit_body,
)

DOCS_URL = "https://docs.aimlapi.com/api-references/video-models/pixverse/lip-sync"
MIB = 1024 * 1024

# AI/ML API publishes no per-second price for pixverse/lip-sync, so every estimate is
# unknown, with this source and date in its reason.
PRICES = PriceTable(
    provider=NAME,
    unit="credits",
    rates={},
    source_url=DOCS_URL,
    as_of=dt.date(2026, 11, 21),
    version="2026-11-21",
)

# The API documents no size limit for data URIs; these are PixVerse's own upstream limits.
LIMITS = InputLimits(
    max_video_bytes=50 * MIB,
    max_audio_bytes=50 * MIB,
    max_video_seconds=30,
    max_audio_seconds=30,
)

INFO = ProviderInfo(
    name=NAME,
    display_name="AI/ML API",
    docs_url=DOCS_URL,
    contract_version="1.1",
    default_base_url="https://api.aimlapi.com",
    models=(
        ModelCapabilities(
            name=MODEL,
            tts_voices=VOICES,
            cost_estimate=True,
            local_files=True,
            video_formats=("mp4", "mov"),
            audio_formats=("mp3", "wav"),
            limits=LIMITS,
        ),
    ),
    default_model=MODEL,
    api_key_env=("AIMLAPI_API_KEY",),
    status_words=STATUSES,
)


class AimlapiLipsync:
    """The hook implementations; the entry point names the instance below."""

    @hookimpl
    def lipbridge_provider_info(self) -> ProviderInfo:
        return INFO

    @hookimpl
    def lipbridge_submit(self, request: JobRequest, ctx: CallContext) -> JobHandle:
        """Create the generation; what its answer says it costs is kept in the handle."""
        body = submit_body(request, LIMITS)
        response = ctx.http.post(GENERATIONS, kind=CallKind.SUBMIT, json=body)
        data = ctx.read(response, message=ERROR_MESSAGE, code=[], overrides=ERROR_OVERRIDES)
        usage = header_usage(response) or body_usage(data)
        job_id = ctx.require(response, data, "id")
        return ctx.new_handle(job_id, model=request.model, resume=usage)

    @hookimpl
    def lipbridge_poll(self, handle: JobHandle, ctx: CallContext) -> JobStatus:
        response = ctx.http.get(
            GENERATIONS, kind=CallKind.POLL, params={"generation_id": handle.job_id}
        )
        data = ctx.read(
            response, handle.job_id, message=ERROR_MESSAGE, code=[], overrides=ERROR_OVERRIDES
        )
        return status_of(response, data, ctx, handle)

    @hookimpl
    def lipbridge_estimate_cost(
        self, request: JobRequest, durations: MediaDurations
    ) -> CostEstimate:
        return PRICES.estimate(request.model or INFO.default_model, durations.output_seconds)


plugin = AimlapiLipsync()
