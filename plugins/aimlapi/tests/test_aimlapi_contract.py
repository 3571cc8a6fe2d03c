"""Certify the AI/ML API plugin against the lipbridge contract suite."""

import pytest

pytestmark = pytest.mark.lipbridge_contract("aimlapi", strictness="high")


def test_contract(contract_check):
    contract_check.verify()
