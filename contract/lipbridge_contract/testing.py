"""Helpers for a plugin's own unit tests: a real ``Client`` answered by a script.

The contract suite pins what the cassettes show; a plugin's unit tests pin the rest
(refusals before any request, settings, mapping tables). These give them a client that
never touches the network or sleeps, and shows what it would have sent::

    client, transport = scripted_client("acme", answer({"id": "j1", "status": "queued"}))
    client.submit("acme", request)
    assert json.loads(transport.sent[0].body) == {...}
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lipbridge import Client
from lipbridge.plugin import LocalMedia, Response
from lipbridge_contract.harness import ScriptedTransport, SteppedClock, renamed

# Long and random-looking, so a test can assert no body, log or message contains it.
TEST_KEY = "lbtest-9f2c41d7e8a05b6c3f1d2e7a9b8c4d60"

if not TYPE_CHECKING:  # VirtualClock, imported from here too, until lipbridge-contract 0.2

    def __getattr__(name: str) -> Any:
        return renamed(__name__, name)


def answer(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A scripted answer; a body that is not bytes is sent as JSON."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Response(
        method="GET",
        url="",
        status=status,
        headers={name.lower(): value for name, value in (headers or {}).items()},
        body=raw,
    )


def local_media(
    path: Path, content: bytes, media_type: str, kind: str = "video", duration: float | None = None
) -> LocalMedia:
    """``content`` written to ``path``, as the probed file the core hands
    ``lipbridge_upload`` (nothing decodes it: a few bytes stand in for media)."""
    path.write_bytes(content)
    return LocalMedia(
        path=path,
        kind=kind,
        media_type=media_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        duration=duration,
    )


def scripted_client(
    provider: str,
    *answers: Response,
    settings: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    key: str = TEST_KEY,
) -> tuple[Client, ScriptedTransport]:
    """A client for ``provider`` whose requests get ``answers`` in turn (the last repeats).

    Nothing comes from the real environment unless passed in ``environ``; time is a
    virtual clock, so waits and retries cost nothing.
    """
    transport = ScriptedTransport(list(answers))
    client = Client(
        transport=transport,
        clock=SteppedClock(),
        api_keys={provider: key},
        settings={provider: dict(settings or {})},
        environ=dict(environ or {}),
    )
    return client, transport
