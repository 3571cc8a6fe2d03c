"""Replicate's JSON, to and from lipbridge's canonical types.

Errors are RFC 7807 problem details (``application/problem+json``): ``{"title",
"detail", "status"}``, and a 422 for input validation adds ``invalid_fields`` [{type,
field, description}] (whose descriptions ``detail`` already lists). The HTTP status picks
the class (402 "Billing required" / "Insufficient credit" is InsufficientCredits); the
``title`` is the error's code.

A prediction (``GET /v1/predictions/{id}``) has ``status`` starting, processing,
succeeded, failed or canceled (the SDK's enum), or aborted (the 2025-10-16 changelog: a
``Cancel-After`` deadline reached before it started); ``logs``, one cumulative string;
``output``, for the lip-sync models a URL string (``{"format": "uri", "type":
"string"}``), for other Cog models possibly a list or an object; ``error``, a string;
``metrics.predict_time``, the compute seconds it used, "won't include time waiting for
the prediction to start"; ``completed_at``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit

from lipbridge import (
    BilledUsage,
    JobError,
    JobRequest,
    JobResult,
    JobState,
    JobStatus,
)
from lipbridge.plugin import (
    CallContext,
    ModelCapabilities,
    Response,
    StatusMap,
    dig,
    log_lines,
    message_text,
    number,
    request_body,
    text,
    timestamp,
)

NAME = "replicate"
PREDICTIONS = "/v1/predictions"
FILES = "/v1/files"
# "All input parameters, output values, and logs are automatically removed after an hour,
# by default, for predictions created through the API" (the prediction reference).
OUTPUT_TTL_SECONDS = 3600.0
COMPUTE_UNIT = "GPU-second"

STATUSES = StatusMap(
    {
        "starting": JobState.QUEUED,
        "processing": JobState.RUNNING,
        "succeeded": JobState.SUCCEEDED,
        "failed": JobState.FAILED,
        "canceled": JobState.CANCELLED,
        # Not in the SDK's enum; the changelog's deadline outcome, and not billed. It did
        # not run, so it is a failure saying so rather than a cancel the user asked for.
        "aborted": JobState.FAILED,
    }
)
ABORTED = "aborted"

MESSAGE = ("detail",)
CODE: list[tuple[str | int, ...]] = [("title",)]

# Each model's input field for lipbridge's request fields, from its version's API page;
# a request field a model has no entry for is refused by its capabilities first.
INPUTS: Mapping[str, Mapping[str, str]] = {
    "lipsync-2": {
        "video": "video",
        "audio": "audio",
        "sync_mode": "sync_mode",
        "temperature": "temperature",
        "active_speaker": "active_speaker",
    },
    "lipsync-2-pro": {
        "video": "video",
        "audio": "audio",
        "sync_mode": "sync_mode",
        "temperature": "temperature",
        "active_speaker": "active_speaker",
    },
    "latentsync": {"video": "video", "audio": "audio"},
}
# Output list items and object keys that name the video, in preference.
VIDEO_SUFFIXES = (".mp4", ".mov", ".webm", ".mkv", ".avi")
VIDEO_KEYS = ("video", "output", "url")


def base_name(model: str) -> str:
    """``lipsync-2`` of ``lipsync-2@<version>``."""
    return model.partition("@")[0]


def prediction_path(prediction_id: str) -> str:
    """``/v1/predictions/{id}``; escaped, so a stored handle cannot steer the path."""
    return f"{PREDICTIONS}/{quote(prediction_id, safe='')}"


def create(request: JobRequest, caps: ModelCapabilities) -> tuple[str, dict[str, Any]]:
    """The create's path and body: a pinned version through ``POST /v1/predictions``
    ``{version, input}``, an official model (no version: Replicate runs its latest)
    through ``POST /v1/models/{owner}/{name}/predictions`` ``{input}``. Options named in
    the model's ``envelope_options`` go beside ``input``; the rest into it."""
    fields = INPUTS[base_name(caps.name)]
    values = {
        "video": request.video,
        "audio": request.audio,
        "sync_mode": request.sync_mode.value if request.sync_mode else None,
        "temperature": request.temperature,
        "active_speaker": request.active_speaker,
    }
    inputs, envelope = split_envelope(request.options, caps)
    body = request_body(
        {
            "input": request_body({fields[k]: v for k, v in values.items() if k in fields}, inputs),
            "webhook": request.callback_url,
        },
        envelope,
    )
    if caps.version is None:
        return f"/v1/models/{caps.native_id or caps.name}/predictions", body
    return PREDICTIONS, {"version": caps.version, **body}


def split_envelope(
    options: Mapping[str, Any], caps: ModelCapabilities
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the model's input options, the envelope's): see ``ModelCapabilities.envelope_options``."""
    from lipbridge.plugin import split_options

    return split_options(options, caps.envelope_options)


def read(response: Response, ctx: CallContext, job_id: str | None = None) -> Mapping[str, Any]:
    """The JSON object of a 2xx answer; any other raises its mapped error."""
    return ctx.read(response, job_id, message=MESSAGE, code=CODE)


def video_url(output: object) -> str | None:
    """The output video's URL: a URL string as is; from a list, the first item ending in a
    video suffix, else its last string; from an object, its first of :data:`VIDEO_KEYS`."""
    if isinstance(output, list):
        found = [item for item in output if isinstance(item, str)]
        videos = [u for u in found if urlsplit(u).path.lower().endswith(VIDEO_SUFFIXES)]
        if videos:
            return videos[0]
        return found[-1] if found else None
    if isinstance(output, Mapping):
        return next((u for u in map(text, (output.get(k) for k in VIDEO_KEYS)) if u), None)
    return text(output)


def billed(data: Mapping[str, Any], caps: ModelCapabilities) -> BilledUsage | None:
    """``metrics.predict_time`` in GPU-seconds for a model billed by its hardware's time;
    an official model is billed by its output ("priced by predictable metrics"), which a
    prediction does not state, so none."""
    seconds = number(dig(data, "metrics", "predict_time"))
    if caps.version is None or seconds is None:
        return None
    return BilledUsage(amount=Decimal(str(seconds)), unit=COMPUTE_UNIT)


def status_of(
    response: Response,
    data: Mapping[str, Any],
    ctx: CallContext,
    job_id: str,
    caps: ModelCapabilities,
) -> JobStatus:
    """A prediction as a status. Its output lives an hour after it completes (then it is
    null, ``data_removed`` true), so a succeeded one carries when its URL lapses."""
    raw = ctx.require(response, data, "status", job_id=job_id)
    state = STATUSES.state(raw)
    result = error = None
    if state is JobState.SUCCEEDED:
        url = video_url(data.get("output"))
        if url is None:
            error = JobError(
                message="the prediction succeeded but its output is gone: Replicate removes "
                "API predictions' outputs an hour after they complete"
                if data.get("data_removed") is True
                else "the prediction succeeded with no video URL in its output",
                phase="result",
            )
            state = JobState.FAILED
        else:
            done = timestamp(data.get("completed_at")) or ctx.clock.now()
            result = JobResult(
                video_url=url,
                expires_at=done + dt.timedelta(seconds=OUTPUT_TTL_SECONDS),
                billed=billed(data, caps),
            )
    elif state is JobState.FAILED:
        said = message_text(data.get("error"))
        if raw.lower() == ABORTED:
            said = "its Cancel-After deadline passed before it started (not billed)"
        error = JobError(message=said or f"the prediction ended {raw} with no message")
    logs = log_lines(data.get("logs"))
    return JobStatus(state=state, raw_status=raw, result=result, error=error, logs=logs)
