"""The gateway's ``callback_url`` POSTs (FoxAPI documents them for lip-sync): the task, as
``GET /v1/tasks/{id}`` answers it, unsigned."""

from __future__ import annotations

import json

import attrs
import pytest
from test_gateway_mechanics import KEY, NAME, RESELLER

from lipbridge import CallbackRejected, Client, JobState, Registry, UnsupportedCapability
from lipbridge_contract.harness import SteppedClock
from lipbridge_gateway import CallingBackGateway, UploadingGateway

FIELDS = {f.name: getattr(RESELLER, f.name) for f in attrs.fields(type(RESELLER))}
# The task shape of the gateway's query page, as a completed callback carries it.
COMPLETED = {
    "id": "task-unified-1757165031-uyujaw3d", "object": "video.generation.task",
    "type": "video", "model": "lipsync-2", "status": "completed", "progress": 100,
    "created": 1757165031, "results": [{"url": "https://cdn.testgate.invalid/out.mp4"}],
    "error": None, "usage": {"credits_reserved": 5, "user_group": "default"},
}


def client_for(plugin: object, **options: object) -> Client:
    registry = Registry(candidates=[], environ={})
    registry.register(NAME, plugin)
    return Client(registry=registry, clock=SteppedClock(), api_keys={NAME: KEY},
                  environ={}, ledger=False, **options)  # type: ignore[arg-type]


def test_a_completed_task_reads_as_the_poll_would_and_stays_unverified() -> None:
    client = client_for(CallingBackGateway(**FIELDS), unsigned_callbacks={NAME})
    update = client.parse_callback(NAME, {"Content-Type": "application/json"},
                                   json.dumps(COMPLETED).encode())
    assert (update.job_id, update.verified) == (COMPLETED["id"], False)
    assert update.status.state is JobState.SUCCEEDED
    assert update.status.result is not None
    assert update.status.result.video_url == "https://cdn.testgate.invalid/out.mp4"


def test_completed_before_its_results_reads_as_still_running() -> None:
    client = client_for(CallingBackGateway(**FIELDS), unsigned_callbacks={NAME})
    early = {**COMPLETED, "results": None}
    update = client.parse_callback(NAME, {}, json.dumps(early).encode())
    assert update.status.state is JobState.RUNNING


def test_a_failed_task_carries_its_error() -> None:
    client = client_for(CallingBackGateway(**FIELDS), unsigned_callbacks={NAME})
    failed = {**COMPLETED, "status": "failed", "results": None,
              "error": {"code": "content_policy", "message": "face not found"}}
    update = client.parse_callback(NAME, {}, json.dumps(failed).encode())
    assert update.status.state is JobState.FAILED
    assert update.status.error is not None and "face not found" in update.status.error.message


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"status": "completed"}'])
def test_what_is_not_a_task_is_rejected(body: bytes) -> None:
    client = client_for(CallingBackGateway(**FIELDS), unsigned_callbacks={NAME})
    with pytest.raises(CallbackRejected, match="not a gateway task"):
        client.parse_callback(NAME, {}, body)


def test_without_the_opt_in_the_unsigned_callback_is_refused() -> None:
    client = client_for(CallingBackGateway(**FIELDS))
    with pytest.raises(CallbackRejected, match="does not sign its callbacks"):
        client.parse_callback(NAME, {}, json.dumps(COMPLETED).encode())


def test_a_reseller_that_documents_no_callback_reads_none() -> None:
    client = client_for(UploadingGateway(**FIELDS), unsigned_callbacks={NAME})
    with pytest.raises(UnsupportedCapability, match="documents no callback"):
        client.parse_callback(NAME, {}, json.dumps(COMPLETED).encode())
