"""Replicate's predictions API (``https://api.replicate.com/v1``) as a lipbridge provider plugin.

The API (``Authorization: Bearer <token>``):

* ``POST /v1/models/{owner}/{name}/predictions`` ``{"input", "webhook"?,
  "webhook_events_filter"?}`` for an official model (its latest version), and ``POST
  /v1/predictions`` ``{"version", "input", ...}`` for a published version -> 201, the
  prediction, ``starting``;
* ``GET /v1/predictions/{id}`` -> the prediction (see :mod:`.wire`); ``GET
  /v1/predictions?created_after=&created_before=`` -> a page of them, for finding a
  prediction whose create answer was lost (see :mod:`.find`); ``POST
  /v1/predictions/{id}/cancel`` -> 200, the prediction as the cancel left it;
* uploads: ``POST /v1/files`` multipart (``content``, ``filename``, ``type``) -> the file,
  whose ``urls.get`` a prediction takes as an input URL, until its ``expires_at``;
* errors: problem details ``{"title", "detail", "status"}`` (see :mod:`.wire`);
* webhooks: the prediction POSTed to ``webhook``, signed by Standard Webhooks (see
  :mod:`.webhooks`).

No idempotency header is documented, so a submit whose answer is lost is not re-sent: it
is looked up in the prediction list instead.

Outputs are served by ``replicate.delivery`` and removed an hour after the prediction
completes: every result carries that ``expires_at``; ``lipbridge wait``/``run`` download at
once given an output file, and otherwise say until when the video is kept. They are
downloaded without the token, as every output is (see the plugin's README).

This module is the declarations and the hooks; the JSON mapping is in
:mod:`lipbridge_replicate.wire`, the lookup in :mod:`lipbridge_replicate.find`, the webhook
signature in :mod:`lipbridge_replicate.webhooks`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from lipbridge import (
    CallbackRejected,
    CostEstimate,
    JobHandle,
    JobRequest,
    JobState,
    JobStatus,
    ProviderError,
    SyncMode,
)
from lipbridge.plugin import (
    AuthScheme,
    CallbackUpdate,
    CallContext,
    CallKind,
    ComputeTime,
    FileBody,
    LocalMedia,
    MediaDurations,
    ModelCapabilities,
    PriceTable,
    ProviderInfo,
    Rate,
    Response,
    UploadedMedia,
    hookimpl,
    timestamp,
)
from lipbridge_replicate import find, webhooks
from lipbridge_replicate.wire import (
    COMPUTE_UNIT,
    FILES,
    NAME,
    OUTPUT_TTL_SECONDS,
    STATUSES,
    create,
    prediction_path,
    read,
    status_of,
)

DOCS_URL = "https://replicate.com/docs/reference/http"
PRICING_URL = "https://replicate.com/pricing"
LATENTSYNC_URL = "https://replicate.com/bytedance/latentsync"

# Community models are billed by the second on their hardware ("Public models ... you only
# pay for the time it's active processing your requests"). bytedance/latentsync "runs on
# Nvidia L40S GPU hardware. Predictions typically complete within 133 seconds" and "costs
# approximately $0.13 to run" (133 s x $0.000975 = $0.1297). The pricing page's L40S rate
# is $0.000975/s ($3.51/hr); another stored revision shows $0.000972/s, so the higher is
# used. No least time is documented, so the range starts at 0.
PRICES = PriceTable(
    provider=NAME,
    unit="USD",
    rates={
        "latentsync": Rate(
            per_second=Decimal("0.000975"),
            compute=ComputeTime(
                reason="Nvidia L40S at $0.000975 per second; the model page: predictions "
                "typically complete within 133 seconds (no least time documented)",
                low=Decimal(0),
                high=Decimal(133),
                per_job=True,
                unit=COMPUTE_UNIT,
            ),
        ),
    },
    usd_per_unit=Decimal(1),
    basis="per GPU-second of the model's hardware (billed by the second)",
    source_url=PRICING_URL,
    as_of=dt.date(2026, 12, 1),  # the stored copies of the page are undated; read that day
    version="2026-12-01",
)
OFFICIAL_PRICE_UNKNOWN = (
    "Replicate prices official models by their output ('priced by predictable metrics, like "
    "... seconds of video output'), but the sync models' rates are not on the stored model "
    "pages; sync.so's own list rate (lipsync-2 $0.05, lipsync-2-pro $0.083 per output "
    "second) is a guide, not Replicate's price"
)


def _model(name: str, native_id: str, *, version: str | None = None) -> ModelCapabilities:
    """Every model takes URLs and uploads, a webhook, cancel and the envelope options; its
    output lives an hour. sync's models (no pinned version) take its options: the five
    sync modes (rendered without values on the stored pages, so assumed to be sync.so's
    own), defaulting to loop as documented, temperature and active_speaker."""
    sync = version is None
    return ModelCapabilities(
        name=name,
        native_id=native_id,
        version=version,
        sync_modes=frozenset(SyncMode) if sync else frozenset(),
        default_sync_mode=SyncMode.LOOP if sync else None,
        temperature=sync,
        active_speaker=sync,
        callback=True,
        cancel=True,
        cost_estimate=True,
        output_url_ttl_seconds=OUTPUT_TTL_SECONDS,
        envelope_options=frozenset({"webhook_events_filter"}),
    )


INFO = ProviderInfo(
    name=NAME,
    display_name="Replicate",
    docs_url=DOCS_URL,
    contract_version="1.4",  # the contract this plugin was written against, as a literal
    default_base_url="https://api.replicate.com",
    models=(
        # Official models: run by name, Replicate picks the version (RM1, RM2).
        _model("lipsync-2", "sync/lipsync-2"),
        _model("lipsync-2-pro", "sync/lipsync-2-pro"),
        # A community model, pinned to the version its page shows (RM3).
        _model(
            "latentsync",
            "bytedance/latentsync",
            version="637ce1919f807ca20da3a448ddc2743535d2853649574cd52a933120e9b9e293",
        ),
    ),
    default_model="lipsync-2",
    auth=AuthScheme(),
    api_key_env=("REPLICATE_API_TOKEN",),
    status_words=STATUSES,
)


class ReplicateLipSync:
    """The hook implementations; the entry point names the instance below."""

    @hookimpl
    def lipbridge_provider_info(self) -> ProviderInfo:
        return INFO

    @hookimpl
    def lipbridge_submit(self, request: JobRequest, ctx: CallContext) -> JobHandle:
        path, body = create(request, INFO.model(request.model))
        response = ctx.http.post(path, kind=CallKind.SUBMIT, json=body)
        data = read(response, ctx)
        return ctx.new_handle(ctx.require(response, data, "id"), model=request.model)

    @hookimpl
    def lipbridge_poll(self, handle: JobHandle, ctx: CallContext) -> JobStatus:
        response = ctx.http.get(prediction_path(handle.job_id), kind=CallKind.POLL)
        data = read(response, ctx, handle.job_id)
        return status_of(response, data, ctx, handle.job_id, INFO.model(handle.model))

    @hookimpl
    def lipbridge_cancel(self, handle: JobHandle, ctx: CallContext) -> JobStatus:
        """The prediction as the cancel left it: still starting or processing, the cancel
        is accepted and ``canceled`` follows (a prediction that ran is billed for its
        time); already finished, it stays as it ended."""
        path = prediction_path(handle.job_id) + "/cancel"
        response = ctx.http.post(path, kind=CallKind.CANCEL)
        data = read(response, ctx, handle.job_id)
        status = status_of(response, data, ctx, handle.job_id, INFO.model(handle.model))
        if status.state.terminal:
            return status
        return JobStatus(state=JobState.CANCELLING, raw_status=status.raw_status, logs=status.logs)

    @hookimpl
    def lipbridge_find_jobs(
        self, request: JobRequest, since: dt.datetime, ctx: CallContext
    ) -> list[JobHandle]:
        """The predictions made from ``request``'s inputs since ``since``, from the
        prediction list (see :mod:`.find`)."""
        caps = INFO.model(request.model)
        return find.find(request, since, ctx, caps, INFO.default_base_url)

    @hookimpl
    def lipbridge_upload(self, media: LocalMedia, ctx: CallContext) -> UploadedMedia:
        """``POST /v1/files``: the file's ``urls.get`` is the reference, until its
        ``expires_at`` (required in the answer; its length is not documented)."""
        body = FileBody.multipart(
            media.path,
            field_name="content",
            media_type=media.media_type,
            filename=media.path.name,
            fields={"type": media.media_type},
        )
        response = ctx.http.upload(FILES, body)
        data = read(response, ctx)
        return UploadedMedia(
            reference=ctx.require(response, data, "urls", "get"),
            expires_at=timestamp(data.get("expires_at")),
        )

    @hookimpl
    def lipbridge_parse_callback(
        self, headers: Mapping[str, str], body: bytes, ctx: CallContext
    ) -> CallbackUpdate:
        """A webhook: its signature checked first (:mod:`.webhooks`), then the prediction
        it carries ("the request body is the prediction object") read as a poll reads it."""
        webhooks.verify(headers, body, ctx)
        answer = Response(method="POST", url="webhook", status=200, headers=headers, body=body)
        try:
            data = read(answer, ctx)
            job_id = ctx.require(answer, data, "id")
            status = status_of(answer, data, ctx, job_id, _model_of(data))
        except ProviderError as exc:
            raise CallbackRejected(f"not a Replicate prediction: {exc.message}") from None
        return CallbackUpdate(job_id=job_id, status=status, verified=True)

    @hookimpl
    def lipbridge_estimate_cost(
        self, request: JobRequest, durations: MediaDurations
    ) -> CostEstimate:
        caps = INFO.model(request.model)
        create(request, caps)  # refuse exactly what submit refuses
        if caps.version is None:
            model = request.model or INFO.default_model
            return CostEstimate.unknown(NAME, model, OFFICIAL_PRICE_UNKNOWN, PRICES.unit)
        return PRICES.price(request, durations)


def _model_of(data: Mapping[str, object]) -> ModelCapabilities:
    """The declared model a webhook's prediction ran (``model`` is ``owner/name``), for
    how it is billed; the default model's when it is none of them."""
    native = data.get("model")
    found = (m for m in INFO.models if m.native_id == native)
    return next(found, INFO.model(None))


plugin = ReplicateLipSync()
