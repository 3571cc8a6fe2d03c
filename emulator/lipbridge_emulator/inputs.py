"""A job's inputs: fetching them, measuring them, and rendering the output from them.

The emulator fetches only from itself (uploaded files) and from ``data:`` URIs, so a test
never reaches the internet. Probes and renders are kept by content: jobs with the same
inputs and sync mode share one render, done in a worker pool.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from urllib.parse import unquote_to_bytes, urlsplit

from lipbridge.context import Clock
from lipbridge.pricing import output_seconds
from lipbridge_emulator import media, samples
from lipbridge_emulator.clock import Cooperative
from lipbridge_emulator.dialect import Dialect, Failure, JobSpec
from lipbridge_emulator.store import FileStore

Media = tuple[bytes, bytes]  # the video and the audio


class _FetchRefused(Exception):
    pass


class Inputs:
    def __init__(
        self,
        store: FileStore,
        own_url: Callable[[], str],
        marks: Cooperative,
        workers: int,
        clock: Clock,
    ) -> None:
        self._store = store
        self._clock = clock  # a file past its lifetime (an expired upload) is not fetched
        self._own_url = own_url  # the emulator's base URL, known once it serves
        self._marks = marks
        self._outputs = store.root / "outputs"
        self._outputs.mkdir(exist_ok=True)
        self._probes: dict[str, media.Probe] = {}
        self._renders: dict[tuple[str, str, str], Future[Path]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="emulator-render")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def prepare(
        self, dialect: Dialect, spec: JobSpec
    ) -> tuple[Failure | None, float | None, Media | None]:
        """Fetch and measure the inputs: (failure, output seconds, the media). A problem
        becomes the job's failure, as a provider accepts a job and fails it later when
        its download or decode fails."""
        try:
            video = self._fetch("video", spec.video, dialect)
            if spec.audio is not None:
                audio = self._fetch("audio", spec.audio, dialect)
            else:
                audio = samples.tts_speech(spec.tts_text or "", spec.tts_voice or "Auto")
        except _FetchRefused as refused:
            return Failure(code="fetch_failed", message=str(refused)), None, None
        try:
            v, a = self._probe(video), self._probe(audio)
        except media.MediaError as exc:
            return Failure(code="bad_media", message=str(exc)), None, None
        if not v.has_video or not a.has_audio:
            which = "video has no video stream" if not v.has_video else "audio has no audio"
            return Failure(code="bad_media", message=f"the {which}"), None, None
        seconds = output_seconds(spec.sync_mode, v.seconds, a.seconds)
        return None, seconds, (video, audio)

    def render(self, spec: JobSpec, inputs: Media) -> Future[Path]:
        """The output for these inputs and sync mode, rendered once; time is held (on a
        cooperative clock) until the future is done."""
        video, audio = inputs
        key = (
            hashlib.sha256(video).hexdigest(),
            hashlib.sha256(audio).hexdigest(),
            spec.sync_mode.value,
        )
        with self._lock:
            known = self._renders.get(key)
            if known is not None:
                return known
            out = self._outputs / f"{key[0][:16]}-{key[1][:16]}-{key[2]}.mp4"

            def work() -> Path:
                media.render(video, audio, spec.sync_mode, out)
                return out

            token = self._marks.hold()
            future = self._renders[key] = self._pool.submit(work)
            # Released once the future is done, not when work() returns: in between, virtual
            # time could move on while a poll still saw the render unfinished.
            future.add_done_callback(lambda _: self._marks.release(token))
            return future

    def _probe(self, data: bytes) -> media.Probe:
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            known = self._probes.get(digest)
        if known is None:
            known = media.probe(data)
            with self._lock:
                self._probes[digest] = known
        return known

    def _fetch(self, field: str, ref: str, dialect: Dialect) -> bytes:
        parts = urlsplit(ref)
        if parts.scheme == "data":
            if not dialect.accepts_data_uris:
                raise _FetchRefused(f"{field}: {dialect.provider} does not take data: URIs")
            header, _, payload = ref.partition(",")
            try:
                if header.endswith(";base64"):
                    return base64.b64decode(payload, validate=True)
                return unquote_to_bytes(payload)
            except (binascii.Error, ValueError):
                raise _FetchRefused(f"{field}: the data: URI is not valid base64") from None
        own = self._own_url()
        mine = urlsplit(own)
        if (parts.scheme, parts.netloc) != (mine.scheme, mine.netloc):
            raise _FetchRefused(
                f"{field}: could not download {parts.scheme}://{parts.netloc}: the emulator "
                f"fetches only files uploaded to it ({own}/files/...) and data: URIs"
            )
        segments = parts.path.strip("/").split("/")
        ours = len(segments) >= 2 and segments[0] == "files"
        stored = self._store.get(segments[1]) if ours else None
        if stored is None or not stored.path.is_file():
            raise _FetchRefused(f"{field}: {ref} answered 404 (no such uploaded file)")
        if stored.expires is not None and self._clock.now() >= stored.expires:
            raise _FetchRefused(f"{field}: {ref} answered 403 (it expired at {stored.expires})")
        return stored.path.read_bytes()
