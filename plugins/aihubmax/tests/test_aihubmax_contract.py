"""Certify the AIHubMax plugin against the lipbridge contract suite."""

import pytest


@pytest.mark.lipbridge_contract("aihubmax", strictness="high")
def test_contract(contract_check):
    contract_check.verify()
