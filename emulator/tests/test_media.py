"""The emulator's real media: generated samples, probing, and rendering per sync mode.

Every rendered file is decoded back with PyAV: its length is checked against the sync
mode's documented rule, and its frame order is read from the test pattern's frame-number
strip, which survives two rounds of lossy encoding.
"""

from __future__ import annotations

import array
import contextlib
import io
import itertools
import sys
import wave
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from lipbridge.models import SyncMode
from lipbridge_emulator import media, samples
from lipbridge_emulator.samples import (
    TTS_CHARS_PER_SECOND,
    frame_index,
    sample_speech,
    sample_video,
    tts_speech,
)

FPS = 25
RATE = 16000

# The documented length rule (FoxAPI / sync.so), written out independently of the code.
RULE: dict[SyncMode, Callable[[float, float], float]] = {
    SyncMode.LOOP: lambda video, audio: audio,
    SyncMode.BOUNCE: lambda video, audio: audio,
    SyncMode.REMAP: lambda video, audio: audio,
    SyncMode.CUT_OFF: min,
    SyncMode.SILENCE: lambda video, audio: video,
}

# (video seconds, audio seconds): neither audio length is a whole number of frames.
ORDERS = {"video_longer": (2.0, 1.37), "audio_longer": (0.8, 2.13)}


def expected_order(mode: SyncMode, count: int, out_count: int) -> list[int]:
    """Which source frame each output frame shows, per the sync mode's description."""
    if mode is SyncMode.LOOP:
        return [i % count for i in range(out_count)]
    if mode is SyncMode.BOUNCE:
        there_and_back = list(range(count)) + list(range(count - 2, 0, -1))
        return [there_and_back[i % len(there_and_back)] for i in range(out_count)]
    if mode is SyncMode.REMAP:
        return [i * count // out_count for i in range(out_count)]
    return list(range(min(count, out_count)))  # cut_off, silence: the video as it is


class Output:
    """A rendered file decoded back: lengths, source frame order and audio samples."""

    def __init__(self, path: Path) -> None:
        with av.open(str(path)) as container:
            assert container.duration is not None
            self.seconds = container.duration / av.time_base
            assert len(container.streams.video) == 1
            assert len(container.streams.audio) == 1
            video, audio = container.streams.video[0], container.streams.audio[0]
            assert video.duration is not None and audio.duration is not None
            self.video_seconds = float(video.duration * video.time_base)
            self.audio_seconds = float(audio.duration * audio.time_base)
            self.fps = video.average_rate
            self.order = [frame_index(frame) for frame in container.decode(video)]
        with av.open(str(path)) as container:
            self.audio_rate = container.streams.audio[0].rate
            self.samples = array.array("f")
            for frame in container.decode(audio=0):
                self.samples.frombytes(bytes(frame.planes[0])[: frame.samples * 4])


@pytest.fixture(scope="module")
def inputs() -> dict[str, tuple[bytes, bytes]]:
    return {
        name: (sample_video(video), sample_speech(audio)) for name, (video, audio) in ORDERS.items()
    }


@pytest.mark.parametrize("order", list(ORDERS))
@pytest.mark.parametrize("mode", list(SyncMode))
def test_render_follows_the_sync_mode(
    mode: SyncMode, order: str, inputs: dict[str, tuple[bytes, bytes]], tmp_path: Path
) -> None:
    video_seconds, audio_seconds = ORDERS[order]
    expected = RULE[mode](video_seconds, audio_seconds)
    out = tmp_path / "out.mp4"

    returned = media.render(*inputs[order], mode, out)

    result = Output(out)
    frame = 1 / FPS
    assert result.fps == FPS
    assert abs(returned - expected) <= frame
    assert returned == pytest.approx(result.seconds)
    assert abs(result.video_seconds - expected) <= frame
    assert abs(result.audio_seconds - expected) <= 0.001  # trimmed or padded exactly
    count = round(video_seconds * FPS)
    assert result.order == expected_order(mode, count, round(expected * FPS))
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]  # no temporary left behind


def test_bounce_and_loop_differ_once_the_video_runs_out(tmp_path: Path) -> None:
    video, audio = sample_video(0.4), sample_speech(1.0)  # 10 frames, 25 output frames
    media.render(video, audio, SyncMode.BOUNCE, tmp_path / "bounce.mp4")
    media.render(video, audio, SyncMode.LOOP, tmp_path / "loop.mp4")

    bounce, loop = Output(tmp_path / "bounce.mp4").order, Output(tmp_path / "loop.mp4").order

    assert bounce[:19] == [*range(10), *range(8, -1, -1)]
    assert bounce[19:] == [1, 2, 3, 4, 5, 6]
    assert loop == [*range(10), *range(10), *range(5)]


