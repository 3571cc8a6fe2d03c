"""Replay one scenario's cassette through the real client and record what happened.

The cassette answers the plugin's requests through vcrpy (record mode ``none``, no
playback repeats), the clock is virtual, the key is a canary, and every instrument in
:mod:`.harness` is on. The resulting :class:`Observation` is all the checks look at.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import vcr
import yaml
from attrs import define, field

from lipbridge import (
    Client,
    Clock,
    JobHandle,
    JobRequest,
    JobResult,
    JobState,
    JobStatus,
    PluginContractError,
    Registry,
    Transport,
)
from lipbridge.context import EPOCH
from lipbridge.jwks import SETTING
from lipbridge.plugin import CallbackUpdate, CallContext, LocalMedia, UploadedMedia
from lipbridge.validation import validate
from lipbridge_contract.catalogue import FIND_HOOK
from lipbridge_contract.harness import (
    ClockWatch,
    LogCapture,
    NetworkBlocked,
    RecordingTransport,
    SentRequest,
    SteppedClock,
    UnrecordedRequest,
    network_blocked,
    plugin_modules,
)
from lipbridge_contract.recorded import CassetteFormatError, Interaction, load_interactions
from lipbridge_contract.scenarios import CALLBACK_STEP, MediaFile, Scenario

MATCH_ON = ("method", "scheme", "host", "port", "path", "query")


class SafeYAML:
    """vcrpy serializer that reads cassettes with the safe loader only."""

    @staticmethod
    def deserialize(text: str) -> Any:
        return yaml.safe_load(text)

    @staticmethod
    def serialize(data: Any) -> str:
        return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def replayer() -> vcr.VCR:
    player = vcr.VCR(
        record_mode="none",
        match_on=MATCH_ON,
        serializer="safe_yaml",
        decode_compressed_response=False,
    )
    player.register_serializer("safe_yaml", SafeYAML)
    return player


@define
class Observation:
    """Everything seen while one scenario replayed."""

    scenario: Scenario
    statuses: list[JobStatus] = field(factory=list)
    handle: JobHandle | None = None
    handle_json: str | None = None
    found: list[JobHandle] | None = None  # what the find step returned
    uploaded: UploadedMedia | None = None  # what the upload step returned
    callback: CallbackUpdate | None = None  # what the callback step read
    resumed_handle: JobHandle | None = None
    result: JobResult | None = None
    error: BaseException | None = None
    error_step: str | None = None
    sent: list[SentRequest] = field(factory=list)
    downloads: list[str] = field(factory=list)
    recorded: int = 0
    played: int = 0
    all_played: bool = False
    logs: list[str] = field(factory=list)
    clock_calls: list[str] = field(factory=list)
    harness_problem: str | None = None  # the replay itself could not run as recorded

    @property
    def states(self) -> tuple[JobState, ...]:
        return tuple(s.state for s in self.statuses)


def new_client(
    registry: Registry,
    provider: str,
    key: str,
    clock: SteppedClock,
    transport: Transport,
    settings: Mapping[str, str] | None = None,
    *,
    webhook_secret: str | None = None,
    unsigned_callbacks: bool = False,
    webhook_jwks: str | None = None,
) -> Client:
    """A client with nothing from the environment: the canary key, defaults and the
    scenario's own settings, and for a callback the sidecar's test secret and whether the
    provider's unsigned callbacks are taken (or its test key set, for public-key
    signatures). It keeps no job ledger: a replay is not a job
    anyone paid for, and recorded job ids repeat across scenarios."""
    return Client(
        registry=registry,
        transport=transport,
        clock=clock,
        api_keys={provider: key},
        settings={
            provider: {**(settings or {}), **({SETTING: webhook_jwks} if webhook_jwks else {})}
        },
        environ={},
        rng=random.Random(0),
        ledger=False,
        webhook_secrets=None if webhook_secret is None else {provider: webhook_secret},
        unsigned_callbacks={provider} if unsigned_callbacks else (),
    )


def posted_callback(scenario: Scenario) -> Interaction:
    """The provider's POST a callback scenario's cassette holds, its one interaction (the
    answer recorded with it is what the provider expects back)."""
    interactions = load_interactions(scenario.cassette)
    if len(interactions) != 1 or interactions[0].method != "POST":
        raise CassetteFormatError(
            f"{scenario.cassette.name}: a callback scenario's cassette holds one interaction, "
            "the provider's POST"
        )
    return interactions[0]


def call_find_jobs(
    client: Client, ctx: CallContext, request: JobRequest, since: dt.datetime
) -> list[JobHandle]:
    """The plugin's ``lipbridge_find_jobs`` for ``request`` (validated first, as the core
    does), through ``ctx``: what it returned, unfiltered (``Client.find_jobs`` drops what
    the hook should have dropped itself), or the lipbridge error it raised. A crash is
    wrapped by the client's own hook call, so the checks name it as for any other hook."""
    provider = ctx.provider
    request = validate(client.info(provider), request)
    found = client.call_hook(  # the one place the core calls a hook and wraps its crashes
        ctx, FIND_HOOK, object, lambda: client.registry.find_jobs(provider, request, since, ctx)
    )
    if not isinstance(found, list) or not all(isinstance(h, JobHandle) for h in found):
        what = "nothing: it does not implement it" if found is None else repr(found)
        raise PluginContractError(f"{provider}: {FIND_HOOK} returned {what}, not a list of "
                                  "JobHandle")
    return found


def find_jobs(
    client: Client, provider: str, request: JobRequest, since: dt.datetime
) -> list[JobHandle]:
    """:func:`call_find_jobs` with ``client``'s own context for ``provider``."""
    return call_find_jobs(client, client.context(provider, client.info(provider)), request, since)


