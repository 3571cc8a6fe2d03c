"""Fixtures for the JoggAI unit tests: a client answered by a script, never the network."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from lipbridge import Client, Response
from lipbridge_contract.harness import ScriptedTransport, VirtualClock

KEY = "jogg-test-key-0123456789"  # long enough that no body happens to contain it


@pytest.fixture
def answer() -> Callable[..., Response]:
    """``answer(body, status=200, headers=None)``; a body that is not bytes is sent as JSON."""

    def build(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        return Response(method="GET", url="", status=status, headers=dict(headers or {}), body=raw)

    return build


@pytest.fixture
def jogg() -> Callable[..., tuple[Client, ScriptedTransport]]:
    """``jogg(*answers, settings=None, environ=None)``: a client and the transport it uses."""

    def build(
        *answers: Response,
        settings: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> tuple[Client, ScriptedTransport]:
        transport = ScriptedTransport(list(answers))
        client = Client(
            transport=transport,
            clock=VirtualClock(),
            api_keys={"jogg": KEY},
            settings={"jogg": dict(settings or {})},
            environ=dict(environ or {}),
        )
        return client, transport

    return build
