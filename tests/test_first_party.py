"""The first-party plugins stay wired up: installed, certified at high, and described truly.

Every ``plugins/<name>`` distribution with a provider entry point must be in the
workspace install, ship its cassettes in its package and certify them at strictness high,
and have a row in the README's provider table whose capability cells match what the
plugin declares. The contract runs themselves are the plugins' own test files.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import tomllib

from lipbridge import Registry, SyncMode
from lipbridge.plugin import ProviderInfo
from lipbridge.registry import discover
from lipbridge_contract.locate import packaged_cassettes

ROOT = Path(__file__).resolve().parent.parent
PYPROJECTS = sorted(ROOT.glob("plugins/*/pyproject.toml"))


def _providers() -> dict[str, Path]:
    found = {}
    for pyproject in PYPROJECTS:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        for name in data["project"].get("entry-points", {}).get("lipbridge.providers", {}):
            found[name] = pyproject.parent
    return found


PROVIDERS = _providers()


def readme_rows() -> dict[str, list[str]]:
    """The README's provider table: provider name -> its cells."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("<!-- provider-table -->")[1]
    rows = {}
    for line in section.strip().splitlines()[2:]:  # after the header and its rule
        if not line.startswith("| `"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1:]
    return rows


def expected_cells(info: ProviderInfo) -> list[str]:
    """Models, sync modes, TTS, callback, cancel and URL lifetime as the README shows them."""
    models = info.models
    modes = {m for caps in models for m in caps.sync_modes}
    voices = {v for caps in models for v in caps.tts_voices}
    ttl = {caps.output_url_ttl_seconds for caps in models}
    lifetime = "not documented" if ttl == {None} else f"{max(t or 0 for t in ttl) / 3600:g} h"

    def some(flag: str) -> str:
        have = [caps.name for caps in models if getattr(caps, flag)]
        if not have:
            return "no"
        return "yes" if len(have) == len(models) else "only " + ", ".join(have)

    return [
        ", ".join(caps.name for caps in models),
        ", ".join(m.value for m in SyncMode if m in modes) or "none",
        f"yes ({len(voices)} voices)" if voices else "no",
        some("callback"),
        some("cancel"),
        lifetime,
    ]


def test_there_are_first_party_plugins() -> None:
    assert {"foxapi", "aihubmax", "aimlapi", "jogg"} <= set(PROVIDERS)


def test_every_plugin_distribution_is_in_the_workspace_install() -> None:
    listed = (ROOT / "requirements.txt").read_text(encoding="utf-8").split()
    for pyproject in PYPROJECTS:
        assert f"plugins/{pyproject.parent.name}" in listed, pyproject.parent.name


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_each_provider_is_installed_and_certified_at_high_from_the_cassettes_it_ships(
    provider: str,
) -> None:
    registry = Registry(discover(), environ={})
    assert provider in registry.names()
    shipped = PROVIDERS[provider] / f"lipbridge_{provider}" / "cassettes"
    assert (shipped / provider / "suite.yaml").is_file()
    assert packaged_cassettes(registry, provider) == shipped  # what the suite reads by default
    marker = re.compile(rf'lipbridge_contract\(\s*"{provider}",\s*strictness="high",?\s*\)')
    tests = PROVIDERS[provider] / "tests"
    assert any(marker.search(f.read_text(encoding="utf-8")) for f in tests.glob("test_*.py")), (
        f"no test in {tests} certifies {provider} at high from the cassettes it ships"
    )


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_the_readme_table_says_what_the_plugin_declares(provider: str) -> None:
    rows = readme_rows()
    assert provider in rows, f"README provider table has no row for {provider}"
    info = Registry(discover(), environ={}).info(provider)
    assert rows[provider][:6] == expected_cells(info)
    assert all(cell for cell in rows[provider][6:]), "cost and billed usage must be filled in"


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_each_plugin_readme_names_its_key_variables(provider: str) -> None:
    info = Registry(discover(), environ={}).info(provider)
    text = (PROVIDERS[provider] / "README.md").read_text(encoding="utf-8")
    for name in (f"LIPBRIDGE_{re.sub(r'[^A-Za-z0-9]', '_', provider).upper()}_API_KEY",
                 *info.api_key_env):
        assert name in text, f"{provider}'s README does not name {name}"
