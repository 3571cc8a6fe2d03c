"""A job being downloaded stays its driver's, however long the download takes."""

import datetime as dt
import threading
from pathlib import Path

import pytest
from crash import JumpingClock
from emulated import sample_speech, sample_video

from lipbridge import Client, JobRequest
from lipbridge.errors import JobBusy
from lipbridge.ledger import Ledger
from lipbridge_emulator import CooperativeClock, Emulator, Timing


def test_a_long_download_keeps_its_lease(tmp_path: Path) -> None:
    ledger_time = JumpingClock()  # only the ledgers' clock jumps
    clock = CooperativeClock(start=dt.datetime.now(dt.timezone.utc))
    timing = Timing(job_seconds=0, results_lag=0)
    with Emulator(clock=clock, faults="download:hold=1", timing=timing) as emu:
        video = emu.upload(sample_video(1.0), "face.mp4")
        audio = emu.upload(sample_speech(1.5), "speech.wav")

        def client() -> Client:  # one per "process": its own ledger object and owner
            return Client(
                clock=clock, ledger=Ledger(tmp_path / "jobs.sqlite", clock=ledger_time),
                api_keys={"jogg": emu.key}, base_urls={"jogg": emu.base_url("jogg")},
            )

        first, second = client(), client()
        request = JobRequest(video=video, audio=audio, sync_mode="bounce")
        ran = threading.Thread(target=first.run, args=("jogg", request, tmp_path / "out.mp4"))
        ran.start()
        [held] = emu.holds.wait(1)  # the first is downloading, with the job's lease
        ledger_time.jump(601)  # ... and its download has taken over ten minutes
        assert second.jobs is not None
        [job] = second.jobs.list()
        try:
            with pytest.raises(JobBusy):
                second.jobs.resume(job.local_id)
        finally:
            emu.holds.release()
            ran.join(timeout=60)
        fetches = [
            a for a in emu.ledger.arrivals
            if a.endpoint == "download" and a.identity == held.identity
        ]
        assert len(fetches) == 1
