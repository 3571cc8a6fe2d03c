"""JoggAI's lip-sync API as a lipbridge provider plugin.

The API (``https://api.jogg.ai``, ``x-api-key: <key>``, routes under ``/v2`` or
``/open/v2``, see :func:`lipbridge_jogg.wire.path_prefix`):

* ``POST {prefix}/create_lip_sync_video`` ``{"video_url", "audio_url", "playback_type"?}``
  -> ``{"code": 0, "msg", "data": {"task_id", "status"}}``;
* ``GET {prefix}/lip_sync_video/{task_id}`` -> ``{"code": 0, "msg", "data": {"task_id",
  "status", "created_at", "completed_at", "data": {"result_url", "cover_url",
  "duration_seconds"}, "error": {"message"}}}``;
* ``GET {prefix}/lip_sync_video?video_url=&audio_url=&playback_type=`` -> the same
  envelope as the task's GET, holding "the latest matching task under the current
  authenticated user and space" (see below);
* ``POST {prefix}/upload/asset`` ``{"filename", "content_type", "file_size"?}`` -> the
  envelope with ``data: {"sign_url", "asset_url"}``; the file is then PUT to ``sign_url``
  with the same Content-Type and no key, and ``asset_url`` is what a submit takes
  ("Assets are stored permanently");
* errors: a non-zero ``code`` with ``msg``, whatever the HTTP status.

The lookup (``lipbridge_find_jobs``) is documented only by JoggAI's own lip-sync skill
(JoggAI-Tech/jogg-skills, ``skills/jogg-lip-sync/SKILL.md``, "Endpoints" and "Decision
Rules": the skill queries it before every create, to reuse a task made from the same
normalized inputs, ``playback_type`` defaulting to ``normal``). Neither that page nor
docs.jogg.ai shows its parameters or its answer, so the plugin assumes: the query
parameters are the create body's inputs (``video_url``, ``audio_url``,
``playback_type``, sent as ``normal`` when the create body leaves it out); the answer is
the single-task envelope ``{"code": 0, "msg": "Success", "data": {task}}``; and no
match is code 10104 ("record not found") or an empty ``data``. A task created before
``since`` is dropped.

No cancel and no per-job callback are documented (JoggAI's webhooks are account-level
and list no lip-sync event), so jobs are polled. This module is the declarations and
the hooks; the JSON mapping is in :mod:`lipbridge_jogg.wire`.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from lipbridge import CostEstimate, JobHandle, JobRequest, JobStatus, SyncMode
from lipbridge.plugin import (
    AuthScheme,
    CallContext,
    CallKind,
    FileBody,
    LocalMedia,
    MediaDurations,
    ModelCapabilities,
    PriceTable,
    ProviderInfo,
    UploadedMedia,
    hookimpl,
)
from lipbridge_jogg.wire import (
    NAME,
    PLAYBACK_TYPES,
    STATUSES,
    create_path,
    found_tasks,
    lookup_path,
    lookup_query,
    read,
    signed_urls,
    status_of,
    submit_body,
    task_path,
    upload_path,
    upload_request,
)

DOCS_URL = "https://docs.jogg.ai/api-reference/v2/API%20Documentation/LipSyncVideo"
# Why the storage may refuse the PUT (its answers are not JoggAI's envelope).
PUT_HINT = "a signed URL refuses a PUT once it has expired, or under another Content-Type"

# "1 credit per 125 seconds" of output, "round up and keep 2 decimal places". JoggAI
# sells credits in plans and publishes no USD price per credit, so there is no USD rate.
PRICES = PriceTable(
    provider=NAME,
    unit="credits",
    rates={"lipsync": Decimal(1) / Decimal(125)},
    quantum=Decimal("0.01"),
    basis="1 credit per 125 s of output, rounded up to 0.01 credit; no published USD rate",
    source_url=DOCS_URL,
    as_of=dt.date(2026, 11, 21),
    version="2026-11-21",
)

INFO = ProviderInfo(
    name=NAME,
    display_name="JoggAI Lip Sync",
    docs_url=DOCS_URL,
    contract_version="1.3",  # the contract this plugin was written against, as a literal
    default_base_url="https://api.jogg.ai",
    models=(
        # JoggAI names no model; "lipsync" stands for its one lip-sync endpoint.
        ModelCapabilities(
            name="lipsync",
            sync_modes=frozenset({SyncMode.BOUNCE}),
            sync_mode_hint=(
                "or leave sync_mode unset and pass JoggAI's own playback_type in options: "
                + ", ".join(PLAYBACK_TYPES)
            ),
            cost_estimate=True,
        ),
    ),
    default_model="lipsync",
    auth=AuthScheme(header="x-api-key", prefix=""),
    api_key_env=("JOGG_API_KEY",),
    status_words=STATUSES,
)


class JoggLipSync:
    """The hook implementations; the entry point names the instance below."""

    @hookimpl
    def lipbridge_provider_info(self) -> ProviderInfo:
        return INFO

    @hookimpl
    def lipbridge_submit(self, request: JobRequest, ctx: CallContext) -> JobHandle:
        body = submit_body(request)
        response = ctx.http.post(create_path(ctx.settings), kind=CallKind.SUBMIT, json=body)
        task_id = ctx.require(response, read(response, ctx), "data", "task_id")
        return ctx.new_handle(task_id, model=request.model)

    @hookimpl
    def lipbridge_poll(self, handle: JobHandle, ctx: CallContext) -> JobStatus:
        response = ctx.http.get(task_path(ctx.settings, handle.job_id), kind=CallKind.POLL)
        return status_of(response, read(response, ctx, handle.job_id), ctx, handle.job_id)

    @hookimpl
    def lipbridge_find_jobs(
        self, request: JobRequest, since: dt.datetime, ctx: CallContext
    ) -> list[JobHandle]:
        """The latest task made from ``request``'s inputs, if it is not older than ``since``."""
        query = lookup_query(request)
        response = ctx.http.get(lookup_path(ctx.settings), kind=CallKind.POLL, params=query)
        return found_tasks(response, ctx, request, since)

    @hookimpl
    def lipbridge_upload(self, media: LocalMedia, ctx: CallContext) -> UploadedMedia:
        """Ask for a signed URL, PUT the file there (without the key, under the Content-Type
        signed), and hand back ``asset_url``, which JoggAI keeps: no expiry."""
        response = ctx.http.post(
            upload_path(ctx.settings), kind=CallKind.UPLOAD, json=upload_request(media)
        )
        sign_url, asset_url = signed_urls(response, ctx)
        ctx.http.put_file(sign_url, FileBody.raw(media.path, media.media_type), hint=PUT_HINT)
        return UploadedMedia(reference=asset_url)

    @hookimpl
    def lipbridge_estimate_cost(
        self, request: JobRequest, durations: MediaDurations
    ) -> CostEstimate:
        submit_body(request)  # refuse exactly what submit refuses
        model = request.model or INFO.default_model
        if request.sync_mode is None:
            return CostEstimate.unknown(
                NAME,
                model,
                "without a sync mode the output length depends on JoggAI's playback_type, "
                "whose lengths are not documented; sync_mode=bounce is priced on the audio's "
                "length",
                PRICES.unit,
            )
        return PRICES.estimate(model, durations.output_seconds)


plugin = JoggLipSync()
