"""Where this repository's plugins ship their cassettes (``<package>/cassettes/<provider>/``,
package data), for the tests that read or copy them directly rather than through the
contract suite's own lookup (lipbridge_contract.locate)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cassette_root(provider: str) -> Path:
    """The ``cassettes`` folder of ``provider``'s plugin: the one holding ``<provider>/``."""
    plugin = ROOT / ("examples/example_plugin" if provider == "example" else f"plugins/{provider}")
    return plugin / f"lipbridge_{provider}" / "cassettes"


def cassettes(provider: str) -> Path:
    """``provider``'s own cassette directory."""
    return cassette_root(provider) / provider
