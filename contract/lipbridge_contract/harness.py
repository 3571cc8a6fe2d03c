"""Instruments the suite runs a plugin under: virtual time, recorded traffic, captured logs.

Nothing here knows about checks. Each tool observes one thing the checks later judge:
what the plugin sent, what it logged, whether it slept or read the wall clock, and
whether it touched the network outside the transport it was given.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import socket
import sys
import time
import types
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, SupportsIndex

from attrs import frozen

from lipbridge import Transport
from lipbridge.context import EPOCH
from lipbridge.plugin import FileBody, Response


def canary_key() -> str:
    """A fresh key-shaped value to run the plugin with; it must never show up anywhere."""
    return "lbcanary-" + secrets.token_hex(16)


class SteppedClock:
    """Time that stands still until slept, then jumps by the whole sleep at once; every
    sleep is kept for the timing checks. Single-threaded: nothing waits for anything (the
    emulator's clock, which threads share, is a different one)."""

    def __init__(self, start: dt.datetime = EPOCH) -> None:
        self.wall = start
        self.mono = 0.0
        self.sleeps: list[float] = []

    def now(self) -> dt.datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if seconds > 0:
            self.mono += seconds
            self.wall += dt.timedelta(seconds=seconds)


# Old names kept importable, with a warning, until lipbridge-contract 0.2.
RENAMED = {"VirtualClock": "SteppedClock"}


def renamed(module: str, name: str) -> Any:
    """What an old name imported from ``module`` now is, with a DeprecationWarning."""
    if name not in RENAMED:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    warnings.warn(
        f"{module}.{name} is deprecated and goes in lipbridge-contract 0.2: use "
        f"{RENAMED[name]} (the emulator's clock is another one)",
        DeprecationWarning,
        stacklevel=3,
    )
    return globals()[RENAMED[name]]


if not TYPE_CHECKING:  # hidden from mypy, so a typo in an import is still an error

    def __getattr__(name: str) -> Any:
        return renamed(__name__, name)


@frozen(kw_only=True)
class SentRequest:
    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes | None
    phase: str  # the step that sent it: submit, poll, cancel, estimate...
    file: Path | None = None  # the local file the body was read from (an upload)


class UnrecordedRequest(BaseException):
    """The plugin sent a request the cassette has no (unplayed) answer for."""


class RecordingTransport(Transport):
    """The real transport (which vcrpy answers from the cassette), keeping what was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[SentRequest] = []
        self.downloads: list[str] = []
        self.phase = ""

    def send(self, method: str, url: str, **kwargs: Any) -> Response:
        headers, body = dict(kwargs.get("headers") or {}), kwargs.get("body")
        file = None
        if isinstance(body, FileBody):  # kept as it goes over the wire (files here are tiny)
            headers["Content-Type"] = body.content_type
            file, body = body.path, b"".join(body.chunks())
        self.sent.append(
            SentRequest(
                method=method, url=url, headers=headers, body=body, phase=self.phase, file=file
            )
        )
        return self._answer(method, url, **kwargs)

    def _answer(self, method: str, url: str, **kwargs: Any) -> Response:
        try:
            return super().send(method, url, **kwargs)
        except Exception as exc:
            if type(exc).__name__ == "CannotOverwriteExistingCassetteException":
                raise UnrecordedRequest(f"{method} {url}") from None
            raise

    @contextmanager
    def stream(self, url: str, **kwargs: Any) -> Iterator[Any]:
        self.downloads.append(url)
        raise UnrecordedRequest(f"download of {url} while talking to the provider API")
        yield  # pragma: no cover - makes this a generator for contextmanager


class ScriptedTransport(RecordingTransport):
    """Answers each request with the next scripted response (the last one repeats)."""

    def __init__(self, responses: Sequence[Response]) -> None:
        super().__init__()
        self.responses = list(responses)
        self.phase = "scripted"

    def _answer(self, method: str, url: str, **kwargs: Any) -> Response:
        if not self.responses:
            raise UnrecordedRequest(f"{method} {url}, where the suite expected no request")
        scripted = self.responses[min(len(self.sent), len(self.responses)) - 1]
        return Response(
            method=method,
            url=url,
            status=scripted.status,
            headers=scripted.headers,
            body=scripted.body,
        )


class LogCapture(logging.Handler):
    """Every log record emitted anywhere, formatted, at DEBUG and above."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []
        self.warnings: list[str] = []  # the messages at WARNING and above

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception as exc:  # a malformed log call is still evidence
            text = f"{record.msg!r} {record.args!r} ({exc})"
        self.messages.append(f"{record.name}: {text}")
        if record.levelno >= logging.WARNING:
            self.warnings.append(self.messages[-1])

    @contextmanager
    def installed(self) -> Iterator[LogCapture]:
        root = logging.getLogger()
        level = root.level
        root.addHandler(self)
        root.setLevel(logging.DEBUG)
        try:
            yield self
        finally:
            root.removeHandler(self)
            root.setLevel(level)


# Functions a plugin must not call: time comes from ``ctx.clock`` and sleeping is the
# core's business, so that replays and tests never wait for real.
WALL_CLOCK = frozenset(
    {
        "time.sleep",
        "time.time",
        "time.time_ns",
        "time.monotonic",
        "time.monotonic_ns",
        "time.perf_counter",
        "datetime.datetime.now",
        "datetime.datetime.utcnow",
        "datetime.datetime.today",
        "datetime.date.today",
    }
)


def _qualified(func: Any) -> str:
    owner = getattr(func, "__self__", None)
    name = getattr(func, "__name__", "")
    if isinstance(owner, type):
        return f"{owner.__module__}.{owner.__qualname__}.{name}"
    if isinstance(owner, types.ModuleType):
        return f"{owner.__name__}.{name}"
    return f"{getattr(func, '__module__', '')}.{name}"


def plugin_modules(plugin: object) -> frozenset[str]:
    """Top-level packages whose code is the plugin's: its module, its classes' modules."""
    if isinstance(plugin, types.ModuleType):
        names = [plugin.__name__]
    else:
        names = [cls.__module__ for cls in type(plugin).__mro__]
    return frozenset(n.split(".")[0] for n in names) - {"builtins", "lipbridge"}


class ClockWatch:
    """Catches plugin code sleeping or reading the wall clock.

    ``time.sleep`` is replaced so a plugin that sleeps costs nothing; every other call
    is seen through the profiler, attributed to the module that made it.
    """

    def __init__(self, modules: frozenset[str]) -> None:
        self.modules = modules
        self.calls: list[str] = []

    def _ours(self, frame: types.FrameType | None) -> str | None:
        if frame is None:
            return None
        module = str(frame.f_globals.get("__name__", ""))
        return module if module.split(".")[0] in self.modules else None

    def _profile(self, frame: types.FrameType, event: str, arg: Any) -> None:
        if event != "c_call":
            return
        name = _qualified(arg)
        if name in WALL_CLOCK:
            module = self._ours(frame)
            if module:
                self.calls.append(f"{module} line {frame.f_lineno} called {name}()")

    def _sleep(self, seconds: float | SupportsIndex) -> None:
        module = self._ours(sys._getframe(1))
        if module:
            self.calls.append(f"{module} called time.sleep({seconds!r})")

    @contextmanager
    def watching(self, profile: bool = True) -> Iterator[ClockWatch]:
        """Replace ``time.sleep``; with ``profile``, also see every wall-clock read."""
        real_sleep = time.sleep
        previous = sys.getprofile()
        time.sleep = self._sleep
        if profile:
            sys.setprofile(self._profile)
        try:
            yield self
        finally:
            if profile:
                sys.setprofile(previous)
            time.sleep = real_sleep


class NetworkBlocked(BaseException):
    """A socket was opened while the suite had the network blocked."""


@contextmanager
def network_blocked() -> Iterator[list[str]]:
    """Refuse every DNS lookup and outgoing connection; yield the attempts made."""
    attempts: list[str] = []
    patched: dict[tuple[Any, str], Callable[..., Any]] = {}

    def refuse(what: str) -> Callable[..., Any]:
        def blocked(*args: Any, **kwargs: Any) -> Any:
            attempts.append(f"{what}{args[1:] if what == 'connect' else args[:1]}")
            raise NetworkBlocked(f"network access during a contract run: {what}")

        return blocked

    for owner, name in (
        (socket.socket, "connect"),
        (socket.socket, "connect_ex"),
        (socket, "getaddrinfo"),
        (socket, "create_connection"),
    ):
        patched[(owner, name)] = getattr(owner, name)
        setattr(owner, name, refuse(name))
    try:
        yield attempts
    finally:
        for (owner, name), original in patched.items():
            setattr(owner, name, original)
