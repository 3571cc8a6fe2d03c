"""Which plugin owns which provider name, loading each only when it is first needed.

Discovery reads the ``lipbridge.providers`` entry points (``entry_points(group=...)``:
one small file per installed distribution, no other metadata parsed and nothing
imported); the entry-point name is the provider name. A call for provider X goes through
:meth:`Registry.submit` (``poll``, ``cancel``, ``estimate_cost``; :meth:`Registry.call` for
other hooks), whose hook caller has every other plugin removed, so no plugin can answer
for another.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any

import attrs
import pluggy
from attrs import frozen

from lipbridge import hookspecs
from lipbridge.errors import (
    LipbridgeError,
    PluginContractError,
    PluginLoadError,
    ProviderConflict,
    UnknownProvider,
)
from lipbridge.markers import PROJECT, PROVIDER_GROUP
from lipbridge.models import ProviderInfo

if TYPE_CHECKING:
    import datetime as dt

    from lipbridge.context import CallContext
    from lipbridge.models import JobHandle, JobRequest, MediaDurations
    from lipbridge.uploads import LocalMedia

REQUIRED_HOOKS = ("lipbridge_provider_info", "lipbridge_submit", "lipbridge_poll")
IN_PROCESS = "(registered in-process)"


@frozen(kw_only=True)
class Candidate:
    """A provider name as found in metadata, before anything is imported."""

    name: str
    distribution: str
    version: str
    entry_point: metadata.EntryPoint | None = None


@frozen(kw_only=True)
class PluginRecord:
    """One row of ``lipbridge providers``: a usable provider or the reason it is not."""

    name: str
    distribution: str
    version: str
    status: str  # "ok", "broken", "conflict" or "disabled"
    error: str | None = None
    info: ProviderInfo | None = None


def parse_contract(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)


def contract_problem(declared: str) -> str | None:
    """Why a plugin built for ``declared`` cannot run on this core, or None if it can."""
    try:
        theirs = parse_contract(declared)
    except ValueError:
        return f"contract_version {declared!r} is not of the form MAJOR.MINOR"
    ours = parse_contract(hookspecs.CONTRACT_VERSION)
    if theirs[0] != ours[0] or theirs[1] > ours[1]:
        return (
            f"it was built for lipbridge contract {declared}, but this lipbridge speaks "
            f"{hookspecs.CONTRACT_VERSION}; install versions that match"
        )
    return None


def _env_list(environ: Mapping[str, str], name: str) -> frozenset[str] | None:
    raw = environ.get(name)
    if raw is None:
        return None
    return frozenset(part.strip() for part in raw.split(",") if part.strip())


def discover(path: list[str] | None = None) -> list[Candidate]:
    """Provider entry points of the installed distributions (or those on ``path``).

    Only the entry-point files are read, plus the name and version of a distribution
    that declares a provider; nothing is imported.
    """
    if path is None:  # the standard library keeps the first of a distribution found twice
        points: Iterable[metadata.EntryPoint] = metadata.entry_points(group=PROVIDER_GROUP)
    else:
        dists = metadata.distributions(path=path)
        points = [ep for dist in dists for ep in dist.entry_points.select(group=PROVIDER_GROUP)]
    first: dict[str, metadata.Distribution] = {}
    found = []
    for ep in points:
        dist = ep.dist
        assert dist is not None  # set on every entry point read from a distribution
        meta = dist.metadata  # parsed for the few distributions that declare a provider
        dist_name = meta["Name"] or "unknown"
        if first.setdefault(dist_name.lower().replace("_", "-"), dist) is not dist:
            continue  # the same distribution twice on ``path``: the first one wins, as in Python
        found.append(
            Candidate(name=ep.name, distribution=dist_name, version=meta["Version"], entry_point=ep)
        )
    return found


class PluginManager(pluggy.PluginManager):
    """pluggy's manager, not looking for hooks among a plugin's dunder names.

    Registering looks up every name ``dir(plugin)`` lists, each without running
    descriptors, which is most of what loading a small plugin costs; ``__init__``,
    ``__eq__`` and the other dunders of a plugin object (or module) are never hooks.
    """

    def parse_hookimpl_opts(self, plugin: object, name: str) -> Any:
        if name.startswith("__") and name.endswith("__"):
            return None
        return super().parse_hookimpl_opts(plugin, name)


def make_plugin_manager() -> pluggy.PluginManager:
    """The one way a plugin manager is made: providers' and CLI extensions' hooks alike."""
    pm = PluginManager(PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


class Registry:
    """Provider names to plugins. Thread-safe; loading happens once per name."""

    def __init__(
        self,
        candidates: Iterable[Candidate] | None = None,
        *,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        self._allow = _env_list(environ, "LIPBRIDGE_PLUGINS")
        self._block = _env_list(environ, "LIPBRIDGE_DISABLE_PLUGINS") or frozenset()
        self._candidates: dict[str, list[Candidate]] = {}
        for candidate in discover() if candidates is None else candidates:
            self._candidates.setdefault(candidate.name, []).append(candidate)
        self._pm = make_plugin_manager()
        self._plugins: dict[str, object] = {}
        self._infos: dict[str, ProviderInfo] = {}
        self._broken: dict[str, PluginLoadError] = {}
        # Owned hook callers by (provider, hook). Emptied whenever a plugin registers: a
        # caller only leaves out the plugins that were registered when it was made.
        self._callers: dict[tuple[str, str], Any] = {}
        self._lock = threading.RLock()

    # -- names --------------------------------------------------------------------------------

    def _disabled_reason(self, name: str, distribution: str) -> str | None:
        keys = {name, distribution}
        if self._block & keys:
            return "disabled by LIPBRIDGE_DISABLE_PLUGINS"
        if self._allow is not None and not self._allow & keys:
            return "not listed in LIPBRIDGE_PLUGINS"
        return None

    def names(self) -> list[str]:
        """Enabled provider names, sorted; conflicting and broken names included."""
        return sorted(
            name
            for name, found in self._candidates.items()
            if self._disabled_reason(name, found[0].distribution) is None
        )

    def _candidate(self, name: str) -> Candidate:
        found = self._candidates.get(name)
        if not found:
            raise UnknownProvider(name, self.names())
        dists = sorted({c.distribution for c in found})
        if len(dists) > 1:
            raise ProviderConflict(name, dists)
        reason = self._disabled_reason(name, found[0].distribution)
        if reason:
            raise UnknownProvider(name, self.names(), reason)
        return found[0]

    # -- loading ------------------------------------------------------------------------------

    def register(self, name: str, plugin: object, *, distribution: str = IN_PROCESS) -> None:
        """Add a provider plugin object directly (tests, apps with an in-house provider)."""
        with self._lock:
            if name in self._candidates:
                dists = [c.distribution for c in self._candidates[name]]
                raise ProviderConflict(name, [*dists, distribution])
            self._candidates[name] = [Candidate(name=name, distribution=distribution, version="")]
            self._load(self._candidates[name][0], plugin)
            if name in self._broken:
                raise self._broken[name]

    def _load(self, candidate: Candidate, plugin: object | None = None) -> None:
        name, dist = candidate.name, candidate.distribution
        try:
            if plugin is None:
                assert candidate.entry_point is not None
                plugin = candidate.entry_point.load()
            self._pm.register(plugin, name=name)
            self._callers.clear()
        except Exception as exc:  # a broken plugin must not break the others
            self._broken[name] = PluginLoadError(name, dist, f"{type(exc).__name__}: {exc}")
            return
        try:
            self._infos[name] = self._validate(name, plugin)
            self._plugins[name] = plugin
        except Exception as exc:
            self._pm.unregister(plugin)
            reason = (
                exc.message if isinstance(exc, LipbridgeError) else f"{type(exc).__name__}: {exc}"
            )
            self._broken[name] = PluginLoadError(name, dist, reason)

    def _validate(self, name: str, plugin: object) -> ProviderInfo:
        impls = {}
        for caller in self._pm.get_hookcallers(plugin) or []:
            for impl in caller.get_hookimpls():
                if impl.plugin is plugin:
                    if impl.opts.get("specname"):
                        raise PluginContractError(
                            f"hook {caller.name} uses specname=, which routing cannot isolate"
                        )
                    impls[caller.name] = impl
        missing = [hook for hook in REQUIRED_HOOKS if hook not in impls]
        self._pm.check_pending()
        info = self._owned_caller(plugin, "lipbridge_provider_info")(provider=name)
        if not isinstance(info, ProviderInfo):
            raise PluginContractError(
                f"lipbridge_provider_info returned {type(info).__name__}, not ProviderInfo"
            )
        if info.name != name:
            raise PluginContractError(
                f"it calls itself {info.name!r} but its entry point is named {name!r}"
            )
        problem = contract_problem(info.contract_version)
        if problem:
            raise PluginContractError(problem)
        if any(m.cancel for m in info.models) and "lipbridge_cancel" not in impls:
            missing.append("lipbridge_cancel (a model declares cancel)")
        if any(m.cost_estimate for m in info.models) and "lipbridge_estimate_cost" not in impls:
            missing.append("lipbridge_estimate_cost (a model declares cost_estimate)")
        if missing:
            raise PluginContractError(f"missing required hooks: {', '.join(missing)}")
        info.model(info.default_model)  # the default model must be one of its models
        return info

    def _owned_caller(self, owner: object, hook: str) -> Any:
        others = [p for p in self._pm.get_plugins() if p is not owner]
        return self._pm.subset_hook_caller(hook, remove_plugins=others)

    def _ensure(self, name: str) -> object:
        with self._lock:
            candidate = self._candidate(name)
            if name not in self._plugins and name not in self._broken:
                self._load(candidate)
            if name in self._broken:
                raise self._broken[name]
            return self._plugins[name]

    # -- use ----------------------------------------------------------------------------------

    def info(self, name: str) -> ProviderInfo:
        info = self._infos.get(name)  # a loaded provider stays loaded: no lock needed
        if info is None:
            self._ensure(name)
            info = self._infos[name]
        return info

    def plugin(self, name: str) -> object:
        """The plugin object that owns ``name`` (the contract suite inspects its code)."""
        return self._ensure(name)

    def distribution(self, name: str) -> tuple[str, str]:
        candidate = self._candidates[name][0]
        return candidate.distribution, candidate.version

    def entry_point(self, name: str) -> metadata.EntryPoint | None:
        """The entry point ``name`` is loaded from (None when registered in-process), read
        without importing it: the contract suite finds a plugin's cassettes beside its module.
        """
        return self._candidate(name).entry_point

    def _caller(self, name: str, hook: str) -> Any:
        caller = self._callers.get((name, hook))
        if caller is None:
            with self._lock:
                owner = self._ensure(name)
                caller = self._callers.setdefault((name, hook), self._owned_caller(owner, hook))
        return caller

    def call(self, name: str, hook: str, **kwargs: Any) -> Any:
        """Call ``hook`` on the plugin that owns ``name`` and on no other plugin."""
        return self._caller(name, hook)(provider=name, **kwargs)

    # Typed routed calls. Results are whatever the plugin returned: the client checks them.

    def submit(self, name: str, request: JobRequest, ctx: CallContext) -> object:
        return self._caller(name, "lipbridge_submit")(provider=name, request=request, ctx=ctx)

    def poll(self, name: str, handle: JobHandle, ctx: CallContext) -> object:
        return self._caller(name, "lipbridge_poll")(provider=name, handle=handle, ctx=ctx)

    def cancel(self, name: str, handle: JobHandle, ctx: CallContext) -> object:
        return self._caller(name, "lipbridge_cancel")(provider=name, handle=handle, ctx=ctx)

    def estimate_cost(
        self, name: str, request: JobRequest, durations: MediaDurations, ctx: CallContext
    ) -> object:
        return self._caller(name, "lipbridge_estimate_cost")(
            provider=name, request=request, durations=durations, ctx=ctx
        )

    def find_jobs(
        self, name: str, request: JobRequest, since: dt.datetime, ctx: CallContext
    ) -> object:
        """The owning plugin's ``lipbridge_find_jobs``, or None when it has none."""
        return self._caller(name, "lipbridge_find_jobs")(
            provider=name, request=request, since=since, ctx=ctx
        )

    def upload(self, name: str, media: LocalMedia, ctx: CallContext) -> object:
        return self._caller(name, "lipbridge_upload")(provider=name, media=media, ctx=ctx)

    def implements(self, name: str, hook: str) -> bool:
        """Whether the plugin that owns ``name`` implements ``hook`` (an optional one)."""
        owner = self._ensure(name)
        return any(caller.name == hook for caller in self._pm.get_hookcallers(owner) or [])

    def records(self) -> list[PluginRecord]:
        """Every provider found, loading each enabled one; never raises for a bad plugin."""
        rows = []
        for name in sorted(self._candidates):
            found = self._candidates[name]
            dists = ", ".join(sorted({c.distribution for c in found}))
            row = PluginRecord(name=name, distribution=dists, version=found[0].version, status="ok")
            try:
                row = attrs.evolve(row, info=self.info(name))
            except ProviderConflict as exc:
                row = attrs.evolve(row, version="", status="conflict", error=exc.message)
            except UnknownProvider as exc:
                row = attrs.evolve(row, status="disabled", error=exc.message)
            except PluginLoadError as exc:
                row = attrs.evolve(row, status="broken", error=exc.reason)
            rows.append(row)
        return rows
