"""Discovery, lazy loading, conflicts, broken plugins, allow/block lists and routing."""

from __future__ import annotations

import sys
from pathlib import Path

import lipbridge_testprov as testprov
import pytest
from conftest import KEY, make_registry, write_dist
from scripted_server import Reply, ScriptedServer

from lipbridge import (
    Client,
    JobHandle,
    JobRequest,
    PluginContractError,
    PluginLoadError,
    ProviderConflict,
    UnknownProvider,
)
from lipbridge.hookspecs import CONTRACT_VERSION
from lipbridge.plugin import ProviderInfo, hookimpl
from lipbridge.registry import contract_problem

REQUEST = JobRequest(video="https://cdn.invalid/v.mp4", audio="https://cdn.invalid/a.wav")


@pytest.fixture(autouse=True)
def _forget_broken_module():
    sys.modules.pop("lipbridge_testbroken", None)
    yield
    sys.modules.pop("lipbridge_testbroken", None)


def test_discovery_imports_nothing(site: Path) -> None:
    write_dist(site, "lipbridge-broken", {"broken": "lipbridge_testbroken:plugin"})
    write_dist(site, "lipbridge-acme", {"acme": "lipbridge_testprov:acme"})
    registry = make_registry(site)
    assert registry.names() == ["acme", "broken"]
    assert "lipbridge_testbroken" not in sys.modules


def test_only_the_used_plugin_is_imported(site: Path) -> None:
    write_dist(site, "lipbridge-broken", {"broken": "lipbridge_testbroken:plugin"})
    write_dist(site, "lipbridge-acme", {"acme": "lipbridge_testprov:acme"})
    registry = make_registry(site)
    assert registry.info("acme").display_name == "Acme"
    assert "lipbridge_testbroken" not in sys.modules


def test_broken_plugin_is_listed_and_others_still_work(site: Path) -> None:
    write_dist(site, "lipbridge-broken", {"broken": "lipbridge_testbroken:plugin"})
    write_dist(site, "lipbridge-acme", {"acme": "lipbridge_testprov:acme"})
    registry = make_registry(site)
    rows = {r.name: r for r in registry.records()}
    assert rows["broken"].status == "broken"
    assert "needs libfoo" in (rows["broken"].error or "")
    assert rows["acme"].status == "ok" and rows["acme"].info is not None
    with pytest.raises(PluginLoadError, match=r"lipbridge-broken.*needs libfoo") as err:
        registry.info("broken")
    assert err.value.name == "broken"
    assert registry.info("acme").name == "acme"


def test_conflict_names_both_distributions(site: Path) -> None:
    write_dist(site, "lipbridge-acme", {"acme": "lipbridge_testprov:acme"})
    write_dist(site, "acme-fork", {"acme": "lipbridge_testprov:globex"})
    registry = make_registry(site)
    with pytest.raises(ProviderConflict) as err:
        registry.info("acme")
    assert err.value.distributions == ("acme-fork", "lipbridge-acme")
    assert "acme-fork" in str(err.value) and "lipbridge-acme" in str(err.value)
    assert [r.status for r in registry.records()] == ["conflict"]


def test_unknown_name_lists_known_names(standard_site: Path) -> None:
    with pytest.raises(UnknownProvider) as err:
        make_registry(standard_site).info("initech")
    assert err.value.known == ("acme", "globex", "keyed")
    assert "acme, globex, keyed" in str(err.value)


def test_allowlist(standard_site: Path) -> None:
    registry = make_registry(standard_site, LIPBRIDGE_PLUGINS="acme, keyed")
    assert registry.names() == ["acme", "keyed"]
    with pytest.raises(UnknownProvider, match="not listed in LIPBRIDGE_PLUGINS"):
        registry.info("globex")


def test_empty_allowlist_enables_nothing(standard_site: Path) -> None:
    assert make_registry(standard_site, LIPBRIDGE_PLUGINS="").names() == []


