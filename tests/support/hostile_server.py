"""A raw TCP server on 127.0.0.1 that misbehaves on purpose: stalls, drips, bombs.

Each accepted connection reads one request head (and its body, by Content-Length), then
hands the socket to the test's ``behaviour``. Time in a drip is the test's fake clock,
advanced by the server per byte sent, so "one byte per second" costs no real second.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterable
from typing import Any

Behaviour = Callable[["HostileServer", socket.socket, bytes], None]


class HostileServer:
    def __init__(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.requests: list[bytes] = []  # each request's head and body
        self.connections = 0
        self.stopped = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def __enter__(self) -> HostileServer:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                continue
            with self._lock:
                self.connections += 1
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            with conn:
                while not self.stopped.is_set():
                    request = read_request(conn, self.stopped)
                    if request is None:
                        return
                    with self._lock:
                        self.requests.append(request)
                    conn.settimeout(None)  # answers block until the client reads or leaves
                    self.behaviour(self, conn, request)
        except OSError:
            return  # the client hung up: that is what clients under attack should do


def _recv(conn: socket.socket, stopped: threading.Event) -> bytes:
    """The next bytes from the client; b"" once it hangs up or the server stops."""
    conn.settimeout(0.05)
    while not stopped.is_set():
        try:
            return conn.recv(65536)
        except TimeoutError:
            continue
    return b""


def read_request(conn: socket.socket, stopped: threading.Event) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = _recv(conn, stopped)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = _recv(conn, stopped)
        if not chunk:
            return None
        body += chunk
    return head + b"\r\n\r\n" + body


def answer(status: int, body: bytes = b"", **headers: Any) -> bytes:
    """A whole HTTP/1.1 response; header names use ``_`` for ``-``."""
    lines = [f"HTTP/1.1 {status} X"]
    named = {"Content-Length": str(len(body))}
    named.update({k.replace("_", "-"): str(v) for k, v in headers.items()})
    lines += [f"{name}: {value}" for name, value in named.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def send_all(*parts: bytes) -> Behaviour:
    def behaviour(server: HostileServer, conn: socket.socket, request: bytes) -> None:
        for part in parts:
            conn.sendall(part)

    return behaviour


def stream(head: bytes, chunks: Iterable[bytes]) -> Behaviour:
    """Send ``head``, then ``chunks`` until they end or the client hangs up."""

    def behaviour(server: HostileServer, conn: socket.socket, request: bytes) -> None:
        conn.sendall(head)
        for chunk in chunks:
            conn.sendall(chunk)

    return behaviour


def drip(prefix: bytes, tick: Callable[[], None]) -> Behaviour:
    """Send ``prefix`` then one byte at a time, forever, calling ``tick`` after each byte."""

    def behaviour(server: HostileServer, conn: socket.socket, request: bytes) -> None:
        conn.sendall(prefix)
        while not server.stopped.wait(0.001):
            conn.sendall(b"a")
            tick()

    return behaviour


def stall() -> Behaviour:
    """Read the request and never answer."""

    def behaviour(server: HostileServer, conn: socket.socket, request: bytes) -> None:
        server.stopped.wait()

    return behaviour
