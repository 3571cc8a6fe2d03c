"""fal.ai's request listing (the platform API's ``by-endpoint``) in the emulator, end to
end: a submit whose answer was lost is found by the fal plugin's ``lipbridge_find_jobs``
and followed to its result without a second submit. Time is virtual: nothing sleeps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from emulated import client_for

from lipbridge import Client, JobRequest, JobState, SubmitOutcomeUnknown
from lipbridge.models import SyncMode
from lipbridge_contract.replay import find_jobs
from lipbridge_emulator import CooperativeClock, Emulator, Timing, samples

START = dt.datetime(2026, 1, 22, 9, 40, tzinfo=dt.timezone.utc)


@pytest.fixture
def emu() -> Iterator[Emulator]:
    clock = CooperativeClock(start=START)
    with Emulator(clock=clock, faults="submit:reset-after=1", timing=Timing(job_seconds=20)) as emu:
        yield emu


def inputs(emu: Emulator, sync_mode: SyncMode = SyncMode.LOOP) -> JobRequest:
    video = emu.upload(samples.sample_video(1.0), "face.mp4")
    audio = emu.upload(samples.sample_speech(1.5), "speech.wav")
    return JobRequest(video=video, audio=audio, sync_mode=sync_mode)


def lost_submit(client: Client, request: JobRequest) -> None:
    with pytest.raises(SubmitOutcomeUnknown):
        client.submit("fal", request)


def test_a_request_whose_submit_answer_was_lost_is_found_and_followed(emu: Emulator) -> None:
    client = client_for(emu, "fal", emu.clock)
    request = inputs(emu)
    since = emu.clock.now()
    lost_submit(client, request)
    [accepted] = emu.ledger.accepted
    assert not accepted.answered  # fal has the request; the client never heard of it
    [found] = find_jobs(client, "fal", request, since)
    assert (found.provider, found.job_id) == ("fal", accepted.job_id)
    [job] = emu.jobs("fal")
    assert found.created_at == job.created
    assert client.wait(found).video_url  # followed without a second submit
    assert client.poll(found).state is JobState.SUCCEEDED
    assert [a.endpoint for a in emu.ledger.arrivals].count("submit") == 1


def test_other_inputs_and_an_older_request_are_not_found(emu: Emulator) -> None:
    client = client_for(emu, "fal", emu.clock)
    request = inputs(emu)
    lost_submit(client, request)
    [job] = emu.jobs("fal")
    other = JobRequest(video=request.video, audio=request.audio, sync_mode=SyncMode.BOUNCE)
    assert find_jobs(client, "fal", other, START) == []
    assert find_jobs(client, "fal", request, job.created + dt.timedelta(seconds=1)) == []
    assert len(find_jobs(client, "fal", request, START)) == 1
