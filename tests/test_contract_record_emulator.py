"""``lipbridge contract record emulator``: recordings from the in-process emulator.

They carry provenance ``emulator``, hold neither the emulator's random port nor its key,
replay green through the contract suite, and never replace a documentation or live
cassette unless told to. The emulator runs on a virtual clock, so nothing sleeps.
"""

from __future__ import annotations

import json
import re
import shutil
from decimal import Decimal
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner
from conftest import FakeClock
from shipped import cassettes

from lipbridge import Client, Registry
from lipbridge.registry import discover
from lipbridge_contract import SuiteRun, certify
from lipbridge_contract.checks import FAIL, PASS
from lipbridge_contract.record import (
    EMULATOR_HOST,
    RecordRefused,
    looks_like_emulator,
    record,
    record_from_emulator,
    record_scenarios,
)
from lipbridge_contract.scenarios import ScenarioError, parse_sidecar
from lipbridge_emulator import DEFAULT_KEY

DOCUMENTED = cassettes("foxapi")
FOXAPI_BASE = "https://api.foxapi.cc/v1"
STAGED = ["success", "auth_invalid", "insufficient_credits", "rate_limited", "job_failed",
          "job_not_found"]
PORT_IN_URL = re.compile(r"//[^/\s'\"]+:\d+")


def _documented(root: Path) -> Path:
    shutil.copytree(DOCUMENTED, root / "foxapi")
    return root


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[Path]]:
    """The scenarios the emulator stages, recorded once through the CLI."""
    root = _documented(tmp_path_factory.mktemp("cassettes"))
    before = _files(root / "foxapi")
    out = tmp_path_factory.mktemp("emulator-cassettes")
    group = click.Group("lipbridge", commands={"record": record})
    args = ["record", "emulator", "foxapi", "--cassettes", str(root), "--out", str(out)]
    result = CliRunner().invoke(group, args + [f"--scenario={name}" for name in STAGED])
    assert result.exit_code == 0, result.output
    assert _files(root / "foxapi") == before  # the documented script is read, never written
    return root, out, [out / "foxapi" / f"{name}.yaml" for name in STAGED]


def test_a_recording_has_emulator_provenance_and_no_port_or_key(
    recorded: tuple[Path, Path, list[Path]],
) -> None:
    _, out, cassettes = recorded
    success = out / "foxapi" / "success.yaml"
    sidecar = yaml.safe_load((out / "foxapi" / "success.sidecar.yaml").read_text())
    provenance = sidecar["provenance"]
    assert provenance.pop("recorded_at")
    assert provenance.pop("emulator_version").startswith("lipbridge-emulator ")
    assert provenance.pop("plugin_version").startswith("lipbridge-foxapi ")
    assert provenance == {
        "source": "emulator",
        "base_url": f"http://{EMULATOR_HOST}/foxapi",
        "emulator_seed": 0,
        "emulator_dialect": "lipbridge_emulator.dialects.gateway.FoxApiDialect",
    }
    for path in [*cassettes, *(c.with_name(c.stem + ".sidecar.yaml") for c in cassettes)]:
        text = path.read_text()
        assert "127.0.0.1" not in text and DEFAULT_KEY not in text, path.name
        assert PORT_IN_URL.search(text) is None, (path.name, PORT_IN_URL.search(text))

    interactions = yaml.safe_load(success.read_text())["interactions"]
    assert all(i["request"]["uri"].startswith(FOXAPI_BASE) for i in interactions)
    assert interactions[0]["request"]["headers"]["Authorization"] == ["[REDACTED]"]
    # The inputs were samples the emulator served; the sidecar's request names the same
    # placeholder URLs the recorded submit carried, so the replay sends what was recorded.
    submitted = json.loads(interactions[0]["request"]["body"])
    assert (submitted["video_url"], submitted["audio_url"]) == (
        sidecar["request"]["video"], sidecar["request"]["audio"]
    )
    assert submitted["video_url"].startswith(f"http://{EMULATOR_HOST}/files/")
    assert submitted["video_url"].endswith("_output.mp4")  # the script's file name is kept
    assert sidecar["durations"] == {"video_seconds": 8.0, "audio_seconds": 12.0}
    result_url = sidecar["expect"]["result"]["video_url"]
    assert result_url.startswith(f"http://{EMULATOR_HOST}/files/")
    assert result_url in interactions[-1]["response"]["body"]["string"]
    assert sidecar["expect"]["states"][-1] == "succeeded"
    assert sidecar["expect"]["result"]["billed"]["unit"] == "reserved credits"


