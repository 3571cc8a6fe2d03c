"""The submit rate limit: ``lipbridge worker --submits-per-second`` (or
LIPBRIDGE_TEMPORAL_SUBMITS_PER_SECOND) becomes the server-side
``max_task_queue_activities_per_second`` of each provider's submit queue, and of no
other queue (polls and downloads are not paced). Unit level: the SDK's ``Worker`` is
replaced by one that records how it was made, so nothing connects."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

import lipbridge_temporal.worker as worker_module
from lipbridge import Client
from lipbridge.cli import cli
from lipbridge_temporal.config import TemporalConfig
from lipbridge_temporal.names import WORKFLOW_QUEUE, provider_queue, submit_queue


class Recorded:
    """A stand-in for ``temporalio.worker.Worker``: its arguments, kept."""

    made: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, client: object, **options: Any) -> None:
        Recorded.made.append(options)

    async def __aenter__(self) -> Recorded:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


def rates(made: list[dict[str, Any]]) -> dict[str, float | None]:
    return {m["task_queue"]: m.get("max_task_queue_activities_per_second") for m in made}


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    Recorded.made = []
    monkeypatch.setattr(worker_module, "Worker", Recorded)
    return Recorded.made


def serve_at(rate: float | None, providers: list[str]) -> None:
    async def main() -> None:
        stop = asyncio.Event()
        stop.set()  # made and entered, then stopped at once
        client = Client(environ={}, ledger=False)
        await worker_module.serve(
            client, object(), providers, stop=stop, submits_per_second=rate  # type: ignore[arg-type]
        )

    asyncio.run(main())


def test_the_rate_limits_each_providers_submit_queue_alone(
    recorded: list[dict[str, Any]],
) -> None:
    serve_at(2.5, ["syncso", "foxapi"])
    assert rates(recorded) == {
        WORKFLOW_QUEUE: None,
        submit_queue("syncso"): 2.5,
        provider_queue("syncso"): None,
        submit_queue("foxapi"): 2.5,
        provider_queue("foxapi"): None,
    }
    Recorded.made.clear()
    serve_at(None, ["syncso"])
    assert rates(recorded)[submit_queue("syncso")] is None


@pytest.mark.parametrize(
    ("args", "env", "rate"),
    [
        (["--submits-per-second", "3"], {}, 3.0),
        ([], {"LIPBRIDGE_TEMPORAL_SUBMITS_PER_SECOND": "0.5"}, 0.5),
        (["--submits-per-second", "4"], {"LIPBRIDGE_TEMPORAL_SUBMITS_PER_SECOND": "0.5"}, 4.0),
        ([], {}, None),
    ],
)
def test_the_worker_command_passes_the_rate_from_its_option_or_variable(
    recorded: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    args: list[str],
    env: dict[str, str],
    rate: float | None,
) -> None:
    async def connected(self: TemporalConfig) -> object:
        return object()

    monkeypatch.delenv("LIPBRIDGE_TEMPORAL_SUBMITS_PER_SECOND", raising=False)
    monkeypatch.setattr(TemporalConfig, "connect", connected)
    monkeypatch.setattr(asyncio.Event, "wait", _at_once)  # the worker stops once made
    client = Client(environ={"LIPBRIDGE_SYNCSO_API_KEY": "sk-test-rate"}, ledger=False)
    command = ["worker", "--temporal", "127.0.0.1:7233", "--providers", "syncso", *args]
    result = CliRunner().invoke(cli, command, obj=lambda: client, env=env)
    assert result.exit_code == 0, result.output
    assert rates(recorded)[submit_queue("syncso")] == rate


async def _at_once(self: asyncio.Event) -> bool:
    return True
