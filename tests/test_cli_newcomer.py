"""A newcomer's first commands: each one says what to do next in the command's own words."""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path

import click
from click.testing import CliRunner
from conftest import make_registry, write_dist

from lipbridge import Client
from lipbridge.cli import cli
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


def test_providers_at_80_columns_wraps_between_sync_modes(tmp_path: Path) -> None:
    """A narrow terminal folds the modes at their commas, not inside a mode's name."""
    site = tmp_path / "site"
    site.mkdir()
    write_dist(site, "lipbridge-acme", {"acme": "lipbridge_testprov:acme"})
    client = Client(registry=make_registry(site), environ={})
    result = CliRunner().invoke(cli, ["providers"], obj=lambda: client, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80
    cells = " ".join(line.split("│")[-2].strip() for line in result.output.splitlines()
                     if line.count("│") == 6)
    assert "modes=bounce, cut_off, loop, remap, silence;" in cells


def test_an_estimated_range_in_dollars_has_a_sign_at_each_end() -> None:
    """Replicate's latentsync is priced by GPU time, a range: "($0.00 to $0.129675)", not
    "($0.00 to 0.129675)"."""
    client = Client(environ={}, user_dir=False)
    args = ["estimate", "replicate", "--model", "latentsync",
            "--video-duration", "3", "--audio-duration", "4"]
    result = CliRunner().invoke(cli, args, obj=lambda: client)
    assert result.exit_code == 0, result.output
    assert "USD ($0.00 to $0.129675)" in result.output


def test_an_estimate_without_lengths_names_the_options_that_give_them() -> None:
    """`lipbridge estimate jogg`, a first try: the options, not estimate_cost's keywords."""
    client = Client(environ={}, user_dir=False)
    one = CliRunner().invoke(cli, ["estimate", "jogg"], obj=lambda: client)
    assert one.exit_code == 2
    assert one.stderr == (
        "error: cannot tell the output length; give --audio-duration or a local file to "
        "measure\n"
    )
    rows = CliRunner().invoke(cli, ["estimate", "--all", "--json"], obj=lambda: client)
    [fal] = [row for row in json.loads(rows.stdout) if row["provider"] == "fal"]
    assert fal["reason"] == (
        "cannot tell the output length; give --video-duration and --audio-duration or a "
        "local file to measure"
    )


def test_submit_and_wait_take_dash_o_as_run_does() -> None:
    """`run ... -o out.mp4` copied to `submit --wait` or `wait` keeps working."""
    for name in ("submit", "wait"):
        command = cli.get_command(click.Context(cli), name)
        assert command is not None
        [output] = [param for param in command.params if param.name == "output"]
        assert output.opts == ["-o", "--output"]
