"""Certify the fal.ai plugin against the lipbridge contract suite."""

import pytest

pytestmark = pytest.mark.lipbridge_contract("fal", strictness="high")


def test_contract(contract_check):
    contract_check.verify()
