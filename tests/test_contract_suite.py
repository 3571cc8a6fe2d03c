"""The contract suite certifies the reference plugin and fails every broken variant.

A suite that passes a broken plugin is the worst bug this project can have, so each
variant carries one realistic bug and must fail the check that owns it, with a
message naming the scenario and what differed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_registry, write_dist

from lipbridge_contract import SuiteRun, certify

EXAMPLE = Path(__file__).parent / "example_plugin"
CASSETTES = EXAMPLE / "cassettes"


def report_for(site: Path, target: str, strictness: str = "high") -> dict[str, dict[str, str]]:
    write_dist(site, "lipbridge-example-variant", {"example": target})
    run = SuiteRun("example", CASSETTES, strictness, registry=make_registry(site))
    return certify(run).as_dict()["checks"]


def failures(checks: dict[str, dict[str, str]]) -> dict[str, str]:
    return {name: c["detail"] for name, c in checks.items() if c["status"] == "fail"}


def test_the_reference_plugin_passes_every_check_at_high(site: Path) -> None:
    checks = report_for(site, "lipbridge_example:plugin")
    assert failures(checks) == {}
    assert {c["status"] for c in checks.values()} == {"pass"}


@pytest.mark.parametrize(
    ("variant", "check", "expected"),
    [
        (
            "wrong_status",
            "lifecycle",
            ["success: states queued(pending) -> queued(processing)", "expects queued -> running"],
        ),
        ("wrong_status", "status-map", ["'processing' became queued", "maps it to running"]),
        ("leaky_key", "secrets-canary", ["auth_invalid: the API key appears in the "
                                         "AuthenticationError message"]),
        ("swallowed_429", "errors", ["rate_limited: raised ProviderError",
                                     "the sidecar expects RateLimited"]),
        ("mutated_body", "encoding", ["success: request 0 (submit): $.video_url: missing",
                                      "$.video: unexpected"]),
        ("sleepy_poll", "timing", ["success: lipbridge_broken_example called time.sleep(0.5)"]),
        ("key_error_poll", "error-fuzz", ["poll: KeyError", "escaped for HTTP"]),
        ("key_error_poll", "errors", ["job_not_found: the plugin raised KeyError"]),
    ],
)
def test_a_broken_variant_fails_the_check_that_owns_its_bug(
    site: Path, variant: str, check: str, expected: list[str]
) -> None:
    failed = failures(report_for(site, f"lipbridge_broken_example:{variant}"))
    assert check in failed, f"{variant} passed {check}; failures: {failed}"
    for text in expected:
        assert text in failed[check], failed[check]
