"""fal.ai's queue API (``https://queue.fal.run``) as a lipbridge provider plugin.

The API (``Authorization: Key <key_id>:<key_secret>``):

* ``POST /{model id}`` with the model's input as the body -> 200
  ``{"request_id", "status_url", "response_url", "cancel_url", "status"?,
  "queue_position"?}``; the follow-up URLs are kept in the handle ("Do not build these
  URLs yourself") and re-based onto the configured base URL (the backup host
  ``queue.falrun.com`` too);
* ``GET {status_url}?logs=1`` -> 202 ``IN_QUEUE`` (``queue_position``) or
  ``IN_PROGRESS`` (``logs``: ``[{"message", "level", "timestamp"}]``), 200 ``COMPLETED``;
* ``GET {response_url}`` -> the model's answer: ``{"video": {"url", ...}}``, or the
  model's error (422 ``{"detail": [...]}``; 499 ``client_cancelled`` once cancelled). No
  status word means failed, so a poll that sees COMPLETED fetches the result at once and
  a failure arrives through it (``JobError(phase="result")``);
* ``PUT {cancel_url}`` -> 202 ``{"status": "CANCELLATION_REQUESTED"}`` ("a request may
  still be executed after getting this response"), 400 ``{"status":
  "ALREADY_COMPLETED"}``, 404 ``{"status": "NOT_FOUND"}``.

Webhooks: ``?fal_webhook=<url>`` on the submit; fal POSTs the result there, signed with
ED25519 under keys published as a JWKS (``ProviderInfo.webhook_jwks_url``: the core
fetches and caches the set, the hook checks the signature, :mod:`.webhooks`).

No idempotency header: a submit whose answer was lost is found again in the platform
API's request listing (``api.fal.ai``, declared in ``ProviderInfo.api_base_urls``,
:mod:`.find`). Uploads of local files go to fal's storage API (``rest.fal.ai``,
declared likewise): a signed upload URL, the bytes PUT there without the key
(:mod:`.upload`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal

from lipbridge import CostEstimate, JobHandle, JobRequest, JobState, JobStatus, SyncMode
from lipbridge.plugin import (
    AuthScheme,
    CallbackUpdate,
    CallContext,
    CallKind,
    InputLimits,
    LocalMedia,
    MediaDurations,
    ModelCapabilities,
    Multiplier,
    PriceTable,
    ProviderInfo,
    Rate,
    UploadedMedia,
    hookimpl,
    log_lines,
    malformed,
)
from lipbridge_fal import find, upload, webhooks
from lipbridge_fal.wire import (
    ALREADY_COMPLETED,
    BACKUP,
    NAME,
    QUEUE,
    STATUSES,
    URLS,
    finished,
    queued,
    read,
    request_urls,
    submit_body,
)

DOCS_URL = "https://docs.fal.ai/documentation/model-apis/inference/queue"
# The model pages' llms.txt copies carry no date: as_of is the day they were read.
READ_ON = dt.date(2026, 12, 2)
MODELS_URL = "https://fal.ai/models/{}/llms.txt"

# sync.so's five modes, spelt alike (fal-js endpoint types), default cut_off.
SYNC_MODES = {m.value: m.value for m in SyncMode}
# LatentSync's loop_mode "when audio is longer than video": pingpong | loop.
LOOP_MODES = {SyncMode.BOUNCE.value: "pingpong", SyncMode.LOOP.value: "loop"}


def _table(name: str, page: str, rate: Rate, basis: str) -> PriceTable:
    """``name``'s price from the model page of ``page``, in USD."""
    return PriceTable(
        provider=NAME,
        unit="USD",
        usd_per_unit=Decimal(1),
        rates={name: rate},
        source_url=MODELS_URL.format(page),
        as_of=READ_ON,
        version=READ_ON.isoformat(),
        basis=basis,
        quantum=Decimal("0.0001"),
    )


