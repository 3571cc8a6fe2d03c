"""The emulator, set up for end-to-end tests: virtual time, sample media, clients.

Tests that drive a real ``Client`` (or the CLI) against the emulator share this, so
each test only says what it checks. Time is a :class:`VirtualClock` shared by the
emulator and every client, so jobs that "take" a minute finish in milliseconds and no
test ever sleeps for real.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import random
import threading
from collections.abc import Callable, Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from attrs import define, field, frozen

from lipbridge import Client, JobRequest, Registry, SubmitOutcomeUnknown, SyncMode
from lipbridge.context import env_name
from lipbridge.media import probe_seconds
from lipbridge_emulator import CooperativeClock as VirtualClock
from lipbridge_emulator import Emulator, Timing, media, samples
from lipbridge_emulator.dialects import installed_dialects
from lipbridge_emulator.ledger import Accepted, Arrival, CallbackAttempt

# The plugins that ship with lipbridge; a test fails if one of them is not exercised.
FIRST_PARTY = frozenset({"aihubmax", "aimlapi", "fal", "foxapi", "jogg", "replicate", "syncso"})
SHORT, LONG = 2.0, 3.0  # input lengths (s) that differ, so every sync mode shows its rule
MINUTE_JOBS = Timing(job_seconds=60.0)  # long enough for queued, running and several polls


def emulated_providers() -> list[str]:
    """Providers the emulator speaks and that have an installed plugin, for parametrize."""
    spoken = {dialect.provider for dialect in installed_dialects()}
    return sorted(spoken & set(Registry(environ={}).names()))


@functools.cache
def sample_video(seconds: float) -> bytes:
    """Cached: the same bytes serve every test (and renders are shared per emulator)."""
    return samples.sample_video(seconds)


@functools.cache
def sample_speech(seconds: float) -> bytes:
    return samples.sample_speech(seconds)


@frozen
class Input:
    """An uploaded input: its URL on the emulator and its measured length."""

    url: str
    seconds: float


@frozen
class LedgerMark:
    arrivals: int
    accepted: int
    callbacks: int


@define
class Emulated:
    """A running emulator, its clock and the sample inputs uploaded to it."""

    emu: Emulator
    clock: VirtualClock
    videos: Mapping[float, Input]  # by nominal length in seconds
    speeches: Mapping[float, Input]
    frame: float  # one frame of the sample video, in seconds: the duration tolerance

    def client(self, provider: str, **kwargs: Any) -> Client:
        return client_for(self.emu, provider, self.clock, **kwargs)

    def env(self, provider: str, key: str | None = None) -> dict[str, str]:
        """The environment the CLI reads this provider's key and base URL from."""
        name = env_name(provider)
        return {
            f"LIPBRIDGE_{name}_API_KEY": self.emu.key if key is None else key,
            f"LIPBRIDGE_{name}_BASE_URL": self.emu.base_url(provider),
        }

    def mark(self) -> LedgerMark:
        """Where the ledger stands now; ``since`` returns what was recorded after it."""
        arrivals, accepted, callbacks = self.emu.ledger.snapshot()
        return LedgerMark(len(arrivals), len(accepted), len(callbacks))

    def since(
        self, mark: LedgerMark
    ) -> tuple[list[Arrival], list[Accepted], list[CallbackAttempt]]:
        arrivals, accepted, callbacks = self.emu.ledger.snapshot()
        return (
            arrivals[mark.arrivals :],
            accepted[mark.accepted :],
            callbacks[mark.callbacks :],
        )

    def settle(self, done: Callable[[], bool], within: float = 120.0) -> None:
        """Let virtual time pass (at most ``within`` s) until ``done()``; fail otherwise.

        For what the emulator does on its own threads, such as delivering callbacks.
        """
        deadline = self.clock.monotonic() + within
        while not done():
            if self.clock.monotonic() >= deadline:
                raise AssertionError(f"not done after {within} s of emulator time")
            self.clock.sleep(0.25)


