"""Contract 1.4, what a queue API such as fal.ai's or Replicate's needs from the core:
queue positions and provider logs, a failure that arrives through the result, a cancel
the provider confirms later, native model ids and versions, re-based provider URLs and
envelope options. The price shapes are in test_prices_14.py.

The plugin here, ``queuey``, speaks a fal-like queue: submit answers per-request URLs on
the API's own host, the status carries a queue position and the whole log, COMPLETED may
be followed by a 422 for the result, and a cancel answers CANCELLATION_REQUESTED.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from conftest import FakeClock

from lipbridge import (
    CONTRACT_VERSION,
    Client,
    InvalidRequest,
    JobCancelled,
    JobError,
    JobFailed,
    JobHandle,
    JobRequest,
    JobResult,
    JobState,
    JobStatus,
    PluginContractError,
    ProviderProtocolError,
    Registry,
    UnsupportedOption,
    WaitTimeout,
)
from lipbridge.convert import structure, unstructure
from lipbridge.ledger.records import LocalState
from lipbridge.plugin import (
    CallContext,
    CallKind,
    ModelCapabilities,
    ProviderInfo,
    Response,
    StatusMap,
    hookimpl,
    log_lines,
    request_body,
    split_options,
    whole_number,
)
from lipbridge.redact import register
from lipbridge.registry import contract_problem
from lipbridge.statuses import LOG_CHARS, LOG_LINES, bounded_logs, fresh_lines
from lipbridge.validation import validate
from lipbridge_contract.harness import ScriptedTransport
from lipbridge_contract.testing import answer

HOME = "https://queue.queuey.invalid"
BASE = "http://127.0.0.1:9"  # an emulator's base URL, configured by the user
SECRET = "queuey-secret-key-0123456789abcdef"
register(SECRET)
VERSION = "5f3a" * 16  # a Replicate-like 64-hex version id
STATUSES = StatusMap({
    "IN_QUEUE": JobState.QUEUED,
    "IN_PROGRESS": JobState.RUNNING,
    "COMPLETED": JobState.SUCCEEDED,
    "CANCELLATION_REQUESTED": JobState.CANCELLING,
    "CANCELLED": JobState.CANCELLED,  # not fal's: this queue confirms a cancel with a word
})
INFO = ProviderInfo(
    name="queuey",
    display_name="Queuey",
    docs_url="https://docs.queuey.invalid",
    contract_version=CONTRACT_VERSION,
    default_base_url=HOME,
    models=(
        ModelCapabilities(
            name="lipsync-2", native_id="queuey-ai/sync-lipsync/v2", version=VERSION,
            cancel=True, envelope_options=frozenset({"webhook_events_filter"}),
        ),
        ModelCapabilities(name="plain"),
    ),
    default_model="lipsync-2",
    status_words=STATUSES,
    fails_through_result=True,
)


class Queuey:
    """The fal-like plugin, as an outside author would write it against contract 1.4."""

    @hookimpl
    def lipbridge_provider_info(self) -> ProviderInfo:
        return INFO

    @hookimpl
    def lipbridge_submit(self, request: JobRequest, ctx: CallContext) -> JobHandle:
        caps = INFO.model(request.model)
        inputs, envelope = split_options(request.options, caps.envelope_options)
        body = {
            "version": caps.version,
            "input": request_body({"video_url": request.video, "audio_url": request.audio},
                                  inputs),
            **request_body({}, envelope),
        }
        response = ctx.http.post(f"/{caps.native_id or caps.name}", kind=CallKind.SUBMIT,
                                 json=body)
        data = ctx.read(response)
        resume = {k: ctx.require(response, data, k) for k in ("status_url", "response_url",
                                                              "cancel_url")}
        return ctx.new_handle(ctx.require(response, data, "request_id"), model=request.model,
                              resume=resume)

    @hookimpl
    def lipbridge_poll(self, handle: JobHandle, ctx: CallContext) -> JobStatus:
        url = ctx.http.rebase(handle.resume["status_url"], INFO.default_base_url)
        response = ctx.http.get(url, kind=CallKind.POLL, params={"logs": "1"})
        data = ctx.read(response, handle.job_id)
        raw = ctx.require(response, data, "status", job_id=handle.job_id)
        state = STATUSES.state(raw)
        seen = {"queue_position": whole_number(data.get("queue_position")),
                "logs": log_lines(data.get("logs"))}
        if state is not JobState.SUCCEEDED:
            return JobStatus(state=state, raw_status=raw, **seen)
        result_url = ctx.http.rebase(handle.resume["response_url"], INFO.default_base_url)
        fetched = ctx.http.get(result_url, kind=CallKind.POLL)
        if fetched.status == 422:  # the job ran, and its result is an error
            detail = fetched.json(ctx.provider).get("detail", "the result is an error")
            error = JobError(message=str(detail), code="422", phase="result")
            return JobStatus(state=JobState.FAILED, raw_status=raw, error=error, **seen)
        video = ctx.require(fetched, ctx.read(fetched, handle.job_id), "video", "url")
        return JobStatus(state=state, raw_status=raw, result=JobResult(video_url=video), **seen)

    @hookimpl
    def lipbridge_cancel(self, handle: JobHandle, ctx: CallContext) -> JobStatus:
        url = ctx.http.rebase(handle.resume["cancel_url"], INFO.default_base_url)
        response = ctx.http.request("PUT", url, kind=CallKind.CANCEL)
        raw = ctx.require(response, ctx.read(response, handle.job_id), "status")
        return JobStatus(state=STATUSES.state(raw), raw_status=raw)


def submitted(job: str = "r1", home: str = HOME) -> dict[str, str]:
    where = f"{home}/queuey-ai/sync-lipsync/requests/{job}"
    return {"request_id": job, "status_url": f"{where}/status", "response_url": where,
            "cancel_url": f"{where}/cancel"}


def status(word: str, position: int | None = None, logs: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"status": word, "queue_position": position,
            "logs": [{"message": line, "level": "INFO"} for line in logs]}


REQUEST = JobRequest(video="https://cdn.invalid/face.mp4", audio="https://cdn.invalid/a.wav")


def queuey_client(tmp_path: Path, *answers: Any, ledger: bool = True,
                  base_url: str = BASE) -> tuple[Client, ScriptedTransport]:
    registry = Registry([], environ={})
    registry.register("queuey", Queuey())
    transport = ScriptedTransport([a if not isinstance(a, dict) else answer(a) for a in answers])
    client = Client(registry=registry, transport=transport, clock=FakeClock(),
                    api_keys={"queuey": SECRET}, base_urls={"queuey": base_url}, environ={},
                    ledger=tmp_path / "jobs.sqlite" if ledger else False)
    return client, transport


# --- queue position and logs -------------------------------------------------------------------


def test_a_status_keeps_the_newest_log_lines_within_its_bounds() -> None:
    lines = [f"line {n}" for n in range(100)]
    kept = JobStatus(state=JobState.RUNNING, raw_status="IN_PROGRESS", logs=lines).logs
    assert kept == tuple(lines[-LOG_LINES:])
    long = bounded_logs(["old", "x" * (LOG_CHARS + 50)])
    assert long == ("x" * LOG_CHARS,)  # the newest line, cut; nothing older fits
    assert sum(map(len, bounded_logs(["y" * 1500] * 5))) <= LOG_CHARS


def test_log_lines_are_split_stripped_and_blank_ones_dropped() -> None:
    assert bounded_logs("a\n\n  \nb  \r\nc") == ("a", "b", "c")
    assert bounded_logs(["one\ntwo", 3, None, "three"]) == ("one", "two", "three")  # type: ignore[list-item]
    assert bounded_logs(None) == () == bounded_logs([])


def test_log_lines_are_scrubbed_before_they_are_cut() -> None:
    line = f"calling with key {SECRET} and https://cdn.invalid/o.mp4?X-Amz-Signature=abc123"
    (shown,) = bounded_logs([line])
    assert SECRET not in shown and "abc123" not in shown
    assert "[REDACTED]" in shown and "X-Amz-Signature=***" in shown
    cut = bounded_logs(["z" * (LOG_CHARS - 20) + SECRET])[0]  # the cut falls in the key
    assert SECRET[:12] not in cut


def test_fresh_lines_are_what_follows_the_lines_already_shown() -> None:
    assert fresh_lines((), ("a", "b")) == ("a", "b")
    assert fresh_lines(("a", "b"), ("a", "b", "c")) == ("c",)
    assert fresh_lines(("a", "b", "c"), ("b", "c", "d", "e")) == ("d", "e")  # a bounded window
    assert fresh_lines(("a", "b"), ("a", "b")) == ()
    assert fresh_lines(("x", "x"), ("x", "x", "x")) == ("x",)
    assert fresh_lines(("a",), ("q", "r")) == ("q", "r")


@pytest.mark.parametrize("bad", [-1, 1.5, True, "3"])
def test_a_queue_position_is_a_whole_number_of_jobs_ahead(bad: object) -> None:
    with pytest.raises(ValueError, match="queue_position"):
        JobStatus(state=JobState.QUEUED, raw_status="IN_QUEUE", queue_position=bad)  # type: ignore[arg-type]
    assert JobStatus(state=JobState.QUEUED, raw_status="q", queue_position=0).queue_position == 0


def test_the_readers_take_untrusted_queue_positions_and_logs() -> None:
    assert [whole_number(v) for v in (3, 3.0, 2.5, -1, True, "3", None)] == [
        3, 3, None, None, None, None, None]
    assert log_lines("one\ntwo") == ("one", "two")
    assert log_lines([{"message": "a"}, "b", {"msg": "c"}, 7, {"message": ""}]) == ("a", "b")
    assert log_lines([{"text": "a"}], key="text") == ("a",)
    assert log_lines({"message": "a"}) == ()


def test_a_status_with_a_queue_position_and_logs_round_trips_as_json() -> None:
    status = JobStatus(state=JobState.QUEUED, raw_status="IN_QUEUE", queue_position=4,
                       logs=("waiting for a GPU",))
    data = unstructure(status)
    assert (data["queue_position"], data["logs"]) == (4, ["waiting for a GPU"])
    assert structure(data, JobStatus) == status


def test_wait_hands_queue_positions_and_logs_to_on_progress_and_the_ledger_only_changes(
    tmp_path: Path,
) -> None:
    client, _ = queuey_client(
        tmp_path, submitted(),
        status("IN_QUEUE", 2), status("IN_QUEUE", 1), status("IN_QUEUE", 0),
        status("IN_PROGRESS", logs=("loading",)), status("IN_PROGRESS", logs=("loading", "50%")),
        status("COMPLETED", logs=("loading", "50%", "done")),
        {"video": {"url": "https://cdn.queuey.invalid/out.mp4"}},
    )
    seen: list[JobStatus] = []
    handle = client.submit("queuey", REQUEST)
    result = client.wait(handle, on_progress=seen.append)
    assert result.video_url == "https://cdn.queuey.invalid/out.mp4"
    assert [s.queue_position for s in seen] == [2, 1, 0, None, None, None]
    assert seen[-1].logs == ("loading", "50%", "done")
    assert client.jobs is not None
    events = client.jobs.events(handle.local_id or "")
    polls = [(e.state, e.raw_status) for e in events if e.kind.value == "status"]
    assert polls == [(LocalState.QUEUED, "IN_QUEUE"), (LocalState.RUNNING, "IN_PROGRESS"),
                     (LocalState.SUCCEEDED, "COMPLETED")]  # one write per state or word


# --- a failure that arrives through the result -------------------------------------------------


def test_a_failure_through_the_result_fails_the_wait_with_the_providers_message(
    tmp_path: Path,
) -> None:
    client, transport = queuey_client(
        tmp_path, submitted(), status("COMPLETED"),
        answer({"detail": "no face found in the video"}, status=422),
    )
    handle = client.submit("queuey", REQUEST)
    with pytest.raises(JobFailed, match="no face found") as failed:
        client.wait(handle)
    last = failed.value.status
    assert last is not None and last.failed_via_result
    assert (last.state, last.raw_status) == (JobState.FAILED, "COMPLETED")
    assert client.jobs is not None
    assert client.jobs.get(handle.local_id or "").state is LocalState.FAILED
    assert [r.url for r in transport.sent][-1] == f"{BASE}/queuey-ai/sync-lipsync/requests/r1"


def test_an_error_of_the_result_phase_belongs_to_a_failed_status() -> None:
    error = JobError(message="422", phase="result")
    with pytest.raises(ValueError, match="result phase belongs to a failed or cancelled"):
        JobStatus(state=JobState.RUNNING, raw_status="COMPLETED", error=error)
    with pytest.raises(ValueError, match="phase"):
        JobError(message="x", phase="later")  # type: ignore[arg-type]
    assert not JobStatus(state=JobState.FAILED, raw_status="x", error=JobError(message="m")
                         ).failed_via_result


@pytest.mark.parametrize(
    ("state", "declared", "agrees"),
    [
        (JobState.RUNNING, JobState.RUNNING, True),
        (JobState.FAILED, JobState.SUCCEEDED, True),  # the result failed
        (JobState.RUNNING, JobState.SUCCEEDED, True),  # no result yet
        (JobState.CANCELLING, JobState.RUNNING, True),  # a cancel's answer, job still running
        (JobState.CANCELLING, JobState.QUEUED, True),
        (JobState.CANCELLING, JobState.SUCCEEDED, False),
        (JobState.SUCCEEDED, JobState.RUNNING, False),
        (JobState.FAILED, JobState.RUNNING, False),
        (JobState.CANCELLED, JobState.FAILED, False),
        (JobState.RUNNING, JobState.CANCELLING, False),
    ],
)
def test_which_state_a_declared_word_may_read_as(
    state: JobState, declared: JobState, agrees: bool
) -> None:
    done = state is JobState.SUCCEEDED
    result = JobResult(video_url="https://cdn.invalid/o.mp4") if done else None
    error = JobError(message="m", phase="result") if state is JobState.FAILED else None
    status = JobStatus(state=state, raw_status="w", result=result, error=error)
    assert status.agrees_with(declared) is agrees


def test_a_result_may_say_the_job_was_cancelled() -> None:
    """fal.ai: a cancelled job ends COMPLETED, and its result is a 499 client_cancelled."""
    cancelled = JobStatus(state=JobState.CANCELLED, raw_status="COMPLETED",
                          error=JobError(message="cancelled", code="499", phase="result"))
    assert cancelled.failed_via_result and cancelled.agrees_with(JobState.SUCCEEDED)
    plain = attrs.evolve(cancelled, error=JobError(message="cancelled"))
    assert not plain.agrees_with(JobState.SUCCEEDED)


def test_a_provider_whose_failures_come_through_the_result_reports_failed_without_a_word() -> None:
    assert JobState.FAILED not in INFO.status_words.values()
    assert INFO.reports(JobState.FAILED) and INFO.reports(JobState.CANCELLING)
    plain = attrs.evolve(INFO, fails_through_result=False)
    assert not plain.reports(JobState.FAILED) and plain.reports(JobState.SUCCEEDED)


# --- a cancel the provider confirms later ------------------------------------------------------


def test_cancelling_is_not_terminal_and_the_ledger_keeps_it_running() -> None:
    assert not JobState.CANCELLING.terminal
    assert LocalState.of(JobState.CANCELLING) is LocalState.RUNNING
    assert {LocalState.of(s) for s in JobState if s is not JobState.CANCELLING} == {
        LocalState(s.value) for s in JobState if s is not JobState.CANCELLING}


@pytest.mark.parametrize(("end", "outcome"), [("cancelled", JobCancelled), ("finished", None)])
def test_wait_follows_a_cancel_requested_to_its_end(
    tmp_path: Path, end: str, outcome: type[Exception] | None
) -> None:
    final = status("CANCELLED") if end == "cancelled" else status("COMPLETED")
    client, _ = queuey_client(
        tmp_path, submitted(), {"status": "CANCELLATION_REQUESTED"}, status("IN_PROGRESS"),
        final, {"video": {"url": "https://cdn.queuey.invalid/out.mp4"}},
    )
    handle = client.submit("queuey", REQUEST)
    after = client.cancel(handle)
    assert (after.state, after.raw_status) == (JobState.CANCELLING, "CANCELLATION_REQUESTED")
    if outcome is None:
        assert client.wait(handle).video_url.endswith("out.mp4")
    else:
        with pytest.raises(outcome):
            client.wait(handle)


def test_a_cancel_on_timeout_that_is_only_accepted_says_so(tmp_path: Path) -> None:
    class Running(ScriptedTransport):
        def _answer(self, method: str, url: str, **kwargs: Any) -> Response:
            word = "CANCELLATION_REQUESTED" if method == "PUT" else "IN_PROGRESS"
            return answer({"status": word})

    client, _ = queuey_client(tmp_path, ledger=False)
    client.transport = Running([])
    handle = JobHandle(provider="queuey", job_id="r1", created_at=client.clock.now(),
                       model="lipsync-2", resume=submitted())
    with pytest.raises(WaitTimeout, match="cancel was accepted; the provider confirms it later"):
        client.wait(handle, timeout=60, cancel_on_timeout=True)


# --- native model ids and versions -------------------------------------------------------------


def test_a_model_names_its_native_id_and_version_and_a_user_picks_another_version() -> None:
    pinned = INFO.model("lipsync-2")
    assert (pinned.native_id, pinned.version) == ("queuey-ai/sync-lipsync/v2", VERSION)
    picked = INFO.model("lipsync-2@abc123")
    assert (picked.name, picked.version, picked.native_id) == (
        "lipsync-2@abc123", "abc123", "queuey-ai/sync-lipsync/v2")
    assert picked.cancel and picked.envelope_options == pinned.envelope_options
    assert attrs.evolve(picked, name="lipsync-2", version=VERSION) == pinned


def test_validation_keeps_the_version_and_knows_the_capabilities() -> None:
    request = validate(INFO, attrs.evolve(REQUEST, model="lipsync-2@abc123"))
    assert request.model == "lipsync-2@abc123"
    assert INFO.model(request.model).version == "abc123"
    assert validate(INFO, REQUEST).model == "lipsync-2"
    with pytest.raises(UnsupportedOption, match="declares no version to choose; allowed: plain"):
        validate(INFO, attrs.evolve(REQUEST, model="plain@v2"))
    with pytest.raises(InvalidRequest, match="is not a model version"):
        validate(INFO, attrs.evolve(REQUEST, model="lipsync-2@bad/../version"))
    with pytest.raises(UnsupportedOption, match="not offered"):
        INFO.model("other@v1")


def test_a_model_whose_declared_name_holds_an_at_sign_is_still_found_by_it() -> None:
    info = attrs.evolve(INFO, models=(ModelCapabilities(name="team@model"),),
                        default_model="team@model")
    assert info.model("team@model").name == "team@model"


def test_the_submit_runs_the_version_picked_and_the_handle_names_it(tmp_path: Path) -> None:
    client, transport = queuey_client(tmp_path, submitted())
    handle = client.submit("queuey", attrs.evolve(REQUEST, model="lipsync-2@abc123"))
    assert handle.model == "lipsync-2@abc123"
    sent = json.loads(transport.sent[0].body or b"")
    assert sent["version"] == "abc123"
    assert transport.sent[0].url == f"{BASE}/queuey-ai/sync-lipsync/v2"


# --- provider-returned URLs --------------------------------------------------------------------


def http_of(client: Client) -> Any:
    return client.context("queuey", INFO).http


@pytest.mark.parametrize(
    ("url", "rebased"),
    [
        (f"{HOME}/queuey-ai/m/requests/1/status?logs=1",
         f"{BASE}/queuey-ai/m/requests/1/status?logs=1"),
        (f"{HOME}:443/r/1", f"{BASE}/r/1"),
        ("HTTPS://QUEUE.queuey.invalid/r/1#frag", f"{BASE}/r/1"),
        (f"{BASE}/already/here", f"{BASE}/already/here"),
        ("http://127.0.0.1:9/x?a=1", "http://127.0.0.1:9/x?a=1"),
    ],
)
def test_a_url_on_the_apis_own_host_is_rebased_onto_the_configured_base(
    tmp_path: Path, url: str, rebased: str
) -> None:
    client, _ = queuey_client(tmp_path, ledger=False)
    assert http_of(client).rebase(url, HOME) == rebased


def test_a_documented_backup_host_is_rebased_too(tmp_path: Path) -> None:
    client, _ = queuey_client(tmp_path, ledger=False)
    backup = "https://queue.backup.invalid"
    assert http_of(client).rebase(f"{backup}/r/1", HOME, backup) == f"{BASE}/r/1"
    with pytest.raises(ProviderProtocolError):
        http_of(client).rebase(f"{backup}/r/1", HOME)


def test_rebasing_keeps_a_proxys_path_and_strips_the_defaults() -> None:
    client, _ = queuey_client(Path("."), ledger=False, base_url="https://proxy.invalid/queuey/")
    http = client.context("queuey", INFO).http
    assert http.rebase("https://api.q.invalid/v1/jobs/1", "https://api.q.invalid/v1") == (
        "https://proxy.invalid/queuey/jobs/1")
    with pytest.raises(ProviderProtocolError, match="nor under the API's own"):
        http.rebase("https://api.q.invalid/v2/jobs/1", "https://api.q.invalid/v1")


@pytest.mark.parametrize(
    "url",
    ["https://evil.invalid/r/1", "http://queue.queuey.invalid/r/1", "ftp://queue.queuey.invalid/r",
     "https://[::1/r", "/relative/path", f"{HOME}:99999/r"],
)
def test_a_url_on_any_other_host_is_refused(tmp_path: Path, url: str) -> None:
    client, _ = queuey_client(tmp_path, ledger=False)
    with pytest.raises(ProviderProtocolError, match="handed back the URL") as refused:
        http_of(client).rebase(url, HOME)
    assert refused.value.provider == "queuey"


def test_the_rebased_url_passes_the_same_host_rule_and_the_foreign_one_would_not(
    tmp_path: Path,
) -> None:
    client, _ = queuey_client(tmp_path, ledger=False)
    http = http_of(client)
    assert http.url(http.rebase(f"{HOME}/r/1", HOME)) == f"{BASE}/r/1"
    with pytest.raises(PluginContractError, match="refusing to send credentials"):
        http.url(f"{HOME}/r/1")


# --- options for the request's envelope --------------------------------------------------------


def test_envelope_options_go_beside_the_input(tmp_path: Path) -> None:
    client, transport = queuey_client(tmp_path, submitted())
    request = attrs.evolve(REQUEST, options={"webhook_events_filter": ["completed"],
                                             "guidance": 2})
    client.submit("queuey", request)
    sent = json.loads(transport.sent[0].body or b"")
    assert sent["webhook_events_filter"] == ["completed"]
    assert sent["input"] == {"video_url": REQUEST.video, "audio_url": REQUEST.audio,
                             "guidance": 2}


def test_split_options_and_the_declared_names() -> None:
    assert split_options({"a": 1, "b": 2}, frozenset({"b"})) == ({"a": 1}, {"b": 2})
    assert split_options({}, frozenset({"b"})) == ({}, {})
    assert ModelCapabilities(name="m", envelope_options=["x", "x"]).envelope_options == {"x"}  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="a collection of option names"):
        ModelCapabilities(name="m", envelope_options="webhook")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="allowed: option names"):
        ModelCapabilities(name="m", envelope_options=[""])  # type: ignore[arg-type]


# --- contract versions -------------------------------------------------------------------------


@pytest.mark.parametrize("declared", ["1.0", "1.1", "1.2", "1.3", CONTRACT_VERSION])
def test_every_earlier_minor_version_still_loads(declared: str) -> None:
    assert contract_problem(declared) is None


def test_the_frozen_example_plugin_is_the_one_written_for_contract_1_0() -> None:
    """tests/test_plugin_api.py certifies it at high on this core: the proof that a 1.0
    plugin still loads and passes, read here without importing it (its old names warn)."""
    source = (Path(__file__).parent / "support" / "lipbridge_legacy_example" / "__init__.py")
    assert 'contract_version="1.0",' in source.read_text()
    assert CONTRACT_VERSION == "1.4"


def test_the_next_minor_version_is_refused() -> None:
    major, minor = CONTRACT_VERSION.split(".")
    assert contract_problem(f"{major}.{int(minor) + 1}") is not None
