"""lipbridge-contract: certify a provider plugin against its recorded cassettes.

Programmatic use::

    from lipbridge_contract import SuiteRun, certify
    report = certify(SuiteRun("myprovider"))  # the cassettes the plugin ships, at high
    assert report.ok, report.as_dict()
    certify(SuiteRun("myprovider", Path("cassettes"), "low"))  # cassettes/myprovider/

From pytest, mark a test that takes ``contract_check`` (see :mod:`.pytest_plugin`); from
the shell, ``lipbridge contract``. The checks are documented in docs/contract.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lipbridge_contract.catalogue import STANDARD_SCENARIOS
    from lipbridge_contract.checks import CHECKS, Check, Verdict, VerdictStatus
    from lipbridge_contract.report import CheckResult, ProviderReport, certify, run_check
    from lipbridge_contract.run import Strictness, SuiteRun

# Names are imported on first use: pytest imports this package for its ``pytest11``
# plugin in every run, and that must not pull in vcrpy, Hypothesis or the checks.
_HOMES = {
    "CHECKS": "checks",
    "Check": "checks",
    "Verdict": "checks",
    "VerdictStatus": "checks",
    "CheckResult": "report",
    "ProviderReport": "report",
    "certify": "report",
    "run_check": "report",
    "Strictness": "run",
    "SuiteRun": "run",
    "STANDARD_SCENARIOS": "catalogue",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'lipbridge_contract' has no attribute {name!r}")
    return getattr(importlib.import_module(f"lipbridge_contract.{_HOMES[name]}"), name)


__all__ = [
    "CHECKS",
    "STANDARD_SCENARIOS",
    "Check",
    "CheckResult",
    "ProviderReport",
    "Strictness",
    "SuiteRun",
    "Verdict",
    "VerdictStatus",
    "certify",
    "run_check",
]
