"""The project's own sample media, generated on the spot: nothing is downloaded.

The video is a face-like test pattern (an oval face whose mouth opens and closes, and a
bar that sweeps across) with a frame-number strip along the top: eight black-or-white
cells holding the frame's index in binary. The strip survives lossy encoding, so a test
can read back which input frame a rendered output frame came from.

The speech is a voiced tone with syllable-like swells and short pauses; it sounds like
nobody, but it has the shape of speech. The emulator's TTS "speaks" the same tone, with
a length that follows the text and a pitch chosen by the voice name.

Everything is deterministic: the same arguments give the same bytes.
"""

from __future__ import annotations

import array
import io
import math
import sys
import wave
import zlib
from fractions import Fraction
from pathlib import Path

import av

from lipbridge_emulator.media import add_video_stream

# The TTS speaking rate: characters of text per second of speech.
TTS_CHARS_PER_SECOND = 14
TTS_MIN_SECONDS = 1.0

INDEX_BITS = 8  # the strip holds the frame index modulo 2**INDEX_BITS
_STRIP_ROWS = 1 / 8  # of the frame's height

# Opaque RGBA colours.
_BACKGROUND = bytes((40, 110, 140, 255))
_BAR = bytes((230, 200, 40, 255))
_SKIN = bytes((225, 185, 150, 255))
_FEATURE = bytes((60, 30, 30, 255))
_WHITE = bytes((255, 255, 255, 255))
_BLACK = bytes((0, 0, 0, 255))

# Syllables and pauses, in seconds, cycled: the rhythm of the speech-like tone.
_SYLLABLES = (0.22, 0.16, 0.28, 0.19, 0.24, 0.14, 0.31)
_PAUSES = (0.05, 0.04, 0.12, 0.05, 0.22, 0.04, 0.09)
_HARMONICS = (1.0, 0.55, 0.35, 0.2, 0.12)  # amplitudes of the fundamental and overtones


class _Canvas:
    """An RGBA picture drawn with horizontal spans (fast without numpy)."""

    def __init__(self, width: int, height: int, colour: bytes) -> None:
        self.width = width
        self.height = height
        self.pixels = bytearray(colour * (width * height))

    def span(self, y: int, x0: int, x1: int, colour: bytes) -> None:
        x0, x1 = max(0, x0), min(self.width, x1)
        if 0 <= y < self.height and x0 < x1:
            start = (y * self.width + x0) * 4
            self.pixels[start : start + (x1 - x0) * 4] = colour * (x1 - x0)

    def rect(self, x0: int, y0: int, x1: int, y1: int, colour: bytes) -> None:
        for y in range(max(0, y0), min(self.height, y1)):
            self.span(y, x0, x1, colour)

    def ellipse(self, cx: float, cy: float, rx: float, ry: float, colour: bytes) -> None:
        for y in range(max(0, math.floor(cy - ry)), min(self.height, math.ceil(cy + ry) + 1)):
            dy = (y + 0.5 - cy) / ry
            if abs(dy) < 1:
                half = rx * math.sqrt(1 - dy * dy)
                self.span(y, round(cx - half), round(cx + half), colour)


