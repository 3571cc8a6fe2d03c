"""The contract suite certifies the reference plugin and fails every broken variant.

A suite that passes a broken plugin is the worst bug this project can have, so each
variant carries one realistic bug and must fail the check that owns it, with a
message naming the scenario and what differed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_registry, write_dist
from shipped import cassette_root

from lipbridge_contract import CHECKS, SuiteRun, certify, run_check

CASSETTES = cassette_root("example")


def suite_for(site: Path, target: str) -> SuiteRun:
    write_dist(site, "lipbridge-example-variant", {"example": target})
    return SuiteRun("example", CASSETTES, "high", registry=make_registry(site))


def test_the_reference_plugin_passes_every_check_at_high(site: Path) -> None:
    report = certify(suite_for(site, "lipbridge_example:plugin"))
    assert {r.check: r.status for r in report.results} == {c.id: "pass" for c in CHECKS}
    assert report.ok


@pytest.mark.parametrize(
    ("variant", "check", "expected"),
    [
        (
            "wrong_status",
            "lifecycle",
            ["success: states queued(pending) -> queued(processing)", "expects queued -> running"],
        ),
        ("wrong_status", "status-map", ["'processing' became queued", "maps it to running"]),
        ("leaky_key", "secrets-canary", ["success: the API key appears in the handle JSON"]),
        ("swallowed_429", "errors", ["rate_limited: raised ProviderError",
                                     "the sidecar expects RateLimited"]),
        ("mutated_body", "encoding", ["success: request 0 (submit): $.video_url: missing",
                                      "$.video: unexpected"]),
        ("sleepy_poll", "timing", ["success: lipbridge_broken_example called time.sleep(0.5)"]),
        ("key_error_poll", "error-fuzz", ["poll: KeyError", "escaped for HTTP"]),
        ("key_error_poll", "errors", ["job_not_found: the plugin raised KeyError"]),
        ("phones_home", "load", ["does not load", "network access during a contract run"]),
        ("late_validation", "preflight", ["submit refused the request only after 1 HTTP request"]),
        ("unportable_handle", "resume", ["success: the handle changed in a JSON round trip"]),
        ("no_expiry", "output", ["success: example-1 documents a 3600 s URL lifetime"]),
    ],
)
def test_a_broken_variant_fails_the_check_that_owns_its_bug(
    site: Path, variant: str, check: str, expected: list[str]
) -> None:
    owner = next(c for c in CHECKS if c.id == check)
    verdict = run_check(suite_for(site, f"lipbridge_broken_example:{variant}"), owner)
    assert verdict.status == "fail", f"{variant} passed {check}: {verdict.detail}"
    for text in expected:
        assert text in verdict.detail, verdict.detail