@contextmanager
def local_media(media: MediaFile) -> Iterator[LocalMedia]:
    """``media`` written to a temporary folder, for as long as the upload reads it."""
    with tempfile.TemporaryDirectory(prefix="lbcontract-") as folder:
        yield media.write(Path(folder))


def _handle_for(scenario: Scenario, provider: str, clock: Clock) -> JobHandle:
    data = scenario.sidecar.handle or {}
    return JobHandle(
        provider=provider,
        job_id=str(data["job_id"]),
        created_at=clock.now(),
        model=data.get("model"),
        resume={str(k): str(v) for k, v in (data.get("resume") or {}).items()},
    )


def run_steps(
    obs: Observation,
    provider: str,
    fresh_client: Callable[[], Client],
    *,
    wait_timeout: float | None,
    on_step: Callable[[str], None] = lambda step: None,
    on_submit: Callable[[JobHandle], None] = lambda handle: None,
) -> None:
    """Perform the sidecar's steps, filling ``obs``; an error propagates with its step set.

    Replays and live recordings both run scenarios through here, so a recording's
    expectations are observed exactly the way a replay is judged.
    """
    scenario = obs.scenario
    sidecar = scenario.sidecar
    client = fresh_client()
    handle = None if sidecar.handle is None else _handle_for(scenario, provider, client.clock)
    for step in sidecar.steps:
        on_step(step)
        obs.error_step = step
        if step == "upload":
            assert sidecar.media is not None
            with local_media(sidecar.media) as media:
                obs.uploaded = client.upload(provider, media)
            continue
        if step == CALLBACK_STEP:
            posted = posted_callback(scenario)
            obs.callback = client.parse_callback(
                provider, posted.request_headers, posted.request_body
            )
            obs.statuses.append(obs.callback.status)
            continue
        if step == "find":
            assert sidecar.request is not None and sidecar.since is not None
            obs.found = find_jobs(client, provider, sidecar.request, sidecar.since)
            if obs.found:
                # The steps after it follow the first job found from its JSON in a fresh
                # client, as a job adopted into a ledger is followed.
                handle = obs.resumed_handle = JobHandle.from_json(obs.found[0].to_json())
                client = fresh_client()
            continue
        if step == "submit":
            assert sidecar.request is not None
            handle = obs.handle = client.submit(provider, sidecar.request)
            on_submit(handle)
            # Everything after the submit runs in a fresh client from the serialised
            # handle, as a worker process resuming the job would.
            obs.handle_json = handle.to_json()
            handle = obs.resumed_handle = JobHandle.from_json(obs.handle_json)
            client = fresh_client()
            continue
        if handle is None:
            raise LookupError(f"the find step found no job for the {step} step to follow")
        if step == "poll":
            obs.statuses.append(client.poll(handle))
        elif step == "cancel":
            obs.statuses.append(client.cancel(handle))
        else:
            obs.result = client.wait(handle, timeout=wait_timeout, on_progress=obs.statuses.append)
    obs.error_step = None
    last = obs.statuses[-1] if obs.statuses else None
    if obs.result is None and last is not None and last.state is JobState.SUCCEEDED:
        obs.result = last.result


def replay(scenario: Scenario, registry: Registry, provider: str, key: str) -> Observation:
    """Replay ``scenario``. A callback's cassette is the provider's POST, which the plugin
    reads and must answer with no request: nothing is played, and the clock stands at the
    signature's time. Its client has the sidecar's secret and takes unsigned callbacks,
    so the replay shows what the hook read (the callback check asks without the opt-in)."""
    obs = Observation(scenario=scenario)
    sidecar = scenario.sidecar
    clock = SteppedClock(sidecar.signed_at or EPOCH)
    transport = RecordingTransport()
    logs = LogCapture()
    watch = ClockWatch(plugin_modules(registry.plugin(provider)))
    player = (
        contextlib.nullcontext(None)
        if sidecar.callbacks
        else replayer().use_cassette(str(scenario.cassette), allow_playback_repeats=False)
    )
    try:
        with network_blocked(), player as cassette, logs.installed():
            obs.recorded = 0 if cassette is None else len(cassette)
            try:
                with watch.watching():
                    run_steps(
                        obs,
                        provider,
                        lambda: new_client(
                            registry,
                            provider,
                            key,
                            clock,
                            transport,
                            sidecar.settings,
                            webhook_secret=sidecar.webhook_secret,
                            unsigned_callbacks=sidecar.callbacks,
                            webhook_jwks=sidecar.webhook_jwks,
                        ),
                        wait_timeout=None,
                        on_step=lambda step: setattr(transport, "phase", step),
                    )
            except (UnrecordedRequest, NetworkBlocked) as exc:
                obs.harness_problem = (
                    f"step {obs.error_step}: {exc}; reading a callback does no I/O"
                    if sidecar.callbacks
                    else f"step {obs.error_step}: the plugin sent {exc}, which the cassette "
                    "does not hold (or whose recorded answer was already played)"
                )
            except CassetteFormatError as exc:  # a callback's cassette that holds no POST
                obs.harness_problem = str(exc)
            except Exception as exc:
                obs.error = exc
            obs.played = 0 if cassette is None else cassette.play_count
            obs.all_played = cassette is None or cassette.all_played
    except Exception as exc:  # the cassette itself could not be loaded
        obs.harness_problem = f"{scenario.cassette.name}: {type(exc).__name__}: {exc}"
    finally:
        transport.close()
    obs.sent = transport.sent
    obs.downloads = transport.downloads
    obs.logs = logs.messages
    obs.clock_calls = watch.calls
    return obs
