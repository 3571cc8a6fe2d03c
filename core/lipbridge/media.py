"""Local media files: what each one is, checked before anything is uploaded or sent; how
long it lasts, for cost estimates; and its digest, the key an upload is reused under.

PyAV (the ``media`` extra) does the probing; it ships ffmpeg in its wheel, so there is
no system dependency. Without it a local file is still checked for being there, readable
and within the size limit, but not for its streams or length (the provider checks those);
estimates then need the durations passed explicitly.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

from attrs import frozen

from lipbridge.errors import ConfigurationError, InvalidRequest
from lipbridge.inline import media_type
from lipbridge.models import InputLimits, shown

CHUNK = 1 << 20  # read size for digests: memory stays flat whatever the file's size


@frozen(kw_only=True)
class Probe:
    """A local input file as probed: ``field`` is the request field it fills;
    ``duration`` is None when PyAV is not installed."""

    path: Path
    field: str
    size: int
    media_type: str
    duration: float | None


def probe_file(ref: str, path: Path, *, field: str, limits: InputLimits, where: str) -> Probe:
    """``path`` (``ref`` as the user gave it) checked as the ``field`` input of the model
    ``where`` names: there, a readable file, within its size and length limits, and, with
    PyAV, media with a stream of its kind. Raises :class:`InvalidRequest` naming the field,
    the value and what is allowed.

    An audio input needs an audio stream; a container that also holds video passes when
    its suffix is one of the model's audio formats (validation checks that), since the
    provider reads its audio track.
    """

    def refused(problem: str) -> InvalidRequest:
        return InvalidRequest(f"{field}={shown(ref)} {problem}", field=field)

    kind = f"{'an' if field == 'audio' else 'a'} {field} file"

    try:
        info = path.stat()
    except FileNotFoundError:
        raise InvalidRequest(f"{field}={shown(ref)}: no such file", field=field) from None
    except OSError as exc:
        raise refused(f"cannot be read: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise refused(f"is a folder; allowed: {kind}")
    if not os.access(path, os.R_OK):
        raise refused("cannot be read: Permission denied")
    max_bytes = limits.max_video_bytes if field == "video" else limits.max_audio_bytes
    if max_bytes is not None and info.st_size > max_bytes:
        raise refused(f"is {info.st_size} bytes; allowed: at most {max_bytes} bytes for {where}")
    duration = _streams_and_duration(path, field, kind, refused)
    problem = None if duration is None else length_problem(duration, field, limits, where)
    if problem:
        raise refused(f"lasts {duration:.2f} s; {problem}")
    return Probe(
        path=path, field=field, size=info.st_size, media_type=media_type(path), duration=duration
    )


def length_problem(seconds: float, field: str, limits: InputLimits, where: str) -> str | None:
    """What is allowed, when ``seconds`` of the ``field`` input is outside the model's
    lengths (``where`` names the model); None when it is within them."""
    least = limits.min_video_seconds if field == "video" else limits.min_audio_seconds
    most = limits.max_video_seconds if field == "video" else limits.max_audio_seconds
    if (least is None or seconds >= least) and (most is None or seconds <= most):
        return None
    if least is None:
        allowed = f"at most {most:g} s"
    elif most is None:
        allowed = f"at least {least:g} s"
    else:
        allowed = f"{least:g} to {most:g} s"
    return f"allowed: {allowed} for {where}"


def nearest_length(seconds: float, field: str, limits: InputLimits) -> float:
    """``seconds`` moved into the ``field`` input's declared lengths: what a sample price
    is computed for when the sample length itself would be refused."""
    least = limits.min_video_seconds if field == "video" else limits.min_audio_seconds
    most = limits.max_video_seconds if field == "video" else limits.max_audio_seconds
    if least is not None and seconds < least:
        return float(least)
    return float(most) if most is not None and seconds > most else seconds


def _streams_and_duration(
    path: Path, field: str, kind: str, refused: Callable[[str], InvalidRequest]
) -> float | None:
    """The file's length in seconds, after checking it holds a ``field`` stream; None
    without PyAV, or when the container tells no length."""
    try:
        import av
    except ImportError:
        return None
    try:
        with av.open(str(path)) as container:
            kinds = {stream.type for stream in container.streams}
            if field not in kinds:
                holds = " and ".join(sorted(k for k in kinds if k in ("audio", "video")))
                raise refused(
                    f"has no {field} stream (it holds {holds or 'no audio or video'}); "
                    f"allowed: {kind}"
                )
            return _duration(container)
    except (OSError, av.error.FFmpegError) as exc:
        why = getattr(exc, "strerror", None) or exc
        raise refused(f"is not media PyAV can read ({why}); allowed: {kind}") from None


def _duration(container: Any) -> float | None:
    if container.duration is not None:
        return float(container.duration) / 1_000_000  # av.time_base
    streams = [s for s in container.streams if s.duration and s.time_base]
    if streams:
        return max(float(s.duration * s.time_base) for s in streams)
    return None


def probe_seconds(path: Path, field: str) -> float:
    """The length of the media at ``path``, for an estimate: PyAV is needed here."""
    try:
        import av
    except ImportError:
        raise ConfigurationError(
            f"measuring {field}={str(path)!r} needs PyAV: pip install 'lipbridge[media]', "
            f"or pass the {field} duration in seconds"
        ) from None
    try:
        with av.open(str(path)) as container:
            seconds = _duration(container)
    except (OSError, av.error.FFmpegError) as exc:
        raise InvalidRequest(
            f"{field}={str(path)!r} is not readable media: {exc}", field=field
        ) from None
    if seconds is None:
        raise InvalidRequest(f"{field}={str(path)!r} has no duration", field=field)
    return seconds


def digest(path: Path) -> tuple[int, str]:
    """The file's size and sha256 (hex), read in chunks so memory does not grow with it."""
    sha, size = hashlib.sha256(), 0
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()
