"""Where the contract suite reads a provider's cassettes: ``--cassettes DIR`` when given,
else the ``cassettes`` folder its plugin ships (found without importing the plugin), else
``./cassettes`` as before plugins shipped theirs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import lipbridge_testprov
import pytest
from conftest import make_registry, write_dist
from example_provider import user_environ
from shipped import ROOT, cassette_root, cassettes

from lipbridge import Registry
from lipbridge_contract import SuiteRun
from lipbridge_contract.locate import LEGACY, packaged_cassettes

LIPBRIDGE = Path(sys.executable).parent / "lipbridge"  # the dev install's command

pytest_plugins = ["pytester"]


def test_lipbridge_contract_certifies_jogg_from_outside_the_repository(tmp_path: Path) -> None:
    assert not tmp_path.is_relative_to(ROOT)
    done = subprocess.run([str(LIPBRIDGE), "contract", "jogg", "--json"], cwd=tmp_path,
                          env=user_environ(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    [report] = json.loads(done.stdout)["providers"]
    assert report["ok"]
    assert report["cassettes"] == str(cassettes("jogg"))


def test_without_a_directory_the_suite_reads_the_cassettes_the_plugin_ships() -> None:
    run = SuiteRun("jogg")
    assert run.dir.path == cassettes("jogg")
    assert {s.name for s in run.scenarios} >= {"success", "rate_limited", "find_jobs"}


def test_a_given_directory_overrides_what_the_plugin_ships(tmp_path: Path) -> None:
    shutil.copytree(cassettes("jogg"), tmp_path / "jogg")
    assert SuiteRun("jogg", tmp_path).dir.path == tmp_path / "jogg"


def test_the_pytest_marker_without_cassettes_reads_the_shipped_ones(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        test_shipped=(
            "from pathlib import Path\n"
            "import pytest\n"
            "pytestmark = pytest.mark.lipbridge_contract('jogg')\n"
            "def test_contract(contract_check):\n"
            f"    assert contract_check.cassettes == Path({str(cassette_root('jogg'))!r})\n"
            "    contract_check.verify()\n"
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-k", "hygiene")
    result.assert_outcomes(passed=1)


def test_a_single_module_plugin_ships_none_and_reads_the_old_default(site: Path) -> None:
    write_dist(site, "lipbridge-acme", {"acme": "lipbridge_testprov:acme"})
    registry = make_registry(site)
    assert packaged_cassettes(registry, "acme") is None
    assert SuiteRun("acme", registry=registry).root == LEGACY == Path("cassettes")


def test_a_provider_registered_in_process_reads_the_old_default() -> None:
    registry = Registry(candidates=[], environ={})
    registry.register("acme", lipbridge_testprov.acme)
    assert packaged_cassettes(registry, "acme") is None
    assert packaged_cassettes(registry, "nobody") is None  # not installed: the checks say so


def test_the_package_of_a_nested_entry_module_is_found_without_importing_it(
    site: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``acme_pkg.plugin:plugin``: the cassettes beside ``plugin.py``, in ``acme_pkg``,
    whose import (like the module's) would fail: the ``load`` check sees the first one."""
    package = tmp_path / "src" / "acme_pkg"
    (package / "cassettes" / "acme").mkdir(parents=True)
    (package / "__init__.py").write_text("raise RuntimeError('imported')\n")
    (package / "plugin.py").write_text("raise RuntimeError('imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    write_dist(site, "acme-pkg", {"acme": "acme_pkg.plugin:plugin", "other": "acme_pkg:p"})
    registry = make_registry(site)
    assert packaged_cassettes(registry, "acme") == package / "cassettes"
    assert packaged_cassettes(registry, "other") is None  # no cassettes/other/ in it
    assert "acme_pkg" not in sys.modules
