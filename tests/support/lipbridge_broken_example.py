"""Deliberately broken variants of the example plugin: the contract suite must fail each.

Every variant is the reference plugin with one realistic bug, registered under the
reference's name so it replays the reference's own cassettes.
"""

from __future__ import annotations

import socket
import time
from typing import Any

import attrs

from lipbridge import InvalidRequest, JobHandle, JobRequest, JobState, JobStatus, ProviderError
from lipbridge.plugin import CallContext, CallKind, ProviderInfo, hookimpl
from lipbridge_example import ExampleLipsync
from lipbridge_example.wire import JOBS, job_path, status_of, submit_body


class WrongStatus(ExampleLipsync):
    """Maps ``processing`` to queued: a slip in the status table."""

    @hookimpl
    def lipbridge_poll(self, handle: JobHandle, ctx: CallContext) -> JobStatus:
        status = super().lipbridge_poll(handle, ctx)
        if status.raw_status == "processing":
            return attrs.evolve(status, state=JobState.QUEUED)
        return status


class LeakyKey(ExampleLipsync):
    """Keeps the key in the handle "for later polls", where every saved handle shows it.

    (Quoting it in an error message no longer leaks: the core redacts every message.)
    """

    @hookimpl
    def lipbridge_submit(self, request: JobRequest, ctx: CallContext) -> JobHandle:
        handle = super().lipbridge_submit(request, ctx)
        return attrs.evolve(handle, resume={**handle.resume, "key": ctx.credentials.require()})


class Swallowed429(ExampleLipsync):
    """Turns every provider error into the generic base class, losing 429's meaning."""

    @hookimpl
    def lipbridge_submit(self, request: JobRequest, ctx: CallContext) -> JobHandle:
        try:
            return super().lipbridge_submit(request, ctx)
        except ProviderError as exc:
            raise ProviderError(f"request failed: {exc}", provider="example") from None


class MutatedBody(ExampleLipsync):
    """Sends ``video`` where the API wants ``video_url``."""

    @hookimpl
    def lipbridge_submit(self, request: JobRequest, ctx: CallContext) -> JobHandle:
        body = submit_body(request)
        body["video"] = body.pop("video_url")
        response = ctx.http.post(JOBS, kind=CallKind.SUBMIT, json=body)
        return ctx.new_handle(ctx.require(response, ctx.read(response), "id"), model=request.model)


class SleepyPoll(ExampleLipsync):
    """Waits a moment before each poll 'to be nice to the API'."""

    @hookimpl
    def lipbridge_poll(self, handle: JobHandle, ctx: CallContext) -> JobStatus:
        time.sleep(0.5)
        return super().lipbridge_poll(handle, ctx)


class KeyErrorPoll(ExampleLipsync):
    """Indexes the response without checking it has the expected shape."""

    @hookimpl
    def lipbridge_poll(self, handle: JobHandle, ctx: CallContext) -> JobStatus:
        response = ctx.http.get(job_path(handle.job_id), kind=CallKind.POLL)
        data: Any = response.json("example")
        return status_of(response, data, ctx, data["id"])


class PhonesHome(ExampleLipsync):
    """Looks up its API host while describing itself (I/O at load time)."""

    @hookimpl
    def lipbridge_provider_info(self) -> ProviderInfo:
        socket.getaddrinfo("api.example-lipsync.invalid", 443)
        return super().lipbridge_provider_info()


class LateValidation(ExampleLipsync):
    """Checks the temperature only after the provider has the job (and the money)."""

    @hookimpl
    def lipbridge_submit(self, request: JobRequest, ctx: CallContext) -> JobHandle:
        handle = super().lipbridge_submit(request, ctx)
        if request.temperature is not None and request.temperature > 0.3:
            raise InvalidRequest(
                "temperature above 0.3 is not allowed; allowed: 0 to 0.3", field="temperature"
            )
        return handle


class UnportableHandle(ExampleLipsync):
    """Keeps a number in the handle's resume data, which JSON cannot bring back as text."""

    @hookimpl
    def lipbridge_submit(self, request: JobRequest, ctx: CallContext) -> JobHandle:
        handle = super().lipbridge_submit(request, ctx)
        return attrs.evolve(handle, resume={"attempt": 1})


class NoExpiry(ExampleLipsync):
    """Drops the result URL's expiry time although the model documents a lifetime."""

    @hookimpl
    def lipbridge_poll(self, handle: JobHandle, ctx: CallContext) -> JobStatus:
        status = super().lipbridge_poll(handle, ctx)
        if status.result is None:
            return status
        return attrs.evolve(status, result=attrs.evolve(status.result, expires_at=None))


wrong_status = WrongStatus()
leaky_key = LeakyKey()
swallowed_429 = Swallowed429()
mutated_body = MutatedBody()
sleepy_poll = SleepyPoll()
key_error_poll = KeyErrorPoll()
phones_home = PhonesHome()
late_validation = LateValidation()
unportable_handle = UnportableHandle()
no_expiry = NoExpiry()