def test_the_staged_scenarios_show_their_meaning_and_replay_green(
    recorded: tuple[Path, Path, list[Path]],
) -> None:
    _, out, _ = recorded
    expected = {
        "auth_invalid": "AuthenticationError",
        "insufficient_credits": "InsufficientCredits",
        "rate_limited": "RateLimited",
        "job_failed": "JobFailed",
        "job_not_found": "JobNotFound",
    }
    for name, cls in expected.items():
        expect = yaml.safe_load((out / "foxapi" / f"{name}.sidecar.yaml").read_text())["expect"]
        assert expect["error"]["class"] == cls, name
    report = certify(SuiteRun("foxapi", out, "low"))
    failed = {r.check: r.detail for r in report.results if r.status == FAIL}
    assert failed == {}
    passed = {r.check for r in report.results if r.status is PASS}
    assert {"lifecycle", "encoding", "errors", "secrets-static", "secrets-canary",
            "hygiene", "timing", "output"} <= passed


@pytest.mark.parametrize("source", ["documentation", "live"])
def test_recording_over_a_documented_or_live_cassette_needs_replace(
    tmp_path: Path, source: str
) -> None:
    root = _documented(tmp_path)
    target = root / "foxapi" / "job_not_found.yaml"  # the quickest scenario to record
    if source == "live":
        sidecar = target.with_name("job_not_found.sidecar.yaml")
        data = yaml.safe_load(sidecar.read_text())
        data["provenance"] = {"source": "live", "recorded_at": "2026-11-01T00:00:00+00:00",
                              "plugin_version": "lipbridge-foxapi 0.1.0",
                              "base_url": FOXAPI_BASE}
        sidecar.write_text(yaml.safe_dump(data))
    before = _files(root / "foxapi")
    with pytest.raises(RecordRefused) as refused:
        record_from_emulator("foxapi", root, root, ["success", "job_not_found"])
    message = refused.value.message
    assert message.startswith(f"{root / 'foxapi' / 'success.yaml'} has documentation")
    with pytest.raises(RecordRefused) as refused:
        record_from_emulator("foxapi", root, root, ["job_not_found"])
    message = refused.value.message
    assert str(target) in message and f"{source} provenance" in message
    assert "--replace" in message and "--out DIR" in message
    assert _files(root / "foxapi") == before  # refused before anything was recorded


def test_replace_overwrites_and_an_emulator_recording_may_be_rerecorded(tmp_path: Path) -> None:
    root = _documented(tmp_path)
    sidecar_path = root / "foxapi" / "job_not_found.sidecar.yaml"
    record_from_emulator("foxapi", root, root, ["job_not_found"], replace=True)
    assert parse_sidecar(sidecar_path).provenance.source == "emulator"
    # An earlier emulator recording is the emulator's own: re-recording needs no flag.
    record_from_emulator("foxapi", root, root, ["job_not_found"], seed=7)
    provenance = parse_sidecar(sidecar_path).provenance
    assert (provenance.source, provenance.emulator_seed) == ("emulator", "7")


def test_a_recording_that_does_not_show_its_scenario_is_not_written(tmp_path: Path) -> None:
    root = _documented(tmp_path / "cassettes")
    out = tmp_path / "out"
    # The documented invalid request is one the gateway refuses for reasons the emulator
    # does not model: it accepts the submit, so the recording would not be invalid_request.
    with pytest.raises(RecordRefused, match=r"invalid_request: the emulator answered no "
                       r"error; the script expects RequestRejected at submit; not written"):
        record_from_emulator("foxapi", root, out, ["invalid_request"])
    assert list((out / "foxapi").glob("invalid_request*")) == []