def _pattern(index: int, width: int, height: int) -> bytes:
    """Frame ``index`` of the test pattern, as RGBA bytes."""
    canvas = _Canvas(width, height, _BACKGROUND)
    strip = max(2, round(height * _STRIP_ROWS))
    bar = max(2, width // 20)
    x = (index * max(1, width // 40)) % width
    canvas.rect(x, strip, x + bar, height, _BAR)
    cx, cy, rx, ry = width / 2, strip + (height - strip) * 0.52, width * 0.22, height * 0.36
    canvas.ellipse(cx, cy, rx, ry, _SKIN)
    for side in (-1, 1):
        canvas.ellipse(cx + side * rx * 0.42, cy - ry * 0.3, rx * 0.14, ry * 0.1, _FEATURE)
    opening = 0.5 + 0.5 * math.sin(index * 2 * math.pi / 9)
    canvas.ellipse(cx, cy + ry * 0.45, rx * 0.45, 1 + ry * 0.2 * opening, _FEATURE)
    for bit in range(INDEX_BITS):
        on = (index >> (INDEX_BITS - 1 - bit)) & 1
        x0, x1 = width * bit // INDEX_BITS, width * (bit + 1) // INDEX_BITS
        canvas.rect(x0, 0, x1, strip, _WHITE if on else _BLACK)
    return bytes(canvas.pixels)


def frame_index(frame: av.VideoFrame) -> int:
    """The source index (modulo 2**INDEX_BITS) a test-pattern frame shows in its strip.

    Each cell's middle half is averaged, so encoding noise at the edges does not count.
    """
    width, height = frame.width, frame.height
    grey = frame.reformat(format="gray")
    plane = grey.planes[0]
    rows = bytes(plane)
    strip = max(2, round(height * _STRIP_ROWS))
    index = 0
    for bit in range(INDEX_BITS):
        x0, x1 = width * bit // INDEX_BITS, width * (bit + 1) // INDEX_BITS
        quarter_x, quarter_y = (x1 - x0) // 4, strip // 4
        cells = [
            rows[y * plane.line_size + x0 + quarter_x : y * plane.line_size + x1 - quarter_x]
            for y in range(quarter_y, strip - quarter_y)
        ]
        total = sum(sum(cell) for cell in cells)
        count = sum(len(cell) for cell in cells)
        index = index * 2 + (1 if total > 128 * count else 0)
    return index


def sample_video(
    seconds: float = 3.0, *, width: int = 160, height: int = 120, fps: int = 25
) -> bytes:
    """An MP4 (video only) of the moving face-like test pattern, ``round(seconds*fps)`` frames.

    Width and height must be even, as 4:2:0 video needs."""
    if width % 2 or height % 2:
        raise ValueError(f"width and height must be even, not {width}x{height}")
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = add_video_stream(container, Fraction(fps), width, height)
        for index in range(max(1, round(seconds * fps))):
            frame = av.VideoFrame.from_bytes(_pattern(index, width, height), width, height, "rgba")
            frame.pts = index
            frame.time_base = Fraction(1, fps)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return out.getvalue()


def _speech_like(seconds: float, rate: int, pitch: float) -> bytes:
    """Mono 16-bit WAV: a voiced tone at ``pitch`` Hz in syllable-like swells and pauses."""
    total = max(1, round(seconds * rate))
    samples = array.array("h", bytes(2 * total))
    phase, position, turn = 0.0, 0, 0
    while position < total:
        syllable = round(_SYLLABLES[turn % len(_SYLLABLES)] * rate)
        pause = round(_PAUSES[turn % len(_PAUSES)] * rate)
        # Each syllable glides a little in pitch, as voices do.
        glide = 1 + 0.08 * math.sin(turn * 1.7)
        for k in range(min(syllable, total - position)):
            envelope = math.sin(math.pi * k / syllable) ** 2
            f0 = pitch * glide * (1 - 0.1 * k / syllable)
            phase += 2 * math.pi * f0 / rate
            # sin(n*phase) for each harmonic by the Chebyshev recurrence: one sin, one cos.
            s_prev, s_cur, twice_cos = 0.0, math.sin(phase), 2 * math.cos(phase)
            value = 0.0
            for amplitude in _HARMONICS:
                value += amplitude * s_cur
                s_prev, s_cur = s_cur, twice_cos * s_cur - s_prev
            samples[position + k] = round(9000 * envelope * value / 2.2)
        position += syllable + pause
        turn += 1
    if sys.byteorder == "big":
        samples.byteswap()
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return out.getvalue()


def sample_speech(seconds: float = 4.0, *, rate: int = 16000) -> bytes:
    """A WAV (pcm_s16le, mono) of speech-like sound at a 160 Hz voice."""
    return _speech_like(seconds, rate, 160.0)


def tts_speech(text: str, voice: str, *, rate: int = 16000) -> bytes:
    """What the emulator's TTS says for ``text``: TTS_CHARS_PER_SECOND characters a second
    (at least TTS_MIN_SECONDS), at a pitch from 110 to 220 Hz picked by the voice's name."""
    seconds = max(TTS_MIN_SECONDS, len(text) / TTS_CHARS_PER_SECOND)
    pitch = 110.0 + zlib.crc32(voice.encode("utf-8")) % 111
    return _speech_like(seconds, rate, pitch)


def write_samples(directory: Path) -> tuple[Path, Path]:
    """Write sample.mp4 and speech.wav into ``directory``; returns their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    video, speech = directory / "sample.mp4", directory / "speech.wav"
    video.write_bytes(sample_video())
    speech.write_bytes(sample_speech())
    return video, speech