# "lipsync-2-pro will cost roughly 1.67 times as much as lipsync-2 for the same duration".
PRO = Decimal("1.67")
PRO_MODEL = (Multiplier(option="model", value="lipsync-2-pro", factor=PRO),)
# The model pages' prices, each as a Rate:
# * sync-lipsync v2: "Your request will cost $3 per minute of video" (per output second,
#   the output following the sync mode), times 1.67 with model=lipsync-2-pro;
# * v2/pro: no price published; priced as v2's lipsync-2-pro (assumed, said in the basis);
# * LatentSync: "$0.2 for videos up to 40 seconds. For longer videos, you will be charged
#   $0.005 per second of output video": a $0.20 minimum, then per second;
# * Kling: "$0.014 per input video seconds, rolling up to closest 5 second increment".
PRICES = {
    "sync-lipsync-v2": _table(
        "sync-lipsync-v2",
        "fal-ai/sync-lipsync/v2",
        Rate(per_second=Decimal("0.05"), multipliers=PRO_MODEL),
        "per second of output ($3 per minute; lipsync-2-pro roughly 1.67 times)",
    ),
    "sync-lipsync-v2-pro": _table(
        "sync-lipsync-v2-pro",
        "fal-ai/sync-lipsync/v2",
        Rate(per_second=Decimal("0.05") * PRO),
        "per second of output, assumed: v2's lipsync-2-pro rate (the pro endpoint's own "
        "price is not published)",
    ),
    "latentsync": _table(
        "latentsync",
        "fal-ai/latentsync",
        Rate(per_second=Decimal("0.005"), minimum=Decimal("0.2")),
        "per second of output, at least $0.20",
    ),
    "kling-lipsync": _table(
        "kling-lipsync",
        "fal-ai/kling-video/lipsync/audio-to-video",
        Rate(per_second=Decimal("0.014"), per="video", step=Decimal(5)),
        "per second of input video, in 5 s steps",
    ),
}
# Each model: its fal endpoint id, its sync-mode field and spellings.
WIRE: dict[str, tuple[str, str | None, dict[str, str]]] = {
    "sync-lipsync-v2": ("fal-ai/sync-lipsync/v2", "sync_mode", SYNC_MODES),
    "sync-lipsync-v2-pro": ("fal-ai/sync-lipsync/v2/pro", "sync_mode", SYNC_MODES),
    "latentsync": ("fal-ai/latentsync", "loop_mode", LOOP_MODES),
    "kling-lipsync": ("fal-ai/kling-video/lipsync/audio-to-video", None, {}),
}


def _model(
    name: str,
    default: SyncMode | None = None,
    *,
    hint: str = "",
    video_formats: tuple[str, ...] = ("mp4",),
    limits: InputLimits | None = None,
) -> ModelCapabilities:
    """A queue model: cancel, a callback URL (``fal_webhook``) and a price; its sync modes
    from :data:`WIRE`."""
    native_id, _, modes = WIRE[name]
    return ModelCapabilities(
        name=name,
        native_id=native_id,
        sync_modes=frozenset(SyncMode(m) for m in modes),
        default_sync_mode=default,
        sync_mode_hint=hint,
        callback=True,
        cancel=True,
        cost_estimate=True,
        video_formats=video_formats,
        limits=limits or InputLimits(),
    )


INFO = ProviderInfo(
    name=NAME,
    display_name="fal.ai",
    docs_url=DOCS_URL,
    contract_version="1.4",  # the contract this plugin was written against, as a literal
    default_base_url=QUEUE,
    models=(
        _model("sync-lipsync-v2", SyncMode.CUT_OFF),
        _model("sync-lipsync-v2-pro", SyncMode.CUT_OFF),
        _model(
            "latentsync",
            hint="LatentSync's loop_mode has pingpong (bounce) and loop only",
        ),
        # "Supports .mp4/.mov, <=100MB, 2-10s"; audio "maximum duration is 60s. Maximum
        # file size is 5MB".
        _model(
            "kling-lipsync",
            video_formats=("mp4", "mov"),
            limits=InputLimits(
                max_video_seconds=10,
                max_audio_seconds=60,
                min_video_seconds=2,  # "2-10s"; audio "Minimum duration is 2s"
                min_audio_seconds=2,
                max_video_bytes=100 * 1024**2,
                max_audio_bytes=5 * 1024**2,
            ),
        ),
    ),
    default_model="sync-lipsync-v2",
    auth=AuthScheme(header="Authorization", prefix="Key "),
    api_key_env=("FAL_KEY",),
    status_words=STATUSES,
    fails_through_result=True,
    webhook_jwks_url=webhooks.JWKS_URL,
    api_base_urls=(find.PLATFORM, upload.STORAGE),
)


def _urls(handle: JobHandle, ctx: CallContext) -> dict[str, str]:
    """The handle's follow-up URLs on the configured base URL; a handle without them (a
    bare job id) gets the ones fal's clients build."""
    native_id = INFO.model(handle.model).native_id or ""
    urls = {**request_urls(native_id, handle.job_id), **handle.resume}
    return {key: ctx.http.rebase(urls[key], QUEUE, BACKUP) for key in URLS}


