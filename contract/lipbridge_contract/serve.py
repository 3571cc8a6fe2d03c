"""``lipbridge contract serve``: one scenario's recorded answers, over real HTTP on 127.0.0.1.

A stand-in for the provider when there is no key or no network: point the plugin's base
URL at the printed address and run the scenario's steps with the CLI or the ``Client``.
Each request gets the first unplayed recorded answer for its method, path and query,
once, exactly as the replay would; a request the recording does not hold gets a 404
that says so. It is a demo and debugging aid built on the cassettes, not an emulator:
it answers in the recorded order whatever the request body says (a body that differs
from the recording is reported on stderr).
"""

from __future__ import annotations

import contextlib
import json
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import click

from lipbridge.context import env_var
from lipbridge_contract.cli import cassettes_option
from lipbridge_contract.locate import given_or_shipped
from lipbridge_contract.recorded import CassetteFormatError, Interaction, load_interactions

# Hop-by-hop and framing headers are the server's to set, not the recording's.
_FRAMING = {"content-length", "transfer-encoding", "connection", "content-encoding"}


def _target(uri: str) -> str:
    parts = urlsplit(uri)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _same_body(recorded: bytes, sent: bytes) -> bool:
    try:
        return bool(json.loads(recorded or b"null") == json.loads(sent or b"null"))
    except ValueError:
        return recorded == sent


class CassetteServer:
    """Serves ``interactions`` once each, in order per method and target."""

    def __init__(
        self,
        interactions: Sequence[Interaction],
        host: str = "127.0.0.1",
        port: int = 0,
        report: Callable[[str], None] = lambda line: None,
    ) -> None:
        self.unplayed = list(interactions)
        self.report = report
        self.done = threading.Event()
        self._lock = threading.Lock()
        if not self.unplayed:
            self.done.set()
        self._http = ThreadingHTTPServer((host, port), self._handler())
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> CassetteServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    def answer(self, method: str, target: str, body: bytes) -> Interaction | None:
        with self._lock:
            for n, recorded in enumerate(self.unplayed):
                if recorded.method == method and _target(recorded.uri) == target:
                    del self.unplayed[n]
                    break
            else:
                return None
        if not _same_body(recorded.request_body, body):
            self.report(f"{method} {target}: the body differs from the recording")
        return recorded

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                recorded = server.answer(self.command, self.path, body)
                if recorded is None:
                    server.report(f"{self.command} {self.path}: no recorded answer left")
                    payload = json.dumps(
                        {"error": f"the cassette holds no unplayed answer for "
                                  f"{self.command} {self.path}"}
                    ).encode()
                    status = 404
                    headers: Mapping[str, str] = {"content-type": "application/json"}
                else:
                    payload, status, headers = recorded.body, recorded.status, recorded.headers
                self.send_response(status)
                for name, value in headers.items():
                    if name not in _FRAMING:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
                if not server.unplayed:  # the last answer is out: the scenario is complete
                    server.done.set()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

            def log_message(self, format: str, *args: object) -> None:
                pass  # the recorded answers are the output; keep stderr for problems

        return Handler


@click.command("serve")
@click.argument("provider")
@click.argument("scenario")
@cassettes_option
@click.option("--port", type=int, default=0, show_default=True, help="0 picks a free port.")
def serve(provider: str, scenario: str, root: Path | None, port: int) -> None:
    """Serve PROVIDER's SCENARIO's recorded answers on 127.0.0.1 until every one is played."""
    path = given_or_shipped(root, provider) / provider / f"{scenario}.yaml"
    try:
        interactions = load_interactions(path)
    except CassetteFormatError as exc:
        raise click.UsageError(f"cannot serve {path}: {exc}") from None
    with CassetteServer(
        interactions, port=port, report=lambda line: click.echo(line, err=True)
    ) as server:
        click.echo(f"serving {path} ({len(interactions)} recorded answers) at {server.url}")
        click.echo(f"use it with: {env_var(provider, 'BASE_URL')}={server.url}")
        sys.stdout.flush()
        with contextlib.suppress(KeyboardInterrupt):
            server.done.wait()
    click.echo(f"served {len(interactions) - len(server.unplayed)} of {len(interactions)}")
