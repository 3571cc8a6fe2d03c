"""Fixtures shared by the core tests: fake clock, scripted server, fake distributions, S3."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from example_provider import write_dist
from scripted_server import ScriptedServer

from lipbridge import Client, Registry, Transport
from lipbridge.registry import discover
from lipbridge_contract.harness import SteppedClock

if TYPE_CHECKING:
    from s3_server import S3Server

KEY = "test-key-acme-0123456789abcdef"
GLOBEX_KEY = "test-key-globex-0123456789abcdef"


class FakeClock(SteppedClock):
    """Time that moves only when slept (every sleep recorded), on the test suite's date."""

    def __init__(self) -> None:
        super().__init__(dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.timezone.utc))
        self.mono = 1000.0


class ForbiddenTransport(Transport):
    """Fails the test on any HTTP request (``pytest.fail`` is not an ``Exception``)."""

    def send(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        pytest.fail(f"unexpected HTTP request: {args}")

    def stream(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        pytest.fail(f"unexpected HTTP download: {args}")


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A private site directory for fake distributions."""
    path = tmp_path / "site"
    path.mkdir()
    return path


@pytest.fixture
def standard_site(site: Path) -> Path:
    write_dist(site, "lipbridge-acme", {"acme": "lipbridge_testprov:acme"})
    write_dist(site, "lipbridge-globex", {"globex": "lipbridge_testprov:globex"})
    write_dist(site, "lipbridge-keyed", {"keyed": "lipbridge_testprov:keyed"})
    return site


def make_registry(site: Path, **environ: str) -> Registry:
    return Registry(discover(path=[str(site)]), environ=environ)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def client(standard_site: Path, server: ScriptedServer, clock: FakeClock) -> Iterator[Client]:
    """A client whose providers (acme, globex, keyed) all talk to the scripted server."""
    environ = {
        "LIPBRIDGE_ACME_API_KEY": KEY,
        "LIPBRIDGE_ACME_BASE_URL": server.url,
        "GLOBEX_KEY": GLOBEX_KEY,
        "LIPBRIDGE_GLOBEX_BASE_URL": server.url + "/globex",
        "LIPBRIDGE_KEYED_API_KEY": KEY,
        "LIPBRIDGE_KEYED_BASE_URL": server.url,
    }
    with Client(
        registry=make_registry(standard_site),
        environ=environ,
        clock=clock,
        rng=random.Random(7),
    ) as c:
        yield c


@pytest.fixture
def acme_with_ledger(
    standard_site: Path, server: ScriptedServer, clock: FakeClock, tmp_path: Path
) -> Iterator[Client]:
    """A client whose acme talks to the scripted server, recording into its own ledger."""
    environ = {"LIPBRIDGE_ACME_API_KEY": KEY, "LIPBRIDGE_ACME_BASE_URL": server.url}
    with Client(registry=make_registry(standard_site), environ=environ, clock=clock,
                rng=random.Random(7), ledger=tmp_path / "jobs.sqlite") as c:
        yield c


@pytest.fixture
def offline_client(standard_site: Path, clock: FakeClock) -> Client:
    """A client whose transport fails the test on any request."""
    return Client(
        registry=make_registry(standard_site),
        environ={"LIPBRIDGE_ACME_API_KEY": KEY, "LIPBRIDGE_GLOBEX_API_KEY": GLOBEX_KEY},
        clock=clock,
        transport=ForbiddenTransport(),
        rng=random.Random(7),
    )


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 on 127.0.0.1 for the whole session (imported only by tests that use it)."""
    from s3_server import S3Server

    srv = S3Server().start()
    yield srv
    srv.stop()


@pytest.fixture
def s3(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> S3Server:
    """The session's S3 server, with fake AWS keys as this test's only credentials."""
    from s3_server import fake_aws_environment

    fake_aws_environment(monkeypatch, tmp_path)
    return s3_server
