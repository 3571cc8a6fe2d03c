"""An in-tree provider plugin for the core's tests: a small, made-up JSON API.

Wire format ("acme API"): ``POST /v1/jobs`` -> ``{"id", "status"}``;
``GET /v1/jobs/{id}`` -> ``{"id", "status", "progress", "output": {...}, "error": {...}}``;
``POST /v1/jobs/{id}/cancel``; errors ``{"error": {"message", "code"}}``. Each
instance counts its hook calls so tests can prove routing isolation.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from decimal import Decimal
from typing import Any

import attrs

from lipbridge import (
    CONTRACT_VERSION,
    BilledUsage,
    CallbackRejected,
    ConfigurationError,
    CostEstimate,
    JobError,
    JobHandle,
    JobRequest,
    JobResult,
    JobState,
    JobStatus,
    SyncMode,
)
from lipbridge.plugin import (
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
    StatusMap,
    UploadedMedia,
    check_timestamp,
    dig,
    error_for_status,
    hmac_sha256_hex,
    hookimpl,
    same_signature,
)

STATUSES = StatusMap(
    {
        "queued": JobState.QUEUED,
        "processing": JobState.RUNNING,
        "done": JobState.SUCCEEDED,
        "error": JobState.FAILED,
        "cancelled": JobState.CANCELLED,
    }
)


def models() -> tuple[ModelCapabilities, ...]:
    return (
        ModelCapabilities(
            name="acme-1",
            sync_modes=frozenset(SyncMode),
            default_sync_mode=SyncMode.LOOP,
            temperature=True,
            active_speaker=True,
            callback=True,
            cancel=True,
            cost_estimate=True,
            output_url_ttl_seconds=86400,
        ),
        ModelCapabilities(
            name="acme-lite",
            sync_modes=frozenset({SyncMode.LOOP, SyncMode.CUT_OFF}),
            default_sync_mode=SyncMode.CUT_OFF,
            tts_voices=("alice", "bob"),
            cost_estimate=True,
            local_files=True,
            limits=InputLimits(max_video_bytes=1000, max_audio_bytes=1000),
        ),
    )


class AcmeLike:
    """One provider speaking the acme API under its own name."""

    def __init__(
        self, name: str, *, idempotency: bool = False, rate: Decimal = Decimal("5")
    ) -> None:
        self.name = name
        self.idempotency = idempotency
        self.calls: Counter[str] = Counter()
        self.prices = PriceTable(
            provider=name,
            unit="credits",
            usd_per_unit=Decimal("0.01"),
            rates={"acme-1": rate},
            source_url="https://acme.invalid/pricing",
            as_of=dt.date(2026, 11, 1),
            version="2026-11",
            round_seconds_up=True,
        )

    def __repr__(self) -> str:
        return f"AcmeLike({self.name!r})"

    @hookimpl
    def lipbridge_provider_info(self) -> ProviderInfo:
        self.calls["provider_info"] += 1
        return ProviderInfo(
            name=self.name,
            display_name=self.name.title(),
            docs_url=f"https://{self.name}.invalid/docs",
            contract_version=CONTRACT_VERSION,
            default_base_url=f"https://api.{self.name}.invalid",
            models=models(),
            default_model="acme-1",
            api_key_env=(f"{self.name.upper()}_KEY",),
            idempotency_header="Idempotency-Key" if self.idempotency else None,
        )

    def _check(self, response: Response, ctx: CallContext, job_id: str | None = None) -> Any:
        if response.ok:
            return response.json(self.name)
        body = response.json(self.name) if response.body.startswith(b"{") else {}
        raise error_for_status(
            response,
            provider=self.name,
            clock=ctx.clock,
            message=dig(body, "error", "message"),
            code=dig(body, "error", "code"),
            job_id=job_id,
        )

    @hookimpl
    def lipbridge_submit(self, request: JobRequest, ctx: CallContext) -> JobHandle:
        self.calls["submit"] += 1
        body: dict[str, Any] = {"video_url": request.video, "model": request.model}
        if request.audio is not None:
            body["audio_url"] = request.audio
        if request.tts is not None:
            body["tts"] = {"text": request.tts.text, "voice": request.tts.voice}
        for key, value in (
            ("mode", request.sync_mode and request.sync_mode.value),
            ("temperature", request.temperature),
            ("active_speaker", request.active_speaker),
            ("callback", request.callback_url),
        ):
            if value is not None:
                body[key] = value
        body.update(request.options)
        data = self._check(ctx.http.post("/v1/jobs", kind=CallKind.SUBMIT, json=body), ctx)
        return ctx.new_handle(str(data["id"]), model=request.model)

    def _status(self, data: Any) -> JobStatus:
        raw = str(data["status"])
        state = STATUSES.state(raw)
        result = error = None
        if state is JobState.SUCCEEDED:
            credits = dig(data, "cost", "credits")
            result = JobResult(
                video_url=data["output"]["url"],
                cover_url=dig(data, "output", "cover"),
                duration_seconds=dig(data, "output", "duration"),
                expires_at=dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc),
                billed=None if credits is None else BilledUsage(
                    amount=Decimal(str(credits)), unit="credits"
                ),
            )
        if state is JobState.FAILED:
            error = JobError(
                message=dig(data, "error", "message") or "no detail",
                code=dig(data, "error", "code"),
            )
        return JobStatus(
            state=state,
            raw_status=raw,
            progress=dig(data, "progress"),
            result=result,
            error=error,
            poll_after=dig(data, "poll_after"),
        )

    @hookimpl
    def lipbridge_poll(self, handle: JobHandle, ctx: CallContext) -> JobStatus:
        self.calls["poll"] += 1
        response = ctx.http.get(f"/v1/jobs/{handle.job_id}", kind=CallKind.POLL)
        return self._status(self._check(response, ctx, handle.job_id))

    @hookimpl
    def lipbridge_cancel(self, handle: JobHandle, ctx: CallContext) -> JobStatus:
        self.calls["cancel"] += 1
        response = ctx.http.post(f"/v1/jobs/{handle.job_id}/cancel", kind=CallKind.CANCEL)
        return self._status(self._check(response, ctx, handle.job_id))

    @hookimpl
    def lipbridge_estimate_cost(
        self, request: JobRequest, durations: MediaDurations
    ) -> CostEstimate:
        self.calls["estimate_cost"] += 1
        assert request.model is not None
        return self.prices.estimate(request.model, durations.output_seconds)


acme = AcmeLike("acme")
globex = AcmeLike("globex", rate=Decimal("4"))
keyed = AcmeLike("keyed", idempotency=True)


class Misnamed(AcmeLike):
    @hookimpl
    def lipbridge_provider_info(self) -> ProviderInfo:
        return attrs.evolve(super().lipbridge_provider_info(), name="someone-else")


class Futuristic(AcmeLike):
    @hookimpl
    def lipbridge_provider_info(self) -> ProviderInfo:
        return attrs.evolve(super().lipbridge_provider_info(), contract_version="2.0")


class Typo(AcmeLike):
    @hookimpl
    def lipbridge_sumbit(self, request: JobRequest) -> None:
        """A misspelt hook: the loader must refuse the plugin."""


class Incomplete:
    """Declares provider info but implements neither submit nor poll."""

    @hookimpl
    def lipbridge_provider_info(self) -> ProviderInfo:
        return attrs.evolve(acme.lipbridge_provider_info(), name="incomplete")


misnamed = Misnamed("misnamed")
futuristic = Futuristic("futuristic")
typo = Typo("typo")
incomplete = Incomplete()


class Finder(AcmeLike):
    """Acme with a job lookup: ``GET /v1/jobs?video_url=...`` -> ``{"jobs": [{"id",
    "created_at"}]}``, newest first."""

    @hookimpl
    def lipbridge_find_jobs(
        self, request: JobRequest, since: dt.datetime, ctx: CallContext
    ) -> list[JobHandle]:
        self.calls["find_jobs"] += 1
        response = ctx.http.get("/v1/jobs", kind=CallKind.POLL, params={"video_url": request.video})
        return [
            attrs.evolve(
                ctx.new_handle(str(job["id"]), model=request.model),
                created_at=dt.datetime.fromisoformat(job["created_at"]),
            )
            for job in self._check(response, ctx)["jobs"]
        ]


finder = Finder("finder")


class Capped(AcmeLike):
    """Acme whose plugin declares how many jobs in flight suit it."""

    @hookimpl
    def lipbridge_provider_info(self) -> ProviderInfo:
        return attrs.evolve(super().lipbridge_provider_info(), max_concurrent_jobs=2)


capped = Capped("capped")


class Uploader(AcmeLike):
    """Acme with its own storage: ``POST /v1/uploads`` (multipart, field ``file``) ->
    ``{"url", "expires_in"}`` (seconds)."""

    @hookimpl
    def lipbridge_upload(self, media: LocalMedia, ctx: CallContext) -> UploadedMedia:
        self.calls["upload"] += 1
        body = FileBody.multipart(media.path, field_name="file", media_type=media.media_type)
        answer = self._check(ctx.http.upload("/v1/uploads", body), ctx)
        return UploadedMedia(
            reference=str(answer["url"]),
            expires_at=ctx.clock.now() + dt.timedelta(seconds=float(answer["expires_in"])),
        )


uploader = Uploader("uploader")


class Notifier(AcmeLike):
    """Acme that calls back with the poll's JSON, signed: ``Acme-Signature: t=<unix
    seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` (``signed=False``: no signature)."""

    def __init__(self, name: str, *, signed: bool = True) -> None:
        super().__init__(name)
        self.signed = signed

    @hookimpl
    def lipbridge_parse_callback(
        self, headers: dict[str, str], body: bytes, ctx: CallContext
    ) -> CallbackUpdate:
        self.calls["parse_callback"] += 1
        if self.signed:
            self._verify(headers.get("acme-signature", ""), body, ctx)
        try:
            data = json.loads(body)
            job_id = str(data["id"])
        except (ValueError, KeyError, TypeError):
            raise CallbackRejected("not an Acme job: JSON with an id expected") from None
        return CallbackUpdate(job_id=job_id, status=self._status(data), verified=self.signed)

    @staticmethod
    def _verify(header: str, body: bytes, ctx: CallContext) -> None:
        if ctx.webhook_secret is None:
            raise ConfigurationError("set LIPBRIDGE_NOTIFIER_WEBHOOK_SECRET to verify callbacks")
        stamp, _, signature = header.partition(",v1=")
        seconds = stamp.removeprefix("t=")
        expected = hmac_sha256_hex(ctx.webhook_secret.reveal(), f"{seconds}.".encode() + body)
        if not seconds.isdigit() or not same_signature(expected, signature):
            raise CallbackRejected("the Acme-Signature header does not match the body")
        check_timestamp(int(seconds), ctx.clock.now())


notifier = Notifier("notifier")
shouter = Notifier("shouter", signed=False)
