"""Workers as real ``lipbridge worker`` processes against an in-process emulator (the
crash tests' harness: :mod:`crash`, :mod:`batch_e2e`), jobs started from the test, and
what the emulator saw. Nothing sleeps: a test waits on printed lines, holds and
workflow results, each with a deadline that only stops a broken test from hanging."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from attrs import define, field
from batch_e2e import VIDEO_SECONDS, BatchCli, Watched
from emulated import sample_speech, sample_video
from temporalio.client import Client as TemporalClient

from lipbridge import Client, JobRequest
from lipbridge.context import env_name
from lipbridge.polling import PollPolicy
from lipbridge_emulator import Emulator
from lipbridge_temporal.specs import JobSpec, Outcome
from lipbridge_temporal.starter import job_spec, start_job

PROVIDER = "syncso"  # an idempotency key, signed callbacks: every path can be shown
PATIENCE = 120.0


@define
class WorkerCli(BatchCli):
    """``lipbridge`` with this emulator's keys and base URLs, plus ``extra`` variables."""

    extra: Mapping[str, str] = field(factory=dict)

    def env(self) -> dict[str, str]:
        return {**super().env(), **self.extra}


def cluster_cli(
    emu: Emulator, root: Path, name: str, address: str, namespace: str, **extra: str
) -> WorkerCli:
    """``lipbridge`` as a host that reaches the cluster by LIPBRIDGE_TEMPORAL_* (the batch
    command, the callback receiver), with a ledger of its own and ``extra`` variables."""
    return WorkerCli(
        emu,
        (PROVIDER,),
        root / f"{name}.sqlite",
        root / "logs" / name,
        extra={
            "LIPBRIDGE_TEMPORAL_ADDRESS": address,
            "LIPBRIDGE_TEMPORAL_NAMESPACE": namespace,
            **extra,
        },
    )


def start_workers(
    emu: Emulator,
    root: Path,
    names: Sequence[str],
    address: str,
    namespace: str,
    *args: str,
    extra: Mapping[str, str] | None = None,
    providers: Sequence[str] = (PROVIDER,),
) -> list[Watched]:
    """Workers for ``providers``, each with a ledger of its own (as on a host of its own),
    started at once and returned when all are ready."""
    running = []
    for name in names:
        cli = WorkerCli(
            emu,
            tuple(providers),
            root / f"{name}.sqlite",
            root / "logs" / name,
            extra=dict(extra or {}),
        )
        running.append(
            cli.start_watched(
                "worker",
                "--temporal",
                address,
                "--namespace",
                namespace,
                "--providers",
                ",".join(providers),
                *args,
            )
        )
    for name, worker in zip(names, running, strict=True):
        worker.wait_for_lines(
            lambda lines: any("worker ready" in ln for ln in lines), f"worker {name} ready"
        )
    return running


def requests(emu: Emulator, count: int, **fields: Any) -> list[JobRequest]:
    """``count`` requests whose bodies differ (a speech file each), so each is a job of
    its own at the emulator."""
    video = emu.upload(sample_video(VIDEO_SECONDS), "face.mp4")
    speech = sample_speech(1.5)
    return [
        JobRequest(
            video=video,
            audio=emu.upload(speech, f"speech{n}.wav"),
            **{"sync_mode": "loop", **fields},
        )
        for n in range(count)
    ]


def local_client(emu: Emulator, provider: str = PROVIDER) -> Client:
    """A client that checks requests as the CLI would (no ledger: jobs are started); its
    jobs are first polled soon (the emulator's are done at once)."""
    name = env_name(provider)
    env = {
        f"LIPBRIDGE_{name}_API_KEY": emu.key,
        f"LIPBRIDGE_{name}_BASE_URL": emu.base_url(provider),
    }
    return Client(environ=env, ledger=False, poll_policy=PollPolicy(first=0.25))


def specs(
    emu: Emulator,
    out: Path | None,
    count: int,
    fields: Mapping[str, Any] | None = None,
    **options: Any,
) -> list[JobSpec]:
    """``count`` jobs' specs (``fields``: more of each request), saved to ``out``."""
    client = local_client(emu)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    return [
        job_spec(
            client,
            PROVIDER,
            request,
            output=str(out / f"{n}.mp4") if out is not None else None,
            line=n + 1,
            **options,
        )
        for n, request in enumerate(requests(emu, count, **(fields or {})))
    ]


async def connect(address: str, namespace: str) -> TemporalClient:
    return await TemporalClient.connect(address, namespace=namespace)


async def run_jobs(temporal: TemporalClient, jobs: Sequence[JobSpec]) -> list[Outcome]:
    handles = [await start_job(temporal, spec) for spec in jobs]
    return list(await asyncio.wait_for(asyncio.gather(*(h.result() for h in handles)), PATIENCE))


def manifest(emu: Emulator, path: Path, rows: int, out: Path) -> Path:
    """A JSON Lines manifest of ``rows`` sync.so rows, each with its own speech file."""
    out.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps(
            {
                "video": r.video,
                "audio": r.audio,
                "provider": PROVIDER,
                "sync_mode": "loop",
                "output": str(out / f"row{n}.mp4"),
            }
        )
        for n, r in enumerate(requests(emu, rows), start=1)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path
