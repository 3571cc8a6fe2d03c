"""Every contract check, in report order. Ids are documented in docs/contract.md."""

from __future__ import annotations

from lipbridge_contract.checks.base import FAIL, PASS, SKIP, Check, Verdict
from lipbridge_contract.checks.cancel import cancel
from lipbridge_contract.checks.cost import cost
from lipbridge_contract.checks.errors import error_fuzz, errors
from lipbridge_contract.checks.lifecycle import lifecycle, output, resume
from lipbridge_contract.checks.load import capabilities, load
from lipbridge_contract.checks.preflight import preflight
from lipbridge_contract.checks.secrets import secrets_canary
from lipbridge_contract.checks.static import hygiene, secrets_static
from lipbridge_contract.checks.timing import timing
from lipbridge_contract.checks.wire import encoding, status_map

CHECKS: tuple[Check, ...] = (
    load,
    capabilities,
    preflight,
    encoding,
    status_map,
    lifecycle,
    errors,
    error_fuzz,
    cancel,
    cost,
    secrets_static,
    secrets_canary,
    timing,
    resume,
    output,
    hygiene,
)

__all__ = ["CHECKS", "FAIL", "PASS", "SKIP", "Check", "Verdict"]
