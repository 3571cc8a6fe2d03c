"""Local media for every provider (issue 15), through the Python API: each local file is
probed before anything is sent, takes the first route that works (the provider's own
upload, an inline data URI, the user's staging storage; else an error naming them), and
an upload is recorded in the ledger and reused for the same content while it is valid.

Real media made with PyAV, a scripted provider API on 127.0.0.1, moto's S3 for staging,
and a fake clock: nothing sleeps, nothing leaves the machine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import logging
import os
import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs
import pytest
import urllib3
from conftest import KEY, FakeClock
from lipbridge_testprov import AcmeLike, Uploader
from scripted_server import Reply, ScriptedServer, Seen
from test_batch import Provider, run_batch
from test_cost import write_mp4, write_wav

from lipbridge import (
    Client,
    InvalidRequest,
    JobRequest,
    ProviderError,
    Registry,
    SubmitOutcomeUnknown,
    SyncMode,
    UnsupportedOption,
)
from lipbridge.batch.manifest import Row
from lipbridge.batch.plan import plan_rows
from lipbridge.batch.runner import RowState
from lipbridge.ledger import LocalState
from lipbridge.ledger.records import MediaRoute, Route
from lipbridge.plugin import (
    CallContext,
    InputLimits,
    LocalMedia,
    ModelCapabilities,
    ProviderInfo,
    UploadedMedia,
    hookimpl,
    inline_local,
)
from lipbridge.staging import Staging

DAY = 86400
ROOMY = InputLimits(max_video_bytes=200_000, max_audio_bytes=200_000, max_video_seconds=2,
                    max_audio_seconds=3)


class Roomy(AcmeLike):
    """Takes local files inline as data URIs (up to 200 kB and 2 s of video), mp4 audio too."""

    @hookimpl
    def lipbridge_provider_info(self) -> ProviderInfo:
        model = ModelCapabilities(
            name="roomy-1", sync_modes=frozenset(SyncMode), default_sync_mode=SyncMode.LOOP,
            local_files=True, audio_formats=("mp3", "wav", "mp4"), limits=ROOMY,
        )
        return attrs.evolve(super().lipbridge_provider_info(), models=(model,),
                            default_model="roomy-1")

    @hookimpl
    def lipbridge_submit(self, request: JobRequest, ctx: CallContext) -> Any:
        inlined = attrs.evolve(
            request,
            video=inline_local(request.video, field="video", max_bytes=None),
            audio=request.audio and inline_local(request.audio, field="audio", max_bytes=None),
        )
        return super().lipbridge_submit(inlined, ctx)


class Both(Uploader, Roomy):
    """An upload API and inline data URIs: the upload comes first."""


class Undated(Uploader):
    """An upload API that says nothing of how long it keeps a file."""

    @hookimpl
    def lipbridge_upload(self, media: LocalMedia, ctx: CallContext) -> UploadedMedia:
        return attrs.evolve(super().lipbridge_upload(media, ctx), expires_at=None)


def write_audio_mp4(path: Path) -> Path:
    """An mp4 holding only an audio track (1 s of silence, AAC)."""
    av = pytest.importorskip("av")
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        for i in range(16):
            frame = av.AudioFrame(format="fltp", layout="mono", samples=1000)
            for plane in frame.planes:
                plane.update(bytes(plane.buffer_size))
            frame.sample_rate, frame.pts = 16000, i * 1000
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    pytest.importorskip("av")
    root = tmp_path_factory.mktemp("local-media")
    junk = root / "junk.mp4"
    junk.write_bytes(b"not a video at all\n" * 20)
    big = root / "big.mp4"
    big.write_bytes(b"\0" * 300_000)
    (root / "folder.mp4").mkdir()
    return {
        "face": write_mp4(root / "face.mp4"),  # 1.5 s, video only
        "long": write_mp4(root / "long.mp4", frames=30),  # 3 s
        "speech": write_wav(root / "speech.wav"),  # 2 s
        "voice": write_audio_mp4(root / "voice.mp4"),
        "junk": junk,
        "big": big,
        "folder": root / "folder.mp4",
    }


class Api:
    """The scripted provider: uploads answer a new URL each (``expires_in`` seconds),
    submits a new job id each, polls say done."""

    def __init__(self, server: ScriptedServer, expires_in: float | None = DAY) -> None:
        self.server = server
        self.expires_in = expires_in
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        server.script("POST", "/v1/uploads", self._upload)
        server.script("POST", "/v1/jobs", self._submit)

    def _upload(self, seen: Seen) -> Reply:
        with self._lock:
            n = next(self._ids)
        return Reply.json({"url": f"https://cdn.invalid/u{n}?sig=up-secret-{n}",
                           "expires_in": self.expires_in})

    def _submit(self, seen: Seen) -> Reply:
        with self._lock:
            job = f"j{next(self._ids)}"
        self.server.script("GET", f"/v1/jobs/{job}", Reply.json(
            {"id": job, "status": "done", "output": {"url": "https://cdn.invalid/out.mp4"}}))
        return Reply.json({"id": job, "status": "queued"})

    def uploads(self) -> int:
        return len(self.server.requests("POST", "/v1/uploads"))

    def submits(self) -> list[dict[str, Any]]:
        return [s.json() for s in self.server.requests("POST", "/v1/jobs")]


@pytest.fixture
def api(server: ScriptedServer) -> Api:
    return Api(server)


Plugins = dict[str, AcmeLike]


@pytest.fixture
def plugins() -> Plugins:
    return {"acme": AcmeLike("acme"), "roomy": Roomy("roomy"), "both": Both("both"),
            "uploader": Uploader("uploader"), "undated": Undated("undated")}


@pytest.fixture
def make_client(
    server: ScriptedServer, clock: FakeClock, tmp_path: Path, plugins: Plugins
) -> Iterator[Callable[..., Client]]:
    """Clients on one ledger (``ledger=False`` for none), all providers on the server."""
    made: list[Client] = []

    def make(**options: Any) -> Client:
        registry = Registry([], environ={})
        for name, plugin in plugins.items():
            registry.register(name, plugin)
        environ = {f"LIPBRIDGE_{name.upper()}_{what}": value for name in plugins
                   for what, value in (("API_KEY", KEY), ("BASE_URL", server.url))}
        options.setdefault("ledger", tmp_path / "jobs.sqlite")
        options.setdefault("staging", False)
        client = Client(registry=registry, environ=environ, clock=clock,
                        rng=random.Random(7), **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., Client]) -> Client:
    return make_client()


def request(files: dict[str, Path], video: str = "face", audio: str = "speech") -> JobRequest:
    return JobRequest(video=str(files[video]), audio=str(files[audio]))


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def no_jobs(client: Client) -> bool:
    assert client.jobs is not None
    return client.jobs.list() == []


# -- the route of each file, in order -------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "route"),
    [("both", Route.UPLOAD), ("uploader", Route.UPLOAD), ("roomy", Route.INLINE)],
)
def test_the_first_route_that_works_is_taken(
    client: Client, api: Api, files: dict[str, Path], plugins: Plugins, provider: str,
    route: Route,
) -> None:
    seen: list[MediaRoute] = []
    handle = client.submit(provider, request(files), on_route=seen.append)
    assert [(r.field, r.route) for r in seen] == [("video", route), ("audio", route)]
    (body,) = api.submits()
    if route is Route.UPLOAD:
        assert body["video_url"] == "https://cdn.invalid/u1?sig=up-secret-1"
        assert plugins[provider].calls["upload"] == 2
    else:
        assert body["video_url"].startswith("data:video/mp4;base64,")
        assert api.uploads() == 0
    assert client.jobs is not None and handle.local_id is not None
    job = client.jobs.get(handle.local_id)
    assert job.request.video == str(files["face"])  # what the user asked, not what was sent
    assert job.routes == tuple(seen)


def test_staging_comes_after_upload_and_inline_and_sends_a_presigned_url(
    make_client: Callable[..., Client], api: Api, files: dict[str, Path], s3: Any,
    clock: FakeClock,
) -> None:
    bucket = s3.new_bucket(versioned=True)
    staging = Staging(f"s3://{bucket}/in", clock=clock, storage_options={"endpoint_url": s3.url})
    client = make_client(staging=staging)
    for provider, route in (("both", Route.UPLOAD), ("roomy", Route.INLINE),
                            ("acme", Route.STAGED)):
        seen: list[MediaRoute] = []
        client.submit(provider, request(files), on_route=seen.append)
        assert {r.route for r in seen} == {route}, provider
    video = api.submits()[-1]["video_url"]
    key = f"in/{sha(files['face'])}.mp4"
    assert video.startswith(f"{s3.url}/{bucket}/{key}?") and "X-Amz-Signature=" in video
    assert get(video).data == files["face"].read_bytes()  # what the provider will fetch
    assert seen[0].target == f"s3://{bucket}/{key}"
    assert seen[0].expires_at == clock.now() + dt.timedelta(days=1)
    assert seen[0].reference == f"{s3.url}/{bucket}/{key}?***"

    again: list[MediaRoute] = []
    client.submit("acme", request(files), on_route=again.append)
    assert [r.reused for r in again] == [True, True]
    assert api.submits()[-1]["video_url"] == video
    assert s3.uploads(bucket) == sorted([key, f"in/{sha(files['speech'])}.wav"])


def get(url: str) -> urllib3.BaseHTTPResponse:
    return urllib3.PoolManager(retries=False).request("GET", url, timeout=30)


@pytest.mark.parametrize("call", ["submit", "run", "no ledger"])
def test_no_route_is_refused_before_anything_is_sent(
    make_client: Callable[..., Client], server: ScriptedServer, files: dict[str, Path],
    call: str,
) -> None:
    client = make_client(ledger=False) if call == "no ledger" else make_client()
    go = client.run if call == "run" else client.submit
    with pytest.raises(UnsupportedOption) as caught:
        go("acme", request(files))
    message = caught.value.message
    assert caught.value.field == "video" and repr(str(files["face"])) in message
    for says in ("no upload API", "no inline data URIs", "no staging storage",
                 "LIPBRIDGE_STAGING=s3://bucket/prefix", "pip install 'lipbridge[s3]'"):
        assert says in message
    assert server.seen == []
    assert client.jobs is None or no_jobs(client)


def test_remote_urls_and_data_uris_are_left_as_they_are(
    client: Client, api: Api, plugins: Plugins
) -> None:
    seen: list[MediaRoute] = []
    remote = JobRequest(video="https://cdn.invalid/v.mp4", audio="data:audio/wav;base64,AAAA")
    client.submit("roomy", remote, on_route=seen.append)
    assert seen == [] and api.uploads() == 0
    assert api.submits()[0]["audio_url"] == "data:audio/wav;base64,AAAA"


# -- probing: every bad file refused, nothing uploaded or sent -------------------------------


BAD = {
    "missing": ("video", lambda f: f["face"].with_name("gone.mp4"), "no such file"),
    "folder": ("video", lambda f: f["folder"], "is a folder; allowed: a video file"),
    "not media": ("video", lambda f: f["junk"], "is not media PyAV can read"),
    "audio as video": ("video", lambda f: f["voice"],
                       "has no video stream (it holds audio); allowed: a video file"),
    "video as audio": ("audio", lambda f: f["face"],
                       "has no audio stream (it holds video); allowed: an audio file"),
    "too large": ("video", lambda f: f["big"],
                  "is 300000 bytes; allowed: at most 200000 bytes for both/roomy-1"),
    "too long": ("video", lambda f: f["long"],
                 "lasts 3.00 s; allowed: at most 2 s for both/roomy-1"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_a_bad_file_is_refused_with_no_upload_and_no_submit(
    client: Client, api: Api, files: dict[str, Path], plugins: Plugins, case: str
) -> None:
    field, path_of, says = BAD[case]
    path = path_of(files)
    refs = {"video": str(files["face"]), "audio": str(files["speech"]), field: str(path)}
    with pytest.raises(InvalidRequest) as caught:
        client.submit("both", JobRequest(**refs))
    assert caught.value.field == field
    assert caught.value.message.startswith(f"{field}={str(path)!r}")
    assert says in caught.value.message
    assert api.server.seen == [] and plugins["both"].calls["upload"] == 0 and no_jobs(client)


def test_an_unreadable_file_is_refused_with_no_upload(
    client: Client, api: Api, files: dict[str, Path], tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    locked = tmp_path / "locked.mp4"
    locked.write_bytes(files["face"].read_bytes())
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make the check see what a user would
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode: p != locked and real(p, mode))
    with pytest.raises(InvalidRequest, match="cannot be read: Permission denied") as caught:
        client.submit("both", JobRequest(video=str(locked), audio=str(files["speech"])))
    assert caught.value.field == "video"
    assert api.server.seen == [] and no_jobs(client)


def test_a_failed_upload_submits_nothing(
    client: Client, server: ScriptedServer, files: dict[str, Path]
) -> None:
    server.script("POST", "/v1/uploads", Reply.json({"error": {"message": "quota"}}, 400))
    with pytest.raises(ProviderError, match="quota"):
        client.submit("uploader", request(files))
    assert server.requests("POST", "/v1/jobs") == [] and no_jobs(client)


# -- reuse ------------------------------------------------------------------------------------


def test_a_file_is_uploaded_once_per_provider_and_reused(
    client: Client, api: Api, files: dict[str, Path], plugins: Plugins
) -> None:
    first: list[MediaRoute] = []
    second: list[MediaRoute] = []
    client.submit("uploader", request(files), on_route=first.append)
    client.submit("uploader", request(files), on_route=second.append)
    assert plugins["uploader"].calls["upload"] == 2  # video and audio, once each
    assert [r.reused for r in first] == [False, False]
    assert [r.reused for r in second] == [True, True]
    one, two = api.submits()
    assert (one["video_url"], one["audio_url"]) == (two["video_url"], two["audio_url"])
    assert second[0].describe() == (
        "video face.mp4: reused upload to uploader (expires 2026-11-22 12:00 UTC)")
    client.submit("both", request(files))  # another provider's storage: its own upload
    assert plugins["both"].calls["upload"] == 2


def test_an_upload_made_before_a_crash_is_reused_not_repeated(
    make_client: Callable[..., Client], api: Api, files: dict[str, Path]
) -> None:
    def crash(route: MediaRoute) -> None:
        raise KeyboardInterrupt  # the process dies right after the video's upload

    with pytest.raises(KeyboardInterrupt):
        make_client().submit("uploader", request(files), on_route=crash)
    assert api.uploads() == 1 and api.submits() == []
    later = make_client()  # a new process on the same ledger
    assert no_jobs(later)
    seen: list[MediaRoute] = []
    later.submit("uploader", request(files), on_route=seen.append)
    assert [r.reused for r in seen] == [True, False]
    assert api.uploads() == 2


def test_a_job_never_submitted_is_resumed_with_its_uploads(
    make_client: Callable[..., Client], api: Api, server: ScriptedServer, files: dict[str, Path]
) -> None:
    server.script("POST", "/v1/jobs", Reply(reset="after_body"))
    first = make_client()
    with pytest.raises(SubmitOutcomeUnknown) as caught:
        first.submit("uploader", request(files))
    local_id = caught.value.details["local_id"]
    assert first.jobs is not None
    first.jobs.reconcile(local_id, not_submitted=True)
    lost = server.requests("POST", "/v1/jobs")[0].json()

    server.script("POST", "/v1/jobs", api._submit)
    later = make_client()
    assert later.jobs is not None
    later.jobs.resume(local_id)
    assert api.uploads() == 2  # video and audio, uploaded by the first attempt only
    again = api.submits()[-1]
    assert (again["video_url"], again["audio_url"]) == (lost["video_url"], lost["audio_url"])
    job = later.jobs.get(local_id)
    assert job.state is LocalState.SUCCEEDED and [r.reused for r in job.routes] == [True, True]


@pytest.mark.parametrize(
    ("expires_in", "later", "timeout", "reused"),
    [
        (DAY, 0, 1800, True),
        (1800, 0, 1800, False),  # valid for less than an hour: not reused
        (DAY, DAY - 1800, 1800, False),  # nearly expired
        (DAY, 22 * 3600, 3 * 3600, False),  # 2 h left, but the wait may take 3 h
        (DAY, 22 * 3600, 1800, True),
    ],
)
def test_an_upload_is_reused_only_while_valid_for_long_enough(
    client: Client, api: Api, files: dict[str, Path], clock: FakeClock,
    expires_in: float, later: float, timeout: float, reused: bool,
) -> None:
    api.expires_in = expires_in
    client.submit("uploader", request(files))
    clock.sleep(later)
    seen: list[MediaRoute] = []
    client.run("uploader", request(files), timeout=timeout, on_route=seen.append)
    assert [r.reused for r in seen] == [reused, reused]
    assert api.uploads() == (2 if reused else 4)


@pytest.mark.parametrize(("later", "reused"), [(23 * 3600, True), (25 * 3600, False)])
def test_an_upload_with_no_expiry_is_reused_for_a_day(
    client: Client, api: Api, files: dict[str, Path], clock: FakeClock, later: float,
    reused: bool,
) -> None:
    client.submit("undated", request(files))
    clock.sleep(later)
    seen: list[MediaRoute] = []
    client.submit("undated", request(files), on_route=seen.append)
    assert [r.reused for r in seen] == [reused, reused]
    assert seen[0].expires_at is None and "(no expiry given)" in seen[0].describe()


def test_concurrent_submits_of_one_file_upload_it_once(
    client: Client, api: Api, files: dict[str, Path]
) -> None:
    with ThreadPoolExecutor(max_workers=6) as pool:
        handles = list(pool.map(lambda _: client.submit("uploader", request(files)), range(6)))
    assert len({h.job_id for h in handles}) == 6
    assert api.uploads() == 2
    assert len({s["video_url"] for s in api.submits()}) == 1


def test_without_a_ledger_each_submit_uploads(
    make_client: Callable[..., Client], api: Api, files: dict[str, Path]
) -> None:
    client = make_client(ledger=False)
    client.submit("uploader", request(files))
    client.submit("uploader", request(files))
    assert api.uploads() == 4


# -- batches ------------------------------------------------------------------------------------


def voices(folder: Path, n: int) -> list[Path]:
    return [write_wav(folder / f"voice{i}.wav", seconds=1.0 + i / 10) for i in range(n)]


def test_a_batch_uploads_its_one_video_once(
    client: Client, server: ScriptedServer, files: dict[str, Path], clock: FakeClock,
    tmp_path: Path,
) -> None:
    uploads = Api(server)  # answers the uploads
    Provider(server)  # answers the submits and polls (replacing Api's)
    audios = voices(tmp_path, 5)
    batch = [Row(line=i, providers=("uploader",), request=JobRequest(
        video=str(files["face"]), audio=str(audio))) for i, audio in enumerate(audios, 1)]
    plans, problems = plan_rows(client, batch)  # the plan (and a dry run) uploads nothing
    assert problems == [] and len(plans) == 5 and server.seen == []
    outcomes = run_batch(client, clock, batch)
    assert {o.state for o in outcomes} == {RowState.DONE}
    videos = [seen for seen in server.requests("POST", "/v1/uploads")
              if b'filename="face.mp4"' in seen.body]
    assert len(videos) == 1 and uploads.uploads() == 1 + 5


# -- estimates ----------------------------------------------------------------------------------


def test_an_estimate_measures_local_files_for_a_provider_that_cannot_take_them(
    offline_client: Client, files: dict[str, Path]
) -> None:
    """acme-1 has no route for a local file, but an estimate sends nothing: it measures."""
    est = offline_client.estimate_cost("acme", request(files))
    assert est.known and est.quantity == 2  # loop: the audio's 2 s, at 5 credits a second
    with pytest.raises(InvalidRequest, match="is not media PyAV can read"):
        offline_client.estimate_cost("acme", request(files, video="junk"))


# -- secrets --------------------------------------------------------------------------------------


def test_a_presigned_signature_is_shown_nowhere(
    make_client: Callable[..., Client], server: ScriptedServer, files: dict[str, Path],
    s3: Any, clock: FakeClock, caplog: pytest.LogCaptureFixture,
) -> None:
    bucket = s3.new_bucket()
    client = make_client(staging=Staging(f"s3://{bucket}/in", clock=clock,
                                         storage_options={"endpoint_url": s3.url}))
    server.script("POST", "/v1/jobs", lambda seen: Reply.json(
        {"error": {"message": f"cannot fetch {seen.json()['video_url']}"}}, 400))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ProviderError) as caught:
        client.submit("acme", request(files))
    sent = server.requests("POST", "/v1/jobs")[0].json()["video_url"]
    signature = sent.split("X-Amz-Signature=")[1].split("&")[0]
    assert client.jobs is not None
    (summary,) = client.jobs.list()
    job = client.jobs.get(summary.local_id)
    logged = [r.getMessage() for r in caplog.records  # lipbridge's and its HTTP library's
              if r.name.startswith(("lipbridge", "urllib3"))]
    shown = [str(caught.value), *logged, repr(job), *(r.describe() for r in job.routes)]
    assert any("staged to" in line for line in logged)
    assert all(signature not in text for text in shown)
    assert job.routes[0].reference is not None and job.routes[0].reference.endswith("?***")