def test_a_script_the_client_refuses_records_nothing(tmp_path: Path) -> None:
    root = _documented(tmp_path / "cassettes")
    sidecar = root / "foxapi" / "success.sidecar.yaml"
    data = yaml.safe_load(sidecar.read_text())
    data["request"]["model"] = "lipsync-404"
    sidecar.write_text(yaml.safe_dump(data))
    with pytest.raises(RecordRefused, match="success: nothing was sent "
                       r"\(UnsupportedOption at submit\); there is no exchange to record"):
        record_from_emulator("foxapi", root, tmp_path / "out", ["success"])
    assert list((tmp_path / "out" / "foxapi").iterdir()) == []


def test_recorded_at_is_wall_time_not_emulated_time(tmp_path: Path) -> None:
    root = _documented(tmp_path / "cassettes")
    wall = FakeClock()
    record_from_emulator("foxapi", root, tmp_path / "out", ["job_failed"], wall=wall)
    sidecar = parse_sidecar(tmp_path / "out" / "foxapi" / "job_failed.sidecar.yaml")
    assert sidecar.provenance.recorded_at == wall.now().isoformat()  # the job's time was virtual
    assert wall.sleeps == []  # the wall clock was only read, never slept on


def test_emulator_provenance_must_say_which_emulator(tmp_path: Path) -> None:
    sidecar = _documented(tmp_path) / "foxapi" / "job_not_found.sidecar.yaml"
    data = yaml.safe_load(sidecar.read_text())
    data["provenance"] = {"source": "emulator", "recorded_at": "2026-11-21T12:00:00+00:00",
                          "plugin_version": "lipbridge-foxapi 0.1.0",
                          "base_url": f"http://{EMULATOR_HOST}/foxapi"}
    sidecar.write_text(yaml.safe_dump(data))
    with pytest.raises(ScenarioError, match="emulator provenance needs emulator_version, "
                       "emulator_seed"):
        parse_sidecar(sidecar)


@pytest.mark.parametrize(
    ("base_url", "emulated"),
    [
        ("http://127.0.0.1:8765/foxapi", True),
        ("http://localhost:8765/foxapi/", True),
        ("http://[::1]:8765/foxapi", True),
        ("http://0.0.0.0:8765/foxapi", True),
        ("http://127.0.0.1:8765", False),  # a local stand-in, not mounted the emulator's way
        ("http://127.0.0.1:8765/aihubmax", False),
        ("http://10.0.0.2:8765/foxapi", False),
        (FOXAPI_BASE, False),
    ],
)
def test_the_emulator_is_known_by_its_mount(base_url: str, emulated: bool) -> None:
    assert looks_like_emulator(base_url, "foxapi") is emulated


