"""A newcomer's first commands: what the CLI says when a step needs something not installed."""

from __future__ import annotations

from importlib import metadata

from click.testing import CliRunner

from lipbridge.cli.app import LipbridgeGroup


def test_a_project_command_not_installed_says_which_distribution_brings_it() -> None:
    """`lipbridge contract jogg` after the user install (no contract suite): not just
    "No such command", but what to install."""
    bare = LipbridgeGroup("lipbridge")
    bare._entry_points = metadata.EntryPoints([])  # nothing but the core installed
    result = CliRunner().invoke(bare, ["contract", "jogg"])
    assert result.exit_code == 2
    assert "'contract' is a command of lipbridge-contract, which is not installed" in result.output
    assert "pip install ./contract" in result.output
    unknown = CliRunner().invoke(bare, ["contrat"])
    assert unknown.exit_code == 2 and "No such command 'contrat'" in unknown.output