def test_bounce_plays_back_across_keyframes_in_small_blocks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Frames are decoded when needed: backwards in blocks, each from the keyframe before
    it (the 12 s sample has one at 10 s), never all at once; the render opens the video
    twice in all (the first pass, then one decoder that seeks for every block)."""
    monkeypatch.setattr(media, "_HELD_BYTES", 7 * 160 * 120 * 3 // 2)  # seven frames
    opened: list[str] = []
    reading = media._reading

    def counted(data: bytes | Path, what: str) -> contextlib.AbstractContextManager[object]:
        opened.append(what)
        return reading(data, what)

    monkeypatch.setattr(media, "_reading", counted)
    out = tmp_path / "out.mp4"

    media.render(sample_video(12.0), sample_speech(16.0), SyncMode.BOUNCE, out)

    assert opened.count("the video") == 2
    expected = expected_order(SyncMode.BOUNCE, 300, 400)
    assert Output(out).order == [i % 2**samples.INDEX_BITS for i in expected]


@pytest.mark.parametrize("mode", [SyncMode.BOUNCE, SyncMode.LOOP])
def test_a_video_without_usable_stamps_is_decoded_again_from_its_start(
    mode: SyncMode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without pts to tell a frame by after a seek, each stretch (and each backward
    block) decodes from the first frame: slower, in the same order."""
    monkeypatch.setattr(media._Clip, "seekable", property(lambda self: False))
    monkeypatch.setattr(media, "_HELD_BYTES", 3 * 160 * 120 * 3 // 2)  # three frames
    out = tmp_path / "out.mp4"

    media.render(sample_video(0.4), sample_speech(1.0), mode, out)  # 10 frames, 25 out

    assert Output(out).order == expected_order(mode, 10, 25)


def test_silence_pads_the_audio_with_silence(tmp_path: Path) -> None:
    video, audio = sample_video(2.0), sample_speech(1.0)
    media.render(video, audio, SyncMode.SILENCE, tmp_path / "out.mp4")

    result = Output(tmp_path / "out.mp4")

    speech_end = result.audio_rate  # the speech lasts one second
    assert max(abs(s) for s in result.samples[:speech_end]) > 0.05
    # AAC smears a frame (1024 samples) across the edge; after that, silence.
    assert max(abs(s) for s in result.samples[speech_end + 2048 :]) < 0.001


def test_audio_from_an_mp4_keeps_its_declared_length(tmp_path: Path) -> None:
    """AAC decoders return the last frame's padding too; the speech's length is the
    track's own, so a loop over an MP4's audio is as long as that audio."""
    first = tmp_path / "first.mp4"
    speech_seconds = media.render(sample_video(0.6), sample_speech(1.37), SyncMode.LOOP, first)

    again = media.render(sample_video(0.6), first.read_bytes(), SyncMode.LOOP, tmp_path / "b.mp4")

    assert abs(again - speech_seconds) <= 1 / FPS
    assert abs(Output(tmp_path / "b.mp4").audio_seconds - 1.37) <= 0.001


def test_other_frame_rates_are_kept(tmp_path: Path) -> None:
    out = tmp_path / "out.mp4"

    seconds = media.render(sample_video(1.0, fps=30), sample_speech(1.51), SyncMode.LOOP, out)

    result = Output(out)
    assert result.fps == 30
    assert abs(seconds - 1.51) <= 1 / 30
    assert result.order == [i % 30 for i in range(round(1.51 * 30))]


def test_probe_reads_the_samples() -> None:
    video = media.probe(sample_video(1.0))
    speech = media.probe(sample_speech(1.25))

    assert video == media.Probe(
        seconds=1.0, has_video=True, has_audio=False, fps=25.0, width=160, height=120
    )
    assert speech == media.Probe(seconds=1.25, has_video=False, has_audio=True)


@pytest.mark.parametrize(
    "garbage", [b"", b"this is not media", bytes(range(256)) * 16], ids=["empty", "text", "noise"]
)
def test_garbage_raises_media_error(garbage: bytes, tmp_path: Path) -> None:
    with pytest.raises(media.MediaError, match="the input is not readable media"):
        media.probe(garbage)
    with pytest.raises(media.MediaError, match="the video is not readable media"):
        media.render(garbage, sample_speech(1.0), SyncMode.LOOP, tmp_path / "out.mp4")
    with pytest.raises(media.MediaError, match="the audio is not readable media"):
        media.render(sample_video(0.2), garbage, SyncMode.LOOP, tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


def test_inputs_without_the_needed_stream_raise_media_error(tmp_path: Path) -> None:
    video, speech = sample_video(0.2), sample_speech(0.5)
    with pytest.raises(media.MediaError, match="the video has no video stream"):
        media.render(speech, speech, SyncMode.LOOP, tmp_path / "out.mp4")
    with pytest.raises(media.MediaError, match="the audio has no audio stream"):
        media.render(video, video, SyncMode.LOOP, tmp_path / "out.mp4")
    assert list(tmp_path.iterdir()) == []


def test_sample_video_is_a_small_deterministic_numbered_pattern() -> None:
    video = sample_video(3.0)

    assert video == sample_video(3.0)
    assert video != sample_video(2.0)
    assert len(video) < 60_000
    with av.open(io.BytesIO(video)) as container:
        frames = list(container.decode(video=0))
    assert [frame_index(frame) for frame in frames] == list(range(75))
    # The picture moves: no two neighbouring frames are the same picture.
    pictures = [bytes(frame.reformat(format="gray").planes[0]) for frame in frames]
    assert all(a != b for a, b in itertools.pairwise(pictures))


def test_sample_video_refuses_odd_sizes() -> None:
    with pytest.raises(ValueError, match="must be even"):
        sample_video(1.0, width=161)


def read_wav(data: bytes) -> tuple[int, array.array[int]]:
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        pcm = array.array("h", wav.readframes(wav.getnframes()))
        rate = wav.getframerate()
    if sys.byteorder == "big":
        pcm.byteswap()
    return rate, pcm


def pitch(pcm: array.array[int], rate: int) -> float:
    """The fundamental of the first syllable's middle, by autocorrelation over 80-300 Hz."""
    peak = max(range(512, rate // 2, 64), key=lambda i: abs(pcm[i]))
    window = pcm[peak - 512 : peak + 512]
    lags = range(rate // 300, rate // 80)
    best = max(
        lags, key=lambda lag: sum(a * b for a, b in zip(window[:-lag], window[lag:], strict=True))
    )
    return rate / best


def test_sample_speech_is_deterministic_voiced_and_paused() -> None:
    data = sample_speech(2.0)

    assert data == sample_speech(2.0)
    rate, pcm = read_wav(data)
    assert rate == RATE
    assert len(pcm) == 2 * RATE
    loudness = [max(abs(s) for s in pcm[i : i + 320]) for i in range(0, len(pcm), 320)]
    assert sum(level > 2000 for level in loudness) > len(loudness) // 2  # mostly voiced
    assert sum(level < 50 for level in loudness) >= 3  # with pauses between syllables
    assert 100 <= pitch(pcm, rate) <= 250


def test_tts_length_follows_the_text() -> None:
    short_rate, short = read_wav(tts_speech("Hi.", "alloy"))
    long_text = "x" * (5 * TTS_CHARS_PER_SECOND)
    long_rate, long = read_wav(tts_speech(long_text, "alloy"))

    assert len(short) / short_rate == 1.0  # the minimum
    assert len(long) / long_rate == 5.0
    assert tts_speech(long_text, "alloy") == tts_speech(long_text, "alloy")


def test_tts_voice_sets_the_pitch() -> None:
    voices = ["alloy", "echo", "nova", "shimmer", "onyx"]
    pitches = []
    for voice in voices:
        rate, pcm = read_wav(tts_speech("Hello there.", voice))
        pitches.append(pitch(pcm, rate))

    assert all(100 <= p <= 230 for p in pitches)
    assert len({round(p / 5) for p in pitches}) > 1
    assert len({tts_speech("Hello there.", voice) for voice in voices}) == len(voices)


def test_write_samples(tmp_path: Path) -> None:
    video, speech = samples.write_samples(tmp_path / "media")

    assert (video.name, speech.name) == ("sample.mp4", "speech.wav")
    assert media.probe(video.read_bytes()).has_video
    assert media.probe(speech.read_bytes()).has_audio
