"""Certify the FoxAPI plugin against the lipbridge contract suite."""

import pytest


@pytest.mark.lipbridge_contract("foxapi", strictness="high")
def test_contract(contract_check):
    contract_check.verify()
