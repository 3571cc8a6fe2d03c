"""Deliberately broken variants of the example plugin: the contract suite must fail each.

Every variant is the reference plugin with one realistic bug, registered under the
reference's name so it replays the reference's own cassettes.
"""

from __future__ import annotations

import time
from typing import Any

import attrs
from lipbridge_example import ExampleLipsync
from lipbridge_example.wire import JOBS, job_id_of, job_path, read, status_of, submit_body

from lipbridge import (
    AuthenticationError,
    CallContext,
    CallKind,
    JobHandle,
    JobRequest,
    JobState,
    JobStatus,
    ProviderError,
    hookimpl,
)


class WrongStatus(ExampleLipsync):
    """Maps ``processing`` to queued: a slip in the status table."""

    @hookimpl
    def lipbridge_poll(self, handle: JobHandle, ctx: CallContext) -> JobStatus:
        status = super().lipbridge_poll(handle, ctx)
        if status.raw_status == "processing":
            return attrs.evolve(status, state=JobState.QUEUED)
        return status


class LeakyKey(ExampleLipsync):
    """Helpfully quotes the key it sent when the provider refuses it."""

    @hookimpl
    def lipbridge_submit(self, request: JobRequest, ctx: CallContext) -> JobHandle:
        try:
            return super().lipbridge_submit(request, ctx)
        except AuthenticationError as exc:
            raise AuthenticationError(
                f"key {ctx.credentials.require()} was refused", provider="example",
                http_status=exc.http_status,
            ) from None


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
        return ctx.new_handle(job_id_of(response, read(response, ctx)), model=request.model)


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
        return status_of(response, data, data["id"])


wrong_status = WrongStatus()
leaky_key = LeakyKey()
swallowed_429 = Swallowed429()
mutated_body = MutatedBody()
sleepy_poll = SleepyPoll()
key_error_poll = KeyErrorPoll()
