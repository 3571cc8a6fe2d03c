"""sync.so's own API (``https://api.sync.so``) as a lipbridge provider plugin.

The API (``x-api-key: <key>``):

* ``POST /v2/generate`` ``{"model", "input": [{"type": "video"|"audio", "url"|"assetId"}],
  "options": {"sync_mode", "temperature", "active_speaker_detection", ...},
  "webhookUrl"?}`` with an optional ``Idempotency-Key`` header -> 201, the Generation
  ``{"id", "createdAt", "status", "model", "input", "options", ...}``;
* ``GET /v2/generate/{id}`` -> the Generation: ``status`` PENDING, PROCESSING, COMPLETED,
  FAILED or REJECTED; ``outputMediaUrl`` (``outputUrl``, its deprecated alias) and
  ``outputDuration`` once COMPLETED; ``error`` and ``error_code`` once FAILED/REJECTED;
* uploads: ``POST /v2/assets/upload`` ``{"fileName", "contentType", "size"}`` -> 201
  ``{"uploadUrl", "url", "expiresIn"}``; a PUT of the bytes to ``uploadUrl`` under the same
  Content-Type and without the key; ``POST /v2/assets`` ``{"url", "type"}`` -> the Asset,
  whose ``id`` a generation takes as ``input[].assetId``;
* errors: ``{"statusCode", "errorCode"?, "message", "error"}`` (see :mod:`.wire`);
* webhooks: the Generation POSTed to ``webhookUrl`` when it completes or fails, signed
  ``Sync-Signature: t=<unix s>,v1=<hex HMAC-SHA256>`` (see :mod:`.webhooks`).

The ``Idempotency-Key`` is declared, so the core sends the job's local id with every
attempt of a submit and re-sends a lost one under it instead of asking the user. There
is no cancel route, and billed costs come from a separate endpoint minutes after a job
ends (``GET /v2/generate/{id}/costs``: "usually recorded within 10 minutes of
completion"), so results carry none. This module is the declarations and the hooks; the
JSON mapping is in :mod:`lipbridge_syncso.wire`, the webhook signature in
:mod:`lipbridge_syncso.webhooks`.
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
    JobStatus,
    ProviderError,
    SyncMode,
)
from lipbridge.plugin import (
    AuthScheme,
    CallbackUpdate,
    CallContext,
    CallKind,
    FileBody,
    InputLimits,
    LocalMedia,
    MediaDurations,
    ModelCapabilities,
    PriceTable,
    ProviderInfo,
    Response,
    UploadedMedia,
    hookimpl,
)
from lipbridge_syncso import webhooks
from lipbridge_syncso.wire import (
    ASSETS,
    GENERATE,
    NAME,
    PRESIGN,
    STATUSES,
    generation_path,
    presign_body,
    presigned,
    read,
    register_body,
    status_of,
    submit_body,
    submitted,
)

DOCS_URL = "https://sync.so/docs/api-reference"
BILLING_URL = "https://sync.so/docs/product/billing"

# "Usage is calculated per output frame, with per-second rates (at 25 fps) ranging from
# $0.04 (lipsync-2) to $0.133 (sync-3)"; the models page gives each model's range. The
# top of each range is the list price (lower plans); higher plans pay less. Neither page
# prices lipsync-1.9.0-beta (an older revision did) or react-1: their estimates are
# unknown, citing this page.
PRICES = PriceTable(
    provider=NAME,
    unit="USD",
    rates={
        "lipsync-2": Decimal("0.05"),
        "lipsync-2-pro": Decimal("0.083"),
        "sync-3": Decimal("0.133"),
    },
    usd_per_unit=Decimal(1),
    basis="per second of output at the list rate (25 fps frames; higher plans pay up to 20 % less)",
    source_url=BILLING_URL,
    as_of=dt.date(2026, 4, 17),
    version="2026-04-17",
)

# "Single uploads are capped at 5GB" (asset uploads). Length limits are per plan (Free 20 s
# ... Scale 30 min), not per model, so none is declared: sync.so refuses what the plan lacks.
LIMITS = InputLimits(max_video_bytes=5 * 1024**3, max_audio_bytes=5 * 1024**3)


def _model(name: str, *, temperature: bool, active_speaker: bool) -> ModelCapabilities:
    """Every model takes the five sync modes, a webhookUrl and the media formats the
    media-formats page fully supports. No default sync mode is documented."""
    return ModelCapabilities(
        name=name,
        sync_modes=frozenset(SyncMode),
        temperature=temperature,
        active_speaker=active_speaker,
        callback=True,
        cost_estimate=True,
        video_formats=("mp4", "mov", "webm", "avi"),
        audio_formats=("wav", "mp3", "ogg", "flac"),
        limits=LIMITS,
    )


INFO = ProviderInfo(
    name=NAME,
    display_name="sync.so",
    docs_url=DOCS_URL,
    contract_version="1.3",  # the contract this plugin was written against, as a literal
    default_base_url="https://api.sync.so",
    # The models page's advanced options: temperature on the lipsync-2 family only
    # ("sync-3 manages expressiveness natively"); active speaker detection "on all lipsync
    # models", which react-1 is not ("react-1 does not currently support this feature").
    models=(
        _model("lipsync-2", temperature=True, active_speaker=True),
        _model("lipsync-2-pro", temperature=True, active_speaker=True),
        _model("sync-3", temperature=False, active_speaker=True),
        _model("lipsync-1.9.0-beta", temperature=False, active_speaker=True),
        _model("react-1", temperature=False, active_speaker=False),
    ),
    default_model="lipsync-2",
    auth=AuthScheme(header="x-api-key", prefix=""),
    api_key_env=("SYNC_API_KEY",),
    # Keys of 1-128 characters of [A-Za-z0-9._~-]: the core's ULID local ids are 26 such.
    idempotency_header="Idempotency-Key",
    # "a keyed request whose outcome is uncertain" is answered 503 with this errorCode:
    # the generation may exist, so no later refusal of that submit may read as final.
    maybe_created={503: "IDEMPOTENCY_OUTCOME_UNKNOWN"},
    status_words=STATUSES,
    max_concurrent_jobs=1,  # the Free and Hobbyist plans' limit; --max-concurrent for more
)


class SyncLipSync:
    """The hook implementations; the entry point names the instance below."""

    @hookimpl
    def lipbridge_provider_info(self) -> ProviderInfo:
        return INFO

    @hookimpl
    def lipbridge_submit(self, request: JobRequest, ctx: CallContext) -> JobHandle:
        response = ctx.http.post(GENERATE, kind=CallKind.SUBMIT, json=submit_body(request))
        return submitted(response, ctx, request)

    @hookimpl
    def lipbridge_poll(self, handle: JobHandle, ctx: CallContext) -> JobStatus:
        response = ctx.http.get(generation_path(handle.job_id), kind=CallKind.POLL)
        return status_of(response, read(response, ctx, handle.job_id), ctx, handle.job_id)

    @hookimpl
    def lipbridge_upload(self, media: LocalMedia, ctx: CallContext) -> UploadedMedia:
        """Presign, PUT the bytes there (without the key, under the Content-Type declared),
        register the URL; the asset's id is the reference. Assets have no documented
        lifetime, so the upload has no expiry."""
        response = ctx.http.post(PRESIGN, kind=CallKind.UPLOAD, json=presign_body(media))
        upload_url, url, expires_in = presigned(response, ctx)
        lapse = f" and lapses {expires_in:g} s after it is handed out" if expires_in else ""
        ctx.http.put_file(
            upload_url, FileBody.raw(media.path, media.media_type),
            hint=f"a presigned uploadUrl takes only the Content-Type declared for it{lapse}",
        )
        response = ctx.http.post(ASSETS, kind=CallKind.UPLOAD, json=register_body(url, media))
        return UploadedMedia(reference=ctx.require(response, read(response, ctx), "id"))

    @hookimpl
    def lipbridge_parse_callback(
        self, headers: Mapping[str, str], body: bytes, ctx: CallContext
    ) -> CallbackUpdate:
        """A webhook: its signature checked first (:mod:`.webhooks`), then the Generation
        it carries read as a poll reads one ("The webhook payload matches the format of
        the corresponding GET request")."""
        webhooks.verify(headers, body, ctx)
        answer = Response(method="POST", url="webhook", status=200, headers=headers, body=body)
        try:
            data = read(answer, ctx)
            job_id = ctx.require(answer, data, "id")
            status = status_of(answer, data, ctx, job_id)
        except ProviderError as exc:
            raise CallbackRejected(f"not a sync.so Generation: {exc.message}") from None
        return CallbackUpdate(job_id=job_id, status=status, verified=True)

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
                "sync.so documents no default sync mode, so the output's length is not known; "
                "choose one to price it: --sync-mode on the CLI, sync_mode in Python",
                PRICES.unit,
            )
        return PRICES.estimate(model, durations.output_seconds)


plugin = SyncLipSync()
