"""Real media for the emulator: probing inputs and rendering a job's output MP4.

The emulator does NOT move lips. It arranges the input video's frames in time the way
the sync mode is documented (FoxAPI / sync.so) and muxes the speech in, so a client gets
a real, decodable MP4 of the right length: what a provider returns, minus the lip-sync.

- loop: the video repeats from the start; bounce: forward, backward, forward...;
  remap: the frames are stretched or squeezed in time to fit the audio. All three last
  as long as the audio.
- cut_off: stops at the shorter of the two inputs.
- silence: lasts as long as the video; the audio is padded with silence (or trimmed).

Frames are decoded when the output needs them, never all at once (a decoded 720p minute
is 2 GB): a first pass counts them, forward stretches stream, a loop decodes again from
the start, and a backward stretch (bounce) is decoded in blocks from its far end, each
from the keyframe before it; one decoder, seeking, serves the whole render.

PyAV ships ffmpeg in its wheel: video is H.264 (libx264) where the wheel has it, else
MPEG-4 Part 2; audio is AAC.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Generator, Iterator, Sequence
from fractions import Fraction
from itertools import pairwise
from pathlib import Path
from typing import Literal

import av
import av.container
from attrs import frozen

from lipbridge.models import SyncMode
from lipbridge.pricing import output_seconds

VIDEO_CODEC: Literal["libx264", "mpeg4"] = (
    "libx264" if "libx264" in av.codecs_available else "mpeg4"
)
AUDIO_CODEC: Literal["aac"] = "aac"
_AAC_FRAME = 1024  # samples per AAC frame
_FALLBACK_RATE = 48000  # when the input's sample rate is one AAC cannot carry
_FLOAT = 4  # bytes per fltp sample
_HELD_BYTES = 8 * 2**20  # decoded frames a backward stretch may hold at once


class MediaError(Exception):
    """Input that cannot be read or decoded; the message says which input and why."""


@frozen(kw_only=True)
class Probe:
    """What an input holds; the video fields are None when it has no video stream."""

    seconds: float  # the container's length: its longest stream
    has_video: bool
    has_audio: bool
    fps: float | None = None
    width: int | None = None
    height: int | None = None


@frozen(kw_only=True)
class _Clip:
    """The input video as the first decoding pass found it; the frames themselves are
    decoded again when the output needs them."""

    data: bytes
    fps: Fraction
    width: int  # even: what yuv420p and the encoder need
    height: int
    stamps: tuple[int | None, ...]  # each frame's pts, in presentation order

    @property
    def seconds(self) -> float:
        return len(self.stamps) / float(self.fps)

    @property
    def seekable(self) -> bool:
        """Whether a frame can be told by its pts after a seek: all known and rising."""
        known = [pts for pts in self.stamps if pts is not None]
        return len(known) == len(self.stamps) and all(a < b for a, b in pairwise(known))


@frozen(kw_only=True)
class _Speech:
    channels: list[memoryview]  # float32 samples per channel (fltp planes), read-only
    rate: int
    layout: str

    @property
    def seconds(self) -> float:
        return len(self.channels[0]) / _FLOAT / self.rate


@contextlib.contextmanager
def _reading(data: bytes | Path, what: str) -> Iterator[av.container.InputContainer]:
    """Open media for reading; any ffmpeg failure inside becomes a MediaError naming it."""
    source = str(data) if isinstance(data, Path) else io.BytesIO(data)
    try:
        with av.open(source, "r") as container:
            yield container
    except (av.error.FFmpegError, OSError) as exc:
        raise MediaError(f"{what} is not readable media ({exc.strerror or exc})") from None


def _measure(container: av.container.InputContainer, what: str) -> Probe:
    if not container.streams.video and not container.streams.audio:
        raise MediaError(f"{what} has neither a video nor an audio stream")
    if container.duration is not None:
        seconds = container.duration / av.time_base
    else:
        spans = [
            float(s.duration * s.time_base)
            for s in container.streams
            if s.duration is not None and s.time_base is not None
        ]
        if not spans:
            raise MediaError(f"{what} does not say how long it is")
        seconds = max(spans)
    video = container.streams.video[0] if container.streams.video else None
    rate = None if video is None else video.average_rate or video.guessed_rate
    return Probe(
        seconds=seconds,
        has_video=video is not None,
        has_audio=bool(container.streams.audio),
        fps=None if rate is None else float(rate),
        width=None if video is None else video.codec_context.width,
        height=None if video is None else video.codec_context.height,
    )


def probe(data: bytes) -> Probe:
    """What ``data`` holds and how long it lasts, decoded from memory."""
    with _reading(data, "the input") as container:
        return _measure(container, "the input")


def add_video_stream(
    container: av.container.OutputContainer, fps: Fraction, width: int, height: int
) -> av.VideoStream:
    """A video stream with the emulator's encoder settings: fast, small, reproducible."""
    if VIDEO_CODEC == "libx264":
        # zerolatency: no B-frames and no lookahead, so x264 holds far fewer frames (a
        # process grows by 19 MiB at 720p, 46 with veryfast alone), and is faster. It
        # also turns mbtree off, without which the same frames encode to different bytes
        # from run to run (measured with PyAV 18's x264). One thread is as fast here.
        options = {"preset": "veryfast", "crf": "23", "tune": "zerolatency"}
    else:
        options = {"qscale": "4"}
    stream = container.add_stream(VIDEO_CODEC, rate=fps, options=options)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.codec_context.thread_count = 1
    return stream