def test_a_live_recording_pointed_at_the_emulator_is_refused(tmp_path: Path) -> None:
    root = _documented(tmp_path)
    client = Client(registry=Registry(discover(), environ={}), api_keys={"foxapi": "k" * 20},
                    base_urls={"foxapi": "http://127.0.0.1:8765/foxapi"}, environ={})
    with pytest.raises(RecordRefused, match=r"http://127.0.0.1:8765/foxapi is where the "
                       r"lipbridge emulator mounts foxapi; .* record from it with "
                       r"`lipbridge contract record emulator`"):
        record_scenarios(client, "foxapi", root, ["success"], Decimal("1"), environ={})


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["emulator", "foxapi", "--allow-spend", "1"], "No such option \'--allow-spend\'"),
        (["emulator", "foxapi", "--allow-ci"], "No such option \'--allow-ci\'"),
        (["live", "foxapi", "--allow-spend", "1", "--replace"], "No such option \'--replace\'"),
        (["live", "foxapi"], "Missing option '--allow-spend'"),
        (["foxapi", "--emulator", "--allow-unpriced"], "No such option \'--allow-unpriced\'"),
        (["foxapi", "--seed", "3", "--allow-spend", "1"], "No such option \'--seed\'"),
    ],
)
def test_live_and_emulator_flags_do_not_mix(
    tmp_path: Path, args: list[str], complaint: str
) -> None:
    group = click.Group("lipbridge", commands={"record": record})
    result = CliRunner().invoke(
        group, ["record", *args, "--scenario", "success", "--cassettes", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert complaint in result.output


def test_the_old_emulator_spelling_still_records_and_says_what_to_type(tmp_path: Path) -> None:
    root, out = _documented(tmp_path / "cassettes"), tmp_path / "out"
    group = click.Group("lipbridge", commands={"record": record})
    result = CliRunner().invoke(group, [
        "record", "foxapi", "--emulator", "--scenario", "job_not_found", "--cassettes", str(root),
        "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    assert result.stderr == (
        "`lipbridge record PROVIDER --emulator` is deprecated and goes in lipbridge-contract "
        "0.2; type instead:\n  lipbridge record emulator foxapi --scenario job_not_found "
        f"--cassettes {root} --out {out}\n"
    )
    assert parse_sidecar(out / "foxapi" / "job_not_found.sidecar.yaml").provenance.source == (
        "emulator"
    )


JOGG_DOCUMENTED = cassettes("jogg")
FIND_SCENARIOS = ["find_jobs", "find_jobs_no_match"]


def test_the_find_scenarios_record_from_the_emulator_and_replay_green(tmp_path: Path) -> None:
    """find_jobs is staged with a job whose submit answer is in no recording; the lookup's
    query carries the inputs' URLs URL-encoded, rewritten like every other URL."""
    root, out = tmp_path / "cassettes", tmp_path / "out"
    shutil.copytree(JOGG_DOCUMENTED, root / "jogg")
    record_from_emulator("jogg", root, out, FIND_SCENARIOS)
    found = yaml.safe_load((out / "jogg" / "find_jobs.sidecar.yaml").read_text())
    [job] = found["expect"]["jobs"]
    [interaction] = yaml.safe_load((out / "jogg" / "find_jobs.yaml").read_text())["interactions"]
    assert interaction["request"]["method"] == "GET"  # the staged submit is not in it
    uri = interaction["request"]["uri"]
    assert uri.startswith("https://api.jogg.ai/v2/lip_sync_video?video_url=http%3A%2F%2F"
                          f"{EMULATOR_HOST}%2Ffiles%2F")
    assert "127.0.0.1" not in uri and "playback_type=normal_reverse" in uri
    assert job["job_id"] in interaction["response"]["body"]["string"]
    missing = yaml.safe_load((out / "jogg" / "find_jobs_no_match.sidecar.yaml").read_text())
    assert missing["expect"]["jobs"] == []
    for name in FIND_SCENARIOS:
        text = (out / "jogg" / f"{name}.yaml").read_text()
        assert PORT_IN_URL.search(text) is None and DEFAULT_KEY not in text
    report = certify(SuiteRun("jogg", out, "low"))
    results = {r.check: r for r in report.results}
    assert {c: r.detail for c, r in results.items() if r.status == FAIL} == {}
    assert results["find-jobs"].status is PASS
    assert results["find-jobs"].detail.startswith("2 lookups as recorded")


def test_a_find_recording_that_finds_the_wrong_number_of_jobs_is_not_written(
    tmp_path: Path,
) -> None:
    """The no-match script asking for the staged job's inputs would find it: refused."""
    root, out = tmp_path / "cassettes", tmp_path / "out"
    shutil.copytree(JOGG_DOCUMENTED, root / "jogg")
    sidecar = root / "jogg" / "find_jobs_no_match.sidecar.yaml"
    data = yaml.safe_load(sidecar.read_text())
    data["request"]["sync_mode"] = "bounce"  # the staged find_jobs job's inputs
    sidecar.write_text(yaml.safe_dump(data))
    with pytest.raises(RecordRefused, match=r"find_jobs_no_match: the emulator answered no "
                       r"error, finding 1 job; the script expects no error, finding 0 jobs"):
        record_from_emulator("jogg", root, out, FIND_SCENARIOS)
    assert (out / "jogg" / "find_jobs.yaml").exists()  # recorded before it, and kept
    assert not (out / "jogg" / "find_jobs_no_match.yaml").exists()
