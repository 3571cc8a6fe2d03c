"""One certification run: a provider, its cassette directory, a strictness, shared state.

Scenarios are replayed once, lazily, and every check reads the same observations, so
the whole suite costs one replay per cassette plus the generated (Hypothesis) inputs.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterator
from pathlib import Path

from lipbridge import Client, JobHandle, Registry
from lipbridge.context import EPOCH
from lipbridge.plugin import ProviderInfo, Response
from lipbridge.registry import discover, make_plugin_manager
from lipbridge_contract.catalogue import STEP_HOOKS, SUCCESS
from lipbridge_contract.harness import (
    ClockWatch,
    NetworkBlocked,
    ScriptedTransport,
    SteppedClock,
    canary_key,
    network_blocked,
    plugin_modules,
)
from lipbridge_contract.locate import cassette_root
from lipbridge_contract.recorded import CassetteFormatError, Interaction, load_interactions
from lipbridge_contract.replay import Observation, new_client, replay
from lipbridge_contract.scenarios import CassetteDir, Scenario, load_cassette_dir


class Strictness(str, enum.Enum):
    LOW = "low"  # a check whose scenario is missing is skipped
    HIGH = "high"  # a declared capability needs its scenario or a written bypass reason


class SuiteRun:
    """Shared state for every check of one provider."""

    def __init__(
        self,
        provider: str,
        cassettes: Path | None = None,
        strictness: Strictness | str = Strictness.HIGH,
        registry: Registry | None = None,
    ) -> None:
        """``cassettes`` holds ``<provider>/``; None: the ones the plugin ships (locate.py)."""
        self.provider = provider
        self.strictness = Strictness(strictness)
        self.registry = registry if registry is not None else Registry(discover(), environ={})
        self.root = cassette_root(self.registry, provider) if cassettes is None else Path(cassettes)
        self.dir: CassetteDir = load_cassette_dir(self.root / provider)
        self.key = canary_key()
        self.load_error: BaseException | None = None
        self.load_network: list[str] = []
        self._recorded: dict[str, list[Interaction]] = {}
        self._implements: dict[str, bool] = {}
        # The written reasons a check relied on, by key in order of use: the report shows
        # them beside the verdicts, so a pass never hides what it excused.
        self.bypassed: dict[str, str] = {}
        self.watch = ClockWatch(frozenset())  # set to the plugin's modules once it loads

    def __repr__(self) -> str:
        return f"SuiteRun({self.provider!r}, {str(self.root)!r}, {self.strictness.value})"

    @functools.cached_property
    def info(self) -> ProviderInfo | None:
        """The provider info, loaded with the network blocked; None when it won't load."""
        attempts: list[str] = []
        try:
            with network_blocked() as attempts:
                info = self.registry.info(self.provider)
            self.watch.modules = plugin_modules(self.registry.plugin(self.provider))
            return info
        except (Exception, NetworkBlocked) as exc:
            self.load_error = exc
            return None
        finally:
            self.load_network = list(attempts)

    def implements(self, hook: str) -> bool:
        """Whether the plugin implements the (optional) ``hook``; False when it won't load."""
        if hook not in self._implements:
            if self.info is None:
                return False
            plugin = self.registry.plugin(self.provider)
            opts = make_plugin_manager().parse_hookimpl_opts(plugin, hook)
            self._implements[hook] = opts is not None
        return self._implements[hook]

    @property
    def unreplayed(self) -> tuple[Scenario, ...]:
        """Scenarios of an optional hook the plugin does not implement: not replayed."""
        return tuple(s for s in self.scenarios if not self._replayable(s))

    def _replayable(self, scenario: Scenario) -> bool:
        """False for a scenario that starts with an optional hook the plugin lacks."""
        hook = STEP_HOOKS.get(scenario.sidecar.steps[0])
        return hook is None or self.implements(hook)

    @functools.cached_property
    def observations(self) -> dict[str, Observation]:
        if self.info is None:
            return {}
        skipped = self.unreplayed
        return {
            s.name: replay(s, self.registry, self.provider, self.key)
            for s in self.scenarios
            if s not in skipped
        }

    @property
    def scenarios(self) -> tuple[Scenario, ...]:
        return self.dir.scenarios

    def scenario(self, name: str) -> Scenario | None:
        return self.dir.get(name)

    def recorded(self, name: str) -> list[Interaction]:
        """A scenario's recorded interactions; none when absent or unreadable (see hygiene)."""
        if name not in self._recorded:
            scenario = self.scenario(name)
            try:
                self._recorded[name] = load_interactions(scenario.cassette) if scenario else []
            except CassetteFormatError:
                self._recorded[name] = []
        return self._recorded[name]

    def all_recorded(self) -> Iterator[Interaction]:
        """Every recorded interaction of every scenario, scenario by scenario."""
        for scenario in self.scenarios:
            yield from self.recorded(scenario.name)

    def bypass(self, name: str) -> str | None:
        """The written reason excusing ``name``. Checks ask only when they need one, so a
        reason found here is one relied on, and is kept in ``bypassed``."""
        reason = self.dir.config.bypass.get(name)
        if reason:
            self.bypassed[name] = reason
        return reason

    def scripted(self, *responses: Response) -> tuple[Client, ScriptedTransport, SteppedClock]:
        """A client for generated inputs, answered by ``responses`` in turn."""
        transport = ScriptedTransport(responses)
        clock = SteppedClock()
        return (
            new_client(self.registry, self.provider, self.key, clock, transport),
            transport,
            clock,
        )

    def sample_handle(self) -> JobHandle:
        """A handle to poll with: the success scenario's, else a made-up one."""
        success = self.observations.get(SUCCESS.name)
        if success is not None and success.resumed_handle is not None:
            return success.resumed_handle
        assert self.info is not None
        return JobHandle(
            provider=self.provider,
            job_id="lbcontract-job",
            created_at=EPOCH,
            model=self.info.default_model,
        )
