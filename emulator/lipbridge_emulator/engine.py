"""The emulator: one HTTP port, routing each request to a provider's dialect, the file
store or the control API, and applying the fault plan on the way.

Everything here is provider-neutral; a :class:`Dialect` translates. The parts have
modules of their own: the fault plan (every seeded draw), holds (requests kept waiting
for a crash test), jobs, inputs (fetching, probing, rendering), accounts and uploads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs

from lipbridge.context import Clock, SystemClock
from lipbridge.http import fingerprint
from lipbridge_emulator.accounts import Accounts
from lipbridge_emulator.callbacks import CallbackSender
from lipbridge_emulator.clock import cooperation
from lipbridge_emulator.dialect import Dialect, Endpoint, JobView, Problem, Reply, Request
from lipbridge_emulator.faults import FaultSpec, FaultSpecError, parse
from lipbridge_emulator.holds import Held, HoldEnd, HoldPoint, Holds
from lipbridge_emulator.inputs import Inputs
from lipbridge_emulator.jobs import Job, Jobs, Timing
from lipbridge_emulator.ledger import Accepted, Arrival, Ledger
from lipbridge_emulator.plan import FaultPlan
from lipbridge_emulator.store import FileStore
from lipbridge_emulator.uploads import StorageFull, Uploads
from lipbridge_emulator.wire import RESET, FileReply, Incoming, Outcome

DEFAULT_KEY = "lb-test-key"
CONTROL = (
    "GET /_emulator/ledger, POST /_emulator/credits, GET /_emulator/holds, "
    "POST /_emulator/holds/release"
)


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
        timing: Timing = Timing(),  # noqa: B008 (frozen)
        faults: FaultSpec | str | None = None,
        seed: int = 0,
        clock: Clock | None = None,
        url_lifetime: float | None = None,
        credits: Mapping[str, Decimal | int] | None = None,
        render_workers: int = 2,
        root: Path | None = None,
        storage: Mapping[str, int] | None = None,
    ) -> None:
        """``storage``: the bytes each named provider's uploads may hold (others: no
        limit); see :mod:`lipbridge_emulator.uploads`."""
        from lipbridge_emulator.dialects import installed_dialects

        chosen = list(dialects) if dialects is not None else installed_dialects()
        self.dialects = {d.provider: d for d in chosen}
        spec = faults if isinstance(faults, FaultSpec) else parse(faults)
        unknown = sorted(spec.providers() - set(self.dialects))
        if unknown:
            raise FaultSpecError(
                f"faults name {', '.join(unknown)}, which the emulator does not speak; "
                f"providers: {', '.join(sorted(self.dialects))}"
            )
        self.host, self._port = host, port
        self.key = key
        self.timing = timing
        self.clock: Clock = clock or SystemClock()
        self.ledger = Ledger()
        self.store = FileStore(root)
        self._plan = FaultPlan(spec, seed)
        self.holds = Holds()
        self._accounts = Accounts(self.dialects, credits)
        self._marks = cooperation(self.clock)
        self._inputs = Inputs(
            self.store, lambda: self.url, self._marks, render_workers, self.clock
        )
        self._jobs = Jobs(self.clock, self.store, self._file_url, url_lifetime)
        self._uploads = Uploads(self.store, self.clock, self._file_url, storage, seed)
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
        self.holds.close()  # a held request must not outlive the emulator
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._callbacks.close()
        self._inputs.close()
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

    # -- files, accounts, jobs ----------------------------------------------------------------

    @property
    def faults(self) -> FaultSpec:
        return self._plan.spec

    @property
    def seed(self) -> int:
        return self._plan.seed

    def upload(self, data: bytes, name: str) -> str:
        """Serve ``data`` as an input file and return its URL (uploads never expire)."""
        return self._file_url(self.store.add_bytes(data, name), name)

    def serve_path(self, path: Path, name: str | None = None) -> str:
        """Serve an existing file without copying it (large benchmark outputs)."""
        name = name or path.name
        return self._file_url(self.store.add_path(path, name), name)

    def _file_url(self, token: str, name: str) -> str:
        return f"{self.url}/files/{token}/{Path(name).name}"

    @property
    def credits(self) -> dict[str, Decimal]:
        """Each provider's balance, as it stands now."""
        return self._accounts.balances()

    def set_credits(self, provider: str, amount: Decimal | int | str) -> None:
        self._accounts.set(provider, amount)

    def jobs(self, provider: str | None = None) -> list[JobView]:
        return self._jobs.views(provider)

    # -- requests -----------------------------------------------------------------------------

    def handle(self, incoming: Incoming) -> Outcome:
        """Answer one HTTP request (the server calls this on its handler thread)."""
        with self._marks.busy():
            head, _, rest = incoming.path.lstrip("/").partition("/")
            arrival = self.ledger.arrive(
                Arrival(
                    at=self.clock.monotonic(),
                    method=incoming.method,
                    path=incoming.path,
                    peer=incoming.peer,
                )
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
        public = dialect.public(probe)
        if public is not None:
            return self._answer(arrival, public)
        route = dialect.route(probe)
        if route is None:
            return self._answer(arrival, dialect.problem(Problem.UNSUPPORTED, f"no route {path}"))
        endpoint = route.endpoint.value
        arrival.endpoint = endpoint
        plan = self._plan
        provider = dialect.provider
        if plan.reset_on_arrival(endpoint, provider):
            arrival.fault = "reset-before"
            return RESET
        body = incoming.read_body()
        request = attrs.evolve(probe, body=body)
        identity = route.job_id or fingerprint(body)
        arrival.identity = identity
        attempt = plan.attempt(endpoint, identity)
        wait = plan.rate_limited(endpoint, identity, attempt, self.clock.monotonic(), provider)
        if wait is not None:
            arrival.fault, arrival.retry_after = "429", wait
            reply = dialect.problem(Problem.RATE_LIMITED, f"rate limited; retry in {wait} s")
            headers = {**reply.headers, "Retry-After": str(wait)}
            return self._answer(arrival, attrs.evolve(reply, headers=headers))
        error = plan.server_error(endpoint, identity, attempt, provider)
        if error is not None and not error.after_work:
            arrival.fault = "5xx"
            reply = dialect.problem(Problem.SERVER_ERROR, "injected fault", status=error.status)
            return self._answer(arrival, reply)
        slow = plan.slow(endpoint, identity, attempt, provider)
        if slow is not None:
            arrival.fault = "slow"
            self.clock.sleep(slow)
        if dialect.api_key(request) != self.key:
            return self._answer(arrival, dialect.problem(Problem.UNAUTHORIZED, "invalid API key"))
        held = functools.partial(self._held, incoming, arrival, identity, attempt)
        if route.endpoint is Endpoint.SUBMIT:
            if plan.held(endpoint, attempt, provider=provider) and held(HoldPoint.SUBMIT_BEFORE):
                return RESET  # its client went away before the provider took the job
            reply, job = self._submit(dialect, request, identity, attempt)
            if (
                job is not None
                and plan.held(endpoint, attempt, after=True, provider=provider)
                and held(
                    HoldPoint.SUBMIT_AFTER,
                    job.id,
                    # accepted, and the answer never left
                    on_gone=functools.partial(self.ledger.mark_unanswered, job.id),
                )
            ):
                return RESET
        else:
            if plan.held(endpoint, attempt, provider=provider) and held(
                HoldPoint(endpoint), route.job_id
            ):
                return RESET
            job = None if route.job_id is None else self._jobs.find(provider, route.job_id)
            if route.endpoint is Endpoint.LIST:
                reply = dialect.listing(request, self._jobs.views(provider))
            elif route.endpoint is Endpoint.UPLOAD:
                reply = self._upload(dialect, request, identity, attempt)
            elif job is None:
                reply = dialect.problem(Problem.NOT_FOUND, f"no task {route.job_id}")
            elif route.endpoint is Endpoint.POLL:
                reply = dialect.status(self._jobs.view(job))
            else:
                reply = dialect.cancel(self._jobs.view(job))
        reset = plan.reset_after(endpoint, identity, attempt, provider)
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

    def _held(
        self,
        incoming: Incoming,
        arrival: Arrival,
        identity: str,
        attempt: int,
        point: HoldPoint,
        job_id: str | None = None,
        *,
        on_gone: Callable[[], None] | None = None,
    ) -> bool:
        """Hold the request at ``point`` until its client goes away (True: drop it) or it
        is released (False: go on). Disarmed holds hold nothing."""
        held = Held(
            point,
            identity=identity,
            attempt=attempt,
            provider=arrival.provider,
            job_id=job_id,
            peer=incoming.peer,
        )

        def reached() -> None:
            arrival.fault = "hold"

        end = self.holds.hold(held, incoming.until_hangup, on_reached=reached, on_gone=on_gone)
        return end is HoldEnd.GONE

    def _answer(self, arrival: Arrival, reply: Reply) -> Reply:
        arrival.status = reply.status
        return reply

    def _submit(
        self, dialect: Dialect, request: Request, identity: str, attempt: int
    ) -> tuple[Reply, Job | None]:
        parsed = dialect.parse_submit(request)
        if isinstance(parsed, Reply):
            return parsed, None
        spec = parsed
        now, created_at = self.clock.monotonic(), self.clock.now()
        failure, out_seconds, inputs = self._inputs.prepare(dialect, spec)
        charge = dialect.charge(spec, out_seconds) if out_seconds is not None else Decimal(0)
        short = self._accounts.bill(dialect.provider, charge)
        if short is not None:
            reply = dialect.problem(
                Problem.INSUFFICIENT_CREDITS, f"this job costs {charge}; the balance is {short}"
            )
            return reply, None
        token = self._plan.job_token(dialect.provider, identity, attempt)
        duration = self.timing.duration(out_seconds or 0.0)
        lag = self.timing.results_lag / self.timing.speed if dialect.status_before_results else 0
        lag += self._plan.late(token, dialect.provider)
        job = Job(
            id=dialect.job_id(created_at, token),
            token=token,
            dialect=dialect,
            spec=spec,
            created=now,
            created_at=created_at,
            done=now + duration,
            results=now + duration + lag,
            output_seconds=out_seconds,
            charge=charge,
            failure=failure,
            render=self._inputs.render(spec, inputs) if inputs is not None else None,
        )
        self._jobs.add(job)
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
                lambda: dialect.callback_body(self._jobs.view(job)),
                dialect.callback_request,
            )
        return dialect.accepted(self._jobs.view(job)), job

    def _upload(self, dialect: Dialect, request: Request, identity: str, attempt: int) -> Reply:
        """A file into the provider's storage; its id is drawn like a job's, so the same
        uploads get the same URLs in every run."""
        parsed = dialect.parse_upload(request)
        if isinstance(parsed, Reply):
            return parsed
        token = self._plan.job_token(dialect.provider, identity, attempt)
        try:
            return dialect.uploaded(self._uploads.accept(dialect.provider, parsed, token))
        except StorageFull as full:
            return dialect.problem(Problem.STORAGE_FULL, str(full))

    # -- files and control --------------------------------------------------------------------

    def _files(self, incoming: Incoming, rest: str, arrival: Arrival) -> Outcome:
        arrival.endpoint = "upload" if incoming.method in ("POST", "PUT") else "download"
        if incoming.method == "POST" and not rest:
            name = incoming.query.get("name", "upload.bin")
            url = self.upload(incoming.read_body(), name)
            return self._answer(arrival, Reply.json(201, {"url": url}))
        token = rest.split("/", 1)[0]
        arrival.identity = token
        if incoming.method == "PUT":  # a presigned upload: the storage answers, no faults
            arrival.provider, reply = self._uploads.put(
                token, incoming.query, incoming.headers, incoming.read_body()
            )
            return self._answer(arrival, reply)
        attempt = self._plan.attempt("download", token)
        if self._plan.reset_download(token, attempt):
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
        if not self._plan.held("download", attempt):
            return FileReply(path=stored.path, name=stored.name)
        hold = functools.partial(self._held, incoming, arrival, token, attempt, HoldPoint.DOWNLOAD)
        return FileReply(
            path=stored.path, name=stored.name, hold_at=self._plan.hold_bytes(), hold=hold
        )

    def _control(self, incoming: Incoming, rest: str, arrival: Arrival) -> Outcome:
        """A small API for out-of-process users: the ledger, account balances, holds."""
        arrival.endpoint = "control"
        if incoming.method == "GET" and rest == "ledger":
            arrivals, accepted, callbacks = self.ledger.snapshot()
            return self._answer(arrival, Reply.json(200, {
                "arrivals": [attrs.asdict(a) for a in arrivals],
                "accepted": [attrs.asdict(a) for a in accepted],
                "callbacks": [attrs.asdict(c) for c in callbacks],
            }))
        if rest == "holds" and incoming.method == "GET":
            holds = [held.as_dict() for held in self.holds.reached()]
            return self._answer(arrival, Reply.json(200, {"holds": holds}))
        if rest == "holds/release" and incoming.method == "POST":
            released = [held.as_dict() for held in self.holds.release()]
            return self._answer(arrival, Reply.json(200, {"released": released}))
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
        return self._answer(arrival, Reply.json(404, {"error": f"control routes: {CONTROL}"}))
