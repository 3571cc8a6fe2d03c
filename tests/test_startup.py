"""Start-up: extension commands imported only when run or listed, discovery reading little."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import write_dist

from lipbridge.cli.app import LipbridgeGroup
from lipbridge.registry import discover

SUPPORT = Path(__file__).parent / "support"
HELLO = (
    "import click\n\n"
    "@click.command()\ndef hello():\n    '''Say hello.'''\n    click.echo('hello from {name}')\n"
)
LEGACY = (
    "import click\nfrom lipbridge.plugin import hookimpl\n\n"
    "@hookimpl\ndef lipbridge_add_commands(cli):\n"
    "    @cli.command()\n    def old():\n        '''The old way.'''\n        click.echo('old')\n"
)


def extension(site: Path, module: str, source: str, group: str, line: str) -> None:
    """A distribution ``lipbridge-<module>`` whose entry points are ``[group] line``."""
    (site / f"{module}.py").write_text(source)
    info = write_dist(site, f"lipbridge-{module}", {}) / f"lipbridge_{module}-1.0.dist-info"
    (info / "entry_points.txt").write_text(f"[{group}]\n{line}\n")


@pytest.fixture
def extensions(site: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A command entry point, a broken one and an extension using the deprecated hook."""
    extension(site, "lbt_hello", HELLO.format(name="lbt_hello"), "lipbridge.commands",
              "hello = lbt_hello:hello")
    extension(site, "lbt_broken", "raise ImportError('needs libfoo')\n", "lipbridge.commands",
              "broken = lbt_broken:command")
    extension(site, "lbt_legacy", LEGACY, "lipbridge.extensions", "legacy = lbt_legacy")
    monkeypatch.syspath_prepend(str(site))
    yield site
    for module in ("lbt_hello", "lbt_broken", "lbt_legacy"):
        sys.modules.pop(module, None)


def group() -> LipbridgeGroup:
    return LipbridgeGroup("lipbridge")


def test_a_command_is_imported_only_when_it_runs(extensions: Path) -> None:
    cli = group()
    assert "lbt_hello" not in sys.modules
    result = CliRunner().invoke(cli, ["hello"])
    assert result.output == "hello from lbt_hello\n"
    assert "lbt_legacy" not in sys.modules and "lbt_broken" not in sys.modules


def test_help_lists_every_command_and_warns_about_a_broken_one(extensions: Path) -> None:
    with pytest.warns(DeprecationWarning, match="'legacy' adds commands through"):
        result = CliRunner().invoke(group(), ["--help"])
    assert result.exit_code == 0
    assert re.search(r"hello +Say hello\.", result.output)
    assert re.search(r"old +The old way\.", result.output)
    assert "warning: command 'broken' not loaded: ImportError: needs libfoo" in result.output


def test_the_deprecated_hook_still_adds_commands(extensions: Path) -> None:
    with pytest.warns(DeprecationWarning, match="declare each command in the"):
        result = CliRunner().invoke(group(), ["old"])
    assert result.output == "old\n"


def test_a_broken_command_warns_and_is_no_such_command(extensions: Path) -> None:
    with pytest.warns(DeprecationWarning, match="lipbridge_add_commands"):  # looked further
        result = CliRunner().invoke(group(), ["broken"])
    assert result.exit_code == 2
    assert "warning: command 'broken' not loaded: ImportError: needs libfoo" in result.output
    assert "No such command 'broken'" in result.output


def test_lipbridge_providers_imports_no_extension(extensions: Path, standard_site: Path) -> None:
    """The command itself, in a process of its own: nothing but what listing needs."""
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: print(sorted(m for m in sys.modules if m.startswith("
        "('lbt_', 'lipbridge_contract', 'vcr', 'yaml', 'av', 'hypothesis'))), file=sys.stderr))\n"
        "from lipbridge.cli import main\nmain()\n"
    )
    path = os.pathsep.join([str(extensions), str(SUPPORT)])
    done = subprocess.run([sys.executable, "-c", code, "providers", "--json"],
                          env={**os.environ, "PYTHONPATH": path},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_discovery_reads_the_metadata_of_provider_distributions_only(
    standard_site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_dist(standard_site, "unrelated", {})
    (standard_site / "unrelated-1.0.dist-info" / "entry_points.txt").unlink()
    read: list[Path] = []
    original = metadata.PathDistribution.read_text

    def spy(self: metadata.PathDistribution, filename: str) -> str | None:
        if filename == "METADATA":
            read.append(self._path)  # type: ignore[attr-defined]
        return original(self, filename)

    monkeypatch.setattr(metadata.PathDistribution, "read_text", spy)
    monkeypatch.syspath_prepend(str(standard_site))
    found = {c.name: c for c in discover()}
    assert found["acme"].distribution == "lipbridge-acme" and found["acme"].version == "1.0"
    assert read and all(
        "[lipbridge.providers]" in (info / "entry_points.txt").read_text() for info in read
    )
