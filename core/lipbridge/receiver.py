"""``lipbridge callbacks serve``: a small HTTP server that takes providers' callbacks.

Each ``POST /<provider>`` is handed, headers and raw body, to a function that verifies
and records it (:meth:`lipbridge.jobs.Jobs.record_callback`); the answer tells the
provider whether to try again. Bounded whatever the sender does: bodies past
``max_body`` are refused unread, and a connection that goes quiet is dropped.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

from lipbridge.errors import (
    CallbackRejected,
    ConfigurationError,
    LipbridgeError,
    UnknownProvider,
    UnsupportedCapability,
)
from lipbridge.redact import scrub

log = logging.getLogger("lipbridge.callbacks")

MAX_BODY = 1 << 20  # a job's status; providers' callbacks are a few kilobytes
READ_TIMEOUT = 10.0  # seconds a sender may stay silent while sending
# Handles a callback: (provider, headers with lower-cased names, body) -> what happened.
Handler = Callable[[str, Mapping[str, str], bytes], str]


def _status_for(error: LipbridgeError) -> int:
    """400s tell the provider not to retry (the callback itself is wrong); 500s that a
    retry may work once the receiver is fixed or the job is known."""
    if isinstance(error, CallbackRejected):
        return 400
    if isinstance(error, (UnknownProvider, UnsupportedCapability)):
        return 404
    return 500


class CallbackReceiver:
    """Serve ``handle`` on ``host:port`` in a background thread until :meth:`close`."""

    def __init__(
        self, handle: Handler, *, host: str = "127.0.0.1", port: int = 0,
        max_body: int = MAX_BODY,
    ) -> None:
        receiver = self

        class Request(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = READ_TIMEOUT

            def log_message(self, format: str, *args: object) -> None:
                log.debug("%s %s", self.address_string(), format % args)

            def do_POST(self) -> None:
                receiver._post(self)

            def _refuse_method(self) -> None:
                receiver._answer(self, 405, "callbacks are POSTs", allow="POST")

            do_GET = do_PUT = do_DELETE = do_PATCH = _refuse_method

        self._handle = handle
        self._max_body = max_body
        self._server = ThreadingHTTPServer((host, port), Request)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="lipbridge-callbacks", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> CallbackReceiver:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> CallbackReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _post(self, request: BaseHTTPRequestHandler) -> None:
        provider = unquote(urlsplit(request.path).path.strip("/"))
        length = request.headers.get("content-length", "")
        refusal = self._refusal(provider, length)
        if refusal is not None:  # the body stays unread: the connection cannot be reused
            request.close_connection = True
            self._answer(request, *refusal, connection="close")
            return
        try:
            body = request.rfile.read(int(length))
        except OSError:  # the sender went quiet or away: nothing to answer
            request.close_connection = True
            return
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            done = self._handle(provider, headers, body)
        except Exception as exc:
            if not isinstance(exc, LipbridgeError):  # a bug: logged in full, here only
                log.exception("callback for %s: the receiver failed", provider)
                self._answer(request, 500, "the receiver could not record it")
                return
            status = _status_for(exc)
            # The sender learns only what it did wrong; a receiver's own trouble (a
            # missing secret, the ledger) is logged here, not told to whoever posted.
            shown = exc.message if status < 500 else "the receiver could not record it"
            level = logging.ERROR if isinstance(exc, ConfigurationError) else logging.WARNING
            log.log(level, "callback for %s refused: %s", provider, scrub(exc.message))
            self._answer(request, status, shown)
            return
        log.info("callback for %s: %s", provider, done)
        self._answer(request, 200, done)

    def _refusal(self, provider: str, length: str) -> tuple[int, str] | None:
        """Why a callback is refused before its body is read, if it is."""
        if not provider or "/" in provider:
            return 404, "post callbacks to /<provider>"
        if not length.isdigit():
            return 411, "a callback needs a Content-Length"
        if int(length) > self._max_body:
            return 413, f"a callback holds at most {self._max_body} bytes"
        return None

    @staticmethod
    def _answer(
        request: BaseHTTPRequestHandler, status: int, text: str, **headers: str
    ) -> None:
        body = (scrub(text) + "\n").encode()
        request.send_response(status)
        request.send_header("Content-Type", "text/plain; charset=utf-8")
        request.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            request.send_header(name.title(), value)
        request.end_headers()
        request.wfile.write(body)