def _read_video(data: bytes) -> _Clip:
    with _reading(data, "the video") as container:
        if not container.streams.video:
            raise MediaError("the video has no video stream")
        stream = container.streams.video[0]
        fps = stream.average_rate or stream.guessed_rate
        width, height = stream.codec_context.width // 2 * 2, stream.codec_context.height // 2 * 2
        if not fps or width == 0 or height == 0:
            raise MediaError("the video does not say its frame rate or size")
        stamps = tuple(decoded.pts for decoded in container.decode(stream))
    if not stamps:
        raise MediaError("the video has no frames")
    return _Clip(data=data, fps=Fraction(fps), width=width, height=height, stamps=stamps)


def _decode_from(
    clip: _Clip, container: av.container.InputContainer, start: int
) -> Generator[tuple[int, av.VideoFrame], None, None]:
    """The clip's frames from index ``start`` on, with their indices, ready to encode.

    ``container`` is the clip, opened once for the whole render. Where the stamps allow,
    it seeks to the keyframe before ``start``, so every stretch reuses its decoder (one
    decoder opened per block of a backward stretch left the heap megabytes larger, and
    was slower). Without the stamps, or should the seek land past ``start``, the clip is
    decoded again from its first frame, in a decoder of its own.
    """
    target = clip.stamps[start] if clip.seekable else None
    if target is not None:
        stream = container.streams.video[0]
        container.seek(target, backward=True, stream=stream)
        where = {pts: index for index, pts in enumerate(clip.stamps)}
        landed = False  # on a frame at or before start
        for decoded in container.decode(stream):
            index = where.get(decoded.pts, -1)
            landed = landed or index <= start
            if not landed:
                break
            if index >= start:
                yield index, _prepared(clip, decoded)
        if landed:
            return
    with _reading(clip.data, "the video") as again:
        for index, decoded in enumerate(again.decode(again.streams.video[0])):
            if index >= start:
                yield index, _prepared(clip, decoded)


def _prepared(clip: _Clip, decoded: av.VideoFrame) -> av.VideoFrame:
    """A decoded frame made ready to encode."""
    frame = decoded.reformat(width=clip.width, height=clip.height, format="yuv420p")
    # Forget the source's frame types: the encoder would take them as orders.
    frame.pict_type = av.video.frame.PictureType.NONE
    frame.time_base = 1 / clip.fps
    return frame


def _arranged(clip: _Clip, order: Sequence[int]) -> Generator[av.VideoFrame, None, None]:
    """The frames ``order`` names, one after another: each rising stretch streamed from
    the decoder, each falling one (bounce) in blocks that fit in ``_HELD_BYTES``."""
    with _reading(clip.data, "the video") as container:
        start = 0
        while start < len(order):
            stop = start + 1
            falling = stop < len(order) and order[stop] < order[start]
            while stop < len(order) and (order[stop] < order[stop - 1]) == falling:
                stop += 1
            run = order[start:stop]
            if falling:
                yield from _falling(clip, container, run)
            else:
                yield from _rising(clip, container, run)
            start = stop


def _rising(
    clip: _Clip, container: av.container.InputContainer, run: Sequence[int]
) -> Generator[av.VideoFrame, None, None]:
    with contextlib.closing(_decode_from(clip, container, run[0])) as frames:
        index, frame = next(frames)
        for wanted in run:
            while index < wanted:
                index, frame = next(frames)
            yield frame


