"""The plugin author's namespace (lipbridge.plugin), ctx's readers and the deprecated aliases.

Plugins written against contract 1.0 import their names from the top-level ``lipbridge``;
those keep working, with a warning, while nothing of ours uses them.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from conftest import make_registry, write_dist
from shipped import cassette_root

import lipbridge
import lipbridge.plugin
from lipbridge import JobState, ProviderProtocolError, RateLimited, SystemClock
from lipbridge.context import Credentials
from lipbridge.plugin import (
    CallContext,
    ModelCapabilities,
    ProviderInfo,
    StatusMap,
    env_var,
    read_object,
)
from lipbridge_contract import CHECKS, SuiteRun, certify
from lipbridge_contract.testing import answer

ROOT = Path(__file__).resolve().parent.parent
MOVED = sorted(lipbridge._MOVED)
# Our code: the core, the contract suite, the emulator, the plugins and the example plugin
# (with the plugins' tests).
FIRST_PARTY = [ROOT / "core", ROOT / "contract" / "lipbridge_contract",
               ROOT / "emulator" / "lipbridge_emulator", ROOT / "plugins", ROOT / "examples"]
PACKAGES = ["lipbridge", "lipbridge_contract", "lipbridge_emulator", "lipbridge_gateway",
            "lipbridge_foxapi", "lipbridge_aihubmax", "lipbridge_aimlapi", "lipbridge_jogg",
            "lipbridge_example"]
# The plugin author's API as issue 12 lists it.
PLUGIN_API = [
    "hookimpl", "ProviderInfo", "ModelCapabilities", "InputLimits", "AuthScheme", "CallContext",
    "CallKind", "ProviderHTTP", "Response", "StatusMap", "PriceTable", "MediaDurations",
    "read_object", "dig", "text", "number", "timestamp", "required_text", "malformed",
    "request_body", "inline_local", "data_uri", "error_for_status", "env_name", "env_var", "shown",
]


def test_lipbridge_plugin_exports_the_plugin_authors_api() -> None:
    assert set(PLUGIN_API) <= set(lipbridge.plugin.__all__)
    assert all(hasattr(lipbridge.plugin, name) for name in lipbridge.plugin.__all__)


@pytest.mark.parametrize("name", MOVED)
def test_an_old_top_level_name_warns_and_is_the_plugin_apis_object(name: str) -> None:
    with pytest.warns(DeprecationWarning, match=rf"import it from lipbridge\.plugin .*{name}"):
        old = getattr(lipbridge, name)
    assert old is getattr(lipbridge.plugin, name)


@pytest.mark.filterwarnings("error::DeprecationWarning")
def test_application_names_resolve_without_a_warning() -> None:
    assert set(MOVED) <= set(lipbridge.plugin.__all__)
    assert set(MOVED).isdisjoint(lipbridge.__all__)
    assert all(getattr(lipbridge, name) is not None for name in lipbridge.__all__)
    assert set(lipbridge.__all__) <= set(dir(lipbridge))
    namespace: dict[str, object] = {}
    exec("from lipbridge import *", namespace)  # what a star import gets
    assert set(lipbridge.__all__) <= set(namespace)
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        lipbridge.Nope  # noqa: B018


def test_import_lipbridge_imports_nothing_it_does_not_use() -> None:
    """`import lipbridge` is on the CLI's start-up path: names load on first use."""
    loaded = subprocess.run(
        [sys.executable, "-c",
         "import sys, lipbridge; print(sorted(m for m in sys.modules if 'lipbridge' in m))"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert loaded.strip() == "['lipbridge']"


def _deprecated_uses(path: Path) -> list[str]:
    """``from lipbridge import <moved>`` and ``lipbridge.<moved>`` in one source file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module == "lipbridge" and not node.level:
            found += [alias.name for alias in node.names if alias.name in lipbridge._MOVED]
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id == "lipbridge" and node.attr in lipbridge._MOVED):
            found.append(node.attr)
    return [f"{path.relative_to(ROOT)}: {name}" for name in found]


def test_no_first_party_source_uses_a_deprecated_name() -> None:
    uses = [use for top in FIRST_PARTY for path in sorted(top.rglob("*.py"))
            for use in _deprecated_uses(path)]
    assert uses == []


def test_no_first_party_module_or_plugin_triggers_a_deprecation_warning() -> None:
    """Every module of ours imported, and every installed provider loaded, warnings as errors."""
    script = f"""
import importlib, pkgutil
for name in {PACKAGES!r}:
    package = importlib.import_module(name)
    for module in pkgutil.walk_packages(getattr(package, "__path__", []), name + "."):
        importlib.import_module(module.name)
from lipbridge import Registry
from lipbridge.registry import discover
registry = Registry(discover(), environ={{}})
print(sorted(registry.info(name).name for name in registry.names()))
"""
    result = subprocess.run([sys.executable, "-W", "error::DeprecationWarning", "-c", script],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "'jogg'" in result.stdout


def test_a_contract_1_0_plugin_with_the_old_names_still_passes_the_contract_suite(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The example plugin as it was before lipbridge.plugin (tests/support), unchanged."""
    for module in ("lipbridge_legacy_example", "lipbridge_legacy_example.wire"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    write_dist(site, "lipbridge-legacy-example", {"example": "lipbridge_legacy_example:plugin"})
    cassettes = cassette_root("example")  # its cassettes, read by an explicit path
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = certify(SuiteRun("example", cassettes, "high", registry=make_registry(site)))
    assert {r.check: r.status for r in report.results} == {c.id: "pass" for c in CHECKS}
    deprecated = {str(w.message).split()[0] for w in caught if w.category is DeprecationWarning}
    assert {"lipbridge.hookimpl", "lipbridge.ProviderInfo", "lipbridge.read_object"} <= deprecated


def context() -> CallContext:
    """A context with no HTTP: the readers need only the provider and the clock."""
    return CallContext(provider="acme", http=None,  # type: ignore[arg-type]
                       credentials=Credentials(provider="acme", api_key=None),
                       clock=SystemClock())


def test_ctx_read_reads_as_read_object_for_its_provider() -> None:
    ok = answer({"data": {"task_id": "t1"}})
    assert context().read(ok) == read_object(ok, provider="acme", clock=SystemClock())
    limited = answer({"msg": "slow down", "code": 7}, status=429, headers={"Retry-After": "3"})
    with pytest.raises(RateLimited) as caught:
        context().read(limited, "t1", message=("msg",), code=("code",))
    error = caught.value
    assert (error.provider, error.job_id, error.code, error.retry_after) == ("acme", "t1", "7", 3)
    assert "slow down" in str(error)


def test_ctx_read_has_read_objects_defaults() -> None:
    ours = inspect.signature(CallContext.read).parameters
    theirs = inspect.signature(read_object).parameters
    for name in ("job_id", "message", "code", "overrides"):
        assert ours[name].default == theirs[name].default, name


def test_ctx_require_names_the_missing_path_and_the_provider() -> None:
    response = answer({"data": {"task_id": "t1", "status": 3}})
    data = response.json()
    assert context().require(response, data, "data", "task_id") == "t1"
    with pytest.raises(ProviderProtocolError, match=r"without data\.status") as caught:
        context().require(response, data, "data", "status", job_id="t1")
    assert (caught.value.provider, caught.value.job_id) == ("acme", "t1")


@pytest.mark.parametrize(
    "words",
    [StatusMap({"Done": JobState.SUCCEEDED}), {"done": JobState.SUCCEEDED}],
    ids=["StatusMap", "mapping"],
)
def test_provider_info_takes_a_status_map_or_a_mapping(words: object) -> None:
    info = ProviderInfo(
        name="acme", display_name="Acme", docs_url="https://docs.acme.invalid",
        contract_version="1.0", default_base_url="https://api.acme.invalid",
        models=(ModelCapabilities(name="m"),), default_model="m",
        status_words=words,  # type: ignore[arg-type]
    )
    assert info.status_words == {"done": JobState.SUCCEEDED}


def test_env_var_composes_lipbridge_provider_suffix_names() -> None:
    assert env_var("fox-api", "REQUEST_FIELDS") == "LIPBRIDGE_FOX_API_REQUEST_FIELDS"