def test_allowlist_accepts_distribution_names(standard_site: Path) -> None:
    assert make_registry(standard_site, LIPBRIDGE_PLUGINS="lipbridge-globex").names() == ["globex"]


def test_blocklist_keeps_the_plugin_unimported(site: Path) -> None:
    write_dist(site, "lipbridge-broken", {"broken": "lipbridge_testbroken:plugin"})
    write_dist(site, "lipbridge-acme", {"acme": "lipbridge_testprov:acme"})
    registry = make_registry(site, LIPBRIDGE_DISABLE_PLUGINS="broken")
    assert registry.names() == ["acme"]
    rows = {r.name: r for r in registry.records()}
    assert rows["broken"].status == "disabled"
    assert "lipbridge_testbroken" not in sys.modules
    with pytest.raises(UnknownProvider, match="disabled by LIPBRIDGE_DISABLE_PLUGINS"):
        registry.info("broken")


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("misnamed", "calls itself 'someone-else' but its entry point is named 'misnamed'"),
        ("futuristic", "built for lipbridge contract 2.0, but this lipbridge speaks 1.4"),
        ("typo", "unknown hook 'lipbridge_sumbit'"),
        ("incomplete", "missing required hooks: lipbridge_submit, lipbridge_poll"),
    ],
)
def test_load_time_validation(site: Path, target: str, reason: str) -> None:
    write_dist(site, f"lipbridge-{target}", {target: f"lipbridge_testprov:{target}"})
    write_dist(site, "lipbridge-acme", {"acme": "lipbridge_testprov:acme"})
    registry = make_registry(site)
    with pytest.raises(PluginLoadError) as err:
        registry.info(target)
    assert reason in err.value.reason
    assert registry.info("acme").name == "acme"  # a rejected plugin leaves no trace


def test_contract_versions() -> None:
    major, minor = (int(x) for x in CONTRACT_VERSION.split("."))
    assert contract_problem(CONTRACT_VERSION) is None
    assert contract_problem(f"{major}.0") is None
    assert contract_problem(f"{major}.{minor + 1}") is not None  # needs a newer core
    assert contract_problem(f"{major + 1}.0") is not None
    assert "MAJOR.MINOR" in (contract_problem("one") or "")


class SpecnameCheat(testprov.AcmeLike):
    """Implements submit under another method name, which subset routing cannot see."""

    @hookimpl(specname="lipbridge_submit")
    def sneaky(self, request: JobRequest) -> None:
        raise AssertionError("must never be called")


def test_specname_is_refused() -> None:
    registry = make_registry(Path("/nonexistent"))
    with pytest.raises(PluginLoadError, match="specname"):
        registry.register("cheat", SpecnameCheat("cheat"))


def test_in_process_registration_conflicts_with_installed(standard_site: Path) -> None:
    registry = make_registry(standard_site)
    with pytest.raises(ProviderConflict, match=r"\(registered in-process\) and lipbridge-acme"):
        registry.register("acme", testprov.AcmeLike("acme"))


class Hijacker(testprov.AcmeLike):
    """Answers every call it receives, whoever it is for: the routing must starve it."""

    @hookimpl
    def lipbridge_submit(self, request, ctx):  # type: ignore[no-untyped-def]
        self.calls["submit"] += 1
        return ctx.new_handle("hijacked")

    @hookimpl
    def lipbridge_poll(self, handle, ctx):  # type: ignore[no-untyped-def]
        self.calls["poll"] += 1
        raise AssertionError("the hijacker was called")