def client_for(emu: Emulator, provider: str, clock: VirtualClock, **kwargs: Any) -> Client:
    """A client for ``provider`` on ``emu``, on ``clock``, blind to the host environment.

    ``key`` replaces the emulator's test key; other keywords go to :class:`Client`.
    """
    key = kwargs.pop("key", emu.key)
    kwargs.setdefault("rng", random.Random(0))
    return Client(
        clock=clock,
        environ={},
        api_keys={provider: key},
        base_urls={provider: emu.base_url(provider)},
        **kwargs,
    )


@contextlib.contextmanager
def emulated(
    *,
    timing: Timing = MINUTE_JOBS,
    lengths: tuple[float, ...] = (SHORT, LONG),
    **options: Any,
) -> Iterator[Emulated]:
    """Start an emulator on a fresh virtual clock with a sample video and speech of each
    length uploaded; ``options`` go to :class:`Emulator` (faults, seed, url_lifetime...)."""
    clock = VirtualClock()
    try:
        with Emulator(clock=clock, timing=timing, **options) as emu:
            videos = {s: _upload(emu, sample_video(s), f"face-{s:g}s.mp4") for s in lengths}
            speeches = {s: _upload(emu, sample_speech(s), f"speech-{s:g}s.wav") for s in lengths}
            fps = media.probe(sample_video(lengths[0])).fps
            assert fps, "the sample video must declare its frame rate"
            yield Emulated(emu=emu, clock=clock, videos=videos, speeches=speeches, frame=1 / fps)
    finally:
        clock.close()


def _upload(emu: Emulator, data: bytes, name: str) -> Input:
    return Input(url=emu.upload(data, name), seconds=media.probe(data).seconds)


def measured_seconds(path: Path) -> float:
    """An output's length, read from the file as a user would (lipbridge's own probe)."""
    return probe_seconds(path, "output")


@frozen
class Received:
    path: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@define
class CallbackTarget:
    """A tiny HTTP server on 127.0.0.1 that records every POST and answers ``statuses``
    in turn (the last one repeats), to watch a provider's callbacks arrive."""

    statuses: tuple[int, ...] = (200,)
    received: list[Received] = field(factory=list)
    _lock: threading.Lock = field(factory=threading.Lock)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the callback target is not started"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/cb"

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def __enter__(self) -> CallbackTarget:
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with target._lock:
                    target.received.append(
                        Received(
                            path=self.path,
                            headers={k.lower(): v for k, v in self.headers.items()},
                            body=body,
                        )
                    )
                    status = target.statuses[min(len(target.received), len(target.statuses)) - 1]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # A short poll interval: shutdown() waits for the serving loop to notice.
        threading.Thread(target=self._server.serve_forever, args=(0.01,), daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()


@contextlib.contextmanager
def answer_lost_once(start: dt.datetime) -> Iterator[Emulator]:
    """An emulator whose first submit makes its job and then loses the answer (reset
    after the work), on a clock from ``start``: what a provider's job lookup is for."""
    clock = VirtualClock(start=start)
    with Emulator(clock=clock, faults="submit:reset-after=1", timing=Timing(job_seconds=20)) as emu:
        yield emu


def lookup_request(emu: Emulator, sync_mode: SyncMode) -> JobRequest:
    """A request on a 1 s sample video and 1.5 s of speech uploaded to ``emu``."""
    video = emu.upload(samples.sample_video(1.0), "face.mp4")
    audio = emu.upload(samples.sample_speech(1.5), "speech.wav")
    return JobRequest(video=video, audio=audio, sync_mode=sync_mode)


def lose_submit(client: Client, provider: str, request: JobRequest) -> None:
    """Submit ``request``, whose answer the emulator loses: the outcome is unknown."""
    with pytest.raises(SubmitOutcomeUnknown):
        client.submit(provider, request)
