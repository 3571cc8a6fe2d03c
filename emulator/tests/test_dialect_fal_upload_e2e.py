"""fal.ai's storage upload end to end: local files given to the fal plugin go through the
emulator's storage API (initiate under the mount, then a PUT to the signed URL), and the
request runs on the uploaded files. Time is virtual: nothing sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from emulated import LONG, SHORT, Emulated, emulated, sample_speech, sample_video

from lipbridge import JobRequest


@pytest.fixture(scope="module")
def env() -> Iterator[Emulated]:
    with emulated() as running:
        yield running


def test_local_files_go_through_fal_storage(env: Emulated, tmp_path: Path) -> None:
    video, audio = tmp_path / "face.mp4", tmp_path / "speech.wav"
    video.write_bytes(sample_video(SHORT))
    audio.write_bytes(sample_speech(LONG))
    with env.client("fal") as client:
        handle = client.submit("fal", JobRequest(video=str(video), audio=str(audio)))
        client.download(client.wait(handle), tmp_path / "out.mp4")
    [job] = [j for j in env.emu.jobs("fal") if j.id == handle.job_id]
    assert job.spec.video.endswith("/face.mp4")
    assert job.spec.audio is not None and job.spec.audio.endswith("/speech.wav")
    arrivals = env.emu.ledger.arrivals
    uploads = [(a.method, a.path, a.status) for a in arrivals if a.endpoint == "upload"]
    assert [u for u in uploads if u[0] == "POST"] == [
        ("POST", "/fal/storage/upload/initiate", 200)
    ] * 2
    puts = [u for u in uploads if u[0] == "PUT"]  # to the signed URLs the initiates gave
    assert [(p[1].rsplit("/", 1)[-1], p[2]) for p in puts] == [
        ("face.mp4", 200),
        ("speech.wav", 200),
    ]
    assert (tmp_path / "out.mp4").stat().st_size > 0