def test_hook_lipbridge_submit_reaches_only_the_owner(
    client: Client, server: ScriptedServer
) -> None:
    hijacker = Hijacker("hijacker")
    client.registry.register("hijacker", hijacker)
    server.script("POST", "/globex/v1/jobs", Reply.json({"id": "g-1", "status": "queued"}))
    server.script("POST", "/v1/jobs", Reply.json({"id": "a-1", "status": "queued"}))
    before = (testprov.globex.calls["submit"], testprov.acme.calls["submit"])
    assert client.submit("globex", REQUEST).job_id == "g-1"
    assert client.submit("acme", REQUEST).job_id == "a-1"
    after = (testprov.globex.calls["submit"], testprov.acme.calls["submit"])
    assert after == (before[0] + 1, before[1] + 1)
    assert hijacker.calls["submit"] == 0
    assert [s.path for s in server.requests("POST")] == ["/globex/v1/jobs", "/v1/jobs"]


def test_hook_lipbridge_poll_reaches_only_the_owner(client: Client, server: ScriptedServer) -> None:
    hijacker = Hijacker("hijacker")
    client.registry.register("hijacker", hijacker)
    server.script("POST", "/v1/jobs", Reply.json({"id": "a-2", "status": "queued"}))
    server.script("GET", "/v1/jobs/a-2", Reply.json({"id": "a-2", "status": "processing"}))
    handle = client.submit("acme", REQUEST)
    globex_polls = testprov.globex.calls["poll"]
    assert client.poll(handle).raw_status == "processing"
    assert hijacker.calls["poll"] == 0
    assert testprov.globex.calls["poll"] == globex_polls
    assert server.requests("GET")[0].headers["authorization"] == f"Bearer {KEY}"


def test_hook_lipbridge_provider_info_is_called_once_per_load(standard_site: Path) -> None:
    registry = make_registry(standard_site)
    before = testprov.keyed.calls["provider_info"]
    info = registry.info("keyed")
    registry.info("keyed")
    assert isinstance(info, ProviderInfo) and info.idempotency_header == "Idempotency-Key"
    assert testprov.keyed.calls["provider_info"] == before + 1


class WrongType(testprov.AcmeLike):
    @hookimpl
    def lipbridge_poll(self, handle, ctx):  # type: ignore[no-untyped-def]
        return {"status": "done"}


class Crashes(testprov.AcmeLike):
    @hookimpl
    def lipbridge_poll(self, handle, ctx):  # type: ignore[no-untyped-def]
        return {}["status"]


@pytest.mark.parametrize(
    ("plugin", "message"),
    [(WrongType("wrong"), "returned dict, not JobStatus"), (Crashes("crashes"), "KeyError")],
)
def test_plugin_contract_violations_are_wrapped(
    client: Client, plugin: testprov.AcmeLike, message: str
) -> None:
    client.registry.register(plugin.name, plugin)
    handle = JobHandle(provider=plugin.name, job_id="x", created_at=client.clock.now())
    with pytest.raises(PluginContractError, match=message):
        client.poll(handle)


def test_a_caller_made_before_another_plugin_loads_still_reaches_only_its_owner(
    client: Client, server: ScriptedServer
) -> None:
    server.script("POST", "/v1/jobs", Reply.json({"id": "a-3", "status": "queued"}),
                  Reply.json({"id": "a-4", "status": "queued"}))
    assert client.submit("acme", REQUEST).job_id == "a-3"  # acme's submit caller is kept
    hijacker = Hijacker("hijacker")
    client.registry.register("hijacker", hijacker)
    assert client.submit("acme", REQUEST).job_id == "a-4"
    assert hijacker.calls["submit"] == 0


def test_typed_calls_route_like_call(client: Client, server: ScriptedServer) -> None:
    server.script("GET", "/v1/jobs/a-5", Reply.json({"id": "a-5", "status": "processing"}),
                  Reply.json({"id": "a-5", "status": "processing"}))
    handle = JobHandle(provider="acme", job_id="a-5", created_at=client.clock.now())
    ctx = client.context("acme", client.info("acme"))
    typed = client.registry.poll("acme", handle, ctx)
    named = client.registry.call("acme", "lipbridge_poll", handle=handle, ctx=ctx)
    assert typed == named and getattr(typed, "raw_status", None) == "processing"
