"""The typed facade users call: one API for every installed provider.

A call flows: validate against the model's capabilities (no network) -> build the call
context (key, base URL, HTTP view) -> call the owning plugin's hook through the
registry -> check what came back. Only lipbridge errors leave this module.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from lipbridge.callbacks import CallbackUpdate
from lipbridge.config import ProviderConfig, UserFiles
from lipbridge.context import (
    CallContext,
    Clock,
    Credentials,
    SystemClock,
)
from lipbridge.download import download as download_file
from lipbridge.durations import media_durations
from lipbridge.errors import (
    ConfigurationError,
    DownloadFailed,
    InvalidRequest,
    JobCancelled,
    JobFailed,
    LipbridgeError,
    PluginContractError,
    ProviderError,
    ProviderProtocolError,
    SubmitOutcomeUnknown,
    UnsupportedCapability,
    WaitTimeout,
)
from lipbridge.http import ProviderHTTP, RetryPolicy
from lipbridge.models import (
    CostEstimate,
    JobHandle,
    JobRequest,
    JobResult,
    JobState,
    JobStatus,
    MediaDurations,
    ProviderInfo,
    is_loopback,
)
from lipbridge.polling import Heard, PollPolicy, Waiter, wait_until_done
from lipbridge.registry import PluginRecord, Registry
from lipbridge.routes import MediaRouter, OnRoute
from lipbridge.setups import Setups, hostname
from lipbridge.transport import Transport
from lipbridge.uploads import LocalMedia, UploadedMedia
from lipbridge.urls import check_output_path, check_timeout, parse_url
from lipbridge.validation import validate
from lipbridge.webhooks import CallbackReader

if TYPE_CHECKING:
    from lipbridge.batch.manifest import Row
    from lipbridge.batch.runner import RowOutcome
    from lipbridge.jobs import Jobs
    from lipbridge.ledger import Ledger
    from lipbridge.staging import Staging

T = TypeVar("T")
log = logging.getLogger("lipbridge")


def _check_job_id(handle: JobHandle) -> None:
    if not isinstance(handle.job_id, str) or not handle.job_id.strip():
        raise InvalidRequest(
            f"job_id={handle.job_id!r} is empty; allowed: the provider's job id", field="job_id"
        )


def _is_ledger(value: object) -> bool:
    """A Ledger object, told apart without importing the ledger (start-up cost)."""
    return not (value is None or isinstance(value, (bool, str, os.PathLike)))


def result_of(handle: JobHandle, status: JobStatus) -> JobResult:
    """The result of a finished job, or its failure as JobFailed/JobCancelled."""
    if status.state is JobState.SUCCEEDED and status.result is not None:
        return status.result
    if not status.state.terminal:
        raise InvalidRequest(
            f"job {handle.job_id} is {status.state.value} ({status.raw_status}); it has no "
            "result yet",
            field="job_id",
        )
    error = status.error
    detail = error.message if error else "the provider gave no error detail"
    cls = JobCancelled if status.state is JobState.CANCELLED else JobFailed
    raise cls(
        f"job {handle.job_id} {status.state.value} ({status.raw_status}): {detail}",
        status=status,
        provider=handle.provider,
        code=error.code if error else None,
        job_id=handle.job_id,
    )


class Client:
    """Submit, poll, cancel, wait for, download and price lip-sync jobs on any provider.

    Everything with side effects is injectable: the registry (which plugins exist),
    the transport (the HTTP pool), the clock (time and sleep) and the environment
    (API keys, base URLs). A client is safe to share between threads.

    A provider's key, base URL and settings are read (from the arguments, else the
    environment, else the user's keys and config files) the first time the client calls
    that provider, and kept: a later change to the environment needs a new client. The
    files are in ``user_dir`` (default: ``LIPBRIDGE_USER_DIR``, else the user's config
    folder; False: none). A client given ``environ`` reads them only where that mapping
    or ``user_dir`` says, so nothing from the user's files reaches a test or a replay.

    Every job is recorded in a job ledger (docs/jobs.md) before its submit is sent:
    ``ledger`` is a path or a :class:`~lipbridge.ledger.Ledger`; by default
    ``LIPBRIDGE_LEDGER``, else ``jobs.sqlite`` in the user's data directory, opened on
    the first submit or wait. ``ledger=False`` keeps no record: a job whose submit answer
    is lost, or whose process dies, can then only be found in the provider's dashboard.

    Local input files reach a provider by its own upload API, inline, or through
    ``staging`` (a :class:`~lipbridge.staging.Staging`, a target such as
    ``s3://bucket/prefix``, or False; by default ``LIPBRIDGE_STAGING``); see
    docs/local-media.md.
    """

    def __init__(
        self,
        *,
        registry: Registry | None = None,
        transport: Transport | None = None,
        clock: Clock | None = None,
        api_keys: Mapping[str, str] | None = None,
        base_urls: Mapping[str, str] | None = None,
        settings: Mapping[str, Mapping[str, str]] | None = None,
        environ: Mapping[str, str] | None = None,
        retry: RetryPolicy = RetryPolicy(),
        poll_policy: PollPolicy = PollPolicy(),
        rng: random.Random | None = None,
        allow_private_hosts: bool | None = None,
        ledger: Ledger | str | os.PathLike[str] | bool | None = None,
        staging: Staging | str | bool | None = None,
        webhook_secrets: Mapping[str, str] | None = None,
        unsigned_callbacks: Iterable[str] = (),
        user_dir: str | os.PathLike[str] | bool | None = None,
    ) -> None:
        self._environ = os.environ if environ is None else environ
        self.registry = registry if registry is not None else Registry(environ=self._environ)
        self.setups = Setups(
            self.registry,
            environ,
            api_keys=api_keys,
            base_urls=base_urls,
            settings=settings,
            user_dir=user_dir,
            allow_private_hosts=allow_private_hosts,
        )
        self.transport = transport or Transport()
        self.clock: Clock = clock or SystemClock()
        self.retry = retry
        self.poll_policy = poll_policy
        self._rng = rng or random.Random()
        self._ledger_choice = ledger
        self._jobs: Jobs | None = None
        self._jobs_lock = threading.Lock()
        self.media = MediaRouter(self, staging, self._environ)
        self.callbacks = CallbackReader(self, webhook_secrets, unsigned_callbacks, self._environ)

    def __repr__(self) -> str:
        return f"Client(providers={self.registry.names()!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release connections and the ledger file; a later call opens them again."""
        self.transport.close()
        with self._jobs_lock:
            if self._jobs is not None and not _is_ledger(self._ledger_choice):
                self._jobs.ledger.close()  # one this client opened
            self._jobs = None

    @property
    def jobs(self) -> Jobs | None:
        """The jobs in this client's ledger (opened on first use), or None without one."""
        if self._ledger_choice is False:
            return None
        with self._jobs_lock:
            if self._jobs is None:
                from lipbridge.jobs import Jobs
                from lipbridge.ledger import Ledger, default_path

                choice = self._ledger_choice
                if isinstance(choice, Ledger):
                    ledger = choice
                elif choice is None or choice is True:
                    ledger = Ledger(default_path(self._environ), clock=self.clock)
                else:
                    assert not isinstance(choice, bool)
                    ledger = Ledger(choice, clock=self.clock)
                self._jobs = Jobs(self, ledger)
            return self._jobs

    def _require_jobs(self) -> Jobs:
        jobs = self.jobs
        if jobs is None:
            raise ConfigurationError("this client keeps no job ledger (ledger=False)")
        return jobs

    # -- discovery ----------------------------------------------------------------------------

    def providers(self) -> list[PluginRecord]:
        """Every installed provider plugin, including broken ones with their error."""
        return self.registry.records()

    def info(self, provider: str) -> ProviderInfo:
        return self.registry.info(provider)

    # -- plumbing -----------------------------------------------------------------------------

    @property
    def environ(self) -> Mapping[str, str]:
        """The environment this client reads keys, base URLs and settings from."""
        return self.setups.environ

    @property
    def allow_private_hosts(self) -> bool:
        return self.setups.allow_private_hosts

    @property
    def user_files(self) -> UserFiles | None:
        """The keys and config files this client reads (read on first use), or None."""
        return self.setups.user_files

    def file_config(self, provider: str) -> ProviderConfig:
        """``provider``'s part of the config file (empty without one)."""
        return self.setups.file_config(provider)

    @property
    def default_provider(self) -> str | None:
        """The config file's ``default_provider``, if it names one."""
        return self.setups.default_provider

    def credentials(self, provider: str, info: ProviderInfo) -> Credentials:
        """``provider``'s key and where it comes from: ``api_keys``, else the environment,
        else the keys file. Raises for a key that could not be sent."""
        return self.setups.credentials(provider, info)

    def base_url(self, provider: str, info: ProviderInfo) -> str:
        return self.setups.base_url(provider, info)

    def context(
        self,
        provider: str,
        info: ProviderInfo,
        idempotency_key: str | None = None,
        deadline: float | None = None,
    ) -> CallContext:
        """The context this client passes to ``provider``'s hooks (tools call hooks directly).

        ``deadline`` (a ``clock.monotonic()`` time) bounds every request the hook makes.
        """
        setup = self.setups.get(provider, info)
        http = ProviderHTTP(
            provider=provider,
            base_url=setup.base_url,
            transport=self.transport,
            clock=self.clock,
            credentials=setup.credentials,
            auth=info.auth,
            user_agent=setup.user_agent,
            retry=self.retry,
            rng=self._rng,
            secret_headers=info.secret_headers,
            idempotency_header=info.idempotency_header,
            idempotency_key=idempotency_key,
            maybe_created=info.maybe_created,
            deadline=deadline,
            allow_private=self.allow_private_hosts or setup.local,
        )
        return CallContext(
            provider=provider,
            http=http,
            credentials=setup.credentials,
            clock=self.clock,
            settings=setup.settings,
        )

    def parse_callback(
        self, provider: str, headers: Mapping[str, str], body: bytes
    ) -> CallbackUpdate:
        """A callback ``provider`` sent, read into the status a poll would give.

        Signed callbacks are checked against ``webhook_secrets`` or
        ``LIPBRIDGE_<PROVIDER>_WEBHOOK_SECRET``; unsigned ones raise
        :class:`CallbackRejected` unless ``unsigned_callbacks`` names the provider.
        Nothing is recorded: ``client.jobs.record_callback`` does that.
        """
        return self.callbacks.parse(provider, headers, body)

    def call_hook(
        self, ctx: CallContext, hook: str, expected: type[T], call: Callable[[], object]
    ) -> T:
        """``call`` (the registry's routed call of ``hook``), its failures and result checked."""
        provider = ctx.provider
        try:
            result = call()
        except LipbridgeError:
            raise
        except Exception as exc:
            if ctx.http.exchanges:  # the plugin choked on what the provider sent
                raise ProviderProtocolError(
                    f"{hook} could not read the response: {type(exc).__name__}: {exc}",
                    provider=provider,
                    http_status=ctx.http.exchanges[-1].status,
                ) from exc
            raise PluginContractError(
                f"{provider}: {hook} raised {type(exc).__name__}: {exc}"
            ) from exc
        if not isinstance(result, expected):
            raise PluginContractError(
                f"{provider}: {hook} returned {type(result).__name__}, not {expected.__name__}"
            )
        return result

    # -- the job lifecycle --------------------------------------------------------------------

    def submit(
        self,
        provider: str,
        request: JobRequest,
        *,
        drop_unsupported: bool = False,
        on_route: OnRoute | None = None,
    ) -> JobHandle:
        """Start a job. Validation happens first; nothing is sent for an invalid request.

        Local files are uploaded (or staged) first where their route needs it, and
        ``on_route`` is told how each one goes. The job is recorded in the ledger before
        the submit is sent (the handle's ``local_id``). If the provider may have accepted
        the job but the answer was lost or unreadable, :class:`SubmitOutcomeUnknown` says
        so; ``client.jobs.reconcile`` settles it.
        """
        info, request = self.prepare(provider, request, drop_unsupported=drop_unsupported)
        jobs = self.jobs
        if jobs is None:
            key = secrets.token_urlsafe(24) if info.idempotency_header else None
            sent, _ = self.media.resolve(provider, info, request, ledger=None, on_route=on_route)
            return self.send(provider, info, sent, idempotency_key=key)
        return jobs.submit(provider, info, request, on_route=on_route)

    def prepare(
        self, provider: str, request: JobRequest, *, drop_unsupported: bool = False
    ) -> tuple[ProviderInfo, JobRequest]:
        """Everything checked before a submit may be recorded or sent: the request against
        the model, the key, the callback URL, each local file (probed, and a route to the
        provider chosen for it). Raises; never touches the network."""
        info = self.registry.info(provider)
        request = validate(info, request, drop_unsupported=drop_unsupported)
        setup = self.setups.get(provider, info)
        setup.credentials.require()  # a missing key fails here, before any request
        callback = urlsplit(request.callback_url or "")
        if callback.scheme == "http" and not is_loopback(hostname(setup.base_url)):
            raise InvalidRequest(
                f"callback_url={request.callback_url!r} is plain http, which only a local "
                f"emulator can call; {provider} at {setup.base_url} needs https",
                field="callback_url",
            )
        self.media.plan(provider, info, request)
        return info, request

    def send(
        self,
        provider: str,
        info: ProviderInfo,
        request: JobRequest,
        *,
        idempotency_key: str | None,
    ) -> JobHandle:
        """Send a prepared submit, unrecorded (``submit`` records it first)."""
        ctx = self.context(provider, info, idempotency_key=idempotency_key)
        try:
            handle = self.call_hook(
                ctx,
                "lipbridge_submit",
                JobHandle,
                lambda: self.registry.submit(provider, request, ctx),
            )
            if handle.provider != provider or not handle.job_id:
                raise PluginContractError(
                    f"{provider}: lipbridge_submit returned a handle for "
                    f"{handle.provider!r} with job id {handle.job_id!r}"
                )
        except (ProviderProtocolError, PluginContractError) as exc:
            unknown = ctx.http.unreadable_submit(exc.message) or ctx.http.landed
            if unknown is None:
                raise
            raise unknown from exc
        except ProviderError as exc:  # a refusal, unless an earlier attempt may have landed
            if ctx.http.landed is None or isinstance(exc, SubmitOutcomeUnknown):
                raise
            raise ctx.http.landed from exc
        log.info("submitted %s job %s", provider, handle.job_id)
        return handle

    def poll(self, handle: JobHandle, *, deadline: float | None = None) -> JobStatus:
        """The job's current status. ``deadline`` (a ``clock.monotonic()`` time) bounds
        every request the poll makes, retries included."""
        _check_job_id(handle)
        info = self.registry.info(handle.provider)
        ctx = self.context(handle.provider, info, deadline=deadline)
        return self.call_hook(
            ctx,
            "lipbridge_poll",
            JobStatus,
            lambda: self.registry.poll(handle.provider, handle, ctx),
        )

    def upload(self, provider: str, media: LocalMedia) -> UploadedMedia:
        """Put a probed local file in ``provider``'s own storage (its ``lipbridge_upload``);
        the reference its submit takes instead of the path."""
        info = self.registry.info(provider)
        if not self.registry.implements(provider, "lipbridge_upload"):
            raise UnsupportedCapability(
                f"{provider} documents no upload API lipbridge knows of"
            )
        ctx = self.context(provider, info)
        return self.call_hook(
            ctx,
            "lipbridge_upload",
            UploadedMedia,
            lambda: self.registry.upload(provider, media, ctx),
        )

    def cancel(self, handle: JobHandle) -> JobStatus:
        _check_job_id(handle)
        info = self.registry.info(handle.provider)
        caps = info.model(handle.model)
        if not caps.cancel:
            raise UnsupportedCapability(
                f"{handle.provider}/{caps.name} has no cancel; the job runs to completion "
                "(and is billed)"
            )
        ctx = self.context(handle.provider, info)
        status = self.call_hook(
            ctx,
            "lipbridge_cancel",
            JobStatus,
            lambda: self.registry.cancel(handle.provider, handle, ctx),
        )
        if self.jobs is not None:
            self.jobs.record_cancel(handle, status)
        return status

    def wait(
        self,
        handle: JobHandle,
        *,
        timeout: float | None = 1800.0,
        on_progress: Callable[[JobStatus], None] | None = None,
        cancel_on_timeout: bool = False,
    ) -> JobResult:
        """Poll until the job ends; return its result or raise JobFailed/JobCancelled.

        At the deadline, :class:`WaitTimeout` carries the handle so the job is not lost;
        with ``cancel_on_timeout`` the job is cancelled first where the model can. A job
        in the ledger has what each poll sees recorded, and is driven by one process at
        a time (:class:`JobBusy` otherwise).
        """
        jobs = self.jobs
        if jobs is None:
            return self.wait_unrecorded(
                handle,
                timeout=timeout,
                on_progress=on_progress,
                cancel_on_timeout=cancel_on_timeout,
            )
        return jobs.wait(
            handle, timeout=timeout, on_progress=on_progress, cancel_on_timeout=cancel_on_timeout
        )

    def run(
        self,
        provider: str,
        request: JobRequest,
        output: str | os.PathLike[str] | None = None,
        *,
        timeout: float | None = 1800.0,
        on_progress: Callable[[JobStatus], None] | None = None,
        on_submitted: Callable[[JobHandle], None] | None = None,
        drop_unsupported: bool = False,
        on_route: OnRoute | None = None,
    ) -> JobResult:
        """Submit, wait and download (when ``output`` is given) in one call, recorded in
        the ledger at every step so ``client.jobs.resume(local_id)`` can finish it after
        any crash. ``on_route`` is told how each local file goes, ``on_submitted`` gets
        the handle (with ``local_id``) before waiting."""
        if timeout is not None:
            timeout = check_timeout(timeout, "timeout")
        info, request = self.prepare(provider, request, drop_unsupported=drop_unsupported)
        return self._require_jobs().run(
            provider,
            info,
            request,
            output=output,
            timeout=timeout,
            on_progress=on_progress,
            on_submitted=on_submitted,
            on_route=on_route,
        )

    def wait_unrecorded(
        self,
        handle: JobHandle,
        *,
        timeout: float | None = 1800.0,
        on_progress: Callable[[JobStatus], None] | None = None,
        cancel_on_timeout: bool = False,
        heard: Heard | None = None,
    ) -> JobResult:
        """:meth:`wait` without the ledger (which calls this). ``heard``: the job's
        callbacks are listened for, and polls keep the slower pace of a fallback."""
        if timeout is not None:
            timeout = check_timeout(timeout, "timeout")
        _check_job_id(handle)
        try:
            status = wait_until_done(
                lambda deadline: self.poll(handle, deadline=deadline),
                handle=handle,
                clock=self.clock,
                policy=self.poll_policy if heard is None else self.poll_policy.for_callbacks(),
                timeout=timeout,
                rng=self._rng,
                on_progress=on_progress,
                heard=heard,
            )
        except WaitTimeout as exc:
            if not cancel_on_timeout:
                raise
            raise WaitTimeout(
                f"{exc.message}; {self._cancel_after_timeout(handle)}",
                handle=handle,
                last_status=exc.last_status,
            ) from None
        return result_of(handle, status)

    def waiter(
        self, handle: JobHandle, timeout: float | None, *, callbacks: bool = False
    ) -> Waiter:
        """The schedule and deadline of one wait on ``handle`` (for other wait loops, such
        as :class:`~lipbridge.aio.AsyncClient`'s); ``callbacks``: at a fallback's pace."""
        policy = self.poll_policy.for_callbacks() if callbacks else self.poll_policy
        return Waiter(handle, clock=self.clock, policy=policy, timeout=timeout, rng=self._rng)

    def find_jobs(
        self, provider: str, request: JobRequest, since: dt.datetime
    ) -> list[JobHandle] | None:
        """The provider's jobs made from ``request``'s inputs since ``since``, or None
        when its plugin cannot look jobs up."""
        info = self.registry.info(provider)
        request = validate(info, request)  # the model filled in, as the submit had it
        ctx = self.context(provider, info)
        found = self.call_hook(
            ctx,
            "lipbridge_find_jobs",
            object,
            lambda: self.registry.find_jobs(provider, request, since, ctx),
        )
        if found is None:
            return None
        if not isinstance(found, list) or not all(
            isinstance(h, JobHandle) and h.provider == provider and h.job_id for h in found
        ):
            raise PluginContractError(
                f"{provider}: lipbridge_find_jobs returned {found!r}, not a list of "
                f"{provider} job handles"
            )
        return [h for h in found if h.created_at >= since]

    def batch(self, rows: Sequence[Row], **options: Any) -> Iterator[RowOutcome]:
        """Run ``rows`` as one batch, yielding each row's outcome as it finishes: the
        blocking twin of :meth:`AsyncClient.batch <lipbridge.aio.AsyncClient.batch>`
        (same options), on an event loop of its own in a background thread.

        Leaving the loop early (``break``, an exception) stops the batch: nothing more is
        submitted, submits already sent finish and are recorded, and the rest is in the
        ledger to resume.
        """
        from lipbridge.batch.blocking import run_batch

        return run_batch(self, rows, options)

    def _cancel_after_timeout(self, handle: JobHandle) -> str:
        try:
            after = self.cancel(handle)
        except LipbridgeError as exc:
            return f"cancelling it failed: {exc}"
        if after.state is JobState.CANCELLING:
            return "a cancel was accepted; the provider confirms it later (it may still finish)"
        return "it was cancelled"

    def download(self, result: JobResult | str, path: str | os.PathLike[str]) -> Path:
        """Stream the result video to ``path`` (atomically); no credentials are sent.

        A dropped connection or a 5xx/429 is retried with the client's retry policy,
        honouring ``Retry-After`` up to ``retry.retry_after_max``; an expired URL
        (403/404/410) is not, as only a fresh poll can fix it.
        """
        url = result if isinstance(result, str) else result.video_url
        parse_url(url, field="url")
        path = check_output_path(path)
        attempt = 0
        while True:
            attempt += 1
            try:
                return download_file(
                    self.transport, url, path, allow_private=self.setups.private_ok(url)
                )
            except DownloadFailed as exc:
                if not exc.retryable or attempt >= self.retry.attempts:
                    raise
                delay = exc.retry_after
                if delay is None:
                    delay = self.retry.delay(attempt, self._rng)
                elif delay > self.retry.retry_after_max:
                    raise DownloadFailed(
                        f"{exc.message}; the server asked to retry after {delay:g} s: "
                        "download again later",
                        http_status=exc.http_status,
                        retryable=True,
                        retry_after=delay,
                    ) from None
                log.debug("download attempt %d failed: %s", attempt, exc)
                self.clock.sleep(delay)

    # -- cost ---------------------------------------------------------------------------------

    def durations(
        self,
        request: JobRequest,
        info: ProviderInfo,
        video_seconds: float | None = None,
        audio_seconds: float | None = None,
    ) -> MediaDurations:
        """Input lengths as given, else probed from local files; output from the sync mode."""
        return media_durations(
            request, info, self.media, video_seconds=video_seconds, audio_seconds=audio_seconds
        )

    def estimate_cost(
        self,
        provider: str,
        request: JobRequest,
        *,
        video_seconds: float | None = None,
        audio_seconds: float | None = None,
        drop_unsupported: bool = False,
    ) -> CostEstimate:
        """Price a request offline. Invalid for ``submit`` means invalid here too, except
        that a local file needs no route to the provider: it is measured, not sent.
        Your own price for the model in the config file wins over the plugin's."""
        info = self.registry.info(provider)
        request = validate(info, request, drop_unsupported=drop_unsupported)
        self.media.check(info, request)
        caps = info.model(request.model)
        files = self.user_files
        mine = files and files.config.price(provider, caps.name, [m.name for m in info.models])
        if files and mine:
            from lipbridge.config.prices import your_estimate

            durations = self.durations(request, info, video_seconds, audio_seconds)
            return your_estimate(files.config, provider, caps.name, mine, request, durations)
        if not caps.cost_estimate:
            return CostEstimate.unknown(
                provider, caps.name, f"{provider} declares no price for {caps.name}"
            )
        durations = self.durations(request, info, video_seconds, audio_seconds)
        ctx = self.context(provider, info)
        estimate = self.call_hook(
            ctx,
            "lipbridge_estimate_cost",
            CostEstimate,
            lambda: self.registry.estimate_cost(provider, request, durations, ctx),
        )
        if ctx.http.exchanges:
            raise PluginContractError(f"{provider}: lipbridge_estimate_cost used the network")
        return estimate
