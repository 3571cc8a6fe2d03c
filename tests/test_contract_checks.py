"""Each contract check, one at a time, against a doctored copy of the example cassettes.

Every test copies the example plugin's cassettes (``lipbridge_example/cassettes/example``,
shipped in its package) into ``tmp_path``, breaks one thing in the copy and runs only the
check that owns it, so the whole file stays fast.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import shutil
import subprocess
import sys
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import click
import pytest
import shipped
import yaml
from click.testing import CliRunner
from conftest import make_registry, write_dist

import lipbridge_foxapi as foxapi_plugin
from lipbridge import CallbackRejected, ConfigurationError, JobState, Registry
from lipbridge.cli.app import cli
from lipbridge.plugin import (
    CallbackUpdate,
    CallContext,
    CallKind,
    FileBody,
    LocalMedia,
    ModelCapabilities,
    Response,
    UploadedMedia,
    hmac_sha256_hex,
    hookimpl,
    same_signature,
)
from lipbridge_contract.catalogue import (
    CATALOGUE,
    STANDARD_SCENARIOS,
    StandardScenario,
    meaning,
)
from lipbridge_contract.checks import CHECKS, FAIL, PASS, SKIP, Verdict, VerdictStatus
from lipbridge_contract.checks.base import EXAMPLES
from lipbridge_contract.harness import SteppedClock
from lipbridge_contract.record.recorder import RecordRefused, scripts
from lipbridge_contract.replay import new_client
from lipbridge_contract.report import run_check
from lipbridge_contract.run import Strictness, SuiteRun
from lipbridge_contract.scenarios import SIDECAR_SUFFIX, load_cassette_dir
from lipbridge_contract.scrub import REDACTED, scrub_headers, scrub_text
from lipbridge_gateway import CallingBackGateway
from lipbridge_jogg import JoggLipSync
from lipbridge_jogg import wire as jogg_wire
from lipbridge_syncso import SyncLipSync
from lipbridge_syncso import webhooks as syncso_webhooks
from lipbridge_syncso import wire as syncso_wire

pytest_plugins = ["pytester"]

EXAMPLE = shipped.cassettes("example")
BY_ID = {c.id: c for c in CHECKS}
REDACTED_AUTH = "Authorization: ['[REDACTED]']"


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def cassettes(tmp_path: Path) -> Path:
    """A private copy of the example cassettes: ``<root>/example/*.yaml``."""
    root = tmp_path / "cassettes"
    shutil.copytree(EXAMPLE, root / "example")
    return root


def suite(root: Path, strictness: str = "high", registry: Registry | None = None) -> SuiteRun:
    return SuiteRun("example", root, strictness, registry=registry)


def verdict(root: Path, check_id: str, strictness: str = "high") -> Verdict:
    return run_check(suite(root, strictness), BY_ID[check_id])


def verdicts(run: SuiteRun, *check_ids: str) -> dict[str, Verdict]:
    """Several checks of one run, sharing its replays."""
    return {c: run_check(run, BY_ID[c]) for c in check_ids}


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def edit_yaml(path: Path, change: Callable[[Any], object]) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def remove_scenario(root: Path, name: str) -> None:
    (root / "example" / f"{name}.yaml").unlink()
    (root / "example" / f"{name}{SIDECAR_SUFFIX}").unlink()


def write_suite(root: Path, text: str) -> None:
    (root / "example" / "suite.yaml").write_text(text, encoding="utf-8")


def test_the_untouched_copy_passes_every_check_exercised_here(cassettes: Path) -> None:
    """The baseline: every failure below comes from the edit, not from the copy."""
    results = verdicts(
        suite(cassettes),
        "hygiene", "secrets-static", "capabilities", "errors", "timing", "cancel",
        "lifecycle", "encoding", "cost",
    )
    assert {c: v.status for c, v in results.items() if v.status != PASS} == {}
    assert results["hygiene"].detail == "13 cassettes, 27 files"
    assert "scenarios replayed as recorded" in results["lifecycle"].detail


def test_a_verdict_status_is_an_enum_and_a_plain_word_still_converts() -> None:
    assert Verdict("fail", "x") == Verdict(VerdictStatus.FAIL, "x")  # a third party's own check
    assert Verdict("skip").status is SKIP
    with pytest.raises(ValueError, match="'flaky' is not a valid VerdictStatus"):
        Verdict("flaky")


def test_no_check_object_hides_its_submodule() -> None:
    import lipbridge_contract.checks as checks

    for name in ("cancel", "cost", "errors", "lifecycle", "load", "preflight", "timing"):
        assert isinstance(getattr(checks, name), types.ModuleType), name
    assert checks.cancel.CANCEL in CHECKS


# --------------------------------------------------------------- 1. sidecar parsing


def _set(*path: str, value: object) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        for key in path[:-1]:
            data = data[key]
        data[path[-1]] = value

    return change


def _drop(*path: str) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        for key in path[:-1]:
            data = data[key]
        del data[path[-1]]

    return change


@pytest.mark.parametrize(
    ("scenario", "change", "expected"),
    [
        pytest.param(
            "job_failed", _set("steps", value=["submit", "teleport"]),
            "steps=['submit', 'teleport']; each step is one of", id="bad-step",
        ),
        pytest.param(
            "auth_invalid", _set("expect", "error", "class", value="NoSuchError"),
            "expect.error.class 'NoSuchError' is not a lipbridge error class",
            id="unknown-error-class",
        ),
        pytest.param(
            "insufficient_credits", _drop("provenance", "url"),
            "documentation provenance needs url", id="documentation-without-url",
        ),
        pytest.param(
            "invalid_request",
            _set("provenance", value={"source": "live", "recorded_at": "2026-11-01T00:00:00Z"}),
            "live provenance needs plugin_version, base_url", id="live-missing-fields",
        ),
        pytest.param(
            "job_not_found", _drop("handle", "job_id"),
            "handle.job_id is required", id="no-submit-without-job-id",
        ),
        pytest.param(
            "find_jobs", _drop("since"),
            "a scenario that starts with find needs since", id="find-without-since",
        ),
        pytest.param(
            "find_jobs", _set("since", value="last tuesday"),
            "since: 'last tuesday' is not an ISO 8601 time", id="since-not-a-time",
        ),
        pytest.param(
            "find_jobs_no_match", _drop("expect", "jobs"),
            "expect.jobs is what a find step returns: a scenario that starts with find needs it",
            id="find-without-expected-jobs",
        ),
        pytest.param(
            "job_failed", _set("expect", "jobs", value=[]),
            "expect.jobs is what a find step returns: there is no find step",
            id="expected-jobs-without-find",
        ),
        pytest.param(
            "find_jobs", _set("steps", value=["poll", "find"]),
            "find can only be the first step", id="find-not-first",
        ),
        pytest.param(
            "find_jobs", _set("expect", "jobs", value=[{"created_at": "2026-11-05T10:00:00Z"}]),
            "expect.jobs[0].job_id is required", id="expected-job-without-id",
        ),
        pytest.param(
            "insufficient_credits", _set("expect", "error", "message_contains", value=["", "x"]),
            "expect.error.message_contains must be text, or a list of text, none of it empty",
            id="empty-message-piece",
        ),
        pytest.param(
            "insufficient_credits", _set("expect", "error", "message_contains", value=3),
            "expect.error.message_contains must be text", id="message-piece-not-text",
        ),
        pytest.param(
            "insufficient_credits", _set("provenance", "assumed", value="the body"),
            "provenance.assumed must be a list of {what, why}", id="assumed-not-a-list",
        ),
        pytest.param(
            "insufficient_credits",
            _set("provenance", "assumed", value=[{"what": "the 402 body"}]),
            "provenance.assumed[0].why is required (non-empty text)", id="assumed-without-why",
        ),
        pytest.param(
            "insufficient_credits",
            _set("provenance", "quoted_from", value={"url": "https://x.invalid", "kind": "blog"}),
            "provenance.quoted_from.kind='blog'; allowed: ('issue-thread', 'docs')",
            id="quote-of-unknown-kind",
        ),
        pytest.param(
            "insufficient_credits",
            _set("provenance", "quoted_from", value={"url": "http://x.invalid", "kind": "docs"}),
            "provenance.quoted_from.url='http://x.invalid' is not an https URL",
            id="quote-not-https",
        ),
        pytest.param(
            "insufficient_credits",
            _set("provenance", "quoted_from", value={"url": "https://x", "kind": "docs", "at": 1}),
            "provenance.quoted_from: unknown fields ['at']; allowed: ['url', 'kind']",
            id="quote-unknown-field",
        ),
    ],
)
def test_an_unusable_sidecar_is_a_hygiene_problem_naming_its_file(
    cassettes: Path, scenario: str, change: Callable[[Any], None], expected: str
) -> None:
    sidecar = cassettes / "example" / f"{scenario}{SIDECAR_SUFFIX}"
    edit_yaml(sidecar, change)
    run = suite(cassettes)
    assert run.scenario(scenario) is None  # dropped, not half-parsed
    found = run_check(run, BY_ID["hygiene"])
    assert found.status == FAIL
    line = next(line for line in found.detail.splitlines() if expected in line)
    assert line.startswith(f"{sidecar}: ")


def test_a_cassette_without_sidecar_and_a_sidecar_without_cassette_are_reported(
    cassettes: Path,
) -> None:
    example = cassettes / "example"
    (example / f"provider_unavailable{SIDECAR_SUFFIX}").unlink()
    shutil.copy(example / f"success{SIDECAR_SUFFIX}", example / f"orphan{SIDECAR_SUFFIX}")
    found = verdict(cassettes, "hygiene")
    assert found.status == FAIL
    assert f"{example / 'provider_unavailable.yaml'}: no sidecar provider_unavailable" in (
        found.detail
    )
    assert f"{example / 'orphan.sidecar.yaml'}: sidecar without a cassette" in found.detail


@pytest.mark.parametrize("check_id", ["secrets-static", "hygiene", "secrets-canary"])
def test_suite_yaml_cannot_bypass_the_checks_that_never_bypass(
    cassettes: Path, check_id: str
) -> None:
    write_suite(cassettes, f"bypass:\n  {check_id}: we trust ourselves\n  rate_limited: no 429s\n")
    run = suite(cassettes)
    assert run.bypass(check_id) is None
    assert run.bypass("rate_limited") is None  # the whole refused config is ignored
    found = run_check(run, BY_ID["hygiene"])
    assert found.status == FAIL
    assert f"suite.yaml: {check_id} can never be bypassed" in found.detail


@pytest.mark.parametrize("reason", ['""', "'   '", "null"])
def test_a_bypass_needs_a_written_reason(cassettes: Path, reason: str) -> None:
    write_suite(cassettes, f"bypass: {{rate_limited: {reason}}}\n")
    found = verdict(cassettes, "hygiene")
    assert found.status == FAIL
    assert "suite.yaml: bypass entries need a written reason: ['rate_limited']" in found.detail


def test_a_bypass_for_no_known_scenario_is_reported(cassettes: Path) -> None:
    write_suite(cassettes, "bypass:\n  rate_limted: the API has no rate limit\n")
    found = verdict(cassettes, "hygiene")
    assert found.status is FAIL
    assert "bypass.rate_limted names no scenario or feature" in found.detail


@pytest.mark.parametrize(
    ("old", "new"),
    [("retry_after: 30", "retry_after: 30s"), ("steps: [submit]", "steps: 5")],
    ids=["retry-after-not-a-number", "steps-not-a-list"],
)
def test_a_malformed_sidecar_value_is_a_problem_not_a_crash(
    cassettes: Path, old: str, new: str
) -> None:
    sidecar = cassettes / "example" / f"rate_limited{SIDECAR_SUFFIX}"
    replace(sidecar, old, new)
    found = verdict(cassettes, "hygiene")
    assert found.status == FAIL
    assert str(sidecar) in found.detail


# ------------------------------------------------------------------------- 2. hygiene


def _set_body(body: bytes) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        data["interactions"][0]["response"]["body"] = {"string": body}

    return change


def test_media_in_a_cassette_fails_hygiene_naming_cassette_and_interaction(
    cassettes: Path,
) -> None:
    example = cassettes / "example"
    # interaction 1 of job_failed answers with a video content type
    replace(
        example / "job_failed.yaml",
        "      Content-Type: [application/json]\n    status: {code: 200",
        "      Content-Type: [video/mp4]\n    status: {code: 200",
    )
    # an MP4 file (ftyp box) and a non-UTF-8 body, written the way the safe dumper does
    edit_yaml(
        example / "auth_invalid.yaml",
        _set_body(b"\x00\x00\x00\x1cftypisom" + bytes(24)),
    )
    edit_yaml(example / "invalid_request.yaml", _set_body(b"\xff\xfe\xfd not utf-8"))
    found = verdict(cassettes, "hygiene")
    assert found.status == FAIL
    lines = found.detail.splitlines()
    assert "job_failed.yaml: interaction 1 response holds Content-Type video/mp4" in lines
    assert "auth_invalid.yaml: interaction 0 response holds a media file signature" in lines
    assert "invalid_request.yaml: interaction 0 response holds a binary (non-UTF-8) body" in lines


def test_a_cassette_over_budget_fails_hygiene(cassettes: Path) -> None:
    path = cassettes / "example" / "job_not_found.yaml"
    path.write_text(path.read_text() + "# " + "x" * (64 * 1024) + "\n")
    found = verdict(cassettes, "hygiene")
    assert found.status == FAIL
    assert f"job_not_found.yaml: {path.stat().st_size} bytes; budget 65536" in found.detail


def test_a_python_tag_is_refused_by_the_safe_loader(cassettes: Path) -> None:
    (cassettes / "example" / "rate_limited.yaml").write_text(
        "!!python/object/apply:os.system ['echo pwned']\n"
    )
    found = verdict(cassettes, "hygiene")
    assert found.status == FAIL
    assert "rate_limited.yaml: not loadable with yaml.safe_load" in found.detail
    assert "python/object" in found.detail


# ------------------------------------------------------------------ 3. secrets-static

BEARER = "abcdefghijklmnop123"
SIGNATURE = "abcdef123456"
SK_KEY = "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e"


@pytest.mark.parametrize(
    ("file", "old", "new", "secret", "expected"),
    [
        pytest.param(
            "job_failed.yaml", REDACTED_AUTH, f"Authorization: ['Bearer {BEARER}']", BEARER,
            ["job_failed.yaml line 6: bearer token abc…(19 chars)",
             "job_failed.yaml: interaction 0 keeps a value for the credential header "
             "'authorization'"],
            id="bearer-in-authorization",
        ),
        pytest.param(
            "auth_invalid.yaml", REDACTED_AUTH, f"{REDACTED_AUTH}\n      X-Api-Key: [plainvalue42]",
            "plainvalue42",
            ["auth_invalid.yaml: interaction 0 keeps a value for the credential header "
             "'x-api-key'"],
            id="x-api-key-header",
        ),
        pytest.param(
            "success.yaml", "https://cdn.example-lipsync.invalid/out/ls_8f3k2m9q.mp4",
            f"https://bucket.s3.amazonaws.com/v.mp4?X-Amz-Signature={SIGNATURE}", SIGNATURE,
            ["success.yaml line 47: presigned URL signature abc…(12 chars)"],
            id="presigned-url-in-body",
        ),
        pytest.param(
            "job_not_found.sidecar.yaml", "The 404 body is the documented not_found example.",
            f"Recorded with {SK_KEY}.", SK_KEY,
            ["job_not_found.sidecar.yaml line 5: secret key sk-…(32 chars)"],
            id="secret-key-in-sidecar-note",
        ),
    ],
)
def test_a_planted_secret_fails_secrets_static_masked(
    cassettes: Path, file: str, old: str, new: str, secret: str, expected: list[str]
) -> None:
    replace(cassettes / "example" / file, old, new)
    found = verdict(cassettes, "secrets-static")
    assert found.status == FAIL
    for text in expected:
        assert text in found.detail, found.detail
    assert secret not in found.detail


def test_redacted_values_pass_secrets_static(cassettes: Path) -> None:
    example = cassettes / "example"
    replace(example / "auth_invalid.yaml", REDACTED_AUTH,
            f"{REDACTED_AUTH}\n      x-api-key: ['{REDACTED}']\n      Cookie: ['']")
    replace(
        example / "success.yaml", "https://cdn.example-lipsync.invalid/out/ls_8f3k2m9q.mp4",
        f"https://bucket.s3.amazonaws.com/v.mp4?X-Amz-Signature={REDACTED}",
    )
    replace(example / f"job_not_found{SIDECAR_SUFFIX}", "The 404 body",
            f"Key Bearer {REDACTED}, api_key: '{REDACTED}'. The 404 body")
    found = verdict(cassettes, "secrets-static")
    assert found == Verdict(PASS, "27 files scanned")


TOKEN_PLUGIN = '''
import attrs
from lipbridge.plugin import AuthScheme, hookimpl
from lipbridge_example import INFO, ExampleLipsync

class TokenHeader(ExampleLipsync):
    """The example API, but the key travels as ``X-Example-Token: <key>``."""

    @hookimpl
    def lipbridge_provider_info(self):
        return attrs.evolve(INFO, auth=AuthScheme(header="X-Example-Token", prefix=""))

plugin = TokenHeader()
'''


def test_a_key_in_the_providers_own_auth_header_fails_secrets_static(
    cassettes: Path, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (site / "lipbridge_token_example.py").write_text(TOKEN_PLUGIN)
    monkeypatch.syspath_prepend(str(site))
    write_dist(site, "lipbridge-token-example", {"example": "lipbridge_token_example:plugin"})
    replace(cassettes / "example" / "success.yaml", REDACTED_AUTH,
            "X-Example-Token: [0123456789abcdef0123]")
    run = suite(cassettes, registry=make_registry(site))
    assert run.info is not None and run.info.auth.header == "X-Example-Token"
    found = run_check(run, BY_ID["secrets-static"])
    assert found.status == FAIL
    assert "credential header 'x-example-token'" in found.detail


# -------------------------------------------------------------- 4. strictness, bypass

MISSING = {
    "rate_limited": ("capabilities", "errors", "timing"),
    "cancel_running": ("capabilities", "cancel"),
    "find_jobs": ("capabilities", "find-jobs"),
}


@pytest.mark.parametrize("scenario", sorted(MISSING))
def test_a_missing_scenario_fails_at_high(cassettes: Path, scenario: str) -> None:
    remove_scenario(cassettes, scenario)
    results = verdicts(suite(cassettes, "high"), *MISSING[scenario])
    for check_id, found in results.items():
        assert found.status == FAIL, (check_id, found)
        assert f"needs a {scenario!r} scenario" in found.detail
        assert f"bypass.{scenario} in suite.yaml" in found.detail


@pytest.mark.parametrize("scenario", sorted(MISSING))
def test_a_missing_scenario_is_only_a_note_at_low(cassettes: Path, scenario: str) -> None:
    remove_scenario(cassettes, scenario)
    results = verdicts(suite(cassettes, "low"), *MISSING[scenario])
    assert {c: v.status for c, v in results.items()} == dict.fromkeys(MISSING[scenario], PASS)
    for check_id in set(MISSING[scenario]) - {"timing"}:
        assert f"no {scenario} scenario" in results[check_id].detail


@pytest.mark.parametrize("scenario", sorted(MISSING))
def test_a_written_bypass_lets_high_pass_and_shows_the_reason(
    cassettes: Path, scenario: str
) -> None:
    remove_scenario(cassettes, scenario)
    write_suite(cassettes, f'bypass: {{{scenario}: "the API never does this"}}\n')
    results = verdicts(suite(cassettes, "high"), *MISSING[scenario])
    assert all(v.status in (PASS, SKIP) for v in results.values()), results
    for check_id in set(MISSING[scenario]) - {"timing"}:
        assert f"bypassed ({scenario}): the API never does this" in results[check_id].detail


@pytest.mark.parametrize(
    ("strictness", "suite_yaml", "expected"),
    [
        ("high", 'bypass: {rate_limited: "the API never rate limits"}\n',
         "bypassed (rate_limited): the API never rate limits"),
        ("low", "bypass: {}\n", "no rate_limited scenario"),
    ],
    ids=["bypassed-at-high", "missing-at-low"],
)
def test_timing_says_why_it_did_not_check_retry_after(
    cassettes: Path, strictness: str, suite_yaml: str, expected: str
) -> None:
    remove_scenario(cassettes, "rate_limited")
    write_suite(cassettes, suite_yaml)
    found = verdict(cassettes, "timing", strictness)
    assert found.status != FAIL
    assert expected in found.detail
    assert "Retry-After honoured" not in found.detail


# ------------------------------------------------------------------- 5. lifecycle


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param(
            "states: [queued, running, succeeded]", "states: [queued, failed]",
            ["success: states queued(pending) -> running(processing) -> succeeded(completed)",
             "the sidecar expects queued -> failed"],
            id="states",
        ),
        pytest.param(
            "    video_url: https://cdn.example-lipsync.invalid/out/ls_8f3k2m9q.mp4",
            "    video_url: https://cdn.example-lipsync.invalid/out/elsewhere.mp4",
            ["success: video_url is 'https://cdn.example-lipsync.invalid/out/ls_8f3k2m9q.mp4'",
             "the sidecar expects 'https://cdn.example-lipsync.invalid/out/elsewhere.mp4'"],
            id="video-url",
        ),
    ],
)
def test_a_sidecar_expectation_the_replay_contradicts_fails_lifecycle(
    cassettes: Path, old: str, new: str, expected: list[str]
) -> None:
    replace(cassettes / "example" / f"success{SIDECAR_SUFFIX}", old, new)
    found = verdict(cassettes, "lifecycle")
    assert found.status == FAIL
    for text in expected:
        assert text in found.detail, found.detail


def test_a_request_the_cassette_does_not_hold_fails_lifecycle(cassettes: Path) -> None:
    path = cassettes / "example" / "success.yaml"
    text = path.read_text()
    path.write_text(text[: text.rindex("- request:")] + "version: 1\n")
    found = verdict(cassettes, "lifecycle")
    assert found.status == FAIL
    assert found.detail.startswith(
        "success: step wait: the plugin sent GET "
        "https://api.example-lipsync.invalid/v1/lipsync/ls_8f3k2m9q, which the cassette "
        "does not hold"
    )


def test_an_unplayed_recorded_interaction_fails_lifecycle(cassettes: Path) -> None:
    path = cassettes / "example" / "job_not_found.yaml"
    text = path.read_text()
    interaction = text[text.index("- request:") : text.index("version: 1")]
    path.write_text(text.replace("version: 1", interaction + "version: 1"))
    found = verdict(cassettes, "lifecycle")
    assert found.status == FAIL
    assert (
        "job_not_found: the plugin made 1 of the 2 recorded requests; every recorded "
        "interaction must be played"
    ) in found.detail


# -------------------------------------------------------------------- 6. encoding


def test_a_recorded_body_the_plugin_does_not_send_fails_encoding(cassettes: Path) -> None:
    replace(cassettes / "example" / "success.yaml", '"sync_mode":"loop"', '"sync_mode":"cut_off"')
    found = verdict(cassettes, "encoding")
    assert found == Verdict(
        FAIL, "success: request 0 (submit): $.sync_mode: 'loop', recorded 'cut_off'"
    )


# ------------------------------------------------------------------------ 7. cost


def test_a_billed_amount_far_from_the_estimate_fails_cost_until_tolerated(
    cassettes: Path,
) -> None:
    # What the plugin reports as billed comes from the recorded usage; the sidecar's
    # expectation is kept in step so that only the estimate disagrees.
    example = cassettes / "example"
    replace(example / "success.yaml", '"usage":{"credits":24}', '"usage":{"credits":240}')
    replace(example / f"success{SIDECAR_SUFFIX}", 'amount: "24"', 'amount: "240"')
    replace(example / f"success{SIDECAR_SUFFIX}", 'usd: "0.24"', 'usd: "2.40"')
    found = verdict(cassettes, "cost")
    assert found.status == FAIL
    assert "success: estimate 24 credits, billed 240; the declared tolerance is 0%" in (
        found.detail
    )
    write_suite(cassettes, "cost_tolerance: 0.85\n")  # |24 - 240| = 0.9 x 240
    assert verdict(cassettes, "cost").status == FAIL
    write_suite(cassettes, "cost_tolerance: 0.95\n")
    assert verdict(cassettes, "cost") == Verdict(
        PASS, "2 priced models; 2 billed amounts compared"
    )


def test_a_billed_job_whose_request_cannot_be_estimated_fails_cost(cassettes: Path) -> None:
    # Without the audio length a loop job's output length cannot be told.
    sidecar = cassettes / "example" / f"success{SIDECAR_SUFFIX}"
    replace(sidecar, "durations: {video_seconds: 8.0, audio_seconds: 12.0}",
            "durations: {video_seconds: 8.0}")
    found = verdict(cassettes, "cost")
    assert found.status == FAIL
    assert found.detail.startswith(
        "success: the recorded request cannot be estimated: cannot tell the output length"
    )


def test_an_unknown_price_for_a_billed_job_fails_cost_unless_price_is_bypassed(
    cassettes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import lipbridge_example

    monkeypatch.setattr(lipbridge_example, "PRICES", attrs.evolve(lipbridge_example.PRICES,
                                                                  rates={}))
    found = verdict(cassettes, "cost")
    assert found.status == FAIL
    assert "success: billed 24 credits, but the estimate is unknown (no published price for " \
        "example-1 in https://docs.example-lipsync.invalid/pricing (as of 2026-11-01))" in (
        found.detail
    )
    write_suite(cassettes, "bypass:\n  price: The provider publishes no price list.\n")
    assert verdict(cassettes, "cost") == Verdict(
        PASS,
        "2 priced models; 2 billed amounts compared; unknown estimate for cancel_after_complete, "
        "success bypassed (price): The provider publishes no price list.",
    )


def test_sidecar_settings_reach_the_plugin_and_must_be_strings(cassettes: Path) -> None:
    sidecar = cassettes / "example" / f"success{SIDECAR_SUFFIX}"
    edit_yaml(sidecar, lambda data: data.update(settings={"request_fields": "video"}))
    run = suite(cassettes)
    scenario = run.dir.get("success")
    assert scenario is not None and scenario.sidecar.settings == {"request_fields": "video"}
    client, _, _ = run.scripted()
    replayed = new_client(run.registry, "example", "k", SteppedClock(), client.transport,
                          scenario.sidecar.settings)
    ctx = replayed.context("example", replayed.info("example"))
    assert ctx.settings == {"request_fields": "video"}
    for bad in ({"request_fields": 2}, {"api_key": "sk-x"}):
        edit_yaml(sidecar, lambda data, bad=bad: data.update(settings=bad))
        found = verdict(cassettes, "hygiene")
        assert found.status == FAIL
        assert "settings maps setting names to strings (not api_key)" in found.detail


def test_the_sidecars_billed_expectation_belongs_to_lifecycle_not_cost(cassettes: Path) -> None:
    replace(cassettes / "example" / f"success{SIDECAR_SUFFIX}", 'amount: "24"', 'amount: "2400"')
    results = verdicts(suite(cassettes), "cost", "lifecycle")
    assert results["cost"].status == PASS
    assert results["lifecycle"].status == FAIL
    assert "success: billed is {'amount': Decimal('24')" in results["lifecycle"].detail
    assert "the sidecar expects {'amount': '2400'" in results["lifecycle"].detail


TERSE_VARIANT = """
from lipbridge import InsufficientCredits
from lipbridge.plugin import hookimpl
from lipbridge_example import ExampleLipsync


class Terse(ExampleLipsync):
    \"\"\"Raises the right class, but drops the provider's explanation.\"\"\"

    @hookimpl
    def lipbridge_submit(self, request, ctx):
        try:
            return ExampleLipsync.lipbridge_submit(self, request, ctx)
        except InsufficientCredits as exc:
            raise InsufficientCredits(
                "refused", provider=exc.provider, http_status=exc.http_status,
                code=exc.code,
            ) from None


terse = Terse()
"""


@pytest.mark.parametrize("pieces", ["needs 20 credits", ["needs 20 credits", "has 3"]])
def test_an_error_message_the_sidecar_expects_must_reach_the_user(
    cassettes: Path, site: Path, monkeypatch: pytest.MonkeyPatch, pieces: object
) -> None:
    """A plugin that maps the class right but drops the provider's message fails errors."""
    edit_yaml(
        cassettes / "example" / f"insufficient_credits{SIDECAR_SUFFIX}",
        _set("expect", "error", "message_contains", value=pieces),
    )
    assert verdict(cassettes, "errors").status is PASS
    (site / "lipbridge_terse_variant.py").write_text(TERSE_VARIANT)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "lipbridge_terse_variant", raising=False)
    write_dist(site, "lipbridge-terse", {"example": "lipbridge_terse_variant:terse"})
    found = run_check(suite(cassettes, registry=make_registry(site)), BY_ID["errors"])
    assert found.status is FAIL
    assert (
        "insufficient_credits: the error message 'example: refused' does not contain "
        "'needs 20 credits'"
    ) in found.detail.splitlines()


# ------------------------------------------------------------------------- 8. CLI


@pytest.fixture
def contract_cli(monkeypatch: pytest.MonkeyPatch) -> click.Group:
    """The ``lipbridge`` group, which finds ``contract`` by its entry point.

    Generated-input checks run fewer examples: these tests are about the command.
    """
    assert cli.get_command(click.Context(cli), "contract") is not None
    for strictness in Strictness:
        monkeypatch.setitem(EXAMPLES, strictness, 10)
    return cli


def test_cli_json_for_the_untouched_copy_exits_0(
    contract_cli: click.Group, cassettes: Path
) -> None:
    result = CliRunner().invoke(
        contract_cli, ["contract", "example", "--cassettes", str(cassettes), "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["strictness"] == "high"
    [report] = out["providers"]
    assert report["provider"] == "example" and report["ok"] is True
    assert report["cassettes"] == str(cassettes / "example")
    assert list(report["checks"]) == [c.id for c in CHECKS]
    assert {c["status"] for c in report["checks"].values()} == {PASS}


def test_cli_matrix_for_a_tampered_copy_exits_1_with_the_detail(
    contract_cli: click.Group, cassettes: Path
) -> None:
    replace(cassettes / "example" / "success.yaml", '"sync_mode":"loop"', '"sync_mode":"cut_off"')
    result = CliRunner().invoke(
        contract_cli, ["contract", "example", "--cassettes", str(cassettes)]
    )
    assert result.exit_code == 1, result.output
    row = next(line for line in result.output.splitlines() if " encoding " in line)
    assert "FAIL" in row
    assert "example / encoding (fail):" in result.output
    assert "success: request 0 (submit): $.sync_mode: 'loop', recorded 'cut_off'" in (
        result.output
    )


def test_cli_unknown_provider_exits_2_naming_the_installed_ones(
    contract_cli: click.Group,
) -> None:
    result = CliRunner().invoke(contract_cli, ["contract", "nosuch", "--cassettes", "x"])
    assert result.exit_code == 2
    assert "not installed: nosuch; installed: " in result.output
    assert "example" in result.output.split("installed: ")[-1]


def test_cli_options_may_come_before_the_provider(
    contract_cli: click.Group, cassettes: Path
) -> None:
    # Without rate_limited, only low strictness can exit 0: proof the option was applied.
    remove_scenario(cassettes, "rate_limited")
    result = CliRunner().invoke(
        contract_cli,
        ["contract", "--strictness", "low", "--json", "example", "--cassettes", str(cassettes)],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["strictness"] == "low"
    [report] = out["providers"]
    assert report["provider"] == "example" and report["ok"] is True
    assert "no rate_limited scenario" in report["checks"]["errors"]["detail"]
    # the matrix form takes the same order
    nowhere = cassettes.parent / "nowhere"
    matrix = CliRunner().invoke(
        contract_cli, ["contract", "--strictness", "low", "example", "--cassettes", str(nowhere)]
    )
    assert matrix.exit_code == 1
    assert "lipbridge contract (low)" in matrix.output
    assert f"no cassette directory at {nowhere / 'example'}" in matrix.output


def test_the_matrix_shows_the_bypass_reasons_relied_on_even_behind_a_pass(
    contract_cli: click.Group, cassettes: Path
) -> None:
    """A bypassed scenario leaves only a pass in the table; its reason is printed after it.
    A reason for a scenario that exists excuses nothing and is not shown."""
    remove_scenario(cassettes, "rate_limited")
    write_suite(
        cassettes,
        "bypass:\n  rate_limited: The API never limits rates.\n"
        "  job_failed: Unused, the scenario exists.\n",
    )
    args = ["contract", "example", "--cassettes", str(cassettes)]
    matrix = CliRunner().invoke(contract_cli, args)
    assert matrix.exit_code == 0, matrix.output
    lines = matrix.output.splitlines()
    at = lines.index("example / bypassed (suite.yaml):")
    assert lines[at + 1 :] == ["  rate_limited: The API never limits rates."]
    as_json = CliRunner().invoke(contract_cli, [*args, "--json"])
    [report] = json.loads(as_json.stdout)["providers"]
    assert report["bypasses"] == {"rate_limited": "The API never limits rates."}


def test_the_matrix_lists_what_the_bodies_rest_on_besides_the_documentation(
    contract_cli: click.Group, cassettes: Path
) -> None:
    """Structured provenance loads beside the free-text note and is shown after the table."""
    thread = "https://github.com/example/lipsync/issues/12"
    edit_yaml(
        cassettes / "example" / f"insufficient_credits{SIDECAR_SUFFIX}",
        _set("provenance", value={
            "source": "documentation",
            "url": "https://docs.example-lipsync.invalid/api#errors",
            "note": "kept",
            "assumed": [{"what": "the code field", "why": "the docs show only the message"}],
            "quoted_from": {"url": thread, "kind": "issue-thread"},
        }),
    )
    args = ["contract", "example", "--cassettes", str(cassettes)]
    matrix = CliRunner().invoke(contract_cli, args)
    assert matrix.exit_code == 0, matrix.output
    lines = matrix.output.splitlines()
    at = lines.index("example / not shown by the documentation (sidecars):")
    assert lines[at + 1 :] == [
        "  insufficient_credits: assumed the code field: the docs show only the message",
        f"  insufficient_credits: quoted from issue-thread {thread}",
    ]
    [report] = json.loads(CliRunner().invoke(contract_cli, [*args, "--json"]).stdout)["providers"]
    assert report["provenance"] == [line.strip() for line in lines[at + 1 :]]


# ---------------------------------------------------------------- 9. pytest plugin

INERT_PROBE = """
import json, sys
import lipbridge_contract.pytest_plugin
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in
                        ("lipbridge_contract", "vcr", "hypothesis"))))
"""
HEAVY = ("lipbridge_contract.checks", "lipbridge_contract.run", "vcr", "hypothesis")


@pytest.fixture(scope="module")
def imported_with_the_pytest_plugin() -> list[str]:
    """What a fresh interpreter has loaded after importing only the pytest plugin."""
    done = subprocess.run(
        [sys.executable, "-c", INERT_PROBE], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return list(json.loads(done.stdout))


def test_importing_the_pytest_plugin_loads_neither_recorder_nor_cli(
    imported_with_the_pytest_plugin: list[str],
) -> None:
    assert "lipbridge_contract.pytest_plugin" in imported_with_the_pytest_plugin
    for module in ("lipbridge_contract.record", "lipbridge_contract.cli"):
        assert module not in imported_with_the_pytest_plugin


def test_importing_the_pytest_plugin_imports_no_checks_vcr_or_hypothesis(
    imported_with_the_pytest_plugin: list[str],
) -> None:
    heavy = [m for m in imported_with_the_pytest_plugin if m.startswith(HEAVY)]
    assert heavy == []


def test_contract_check_without_the_marker_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_unmarked="def test_contract(contract_check):\n    contract_check.verify()\n"
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret != 0
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*UsageError*test_unmarked.py::test_contract takes contract_check but has no*"
         "@pytest.mark.lipbridge_contract(provider, cassettes=...) marker*"]
    )


def test_the_marker_parametrizes_one_test_per_check(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_marked=(
            "import pytest\n"
            "pytestmark = pytest.mark.lipbridge_contract(\n"
            f"    'example', cassettes={str(EXAMPLE.parent)!r})\n"
            "def test_contract(contract_check):\n    contract_check.verify()\n"
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "--collect-only", "-q")
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"*test_contract[[]example-{c.id}[]]" for c in CHECKS])


@pytest.mark.parametrize("module", ["lipbridge_contract.harness", "lipbridge_contract.testing"])
def test_the_old_clock_name_still_imports_with_a_warning(module: str) -> None:
    with pytest.warns(DeprecationWarning, match=rf"{module}.VirtualClock is deprecated and goes "
                      r"in lipbridge-contract 0.2: use SteppedClock"):
        old = importlib.import_module(module).VirtualClock
    assert old is SteppedClock
    with pytest.raises(AttributeError, match="has no attribute 'NoSuchClock'"):
        importlib.import_module(module).NoSuchClock  # noqa: B018


# ------------------------------------------------------------------- 10. catalogue


def test_the_docs_table_of_standard_scenarios_is_the_catalogue() -> None:
    docs = (Path(__file__).parents[1] / "docs" / "contract.md").read_text(encoding="utf-8")
    table = docs.split("### Standard scenarios")[1].split("\n\n")[1]
    rows = [line.split(" | ") for line in table.splitlines()[2:]]
    assert [row[0].strip("| `") for row in rows] == list(STANDARD_SCENARIOS)
    for row, standard in zip(rows, CATALOGUE, strict=True):
        if standard.error is not None:
            assert f"`{standard.error.__name__}`" in row[2], standard.name
        if standard.capability is not None:
            assert f"`{standard.capability}`" in row[1], standard.name
        if standard.hook is not None:
            assert f"`{standard.hook}`" in row[1], standard.name


def test_a_catalogue_capability_is_a_flag_every_model_declares() -> None:
    flags = {f.name for f in attrs.fields(ModelCapabilities) if f.type in (bool, "bool")}
    assert {s.capability for s in CATALOGUE if s.capability} <= flags
    assert meaning("completed_with_error") == StandardScenario(name="completed_with_error")
    assert meaning("auth_invalid").invalid_key


# ------------------------------------------------------------------- 11. find-jobs

LOOKUP_VARIANTS = """
import datetime as dt

from lipbridge import JobHandle
from lipbridge.plugin import CallKind, hookimpl
from lipbridge_example import ExampleLipsync
from lipbridge_example.wire import JOBS, found_jobs, listing_query


class SinceBlind(ExampleLipsync):
    \"\"\"Keeps every listed job, however old: it trusts the API's created_after.\"\"\"

    @hookimpl
    def lipbridge_find_jobs(self, request, since, ctx):
        response = ctx.http.get(JOBS, kind=CallKind.POLL, params=listing_query(request, since))
        ever = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        return found_jobs(response, ctx.read(response), ctx, request, ever)


class Foreign(ExampleLipsync):
    \"\"\"Hands out its jobs as another provider's, with a naive creation time.\"\"\"

    @hookimpl
    def lipbridge_find_jobs(self, request, since, ctx):
        found = ExampleLipsync.lipbridge_find_jobs(self, request, since, ctx)
        return [JobHandle(provider="other", job_id=h.job_id, created_at=h.created_at.replace(
            tzinfo=None)) for h in found]


class Indexing(ExampleLipsync):
    \"\"\"Indexes the listing without checking it.\"\"\"

    @hookimpl
    def lipbridge_find_jobs(self, request, since, ctx):
        response = ctx.http.get(JOBS, kind=CallKind.POLL, params=listing_query(request, since))
        return [ctx.new_handle(job["id"]) for job in response.json("example")["data"]]


class NoLookup(ExampleLipsync):
    \"\"\"The example plugin before it had the optional hook.\"\"\"

    lipbridge_find_jobs = None


since_blind, foreign, indexing, no_lookup = SinceBlind(), Foreign(), Indexing(), NoLookup()
"""


@pytest.fixture
def lookup_variant(site: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], Registry]:
    """A registry whose ``example`` is one of the variants above, by its object's name."""
    (site / "lipbridge_lookup_variants.py").write_text(LOOKUP_VARIANTS)
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "lipbridge_lookup_variants", raising=False)

    def make(name: str) -> Registry:
        dist = f"lipbridge-lookup-{name}"
        if not list(site.glob(f"{dist.replace('-', '_')}-*.dist-info")):
            write_dist(site, dist, {"example": f"lipbridge_lookup_variants:{name}"})
        return make_registry(site)

    return make


def test_the_reference_lookups_pass_find_jobs(cassettes: Path) -> None:
    run = suite(cassettes)
    found = verdicts(run, "find-jobs", "lifecycle", "error-fuzz")
    assert found["find-jobs"] == Verdict(PASS, "2 lookups as recorded")
    assert found["lifecycle"].status is PASS
    assert "and 150 find responses generated" in found["error-fuzz"].detail
    assert [h.job_id for h in run.observations["find_jobs"].found or []] == ["ls_8f3k2m9q"]
    assert run.observations["find_jobs"].states == (JobState.RUNNING,)  # the poll after it
    assert run.observations["find_jobs_no_match"].found == []


def test_a_lookup_that_keeps_jobs_older_than_since_fails_find_jobs(
    cassettes: Path, lookup_variant: Callable[[str], Registry]
) -> None:
    found = run_check(suite(cassettes, registry=lookup_variant("since_blind")), BY_ID["find-jobs"])
    assert found.status == FAIL
    assert found.detail == (
        "find_jobs: with since 2026-11-05T10:00:01+00:00, after every job found, the same "
        "answer still gave 'ls_8f3k2m9q' created at 2026-11-05T10:00:00+00:00; a job older "
        "than since must be dropped"
    )


def test_a_job_from_an_old_listing_fails_find_jobs(cassettes: Path) -> None:
    """The API itself lists a job older than since: the plugin must drop it."""
    replace(cassettes / "example" / f"find_jobs{SIDECAR_SUFFIX}", '"2026-11-05T09:59:00Z"',
            '"2026-11-05T10:00:00Z"')
    replace(cassettes / "example" / "find_jobs.yaml", "09%3A59%3A00Z", "10%3A00%3A00Z")
    assert verdict(cassettes, "find-jobs").status is PASS  # same second: kept
    replace(cassettes / "example" / f"find_jobs{SIDECAR_SUFFIX}", '"2026-11-05T10:00:00Z"',
            '"2026-11-05T10:00:01Z"')
    replace(cassettes / "example" / "find_jobs.yaml", "10%3A00%3A00Z", "10%3A00%3A01Z")
    found = verdicts(suite(cassettes), "find-jobs", "lifecycle")
    # The reference plugin dropped it; the sidecar still expects it.
    assert found["find-jobs"].detail == (
        "find_jobs: found jobs []; the sidecar expects ['ls_8f3k2m9q']"
    )
    assert "(step poll raised LookupError: the find step found no job for the poll step to " \
        "follow)" in found["lifecycle"].detail


def test_handles_for_another_provider_fail_find_jobs(
    cassettes: Path, lookup_variant: Callable[[str], Registry]
) -> None:
    found = run_check(suite(cassettes, registry=lookup_variant("foreign")), BY_ID["find-jobs"])
    assert found.status == FAIL
    assert "find_jobs: job 0 ('ls_8f3k2m9q') names provider 'other', not 'example'" in (
        found.detail
    )
    assert "find_jobs: job 0 ('ls_8f3k2m9q'): created_at 2026-11-05 10:00:00 has no timezone" \
        in found.detail


def test_a_lookup_that_crashes_on_a_bad_answer_fails_error_fuzz(
    cassettes: Path, lookup_variant: Callable[[str], Registry]
) -> None:
    found = run_check(suite(cassettes, registry=lookup_variant("indexing")), BY_ID["error-fuzz"])
    assert found.status == FAIL
    assert "find: " in found.detail and "escaped for HTTP" in found.detail


@pytest.mark.parametrize(
    ("file", "old", "new", "expected"),
    [
        pytest.param(
            f"find_jobs{SIDECAR_SUFFIX}", "job_id: ls_8f3k2m9q", "job_id: ls_other",
            "find_jobs: found jobs ['ls_8f3k2m9q']; the sidecar expects ['ls_other']",
            id="other-job",
        ),
        pytest.param(
            f"find_jobs{SIDECAR_SUFFIX}", 'created_at: "2026-11-05T10:00:00Z"',
            'created_at: "2026-11-05T10:00:05Z"',
            "find_jobs: job 'ls_8f3k2m9q' was created at 2026-11-05T10:00:00+00:00; the sidecar "
            "expects 2026-11-05T10:00:05+00:00",
            id="other-time",
        ),
        pytest.param(
            f"find_jobs_no_match{SIDECAR_SUFFIX}", "jobs: []", "jobs: [{job_id: ls_8f3k2m9q}]",
            "find_jobs_no_match: the sidecar expects 1 job(s); this scenario means a lookup "
            "that finds no job",
            id="no-match-expects-a-job",
        ),
    ],
)
def test_a_sidecar_the_lookup_contradicts_fails_find_jobs(
    cassettes: Path, file: str, old: str, new: str, expected: str
) -> None:
    replace(cassettes / "example" / file, old, new)
    found = verdict(cassettes, "find-jobs")
    assert found.status == FAIL
    assert expected in found.detail.splitlines(), found.detail


def test_a_plugin_without_the_hook_passes_and_its_find_scenarios_are_not_replayed(
    cassettes: Path, lookup_variant: Callable[[str], Registry]
) -> None:
    run = suite(cassettes, registry=lookup_variant("no_lookup"))
    assert not run.implements("lipbridge_find_jobs")
    results = verdicts(run, "find-jobs", "capabilities", "lifecycle", "error-fuzz")
    assert {c: v.status for c, v in results.items()} == dict.fromkeys(results, PASS)
    assert results["find-jobs"].detail == (
        "lipbridge_find_jobs not implemented (optional): the core reconciles this provider's "
        "unknown jobs without it; not replayed: find_jobs, find_jobs_no_match"
    )
    assert results["lifecycle"].detail == "11 scenarios replayed as recorded"
    assert "find" not in results["error-fuzz"].detail
    remove_scenario(cassettes, "find_jobs")  # not required without the hook, even at high
    assert verdicts(suite(cassettes, registry=lookup_variant("no_lookup")),
                    "capabilities")["capabilities"].status is PASS


# ----------------------------------------------------------------------- 12. scrub


def test_scrub_text_removes_known_keys_and_pattern_matches_only() -> None:
    ordinary = "The job ls_8f3k2m9q finished in 12 seconds; see https://docs.invalid/api?page=2"
    assert scrub_text(ordinary) == ordinary
    assert scrub_text(ordinary, ["", "nothing-like-that"]) == ordinary
    text = (
        "key my-own-plain-key-0001 sent as Bearer abcdefghijklmnop123 to "
        "https://b.invalid/v.mp4?X-Amz-Signature=abcdef123456&size=3 with "
        "sk_live_4f9a8b7c6d5e4f3a2b1c and lbcanary-0123456789abcdef"
    )
    scrubbed = scrub_text(text, ["my-own-plain-key-0001"])
    for secret in ("my-own-plain-key-0001", "abcdefghijklmnop123", "abcdef123456",
                   "4f9a8b7c6d5e4f3a2b1c", "lbcanary-0123456789abcdef"):
        assert secret not in scrubbed
    assert scrubbed == (
        f"key {REDACTED} sent as Bearer {REDACTED} to "
        f"https://b.invalid/v.mp4?X-Amz-Signature={REDACTED}&size=3 with "
        f"{REDACTED} and {REDACTED}"
    )
    assert scrub_text(scrubbed) == scrubbed  # already clean: idempotent


def test_scrub_headers_redacts_credential_headers_case_insensitively() -> None:
    headers = {
        "AUTHORIZATION": ["Bearer abc"],
        "X-Api-Key": ["k1"],
        "set-cookie": ["session=1"],
        "X-Example-Token": ["t1"],
        "Content-Type": ["application/json"],
        "X-Request-Id": ["r1"],
    }
    scrubbed = scrub_headers(headers, extra=["x-EXAMPLE-token"])
    assert scrubbed == {
        "AUTHORIZATION": [REDACTED],
        "X-Api-Key": [REDACTED],
        "set-cookie": [REDACTED],
        "X-Example-Token": [REDACTED],
        "Content-Type": ["application/json"],
        "X-Request-Id": ["r1"],
    }
    assert scrub_headers(headers)["X-Example-Token"] == ["t1"]  # only when named
    assert headers["AUTHORIZATION"] == ["Bearer abc"]  # the input is not modified


# ------------------------------------------------------------------------ 13. upload

JOGG = shipped.cassettes("jogg")
SIGN_URL = "https://storage.jogg.ai/upload/signed-url-here"


class KeyedPut(JoggLipSync):
    """PUTs the file through the keyed API client: the key goes with it."""

    @hookimpl
    def lipbridge_upload(self, media: LocalMedia, ctx: CallContext) -> UploadedMedia:
        sign_url, asset_url = presigned(media, ctx)
        ctx.http.request("PUT", sign_url, kind=CallKind.UPLOAD, body=self.body(media))
        return UploadedMedia(reference=asset_url)

    def body(self, media: LocalMedia) -> FileBody:
        return FileBody.raw(media.path, media.media_type)


class FormPut(KeyedPut):
    """PUTs the file in a form (without the key), where the signed URL takes it alone."""

    @hookimpl
    def lipbridge_upload(self, media: LocalMedia, ctx: CallContext) -> UploadedMedia:
        sign_url, asset_url = presigned(media, ctx)
        ctx.http.put_file(sign_url, self.body(media))
        return UploadedMedia(reference=asset_url)

    def body(self, media: LocalMedia) -> FileBody:
        return FileBody.multipart(media.path, field_name="file", media_type=media.media_type)


def presigned(media: LocalMedia, ctx: CallContext) -> tuple[str, str]:
    """JoggAI's first step, as the plugin takes it."""
    response = ctx.http.post(jogg_wire.upload_path(ctx.settings), kind=CallKind.UPLOAD,
                             json=jogg_wire.upload_request(media))
    return jogg_wire.signed_urls(response, ctx)


class SignedReference(JoggLipSync):
    """Hands back the signed URL (with a made-up lifetime) instead of the asset's."""

    @hookimpl
    def lipbridge_upload(self, media: LocalMedia, ctx: CallContext) -> UploadedMedia:
        JoggLipSync.lipbridge_upload(self, media, ctx)
        return UploadedMedia(reference=SIGN_URL + "?v=2",
                             expires_at=ctx.clock.now().replace(tzinfo=None))


class Indexing(JoggLipSync):
    """Indexes the first answer without checking it."""

    @hookimpl
    def lipbridge_upload(self, media: LocalMedia, ctx: CallContext) -> UploadedMedia:
        response = ctx.http.post(jogg_wire.upload_path(ctx.settings), kind=CallKind.UPLOAD,
                                 json=jogg_wire.upload_request(media))
        return UploadedMedia(reference=response.json("jogg")["data"]["asset_url"])


class NoUpload(JoggLipSync):
    """The JoggAI plugin before it had the optional hook."""

    lipbridge_upload = None


@pytest.fixture
def jogg_cassettes(tmp_path: Path) -> Path:
    """A private copy of JoggAI's cassettes: ``<root>/jogg/*.yaml``."""
    root = tmp_path / "cassettes"
    shutil.copytree(JOGG, root / "jogg")
    return root


def jogg_suite(root: Path, plugin: object | None = None, strictness: str = "high") -> SuiteRun:
    """A run of ``jogg``: the installed plugin, or ``plugin`` registered in its place."""
    registry = None
    if plugin is not None:
        registry = Registry(candidates=[], environ={})
        registry.register("jogg", plugin)
    return SuiteRun("jogg", root, strictness, registry=registry)


def test_the_reference_upload_passes_and_is_fuzzed(jogg_cassettes: Path) -> None:
    run = jogg_suite(jogg_cassettes)
    found = verdicts(run, "upload", "encoding", "lifecycle", "errors", "error-fuzz", "hygiene")
    assert {c: v.status for c, v in found.items()} == dict.fromkeys(found, PASS)
    assert found["upload"].detail == "2 uploads as recorded"
    assert "and 150 upload responses generated" in found["error-fuzz"].detail
    uploaded = run.observations["upload"].uploaded
    assert uploaded is not None and uploaded.reference == "https://res.jogg.ai/assets/img_abc123.jpg"
    put = run.observations["upload"].sent[1]
    assert (put.method, put.file is not None, put.body) == (
        "PUT", True, b"lipbridge stand-in for speech.wav"
    )


def test_a_put_that_carries_the_key_fails_upload(jogg_cassettes: Path) -> None:
    """The signed URL moved onto the API's host, where the keyed client may send."""
    for name in ("upload.yaml", "upload_sign_url_expired.yaml"):
        text = (jogg_cassettes / "jogg" / name).read_text(encoding="utf-8")
        (jogg_cassettes / "jogg" / name).write_text(
            text.replace(SIGN_URL, "https://api.jogg.ai/upload/signed-url-here"), encoding="utf-8"
        )
    found = run_check(jogg_suite(jogg_cassettes, KeyedPut()), BY_ID["upload"])
    assert found.status == FAIL
    assert found.detail.splitlines() == [
        f"{name}: request 1 (PUT to a URL the provider answered) carries the API key; send a "
        "file to a presigned URL with ctx.http.put_file, which sends none"
        for name in ("upload", "upload_sign_url_expired")
    ]


def test_a_file_sent_in_a_form_to_a_signed_url_fails_upload_and_encoding(
    jogg_cassettes: Path,
) -> None:
    found = verdicts(jogg_suite(jogg_cassettes, FormPut()), "upload", "encoding")
    assert found["upload"].status == FAIL
    assert found["upload"].detail == (
        "upload: request 1 (PUT) sent the file in a form; the recording has it raw"
    )
    assert "upload: request 1 (upload): body b'--lipbridge-" in found["encoding"].detail


def test_a_reference_the_provider_never_answered_fails_upload(jogg_cassettes: Path) -> None:
    found = run_check(jogg_suite(jogg_cassettes, SignedReference()), BY_ID["upload"])
    assert found.status == FAIL
    assert found.detail.splitlines() == [
        f"upload: the reference is '{SIGN_URL}?v=2', the sidecar expects "
        "'https://res.jogg.ai/assets/img_abc123.jpg'",
        f"upload: the reference '{SIGN_URL}?v=2' is in no recorded answer; the submit must "
        "carry what the provider answered",
        "upload: expires_at 2026-01-01 00:00:00 has no timezone",
    ]


def test_a_lifetime_the_sidecar_does_not_expect_fails_upload(jogg_cassettes: Path) -> None:
    replace(jogg_cassettes / "jogg" / f"upload{SIDECAR_SUFFIX}", "expires_at: null",
            'expires_at: "2026-01-04T00:00:00Z"')
    found = run_check(jogg_suite(jogg_cassettes), BY_ID["upload"])
    assert found.detail == (
        "upload: expires_at is none, the sidecar expects 2026-01-04T00:00:00+00:00"
    )


def test_an_upload_that_crashes_on_a_bad_answer_fails_error_fuzz(jogg_cassettes: Path) -> None:
    found = run_check(jogg_suite(jogg_cassettes, Indexing()), BY_ID["error-fuzz"])
    assert found.status == FAIL
    assert "upload: " in found.detail and "escaped for HTTP" in found.detail


def test_the_upload_scenario_is_required_with_the_hook_and_not_replayed_without(
    jogg_cassettes: Path,
) -> None:
    remove = jogg_cassettes / "jogg" / "upload.yaml"
    remove.unlink()
    remove.with_name(f"upload{SIDECAR_SUFFIX}").unlink()
    missing = verdicts(jogg_suite(jogg_cassettes), "upload", "capabilities")
    for check in ("upload", "capabilities"):
        assert missing[check].detail.startswith(
            "strictness high: the lipbridge_upload hook needs a 'upload' scenario"
        ), check
    run = jogg_suite(jogg_cassettes, NoUpload())
    without = verdicts(run, "upload", "capabilities", "lifecycle", "error-fuzz")
    assert {c: v.status for c, v in without.items()} == dict.fromkeys(without, PASS)
    assert without["upload"].detail == (
        "lipbridge_upload not implemented (optional): the core sends this provider's local "
        "files inline or through staging; not replayed: upload_sign_url_expired"
    )
    assert "upload" not in without["error-fuzz"].detail
    assert "upload_sign_url_expired" not in run.observations


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (_set("request", value={"video": "https://x.invalid/v.mp4"}),
         "an upload scenario sends its media, not request"),
        (_set("steps", value=["upload", "poll"]), "upload is a scenario's only step"),
        (_set("media", "content", value="x" * 1025), "text of at most 1024 bytes"),
        (_set("media", "kind", value="image"), "media.kind='image'"),
        (_set("media", "name", value="../speech.wav"), "must be a file name"),
        (_drop("media"), "media (needed by an upload step)"),
        (_drop("expect", "uploaded"), "an upload that raises no error needs expect.uploaded"),
        (_set("expect", "error", value={"step": "upload", "class": "ProviderError"}),
         "expect.uploaded is what an upload step returns; this one raises"),
    ],
)
def test_an_upload_sidecar_that_cannot_be_used_is_a_hygiene_problem(
    jogg_cassettes: Path, change: Callable[[Any], None], says: str
) -> None:
    edit_yaml(jogg_cassettes / "jogg" / f"upload{SIDECAR_SUFFIX}", change)
    found = run_check(jogg_suite(jogg_cassettes), BY_ID["hygiene"])
    assert found.status == FAIL and says in found.detail, found.detail


def test_media_is_the_upload_steps_alone(cassettes: Path) -> None:
    edit_yaml(cassettes / "example" / f"success{SIDECAR_SUFFIX}",
              _set("media", value={"kind": "video", "name": "a.mp4", "media_type": "video/mp4",
                                   "content": "x"}))
    edit_yaml(cassettes / "example" / f"job_failed{SIDECAR_SUFFIX}",
              _set("expect", "uploaded", value={"reference": "https://x.invalid/a"}))
    found = verdict(cassettes, "hygiene")
    assert "media is the upload step's; this scenario has none" in found.detail
    assert "expect.uploaded is what an upload step returns; there is no upload step" in (
        found.detail
    )


def test_an_upload_may_record_its_stand_in_file_but_not_a_real_one(jogg_cassettes: Path) -> None:
    assert run_check(jogg_suite(jogg_cassettes), BY_ID["hygiene"]).status is PASS
    replace(jogg_cassettes / "jogg" / "upload.yaml", "body: lipbridge stand-in for speech.wav",
            f"body: {'RIFF' + 'x' * 1100}")
    found = run_check(jogg_suite(jogg_cassettes), BY_ID["hygiene"])
    assert found.detail == "upload.yaml: interaction 1 request holds Content-Type audio/wav"


def test_upload_scenarios_are_not_recorded(jogg_cassettes: Path) -> None:
    with pytest.raises(RecordRefused, match="upload: upload scenarios are not recorded yet"):
        scripts(load_cassette_dir(jogg_cassettes / "jogg"), ["success", "upload"])


# ---------------------------------------------------------------------- 14. callback

SYNCSO = shipped.cassettes("syncso")
FOXAPI = shipped.cassettes("foxapi")
WEBHOOK_SECRET = "whsec_test_lipbridge"  # the syncso callback sidecars' test secret


def generation_read(headers: Mapping[str, str], body: bytes, ctx: CallContext) -> CallbackUpdate:
    """The sync.so plugin's reading of a Generation, with no signature check at all."""
    answer = Response(method="POST", url="webhook", status=200, headers=headers, body=body)
    data = syncso_wire.read(answer, ctx)
    job_id = ctx.require(answer, data, "id")
    return CallbackUpdate(job_id=job_id, status=syncso_wire.status_of(answer, data, ctx, job_id),
                          verified=True)


class Unchecked(SyncLipSync):
    """Believes every body: says verified without looking at Sync-Signature."""

    @hookimpl
    def lipbridge_parse_callback(
        self, headers: Mapping[str, str], body: bytes, ctx: CallContext
    ) -> CallbackUpdate:
        return generation_read(headers, body, ctx)


class Timeless(SyncLipSync):
    """Checks the HMAC but never the signature's age: a replay a day later passes."""

    @hookimpl
    def lipbridge_parse_callback(
        self, headers: Mapping[str, str], body: bytes, ctx: CallContext
    ) -> CallbackUpdate:
        if ctx.webhook_secret is None:
            raise ConfigurationError("set LIPBRIDGE_SYNCSO_WEBHOOK_SECRET")
        t, _, v1 = headers["sync-signature"].partition(",v1=")
        expected = hmac_sha256_hex(ctx.webhook_secret.reveal(), t[2:].encode() + b"." + body)
        if not same_signature(expected, v1):
            raise CallbackRejected("the Sync-Signature does not match")
        return generation_read(headers, body, ctx)


class WallClock(SyncLipSync):
    """Measures the signature's age on the machine's clock, not ``ctx.clock``."""

    @hookimpl
    def lipbridge_parse_callback(
        self, headers: Mapping[str, str], body: bytes, ctx: CallContext
    ) -> CallbackUpdate:
        wall = attrs.evolve(ctx, clock=SteppedClock(dt.datetime.now(dt.timezone.utc)))
        syncso_webhooks.verify(headers, body, wall)
        return generation_read(headers, body, ctx)


class QuietlyUnsigned(SyncLipSync):
    """Without a secret, reads the callback as unsigned instead of saying what is missing."""

    @hookimpl
    def lipbridge_parse_callback(
        self, headers: Mapping[str, str], body: bytes, ctx: CallContext
    ) -> CallbackUpdate:
        if ctx.webhook_secret is None:
            return attrs.evolve(generation_read(headers, body, ctx), verified=False)
        return SyncLipSync.lipbridge_parse_callback(self, headers, body, ctx)


class TellsTheSecret(SyncLipSync):
    """Logs which secret a refused signature was checked against, on a logger of its own
    (lipbridge scrubs its own loggers' records and its errors' messages, not these)."""

    @hookimpl
    def lipbridge_parse_callback(
        self, headers: Mapping[str, str], body: bytes, ctx: CallContext
    ) -> CallbackUpdate:
        try:
            return SyncLipSync.lipbridge_parse_callback(self, headers, body, ctx)
        except CallbackRejected:
            assert ctx.webhook_secret is not None
            logging.getLogger("syncso_debugging").info("checked with %s",
                                                       ctx.webhook_secret.reveal())
            raise


class Phoning(SyncLipSync):
    """Polls the job to check what the callback says: I/O where none may be."""

    @hookimpl
    def lipbridge_parse_callback(
        self, headers: Mapping[str, str], body: bytes, ctx: CallContext
    ) -> CallbackUpdate:
        update = SyncLipSync.lipbridge_parse_callback(self, headers, body, ctx)
        ctx.http.get(syncso_wire.generation_path(update.job_id), kind=CallKind.POLL)
        return update


class NoCallback(SyncLipSync):
    """The sync.so plugin before it read its webhooks."""

    lipbridge_parse_callback = None


@pytest.fixture
def callback_cassettes(tmp_path: Path) -> Path:
    """Private copies of sync.so's and FoxAPI's cassettes."""
    root = tmp_path / "cassettes"
    shutil.copytree(SYNCSO, root / "syncso")
    shutil.copytree(FOXAPI, root / "foxapi")
    return root


def provider_suite(
    root: Path, provider: str, plugin: object | None = None, strictness: str = "high"
) -> SuiteRun:
    """A run of ``provider``: the installed plugin, or ``plugin`` registered in its place."""
    registry = None
    if plugin is not None:
        registry = Registry(candidates=[], environ={})
        registry.register(provider, plugin)
    return SuiteRun(provider, root, strictness, registry=registry)


def test_the_reference_callbacks_pass(callback_cassettes: Path) -> None:
    checks = ("callback", "lifecycle", "status-map", "output", "encoding", "errors",
              "secrets-canary", "timing", "hygiene", "capabilities")
    for provider, detail in (("syncso", "2 callbacks read as recorded"),
                             ("foxapi", "1 callbacks read as recorded")):
        run = provider_suite(callback_cassettes, provider)
        found = verdicts(run, *checks)
        assert {c: v.status for c, v in found.items()} == dict.fromkeys(checks, PASS), found
        assert found["callback"].detail == detail
        read = run.observations["callback"].callback
        assert read is not None and read.verified is (provider == "syncso")


def test_a_plugin_that_checks_no_signature_fails_callback(callback_cassettes: Path) -> None:
    found = run_check(provider_suite(callback_cassettes, "syncso", Unchecked()), BY_ID["callback"])
    assert found.status == FAIL
    for scenario in ("callback", "callback_failed"):
        assert [line for line in found.detail.splitlines() if line.startswith(scenario + ":")] == [
            f"{scenario}: the callback checked against another webhook secret was accepted "
            f"({'succeeded' if scenario == 'callback' else 'failed'}); it must raise "
            "CallbackRejected",
            f"{scenario}: the callback with its body altered (another job id) was accepted "
            f"({'succeeded' if scenario == 'callback' else 'failed'}); it must raise "
            "CallbackRejected",
            f"{scenario}: the callback replayed 1 h after it was signed was accepted "
            f"({'succeeded' if scenario == 'callback' else 'failed'}); it must raise "
            "CallbackRejected",
            f"{scenario}: the signed callback read with no webhook secret configured was "
            f"accepted ({'succeeded' if scenario == 'callback' else 'failed'}); it must raise "
            "ConfigurationError",
        ]


def test_a_signature_that_never_grows_old_fails_callback(callback_cassettes: Path) -> None:
    found = run_check(provider_suite(callback_cassettes, "syncso", Timeless()), BY_ID["callback"])
    assert found.detail.splitlines() == [
        "callback: the callback replayed 1 h after it was signed was accepted (succeeded); it "
        "must raise CallbackRejected",
        "callback_failed: the callback replayed 1 h after it was signed was accepted (failed); "
        "it must raise CallbackRejected",
    ]


def test_a_signature_timed_on_the_wall_clock_fails_timing_and_lifecycle(
    callback_cassettes: Path,
) -> None:
    found = verdicts(provider_suite(callback_cassettes, "syncso", WallClock()),
                     "timing", "lifecycle")
    assert found["timing"].status == FAIL
    assert [line.split(" line ")[0] + " " + line.split(" called ")[1]
            for line in found["timing"].detail.splitlines()] == [
        f"{name}: test_contract_checks datetime.datetime.now()"
        for name in ("callback", "callback_failed")
    ]
    assert found["lifecycle"].status == FAIL
    assert "callback: step callback raised CallbackRejected: the callback's signature is" in (
        found["lifecycle"].detail
    )


def test_a_missing_secret_read_as_unsigned_fails_callback(callback_cassettes: Path) -> None:
    found = run_check(provider_suite(callback_cassettes, "syncso", QuietlyUnsigned()),
                      BY_ID["callback"])
    assert found.detail.splitlines() == [
        f"{name}: the signed callback read with no webhook secret configured was accepted "
        f"({state}); it must raise ConfigurationError"
        for name, state in (("callback", "succeeded"), ("callback_failed", "failed"))
    ]


def test_a_refusal_that_names_the_secret_fails_callback(callback_cassettes: Path) -> None:
    found = run_check(provider_suite(callback_cassettes, "syncso", TellsTheSecret()),
                      BY_ID["callback"])
    assert found.detail.splitlines() == [
        f"{name}: the webhook secret appears in the log record"
        for name in ("callback", "callback_failed")
    ]
    assert WEBHOOK_SECRET not in found.detail


def test_a_hook_that_sends_a_request_fails_lifecycle(callback_cassettes: Path) -> None:
    found = run_check(provider_suite(callback_cassettes, "syncso", Phoning()), BY_ID["lifecycle"])
    assert "callback: step callback: network access during a contract run" in found.detail
    assert "reading a callback does no I/O" in found.detail


def test_an_unsigned_callback_said_to_be_verified_fails_callback(callback_cassettes: Path) -> None:
    fox = foxapi_plugin.plugin
    fields = {f.name: getattr(fox, f.name) for f in attrs.fields(type(fox))}

    class Trusting(CallingBackGateway):
        """Calls the gateway's unsigned callback verified."""

        @hookimpl
        def lipbridge_parse_callback(
            self, headers: Mapping[str, str], body: bytes, ctx: CallContext
        ) -> CallbackUpdate:
            read = CallingBackGateway.lipbridge_parse_callback(self, headers, body, ctx)
            return attrs.evolve(read, verified=True)

    found = run_check(provider_suite(callback_cassettes, "foxapi", Trusting(**fields)),
                      BY_ID["callback"])
    assert found.detail.splitlines() == [
        "callback: verified is True, the sidecar expects False: a callback is verified only by "
        "a signature that checks out against the webhook secret",
    ]
    # The reference is refused without the user's opt-in, as the probe expects.
    assert run_check(provider_suite(callback_cassettes, "foxapi"), BY_ID["callback"]).status == PASS


def test_what_the_sidecar_expects_is_what_the_callback_must_read(callback_cassettes: Path) -> None:
    edit_yaml(callback_cassettes / "syncso" / f"callback{SIDECAR_SUFFIX}",
              _set("expect", "callback", value={"job_id": "gen_other", "state": "failed",
                                                "verified": True}))
    found = verdicts(provider_suite(callback_cassettes, "syncso"), "callback", "lifecycle")
    assert found["callback"].detail.splitlines() == [
        "callback: the job id read is 'a47b00ce-29c1-40e8-badf-4f5b22c1e67e', the sidecar "
        "expects 'gen_other'",
        "callback: the state read is succeeded (COMPLETED), the sidecar expects failed",
    ]
    assert "callback: states succeeded(COMPLETED); the sidecar expects failed" in (
        found["lifecycle"].detail
    )


def test_the_callback_scenario_is_required_with_the_hook_and_not_replayed_without(
    callback_cassettes: Path,
) -> None:
    remove = callback_cassettes / "syncso" / "callback.yaml"
    remove.unlink()
    remove.with_name(f"callback{SIDECAR_SUFFIX}").unlink()
    missing = verdicts(provider_suite(callback_cassettes, "syncso"), "callback", "capabilities")
    for check in ("callback", "capabilities"):
        assert missing[check].status == FAIL
        assert missing[check].detail.startswith(
            "strictness high: the lipbridge_parse_callback hook needs a 'callback' scenario"
        ), check
    run = provider_suite(callback_cassettes, "syncso", NoCallback())
    without = verdicts(run, "callback", "capabilities", "lifecycle")
    assert {c: v.status for c, v in without.items()} == dict.fromkeys(without, PASS)
    assert without["callback"].detail == (
        "lipbridge_parse_callback not implemented (optional): the core polls this provider's "
        "jobs; not replayed: callback_failed"
    )
    assert "callback_failed" not in run.observations


def test_a_callback_cassette_must_hold_one_post(callback_cassettes: Path) -> None:
    path = callback_cassettes / "syncso" / "callback.yaml"
    edit_yaml(path, lambda data: data["interactions"].append(data["interactions"][0]))
    found = run_check(provider_suite(callback_cassettes, "syncso"), BY_ID["lifecycle"])
    assert ("callback: callback.yaml: a callback scenario's cassette holds one interaction, the "
            "provider's POST") in found.detail


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (_set("request", value={"video": "https://x.invalid/v.mp4"}),
         "a callback scenario reads the POST its cassette holds, not request"),
        (_set("steps", value=["callback", "poll"]), "callback is a scenario's only step"),
        (_drop("expect", "callback"), "expect.callback (needed by a callback that raises no"),
        (_set("expect", "callback", "verified", value=False),
         "expect.callback.verified must be true"),
        (_set("expect", "callback", "state", value="done"), "expect.callback.state='done'"),
        (_set("expect", "states", value=["succeeded"]),
         "a callback scenario's state is expect.callback.state, not expect.states"),
        (_drop("webhook_secret"), "signed_at is a signature's time; give its webhook_secret"),
        (_set("webhook_secret", value=""), "webhook_secret must be the test secret"),
        (_set("expect", "error", value={"step": "callback", "class": "CallbackRejected"}),
         "expect.callback is what a callback step reads; this one raises"),
    ],
)
def test_a_callback_sidecar_that_cannot_be_used_is_a_hygiene_problem(
    callback_cassettes: Path, change: Callable[[Any], None], says: str
) -> None:
    edit_yaml(callback_cassettes / "syncso" / f"callback{SIDECAR_SUFFIX}", change)
    found = run_check(provider_suite(callback_cassettes, "syncso"), BY_ID["hygiene"])
    assert found.status == FAIL and says in found.detail, found.detail


def test_a_signature_is_the_callback_steps_alone(cassettes: Path) -> None:
    edit_yaml(cassettes / "example" / f"success{SIDECAR_SUFFIX}",
              _set("webhook_secret", value=WEBHOOK_SECRET))
    edit_yaml(cassettes / "example" / f"job_failed{SIDECAR_SUFFIX}",
              _set("expect", "callback", value={"job_id": "j", "state": "failed",
                                                "verified": False}))
    found = verdict(cassettes, "hygiene")
    assert "webhook_secret and signed_at are a callback step's; this scenario has none" in (
        found.detail
    )
    assert "expect.callback is what a callback step reads; there is no callback step" in (
        found.detail
    )


def test_callback_scenarios_are_not_recorded(callback_cassettes: Path) -> None:
    with pytest.raises(RecordRefused, match="callback: callback scenarios are not recorded"):
        scripts(load_cassette_dir(callback_cassettes / "syncso"), ["success", "callback"])
