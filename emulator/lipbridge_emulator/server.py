"""The emulator's HTTP layer: a threaded HTTP/1.1 server that speaks for the engine.

It only moves bytes: the engine decides every answer. A reset is a real TCP RST
(SO_LINGER 0), so clients meet the same errors as with a dropped connection. A held
request waits on its connection and a wake-up socket together, so it ends the moment
the client goes away (a killed process's connection closes) or it is released.
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from lipbridge_emulator.dialect import Reply
from lipbridge_emulator.wire import FileReply, Handler, Incoming, Outcome, Reset, Wakeable

MAX_BODY = 200 * 1024 * 1024
# The peer closed its side, even with unread bytes pending (Linux); else POLLIN and a peek.
_RDHUP = getattr(select, "POLLRDHUP", 0)
_ENDED = select.POLLHUP | select.POLLERR | select.POLLNVAL | _RDHUP


class _BadLength(Exception):
    pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 2048  # thousands of concurrent clients must not be refused
    handler: Handler

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that went away (killed, or reset on purpose) is no error
        super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: don't wait for an ACK
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # the ledger records requests
        return

    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length") or "0"
        if not length.isdigit() or int(length) > MAX_BODY:
            raise _BadLength(length)
        return self.rfile.read(int(length)) if int(length) else b""

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        incoming = Incoming(
            method=self.command,
            path=parts.path,
            query=query,
            headers={k.lower(): v for k, v in self.headers.items()},
            read_body=self._read_body,
            peer=f"{self.client_address[0]}:{self.client_address[1]}",
            until_hangup=self._until_hangup,
        )
        try:
            outcome: Outcome = self.server.handler.handle(incoming)
        except _BadLength as bad:
            self.close_connection = True  # the unread body would be taken for a request
            error = f"Content-Length {bad.args[0]!r}; allowed: 0 to {MAX_BODY} bytes"
            outcome = Reply.json(413, {"error": error})
        if isinstance(outcome, Reset):
            self._reset()
        elif isinstance(outcome, FileReply):
            self._send_file(outcome)
        elif isinstance(outcome, Reply):
            self._send(outcome)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def _send_file(self, reply: FileReply) -> None:
        with reply.path.open("rb") as source:
            size = source.seek(0, 2)
            source.seek(0)
            self.send_response(200)
            self.send_header("Content-Type", "video/mp4")
            self.send_header("Content-Length", str(size))
            self.send_header("Content-Disposition", f'inline; filename="{reply.name}"')
            self.end_headers()
            self.wfile.flush()
            if reply.hold is not None:
                first = min(size, reply.hold_at if reply.hold_at is not None else size // 2)
                if first:
                    self.connection.sendfile(source, 0, first)
                if reply.hold():  # the client went away while the rest was held back
                    self._reset()
                    return
                self.connection.sendfile(source, first)
                return
            self.connection.sendfile(source)

    def _until_hangup(self, wake: Wakeable) -> bool:
        """Block until the client closes the connection (True) or ``wake`` is readable
        (False). The client sends nothing while it waits for an answer, so a readable
        connection is a closed one; bytes it sent anyway are left unread."""
        poller = select.poll()
        poller.register(wake, select.POLLIN)
        poller.register(self.connection, select.POLLIN | _RDHUP)
        watching = True
        while True:
            ready = dict(poller.poll())
            # The hang-up first: a client that went away before its release is gone, though
            # this thread (on a loaded machine) saw both at once.
            events = ready.get(self.connection.fileno()) if watching else None
            if events is not None:
                if events & _ENDED:
                    return True
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        return True  # an orderly close
                except OSError:
                    return True  # reset
                # Bytes, not a close: watch for the hang-up alone (or only the wake-up).
                if _RDHUP:
                    poller.modify(self.connection, _RDHUP)
                else:
                    poller.unregister(self.connection)
                    watching = False
            if wake.fileno() in ready:
                return False

    def _reset(self) -> None:
        self.close_connection = True
        linger = struct.pack("ii", 1, 0)
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        self.connection.close()

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # reset on purpose, or by the client
            super().finish()


def serve(handler: Handler, host: str, port: int) -> _Server:
    """Start serving on a daemon thread; the caller shuts the server down."""
    server = _Server((host, port), _Handler)
    server.handler = handler
    threading.Thread(  # a short poll interval: shutdown() waits for the loop to notice
        target=server.serve_forever, args=(0.05,), name="emulator-http", daemon=True
    ).start()
    return server
