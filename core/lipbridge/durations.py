"""The lengths a price is computed from: the inputs' as given or measured from local
files, and the output's from the sync mode."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from lipbridge.errors import AUDIO_SECONDS, VIDEO_SECONDS, InvalidRequest, Term
from lipbridge.media import length_problem
from lipbridge.models import JobRequest, MediaDurations, ProviderInfo
from lipbridge.pricing import needed_inputs, output_seconds
from lipbridge.validation import local_path

if TYPE_CHECKING:
    from lipbridge.routes import MediaRouter


def _is_duration(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and value >= 0


def media_durations(
    request: JobRequest,
    info: ProviderInfo,
    media: MediaRouter,
    *,
    video_seconds: float | None = None,
    audio_seconds: float | None = None,
) -> MediaDurations:
    """Input lengths as given, else probed from local files; output from the sync mode.
    A length given outside the model's limits is refused, as a local file's would be."""
    caps = info.model(request.model)
    mode = request.sync_mode or caps.default_sync_mode
    # Without a sync mode the output length is unknown whatever is given; the plugin
    # then prices from the inputs it got, or says why it cannot.
    needed = needed_inputs(mode) if mode is not None else ()
    known = {"video": video_seconds, "audio": audio_seconds}
    refs = {"video": request.video, "audio": request.audio}
    for name in ("video", "audio"):
        value = known[name]
        if value is not None and not _is_duration(value):
            raise InvalidRequest(
                f"{name}_seconds={value!r} is not a duration; allowed: a finite number of "
                "seconds >= 0",
                field=f"{name}_seconds",
            )
        if value is not None:
            known[name] = seconds = float(value) + 0.0  # -0.0 becomes 0.0
            problem = length_problem(seconds, name, caps.limits, f"{info.name}/{caps.name}")
            if problem:
                raise InvalidRequest(
                    f"{name}_seconds={seconds:g}; {problem}", field=f"{name}_seconds"
                )
        ref = refs[name]
        if value is None and ref and local_path(ref) and name in needed:
            known[name] = media.seconds(info, request, name)
    missing = [n for n in needed if known[n] is None and refs[n] is not None]
    if missing:
        terms = {"video": VIDEO_SECONDS, "audio": AUDIO_SECONDS}  # the CLI's --*-duration
        wanted: list[str | Term] = [terms[missing[0]]]
        for name in missing[1:]:
            wanted += [" and ", terms[name]]
        raise InvalidRequest(
            "cannot tell the output length",
            field=f"{missing[0]}_seconds",
            hint=("give ", *wanted, " or a local file to measure"),
        )
    return MediaDurations(
        video_seconds=known["video"],
        audio_seconds=known["audio"],
        output_seconds=output_seconds(mode, known["video"], known["audio"]),
    )
