"""lipbridge-contract: certify a provider plugin against its recorded cassettes.

Programmatic use::

    from lipbridge_contract import SuiteRun, certify
    report = certify(SuiteRun("myprovider", Path("cassettes"), "high"))
    assert report.ok, report.as_dict()

From pytest, mark a test that takes ``contract_check`` (see :mod:`.pytest_plugin`); from
the shell, ``lipbridge contract``. The checks are documented in docs/contract.md.
"""

from __future__ import annotations

from lipbridge_contract.checks import CHECKS, Check, Verdict
from lipbridge_contract.report import CheckResult, ProviderReport, certify, run_check
from lipbridge_contract.run import Strictness, SuiteRun
from lipbridge_contract.scenarios import STANDARD_SCENARIOS

__all__ = [
    "CHECKS",
    "STANDARD_SCENARIOS",
    "Check",
    "CheckResult",
    "ProviderReport",
    "Strictness",
    "SuiteRun",
    "Verdict",
    "certify",
    "run_check",
]