def _poll(handle: JobHandle, ctx: CallContext) -> JobStatus:
    """The status with its log; once COMPLETED, the result in the same poll."""
    urls = _urls(handle, ctx)
    response = ctx.http.get(urls["status_url"], kind=CallKind.POLL, params={"logs": "1"})
    data = read(response, ctx, handle.job_id)
    raw = ctx.require(response, data, "status", job_id=handle.job_id)
    if STATUSES.state(raw) is not JobState.SUCCEEDED:
        return queued(data, raw)
    result = ctx.http.get(urls["response_url"], kind=CallKind.POLL)
    return finished(result, ctx, raw, log_lines(data.get("logs")), handle.job_id)


class FalQueue:
    """The hook implementations; the entry point names the instance below."""

    @hookimpl
    def lipbridge_provider_info(self) -> ProviderInfo:
        return INFO

    @hookimpl
    def lipbridge_submit(self, request: JobRequest, ctx: CallContext) -> JobHandle:
        caps = INFO.model(request.model)
        native_id, mode_field, modes = WIRE[caps.name]
        body = submit_body(request, mode_field, modes)
        # "?fal_webhook=<url>", url-encoded as fal's clients send it.
        hook = {"fal_webhook": request.callback_url} if request.callback_url else None
        response = ctx.http.request(
            "POST", f"/{native_id}", kind=CallKind.SUBMIT, json=body, params=hook
        )
        data = read(response, ctx)
        job_id = ctx.require(response, data, "request_id")
        resume = {key: ctx.require(response, data, key, job_id=job_id) for key in URLS}
        for url in resume.values():
            ctx.http.rebase(url, QUEUE, BACKUP)  # refuse a foreign host before keeping it
        return ctx.new_handle(job_id, model=request.model, resume=resume)

    @hookimpl
    def lipbridge_poll(self, handle: JobHandle, ctx: CallContext) -> JobStatus:
        return _poll(handle, ctx)

    @hookimpl
    def lipbridge_cancel(self, handle: JobHandle, ctx: CallContext) -> JobStatus:
        """``PUT`` the cancel URL. Accepted, it is CANCELLING until a poll sees the request
        end (cancelled, or finished anyway); a request already completed is polled, and
        its own status returned."""
        url = _urls(handle, ctx)["cancel_url"]
        response = ctx.http.request("PUT", url, kind=CallKind.CANCEL)
        if response.status == 400 and ALREADY_COMPLETED in response.body.decode(errors="replace"):
            return _poll(handle, ctx)
        data = read(response, ctx, handle.job_id)
        raw = ctx.require(response, data, "status", job_id=handle.job_id)
        if STATUSES.state(raw) is not JobState.CANCELLING:
            raise malformed(
                response,
                f"whose status {raw!r} answers no cancel",
                provider=ctx.provider,
                job_id=handle.job_id,
            )
        return JobStatus(state=JobState.CANCELLING, raw_status=raw)

    @hookimpl
    def lipbridge_find_jobs(
        self, request: JobRequest, since: dt.datetime, ctx: CallContext
    ) -> list[JobHandle]:
        """The endpoint's requests since ``since`` whose input is what this submit sends,
        from the platform API's listing (:mod:`.find`)."""
        caps = INFO.model(request.model)
        body = submit_body(request, *WIRE[caps.name][1:])
        return find.find(request, since, ctx, INFO, body)

    @hookimpl
    def lipbridge_upload(self, media: LocalMedia, ctx: CallContext) -> UploadedMedia:
        """A local file into fal's storage: a signed upload URL from the storage API, the
        bytes PUT there without the key, and its ``file_url`` (:mod:`.upload`)."""
        return upload.upload(media, ctx, INFO)

    @hookimpl
    def lipbridge_parse_callback(
        self, headers: Mapping[str, str], body: bytes, ctx: CallContext
    ) -> CallbackUpdate:
        """A webhook: its ED25519 signature under fal's published keys first, then its
        body, read as the result would be."""
        webhooks.verify(headers, body, ctx)
        return webhooks.update(body, ctx)

    @hookimpl
    def lipbridge_estimate_cost(
        self, request: JobRequest, durations: MediaDurations
    ) -> CostEstimate:
        caps = INFO.model(request.model)
        submit_body(request, *WIRE[caps.name][1:])  # refuse exactly what submit refuses
        return PRICES[caps.name].price(request, durations)


plugin = FalQueue()
