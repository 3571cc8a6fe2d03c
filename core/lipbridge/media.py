"""Reading the duration of local media files, for cost estimates.

PyAV (the ``media`` extra) does the probing; it ships ffmpeg in its wheel, so there is
no system dependency. Without it, passing durations explicitly still works.
"""

from __future__ import annotations

from pathlib import Path

from lipbridge.errors import ConfigurationError, InvalidRequest


def probe_seconds(path: Path, field: str) -> float:
    try:
        import av
    except ImportError:
        raise ConfigurationError(
            f"measuring {field}={str(path)!r} needs PyAV: pip install 'lipbridge[media]', "
            f"or pass the {field} duration in seconds"
        ) from None
    try:
        with av.open(str(path)) as container:
            if container.duration is not None:
                return float(container.duration) / 1_000_000  # av.time_base
            streams = [s for s in container.streams if s.duration and s.time_base]
            if streams:
                return max(float(s.duration * s.time_base) for s in streams)
    except (OSError, av.error.FFmpegError) as exc:
        raise InvalidRequest(
            f"{field}={str(path)!r} is not readable media: {exc}", field=field
        ) from None
    raise InvalidRequest(f"{field}={str(path)!r} has no duration", field=field)
