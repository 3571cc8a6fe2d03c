"""The emulator's engine: jobs, timing, inputs, billing, faults and the ledger.

Everything here is provider-neutral; a :class:`Dialect` translates. Job state is a pure
function of the clock (no thread per job), so thousands of jobs cost only memory, and
renders are shared between jobs with the same inputs and sync mode.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import attrs
from attrs import define, frozen

from lipbridge.context import Clock, SystemClock
from lipbridge.http import fingerprint
from lipbridge.pricing import output_seconds
from lipbridge_emulator import media, samples
from lipbridge_emulator.callbacks import CallbackSender
from lipbridge_emulator.clock import cooperation
from lipbridge_emulator.dialect import (
    Dialect,
    Endpoint,
    Failure,
    JobSpec,
    JobView,
    Problem,
    Reply,
    Request,
    State,
)
from lipbridge_emulator.faults import FaultSpec, draw, parse
from lipbridge_emulator.ledger import Accepted, Arrival, Ledger
from lipbridge_emulator.store import FileStore

DEFAULT_KEY = "lb-test-key"
DEFAULT_CREDITS = Decimal(10) ** 9
QUEUED_SHARE = 0.2  # of a job's duration spent queued
SERVER_ERRORS = (500, 502, 503, 504)
RESET = "reset"  # a handle() outcome: drop the connection with a TCP reset


@frozen(kw_only=True)
class Timing:
    """How long jobs take. ``job_seconds`` None: 10 s plus 3 s per output second, the
    order of magnitude providers show; ``speed`` divides every emulated duration."""

    job_seconds: float | None = None
    speed: float = 1.0
    results_lag: float = 1.0  # "completed" before results, where the dialect has that race

    def duration(self, output: float) -> float:
        base = self.job_seconds if self.job_seconds is not None else 10.0 + 3.0 * output
        return base / self.speed


@frozen(kw_only=True)
class Incoming:
    """What the HTTP layer hands the engine; the body is read only when asked for."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    read_body: Callable[[], bytes]


@frozen
class _ServerError:
    status: int
    after_work: bool  # the job was created before the failure (submit only)


@frozen
class FileReply:
    path: Path
    name: str


Outcome = Reply | FileReply | str  # str: RESET


@define(kw_only=True)
class _Job:
    id: str
    dialect: Dialect
    spec: JobSpec
    created: float
    created_at: dt.datetime
    done: float
    results: float
    output_seconds: float | None
    charge: Decimal
    failure: Failure | None
    render: Future[Path] | None
    token: str | None = None


