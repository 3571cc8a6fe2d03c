"""A callback ends a wait: ``lipbridge callbacks serve --signal temporal`` receives the
emulator's signed callback and signals the job's workflow (through the relay named by
the provider's job id), which polls at once instead of at its fallback's first poll
(15 s): the history shows the signal before the only poll.

The same run proves that no secret reaches a history: the provider key and the webhook
secret, in the worker's and the receiver's environment, appear in none of the job's,
the relay's or the cap's history, raw or base64, hex or URL encoded."""

from __future__ import annotations

import asyncio
import base64
import re
from pathlib import Path
from urllib.parse import quote

from temporal_harness import (
    PATIENCE,
    PROVIDER,
    cluster_cli,
    connect,
    run_jobs,
    specs,
    start_workers,
)
from temporalio.api.history.v1 import HistoryEvent

from lipbridge_emulator import Emulator, Timing
from lipbridge_emulator.dialects.syncso import SyncsoDialect
from lipbridge_temporal.devserver import DevServer
from lipbridge_temporal.names import callback_workflow_id, cap_workflow_id, job_workflow_id

KEY = "sk-live-LipbridgeTemporalHistoryCheck-7d1f0c9a2b"
SECRET = "whsec_TemporalHistoryMustNotHoldThis_5e8a1b"


def forms(secret: str) -> list[str]:
    """How a secret could sit in JSON: as is, URL encoded, hex, and base64 (standard and
    URL-safe) at each of the three byte alignments, cut where neighbours change it."""
    raw = secret.encode()
    found = [secret, quote(secret, safe=""), raw.hex(), raw.hex().upper()]
    for pad in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * pad + raw).decode()
            found.append(text[(pad * 4) // 3 + 1 : -4])
    return found


def is_poll(event: HistoryEvent) -> bool:
    """A poll: a local activity, recorded as a marker naming its activity type."""
    marker = event.marker_recorded_event_attributes
    data = marker.details["data"].payloads if "data" in marker.details else []
    return any(b'"lipbridge.poll"' in payload.data for payload in data)


def signalled_before_first_poll(events: list[HistoryEvent]) -> tuple[bool, int]:
    """Whether a callback signal came before the first poll, and how many polls ran."""
    signal_at, polls = None, []
    for n, event in enumerate(events):
        signalled = event.workflow_execution_signaled_event_attributes.signal_name
        if signalled == "callback" and signal_at is None:
            signal_at = n
        if is_poll(event):
            polls.append(n)
    return signal_at is not None and bool(polls) and signal_at < polls[0], len(polls)


def test_a_callback_signal_ends_the_wait_and_no_secret_reaches_a_history(
    temporal_server: DevServer, namespace: str, tmp_path: Path
) -> None:
    address = temporal_server.address
    secrets = {"LIPBRIDGE_SYNCSO_WEBHOOK_SECRET": SECRET}
    timing = Timing(job_seconds=1, results_lag=0)
    with Emulator(timing=timing, key=KEY, dialects=[SyncsoDialect(webhook_secret=SECRET)]) as emu:
        receiver_cli = cluster_cli(emu, tmp_path, "receiver", address, namespace, **secrets)
        receiver = receiver_cli.start_watched(
            "callbacks", "serve", "--port", "0", "--signal", "temporal", "--no-record"
        )
        lines = receiver.wait_for_lines(
            lambda ls: any("taking callbacks at" in ln for ln in ls), "the receiver's URL"
        )
        found = re.search(r"taking callbacks at (\S+)/<provider>", "".join(lines))
        assert found is not None
        [worker] = start_workers(emu, tmp_path, ["w"], address, namespace, extra=secrets)
        callback = {"callback_url": f"{found[1]}/{PROVIDER}"}
        [spec] = specs(emu, tmp_path / "out", 1, callback)
        assert spec.callbacks and spec.first_poll == 15.0  # polls are the fallback

        async def main() -> tuple[list[str], list[HistoryEvent], str]:
            temporal = await connect(address, namespace)
            [outcome] = await run_jobs(temporal, [spec])
            assert outcome.state == "done", outcome
            job = temporal.get_workflow_handle(job_workflow_id(spec.local_id))
            history = await job.fetch_history()
            relay = callback_workflow_id(PROVIDER, outcome.provider_job_id or "")
            texts = [history.to_json()]
            for other in (relay, cap_workflow_id(PROVIDER)):
                texts.append((await temporal.get_workflow_handle(other).fetch_history()).to_json())
            return texts, list(history.events), outcome.provider_job_id or ""

        try:
            texts, events, job_id = asyncio.run(asyncio.wait_for(main(), PATIENCE))
        finally:
            worker.kill()
            receiver.kill()
        polls_seen = [
            a for a in emu.ledger.snapshot()[0] if a.endpoint == "poll" and a.identity == job_id
        ]
    signalled, polls = signalled_before_first_poll(events)
    assert signalled, "the callback's signal did not come before the first poll"
    assert polls == 1
    assert len(polls_seen) == 1
    for text in texts:
        for secret in (KEY, SECRET):
            for form in forms(secret):
                assert form not in text, f"{secret[:6]}... as {form[:8]}... in a history"
