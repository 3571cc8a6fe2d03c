"""A real HTTP server on 127.0.0.1 whose answers each test scripts in advance.

Replies are queued per ``(method, path)`` and served in order; the last one repeats.
Every request is recorded (method, path, headers, body) for assertions. Special
replies close the connection without answering, before or after reading the body.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from attrs import field, frozen


@frozen(kw_only=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(factory=dict)
    reset: str | None = None  # "before_body" or "after_body": drop the connection
    # Announce this Content-Length but send only ``body`` (a truncated download).
    content_length: int | None = None

    @classmethod
    def json(cls, data: Any, status: int = 200, **headers: str) -> Reply:
        return cls(
            status=status,
            body=json.dumps(data).encode(),
            headers={"Content-Type": "application/json", **headers},
        )


NO_ROUTE = Reply.json({"error": {"message": "no route"}}, 404)


@frozen(kw_only=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ScriptedServer:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Reply | Callable[[Seen], Reply]]] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def log_message(self, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                with server._lock:
                    queue = server.routes.get((self.command, self.path))
                    step = queue[0] if queue else NO_ROUTE
                    if queue and len(queue) > 1:
                        queue.pop(0)
                if isinstance(step, Reply) and step.reset == "before_body":
                    self._drop()
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(
                    method=self.command,
                    path=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                with server._lock:
                    server.seen.append(seen)
                reply = step(seen) if callable(step) else step
                if reply.reset == "after_body":
                    self._drop()
                    return
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                announced = reply.content_length
                self.send_header("Content-Length", str(announced or len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)
                if reply.content_length is not None:
                    self.close_connection = True

            def _drop(self) -> None:
                # Linger 0: the close sends a TCP reset instead of a clean FIN.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.close_connection = True
                self.connection.close()

            do_GET = do_POST = do_DELETE = do_PUT = _handle

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                if not isinstance(sys.exc_info()[1], ConnectionError):  # clients that hung up
                    super().handle_error(request, client_address)

        self._httpd = Server(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def script(self, method: str, path: str, *replies: Reply | Callable[[Seen], Reply]) -> None:
        with self._lock:
            self.routes[(method, path)] = list(replies)

    def requests(self, method: str | None = None, path: str | None = None) -> list[Seen]:
        with self._lock:
            return [
                s for s in self.seen
                if (method is None or s.method == method) and (path is None or s.path == path)
            ]