def _falling(
    clip: _Clip, container: av.container.InputContainer, run: Sequence[int]
) -> Generator[av.VideoFrame, None, None]:
    block = max(1, _HELD_BYTES // (clip.width * clip.height * 3 // 2))
    for top in range(0, len(run), block):
        part = run[top : top + block]
        held: dict[int, av.VideoFrame] = {}
        with contextlib.closing(_decode_from(clip, container, part[-1])) as frames:
            for index, frame in frames:
                held[index] = frame
                if index >= part[0]:
                    break
        yield from (held[index] for index in part)


def _read_audio(data: bytes) -> _Speech:
    with _reading(data, "the audio") as container:
        if not container.streams.audio:
            raise MediaError("the audio has no audio stream")
        stream = container.streams.audio[0]
        aac_rates = av.Codec(AUDIO_CODEC, "w").audio_rates or ()
        rate = stream.rate if stream.rate in aac_rates else _FALLBACK_RATE
        layout = "stereo" if stream.channels >= 2 else "mono"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        channels = [bytearray() for _ in range(1 if layout == "mono" else 2)]
        for frame in container.decode(stream):
            _append(channels, resampler.resample(frame))
        _append(channels, resampler.resample(None))
        # An AAC decoder also returns the encoder's padding of the last frame; the
        # stream's declared length says where the speech really ends.
        if stream.duration is not None and stream.time_base is not None:
            end = round(stream.duration * stream.time_base * rate) * _FLOAT
            for channel in channels:
                del channel[end:]  # in place: a minute of speech is megabytes
    if not channels[0]:
        raise MediaError("the audio has no samples")
    return _Speech(
        channels=[memoryview(c).toreadonly() for c in channels], rate=rate, layout=layout
    )


def _append(channels: list[bytearray], frames: list[av.AudioFrame]) -> None:
    for frame in frames:
        for channel, plane in zip(channels, frame.planes, strict=True):
            channel += memoryview(plane)[: frame.samples * _FLOAT]


def _source_frame(mode: SyncMode, index: int, count: int, out_count: int) -> int:
    """Which input frame output frame ``index`` shows."""
    if mode is SyncMode.REMAP:
        return index * count // out_count
    if mode is SyncMode.BOUNCE and count > 1:
        step = index % (2 * count - 2)
        return step if step < count else 2 * count - 2 - step
    if mode is SyncMode.LOOP:
        return index % count
    return min(index, count - 1)  # cut_off and silence never run past the video


def _audio_frames(speech: _Speech, seconds: float) -> Iterator[av.AudioFrame]:
    """The speech trimmed or padded with silence to ``seconds``, in AAC-sized frames."""
    total = round(seconds * speech.rate)
    for start in range(0, total, _AAC_FRAME):
        size = min(_AAC_FRAME, total - start)
        frame = av.AudioFrame(format="fltp", layout=speech.layout, samples=size)
        for channel, plane in zip(speech.channels, frame.planes, strict=True):
            # Padded frame by frame: a padded copy of the whole speech would be megabytes.
            part = channel[start * _FLOAT : (start + size) * _FLOAT]
            plane.update(bytes(part).ljust(size * _FLOAT, b"\0"))
        frame.rate, frame.pts, frame.time_base = speech.rate, start, Fraction(1, speech.rate)
        yield frame


def _write(clip: _Clip, speech: _Speech, mode: SyncMode, seconds: float, path: str) -> None:
    out_count = max(1, round(seconds * clip.fps))
    count = len(clip.stamps)
    order = [_source_frame(mode, index, count, out_count) for index in range(out_count)]
    arranged = contextlib.closing(_arranged(clip, order))
    with arranged as frames, av.open(path, "w", format="mp4") as container:
        video = add_video_stream(container, clip.fps, clip.width, clip.height)
        # The fast coder halves the AAC encoder's time, the larger part of a render.
        audio = container.add_stream(
            AUDIO_CODEC, rate=speech.rate, layout=speech.layout, options={"aac_coder": "fast"}
        )
        audio_frames = _audio_frames(speech, seconds)
        pending, sent = next(audio_frames, None), 0
        for index, frame in enumerate(frames):
            # Interleave: the audio up to this frame's time goes first.
            while pending is not None and sent * clip.fps <= index * speech.rate:
                container.mux(audio.encode(pending))
                sent += pending.samples
                pending = next(audio_frames, None)
            frame.pts = index
            container.mux(video.encode(frame))
        while pending is not None:
            container.mux(audio.encode(pending))
            pending = next(audio_frames, None)
        container.mux(video.encode())
        container.mux(audio.encode())


def render(video: bytes, audio: bytes, mode: SyncMode, out: Path) -> float:
    """Write the job's output MP4 to ``out``; returns its duration measured from the file.

    The file appears at ``out`` complete or not at all (written aside, then renamed).
    """
    clip, speech = _read_video(video), _read_audio(audio)
    seconds = output_seconds(mode, clip.seconds, speech.seconds)
    assert seconds is not None  # both lengths are known
    handle, temp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    os.close(handle)
    try:
        _write(clip, speech, mode, seconds, temp)
        with _reading(Path(temp), "the rendered output") as container:
            measured = _measure(container, "the rendered output").seconds
        os.replace(temp, out)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return measured