class Emulator:
    """Local stand-ins for the providers' APIs over one HTTP port.

    Use as a context manager (``with Emulator() as emu: emu.base_url("foxapi")``) or
    from the command line (``lipbridge emulator``).
    """

    def __init__(
        self,
        *,
        dialects: Iterable[Dialect] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        key: str = DEFAULT_KEY,
        timing: Timing = Timing(),
        faults: FaultSpec | str | None = None,
        seed: int = 0,
        clock: Clock | None = None,
        url_lifetime: float | None = None,
        credits: Mapping[str, Decimal | int] | None = None,
        render_workers: int = 2,
        root: Path | None = None,
    ) -> None:
        from lipbridge_emulator.dialects import installed_dialects

        chosen = list(dialects) if dialects is not None else installed_dialects()
        self.dialects = {d.provider: d for d in chosen}
        self.host, self._port = host, port
        self.key = key
        self.timing = timing
        self.faults = faults if isinstance(faults, FaultSpec) else parse(faults)
        self.seed = seed
        self.clock: Clock = clock or SystemClock()
        self._marks = cooperation(self.clock)
        self.url_lifetime = url_lifetime
        self.credits = {name: DEFAULT_CREDITS for name in self.dialects}
        self.credits.update({k: Decimal(v) for k, v in (credits or {}).items()})
        self.ledger = Ledger()
        self.store = FileStore(root)
        self._outputs = self.store.root / "outputs"
        self._outputs.mkdir(exist_ok=True)
        self._jobs: dict[tuple[str, str], _Job] = {}
        self._renders: dict[tuple[str, str, str], Future[Path]] = {}
        self._probes: dict[str, media.Probe] = {}
        self._attempts: Counter[tuple[str, str]] = Counter()
        self._windows: dict[str, float] = {}  # endpoint -> end of its 429 window
        self._lock = threading.RLock()
        self._pool = ThreadPoolExecutor(render_workers, thread_name_prefix="emulator-render")
        self._callbacks = CallbackSender(self.clock, self.ledger)
        self._server: Any = None

    # -- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> Emulator:
        from lipbridge_emulator.server import serve

        self._server = serve(self, self.host, self._port)
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._callbacks.close()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.store.close()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def base_url(self, provider: str) -> str:
        """The base URL a plugin for ``provider`` should use (its mount point)."""
        if provider not in self.dialects:
            raise KeyError(f"the emulator speaks {sorted(self.dialects)}, not {provider!r}")
        return f"{self.url}/{provider}"

    # -- files and accounts -------------------------------------------------------------------

    def upload(self, data: bytes, name: str) -> str:
        """Serve ``data`` as an input file and return its URL (uploads never expire)."""
        return self._file_url(self.store.add_bytes(data, name), name)

    def serve_path(self, path: Path, name: str | None = None) -> str:
        """Serve an existing file without copying it (large benchmark outputs)."""
        name = name or path.name
        return self._file_url(self.store.add_path(path, name), name)

    def _file_url(self, token: str, name: str) -> str:
        return f"{self.url}/files/{token}/{Path(name).name}"

    def set_credits(self, provider: str, amount: Decimal | int | str) -> None:
        with self._lock:
            self.credits[provider] = Decimal(amount)

    def jobs(self, provider: str | None = None) -> list[JobView]:
        with self._lock:
            jobs = [j for (p, _), j in self._jobs.items() if provider in (None, p)]
        return [self._view(job) for job in jobs]

    # -- requests -----------------------------------------------------------------------------

    def handle(self, incoming: Incoming) -> Outcome:
        """Answer one HTTP request (the server calls this on its handler thread)."""
        with self._marks.busy():
            head, _, rest = incoming.path.lstrip("/").partition("/")
            arrival = self.ledger.arrive(
                Arrival(at=self.clock.monotonic(), method=incoming.method, path=incoming.path)
            )
            if head == "files":
                return self._files(incoming, rest, arrival)
            if head == "_emulator":
                return self._control(incoming, rest, arrival)
            dialect = self.dialects.get(head)
            if dialect is None:
                arrival.status = 404
                known = ", ".join(f"/{p}" for p in sorted(self.dialects))
                return Reply.json(404, {"error": f"no provider at /{head}; mounts: {known}"})
            return self._provider(dialect, incoming, "/" + rest, arrival)

    def _provider(
        self, dialect: Dialect, incoming: Incoming, path: str, arrival: Arrival
    ) -> Outcome:
        arrival.provider = dialect.provider
        probe = Request(  # everything but the body, which may not be read (reset-before)
            method=incoming.method,
            path=path,
            query=incoming.query,
            headers=incoming.headers,
            base_url=self.base_url(dialect.provider),
        )
        route = dialect.route(probe)
        if route is None:
            return self._answer(arrival, dialect.problem(Problem.UNSUPPORTED, f"no route {path}"))
        endpoint = route.endpoint.value
        arrival.endpoint = endpoint
        faults = self.faults.for_target(endpoint)
        nth = self._attempt(endpoint, "#arrival")
        if draw(self.seed, endpoint, "reset-before", nth) < faults.reset_before:
            arrival.fault = "reset-before"
            return RESET
        body = incoming.read_body()
        request = attrs.evolve(probe, body=body)
        identity = route.job_id or fingerprint(body)
        arrival.identity = identity
        attempt = self._attempt(endpoint, identity)
        limited = self._rate_limited(dialect, endpoint, identity, attempt, arrival)
        if limited is not None:
            return limited
        error = self._server_error(endpoint, identity, attempt)
        if error is not None and not error.after_work:
            arrival.fault = "5xx"
            reply = dialect.problem(Problem.SERVER_ERROR, "injected fault", status=error.status)
            return self._answer(arrival, reply)
        if faults.slow and draw(self.seed, endpoint, "slow", identity, attempt) < faults.slow:
            arrival.fault = "slow"
            self.clock.sleep(faults.slow_seconds)
        if dialect.api_key(request) != self.key:
            return self._answer(arrival, dialect.problem(Problem.UNAUTHORIZED, "invalid API key"))
        if route.endpoint is Endpoint.SUBMIT:
            reply, job = self._submit(dialect, request, identity, attempt)
        else:
            job = self._find(dialect.provider, route.job_id or "")
            if job is None:
                reply = dialect.problem(Problem.NOT_FOUND, f"no task {route.job_id}")
            elif route.endpoint is Endpoint.POLL:
                reply = dialect.status(self._view(job))
            else:
                reply = dialect.cancel(self._view(job))
        reset = draw(self.seed, endpoint, "reset-after", identity, attempt) < faults.reset_after
        lost = error is not None and job is not None  # a gateway failing after the work
        if (reset or lost) and job is not None and route.endpoint is Endpoint.SUBMIT:
            self.ledger.mark_unanswered(job.id)
        if reset:
            arrival.fault = "reset-after"
            return RESET
        if lost:
            assert error is not None
            arrival.fault = "5xx"
            reply = dialect.problem(Problem.SERVER_ERROR, "upstream timed out", status=error.status)
        return self._answer(arrival, reply)

    def _attempt(self, endpoint: str, identity: str) -> int:
        with self._lock:
            self._attempts[(endpoint, identity)] += 1
            return self._attempts[(endpoint, identity)]

    def _rate_limited(
        self, dialect: Dialect, endpoint: str, identity: str, attempt: int, arrival: Arrival
    ) -> Reply | None:
        """A 429 inside the endpoint's rate-limit window, or one that opens a window."""
        faults = self.faults.for_target(endpoint)
        now = self.clock.monotonic()
        with self._lock:
            window = self._windows.get(endpoint, 0.0)
            if now >= window and draw(self.seed, endpoint, "429", identity, attempt) < (
                faults.rate_limit
            ):
                window = self._windows[endpoint] = now + faults.rate_limit_seconds
        if now >= window:
            return None
        wait = max(1, math.ceil(window - now))
        arrival.fault, arrival.retry_after = "429", wait
        reply = dialect.problem(Problem.RATE_LIMITED, f"rate limited; retry in {wait} s")
        headers = {**reply.headers, "Retry-After": str(wait)}
        return self._answer(arrival, attrs.evolve(reply, headers=headers))

    def _server_error(self, endpoint: str, identity: str, attempt: int) -> _ServerError | None:
        """An injected 5xx, if this request draws one. On submit a 500/502/504 comes after
        the job was created half the time (a gateway timing out); a 503 never does."""
        faults = self.faults.for_target(endpoint)
        if draw(self.seed, endpoint, "5xx", identity, attempt) >= faults.server_error:
            return None
        pick = draw(self.seed, endpoint, "5xx-status", identity, attempt)
        status = SERVER_ERRORS[int(pick * len(SERVER_ERRORS))]
        after_work = (
            endpoint == "submit"
            and status != 503
            and draw(self.seed, endpoint, "5xx-after-accept", identity, attempt) < 0.5
        )
        return _ServerError(status=status, after_work=after_work)

    def _answer(self, arrival: Arrival, reply: Reply) -> Reply:
        arrival.status = reply.status
        return reply

    # -- jobs ---------------------------------------------------------------------------------

    def _submit(
        self, dialect: Dialect, request: Request, identity: str, attempt: int
    ) -> tuple[Reply, _Job | None]:
        parsed = dialect.parse_submit(request)
        if isinstance(parsed, Reply):
            return parsed, None
        spec = parsed
        now, created_at = self.clock.monotonic(), self.clock.now()
        failure, out_seconds, inputs = self._inputs(dialect, spec)
        charge = dialect.charge(spec, out_seconds) if out_seconds is not None else Decimal(0)
        with self._lock:
            balance = self.credits.get(dialect.provider, Decimal(0))
            if charge > balance or balance <= 0:
                reply = dialect.problem(
                    Problem.INSUFFICIENT_CREDITS,
                    f"this job costs {charge}; the balance is {balance}",
                )
                return reply, None
            self.credits[dialect.provider] = balance - charge
        token = hashlib.blake2b(
            repr((self.seed, dialect.provider, identity, attempt)).encode(), digest_size=16
        ).hexdigest()
        duration = self.timing.duration(out_seconds or 0.0)
        late = self.faults.for_target("job")
        lag = self.timing.results_lag / self.timing.speed if dialect.status_before_results else 0
        if draw(self.seed, "job", "late", token) < late.late:
            lag += late.late_seconds
        job = _Job(
            id=dialect.job_id(created_at, token),
            dialect=dialect,
            spec=spec,
            created=now,
            created_at=created_at,
            done=now + duration,
            results=now + duration + lag,
            output_seconds=out_seconds,
            charge=charge,
            failure=failure,
            render=self._render(spec, inputs) if inputs is not None else None,
        )
        job.token = token
        with self._lock:
            self._jobs[(dialect.provider, job.id)] = job
        self.ledger.accept(
            Accepted(
                at=now,
                provider=dialect.provider,
                job_id=job.id,
                fingerprint=identity,
                answered=True,
            )
        )
        if spec.callback_url and dialect.callbacks is not None:
            self._callbacks.schedule(
                job.results if failure is None else job.done,
                dialect.provider,
                job.id,
                spec.callback_url,
                dialect.callbacks,
                lambda: dialect.callback_body(self._view(job)),
            )
        return dialect.accepted(self._view(job)), job

    def _find(self, provider: str, job_id: str) -> _Job | None:
        with self._lock:
            return self._jobs.get((provider, job_id))

    def _expiry(self, job: _Job) -> dt.datetime:
        lifetime = (
            dt.timedelta(seconds=self.url_lifetime)
            if self.url_lifetime is not None
            else job.dialect.url_lifetime
        )
        return job.created_at + dt.timedelta(seconds=job.results - job.created) + lifetime

    def _inputs(
        self, dialect: Dialect, spec: JobSpec
    ) -> tuple[Failure | None, float | None, tuple[bytes, bytes] | None]:
        """Fetch and measure the inputs; a problem becomes the job's failure, as a provider
        accepts a job and fails it later when its download or decode fails."""
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
        mine = urlsplit(self.url)
        if (parts.scheme, parts.netloc) != (mine.scheme, mine.netloc):
            raise _FetchRefused(
                f"{field}: could not download {parts.scheme}://{parts.netloc}: the emulator "
                f"fetches only files uploaded to it ({self.url}/files/...) and data: URIs"
            )
        segments = parts.path.strip("/").split("/")
        ours = len(segments) >= 2 and segments[0] == "files"
        data = self.store.read(segments[1]) if ours else None
        if data is None:
            raise _FetchRefused(f"{field}: {ref} answered 404 (no such uploaded file)")
        return data

    def _render(self, spec: JobSpec, inputs: tuple[bytes, bytes]) -> Future[Path]:
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

    def _view(self, job: _Job) -> JobView:
        now = self.clock.monotonic()
        elapsed = now - job.created
        duration = max(job.done - job.created, 1e-9)
        common: dict[str, Any] = {
            "id": job.id,
            "spec": job.spec,
            "created": job.created_at,
            "charge": job.charge,
            "output_seconds": job.output_seconds,
        }
        if now < job.created + QUEUED_SHARE * duration:
            return JobView(state=State.QUEUED, progress=0, **common)
        if now < job.done:
            progress = min(99, max(1, int(100 * elapsed / duration)))
            return JobView(state=State.RUNNING, progress=progress, **common)
        completed = job.created_at + dt.timedelta(seconds=duration)
        failure = job.failure
        render = job.render
        if failure is None and render is not None and render.done():
            error = render.exception()
            if error is not None:
                failure = Failure(code="bad_media", message=f"rendering failed: {error}")
        if failure is not None:
            return JobView(state=State.FAILED, progress=100, completed=completed,
                           failure=failure, **common)
        ready = render is not None and render.done() and now >= job.results
        if not ready and not job.dialect.status_before_results:
            return JobView(state=State.RUNNING, progress=99, **common)
        if not ready:
            return JobView(state=State.SUCCEEDED, progress=99, completed=completed, **common)
        assert render is not None and job.token is not None
        if self.store.get(job.token) is None:  # first look at a finished job: publish it
            expires = self._expiry(job)
            self.store.add_path(render.result(), f"{job.id}.mp4", expires, token=job.token)
        return JobView(
            state=State.SUCCEEDED,
            progress=100,
            completed=completed,
            output_url=self._file_url(job.token, f"{job.id}.mp4"),
            expires=self._expiry(job),
            **common,
        )

    # -- files and control --------------------------------------------------------------------

    def _files(self, incoming: Incoming, rest: str, arrival: Arrival) -> Outcome:
        arrival.endpoint = "upload" if incoming.method == "POST" else "download"
        if incoming.method == "POST" and not rest:
            name = incoming.query.get("name", "upload.bin")
            url = self.upload(incoming.read_body(), name)
            return self._answer(arrival, Reply.json(201, {"url": url}))
        token = rest.split("/", 1)[0]
        arrival.identity = token
        faults = self.faults.for_target("download")
        attempt = self._attempt("download", token)
        if draw(self.seed, "download", "reset-before", token, attempt) < faults.reset_before:
            arrival.fault = "reset-before"
            return RESET
        stored = self.store.get(token)
        if stored is None or not stored.path.is_file():
            return self._answer(arrival, Reply.json(404, {"error": "no such file"}))
        if stored.expires is not None and self.clock.now() >= stored.expires:
            return self._answer(
                arrival, Reply.json(403, {"error": f"this URL expired at {stored.expires}"})
            )
        arrival.status = 200
        return FileReply(path=stored.path, name=stored.name)

    def _control(self, incoming: Incoming, rest: str, arrival: Arrival) -> Outcome:
        """A small API for out-of-process users: the ledger and account balances."""
        arrival.endpoint = "control"
        if incoming.method == "GET" and rest == "ledger":
            arrivals, accepted, callbacks = self.ledger.snapshot()
            return self._answer(arrival, Reply.json(200, {
                "arrivals": [attrs.asdict(a) for a in arrivals],
                "accepted": [attrs.asdict(a) for a in accepted],
                "callbacks": [attrs.asdict(c) for c in callbacks],
            }))
        if incoming.method == "POST" and rest == "credits":
            try:
                data = Request(method="POST", path="", body=incoming.read_body()).json()
                self.set_credits(str(data["provider"]), str(data["credits"]))
            except (ValueError, KeyError, TypeError, ArithmeticError):
                return self._answer(arrival, Reply.json(
                    400, {"error": 'body must be {"provider": NAME, "credits": NUMBER}'}
                ))
            return self._answer(arrival, Reply.json(200, {
                "credits": {k: str(v) for k, v in self.credits.items()}
            }))
        return self._answer(arrival, Reply.json(
            404, {"error": "control routes: GET /_emulator/ledger, POST /_emulator/credits"}
        ))


class _FetchRefused(Exception):
    pass
