"""The white-label "task-unified" gateway, shared by the lip-sync resellers built on it.

FoxAPI, AIHubMax and EvoLink run the same gateway: the same routes, the same
``task-unified-<unix>-<8 chars>`` task ids, status words, error envelope and 24 h result
URLs. So a reseller plugin is only declarations, a :class:`Gateway` naming the host,
the models and the prices (an :class:`UploadingGateway` where the reseller also runs the
gateway's file upload); every mechanic lives here once, the JSON mapping in
:mod:`lipbridge_gateway.wire`. This distribution registers no provider itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from attrs import field, frozen
from attrs.validators import in_

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
    CallbackUpdate,
    CallContext,
    CallKind,
    LocalMedia,
    MediaDurations,
    ModelCapabilities,
    PriceTable,
    ProviderInfo,
    Response,
    UploadedMedia,
    hookimpl,
)
from lipbridge_gateway.wire import (
    ERROR_CODES,
    REQUEST_FIELDS,
    STATUSES,
    SUBMIT,
    UPLOAD,
    UPLOAD_ERRORS,
    UPLOAD_TTL,
    URL_TTL_SECONDS,
    expires_at,
    media_fields,
    status_of,
    submit_body,
    task_path,
    upload_body,
)

__all__ = [
    "URL_TTL_SECONDS",
    "CallingBackGateway",
    "Gateway",
    "UploadingGateway",
    "sync_lipsync_models",
]

# sync.so's models; temperature and active_speaker exist on the lipsync-2 family only.
_EXPRESSIVE = frozenset({"lipsync-2", "lipsync-2-pro"})


def sync_lipsync_models(*names: str, callback: bool) -> tuple[ModelCapabilities, ...]:
    """sync.so's lip-sync models as the gateway resells them (default: all three).

    All five sync modes with ``loop`` by default, public http(s) media only, result URLs
    that live 24 h, priced from the reseller's table. ``callback`` is per reseller: each
    documents ``callback_url`` for this model or does not.
    """
    return tuple(
        ModelCapabilities(
            name=name,
            sync_modes=frozenset(SyncMode),
            default_sync_mode=SyncMode.LOOP,
            temperature=name in _EXPRESSIVE,
            active_speaker=name in _EXPRESSIVE,
            callback=callback,
            cost_estimate=True,
            output_url_ttl_seconds=URL_TTL_SECONDS,
        )
        for name in names or ("lipsync-2", "lipsync-2-pro", "sync-3")
    )


@frozen(kw_only=True)
class Gateway:
    """One reseller of the gateway as a lipbridge plugin; the entry point names an instance.

    ``models[0]`` is the default model. ``request_fields`` is the documented field
    revision sent unless the user's ``request_fields`` setting picks another.
    """

    name: str
    display_name: str
    docs_url: str
    base_url: str
    models: tuple[ModelCapabilities, ...]
    api_key_env: tuple[str, ...]
    prices: PriceTable
    request_fields: str = field(default="video_url", validator=in_(tuple(REQUEST_FIELDS)))
    contract_version: ClassVar[str] = "1.1"  # the contract the gateway was written against

    @hookimpl
    def lipbridge_provider_info(self) -> ProviderInfo:
        return ProviderInfo(
            name=self.name,
            display_name=self.display_name,
            docs_url=self.docs_url,
            contract_version=self.contract_version,
            default_base_url=self.base_url,
            models=self.models,
            default_model=self.models[0].name,
            api_key_env=self.api_key_env,
            status_words=STATUSES,
        )

    @hookimpl
    def lipbridge_submit(self, request: JobRequest, ctx: CallContext) -> JobHandle:
        body = submit_body(request, media_fields(ctx, self.request_fields))
        response = ctx.http.post(SUBMIT, kind=CallKind.SUBMIT, json=body)
        job_id = ctx.require(response, ctx.read(response, code=ERROR_CODES), "id")
        return ctx.new_handle(job_id, model=request.model)

    @hookimpl
    def lipbridge_poll(self, handle: JobHandle, ctx: CallContext) -> JobStatus:
        response = ctx.http.get(task_path(handle.job_id), kind=CallKind.POLL)
        data = ctx.read(response, handle.job_id, code=ERROR_CODES)
        return status_of(response, data, ctx, handle.job_id)

    @hookimpl
    def lipbridge_estimate_cost(
        self, request: JobRequest, durations: MediaDurations
    ) -> CostEstimate:
        return self.prices.estimate(request.model or self.models[0].name, durations.output_seconds)


@frozen(kw_only=True)
class UploadingGateway(Gateway):
    """A reseller that also runs the gateway's file storage on its API host
    (``POST /v1/files/upload/stream``): FoxAPI and AIHubMax. EvoLink's file service is
    another API on another host, for images only, so EvoLink would be a plain
    :class:`Gateway` and keep sending public URLs."""

    contract_version: ClassVar[str] = "1.3"  # lipbridge_upload

    @hookimpl
    def lipbridge_upload(self, media: LocalMedia, ctx: CallContext) -> UploadedMedia:
        """The stream upload; its ``url`` lives 72 h from the upload's ``created``."""
        response = ctx.http.upload(UPLOAD, upload_body(media))
        data = ctx.read(response, code=ERROR_CODES, overrides=UPLOAD_ERRORS)
        return UploadedMedia(
            reference=ctx.require(response, data, "url"),
            expires_at=expires_at(data, ctx.clock, UPLOAD_TTL),
        )


@frozen(kw_only=True)
class CallingBackGateway(UploadingGateway):
    """A reseller whose lip-sync page documents ``callback_url`` (FoxAPI): the gateway
    POSTs the task, as ``GET /v1/tasks/{id}`` answers it, when the task completes, fails
    or is cancelled. The gateway documents no signature, so every callback is returned
    unverified: lipbridge takes it only where the user opted in, and polls before
    believing it."""

    @hookimpl
    def lipbridge_parse_callback(
        self, headers: Mapping[str, str], body: bytes, ctx: CallContext
    ) -> CallbackUpdate:
        answer = Response(method="POST", url="callback", status=200, headers=headers, body=body)
        try:
            data = ctx.read(answer, code=ERROR_CODES)
            job_id = ctx.require(answer, data, "id")
            status = status_of(answer, data, ctx, job_id)
        except ProviderError as exc:
            raise CallbackRejected(f"not a gateway task: {exc.message}") from None
        return CallbackUpdate(job_id=job_id, status=status, verified=False)
