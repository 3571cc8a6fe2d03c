"""The ``pytest11`` plugin: one test per contract check for a marked test function.

Inert until used: importing this module imports only pytest, and its hooks return at
once unless a test asks for the ``contract_check`` argument. A plugin repository needs
one short file::

    pytestmark = pytest.mark.lipbridge_contract("myprovider")

    def test_contract(contract_check):
        contract_check.verify()

Without ``cassettes=``, the cassettes the plugin ships are certified (``locate``), else the
``cassettes`` folder beside the test file; ``cassettes=DIR`` is relative to the test file.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

MARKER = "lipbridge_contract"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(provider, cassettes=None, strictness='high'): certify a provider plugin "
        "with the lipbridge contract suite (cassettes: the plugin's own when omitted); the "
        "test takes a `contract_check` argument",
    )


class ContractCheck:
    """One check of one provider, run against the suite state shared by its siblings."""

    def __init__(self, provider: str, cassettes: Path, strictness: str, check_id: str) -> None:
        self.provider, self.cassettes, self.strictness = provider, cassettes, strictness
        self.check_id = check_id

    def __repr__(self) -> str:
        return f"ContractCheck({self.provider!r}, {self.check_id!r})"

    def verify(self) -> None:
        """Pass, or fail/skip with the check's own explanation."""
        from lipbridge_contract.checks import CHECKS, FAIL, SKIP
        from lipbridge_contract.report import run_check

        check = next(c for c in CHECKS if c.id == self.check_id)
        verdict = run_check(_suite(self.provider, self.cassettes, self.strictness), check)
        if verdict.status == FAIL:
            pytest.fail(f"{self.provider} / {check.id}:\n{verdict.detail}", pytrace=False)
        if verdict.status == SKIP:
            pytest.skip(verdict.detail)


@functools.cache
def _suite(provider: str, cassettes: Path, strictness: str) -> Any:
    from lipbridge_contract.run import SuiteRun

    return SuiteRun(provider, cassettes, strictness)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "contract_check" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker(MARKER)
    if marker is None or not marker.args:
        raise pytest.UsageError(
            f"{metafunc.definition.nodeid} takes contract_check but has no "
            f"@pytest.mark.{MARKER}(provider, cassettes=...) marker"
        )
    from lipbridge_contract.checks import CHECKS

    provider = marker.args[0]
    here = metafunc.definition.path.parent
    if "cassettes" in marker.kwargs:
        cassettes = (here / marker.kwargs["cassettes"]).resolve()
    else:
        from lipbridge import Registry
        from lipbridge.registry import discover
        from lipbridge_contract.locate import cassette_root

        cassettes = cassette_root(Registry(discover(), environ={}), provider, here / "cassettes")
    strictness = marker.kwargs.get("strictness", "high")
    metafunc.parametrize(
        "contract_check",
        [ContractCheck(provider, cassettes, strictness, c.id) for c in CHECKS],
        ids=[f"{provider}-{c.id}" for c in CHECKS],
    )
