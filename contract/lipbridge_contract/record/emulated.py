"""Recording from the in-process emulator: no key, no money, no network.

The scripts' remote inputs are replaced by samples the emulator serves, each scenario
runs on an emulator staged as the catalogue says, and everything runs on one virtual
clock. Recordings go to their own directory with emulator provenance; one that does not
end as its script expects, or would silently replace a documentation or live cassette,
is refused.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import importlib.metadata
import importlib.util
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs
import click
import yaml

from lipbridge import Client, Registry
from lipbridge.context import Clock, SystemClock
from lipbridge.convert import unstructure
from lipbridge.plugin import MediaDurations
from lipbridge_contract.catalogue import meaning
from lipbridge_contract.record.recorder import (
    INVALID_KEY,
    RecordRefused,
    outcome,
    record_one,
    scripts,
    write_sidecar,
)
from lipbridge_contract.record.scrubbers import Scrubbers
from lipbridge_contract.scenarios import (
    SIDECAR_SUFFIX,
    SUITE_FILE,
    Scenario,
    ScenarioError,
    load_cassette_dir,
    parse_sidecar,
)

if TYPE_CHECKING:  # the emulator (PyAV) loads only when recording from it
    from lipbridge_emulator import Emulator

# Stands for the emulator's http://127.0.0.1:<random port> in what is written, so no
# recording holds a port that meant something only while it ran (.invalid never resolves).
EMULATOR_HOST = "emulator.lipbridge.invalid"
EMULATOR_ROOT = f"http://{EMULATOR_HOST}"
EMULATOR_DIST = "lipbridge-emulator"
DEFAULT_OUT = Path("emulator-cassettes")
# Sample lengths when the script gives no durations: a short face video, longer speech.
SAMPLE_SECONDS = MediaDurations(video_seconds=3.0, audio_seconds=4.0)


def _refuse_replacing(cassette: Path, replace: bool) -> None:
    """Only an earlier emulator recording may be overwritten without ``--replace``."""
    sidecar = cassette.with_name(cassette.stem + SIDECAR_SUFFIX)
    if replace or not (cassette.exists() or sidecar.exists()):
        return
    try:
        source = parse_sidecar(sidecar).provenance.source
    except (ScenarioError, OSError, TypeError, ValueError):
        source = "unreadable"
    if source != "emulator":
        raise RecordRefused(
            f"{cassette} has {source} provenance; an emulator recording never replaces it "
            "silently: pass --out DIR to write elsewhere, or --replace to overwrite it"
        )


def _shows(scenario: Scenario) -> Callable[[dict[str, Any]], str | None]:
    """Whether an emulator recording ends as its script says (the error class and step,
    or the last state); the emulator stages only some scenarios, and a recording that
    does not show its scenario would mislead whoever replays it."""
    want = scenario.sidecar.expect
    wanted = outcome({
        "states": [s.value for s in want.states],
        "error": want.error and {"class": want.error.cls.__name__, "step": want.error.step},
        "jobs": want.jobs,
    })

    def check(expect: dict[str, Any]) -> str | None:
        got = outcome(expect)
        if got == wanted:
            return None
        return f"the emulator answered {got}; the script expects {wanted}"

    return check


def _upload(emu: Emulator, ref: str, data: bytes, fallback: str) -> str:
    """Serve ``data`` from the emulator under the script's file name, so the request
    keeps its shape (a plugin may read the extension)."""
    name = PurePosixPath(urlsplit(ref).path).name or fallback
    return emu.upload(data, name)


@functools.lru_cache(maxsize=4)
def _sample(field: str, seconds: float) -> tuple[bytes, float]:
    """A generated input and its length measured from the file; scenarios that share a
    length share the sample."""
    from lipbridge_emulator import media, samples

    data = samples.sample_video(seconds) if field == "video" else samples.sample_speech(seconds)
    return data, media.probe(data).seconds


def _emulated_script(emu: Emulator, scenario: Scenario) -> tuple[Scenario, dict[str, Any]]:
    """The scenario with its remote inputs replaced by samples the emulator serves, and
    the sidecar fields that changed with them (request, durations)."""
    request = scenario.sidecar.request
    if request is None or meaning(scenario.name).stage.script_inputs:
        return scenario, {}
    given = scenario.sidecar.durations or MediaDurations()
    changes: dict[str, Any] = {}
    measured: dict[str, float] = {}
    for field, fallback in (("video", "face.mp4"), ("audio", "speech.wav")):
        ref = getattr(request, field)
        if ref is None or urlsplit(ref).scheme not in ("http", "https"):
            continue
        seconds = getattr(given, f"{field}_seconds") or getattr(SAMPLE_SECONDS, f"{field}_seconds")
        data, measured[f"{field}_seconds"] = _sample(field, seconds)
        changes[field] = _upload(emu, ref, data, fallback)
    if not changes:
        return scenario, {}
    durations = attrs.evolve(given, **measured)
    sidecar = attrs.evolve(
        scenario.sidecar, request=attrs.evolve(request, **changes), durations=durations
    )
    raw = yaml.safe_load(scenario.sidecar_path.read_text(encoding="utf-8"))
    fields = {
        "request": {**raw["request"], **changes},
        "durations": {k: v for k, v in unstructure(durations).items() if v is not None},
    }
    return attrs.evolve(scenario, sidecar=sidecar), fields


def record_from_emulator(
    provider: str,
    root: Path,
    out: Path,
    names: Sequence[str],
    *,
    replace: bool = False,
    seed: int = 0,
    registry: Registry | None = None,
    wall: Clock | None = None,
) -> list[Path]:
    """Record ``names`` (scripted in ``root/provider``) from an in-process emulator into
    ``out/provider``; returns the cassettes written.

    Scenarios share an emulator unless their catalogue stage sets one up for what they mean;
    all run on one virtual clock, so jobs take their emulated time without real sleeps.
    """
    if importlib.util.find_spec("lipbridge_emulator") is None:
        raise click.UsageError(
            "recording from the emulator needs lipbridge-emulator: "
            "pip install 'lipbridge-contract[emulator]'"
        )
    from lipbridge_emulator import CooperativeClock, Emulator
    from lipbridge_emulator.dialects import installed_dialects

    registry = registry if registry is not None else Registry()
    wall = wall or SystemClock()
    folder = load_cassette_dir(root / provider)
    scenarios = scripts(folder, names)
    dialect = {d.provider: d for d in installed_dialects(registry)}.get(provider)
    if dialect is None:
        raise RecordRefused(
            f"the emulator has no dialect for {provider}; a plugin can supply one through "
            "the lipbridge_emulator_dialect hook"
        )
    dest = out / provider
    for scenario in scenarios:
        _refuse_replacing(dest / scenario.cassette.name, replace)
    dest.mkdir(parents=True, exist_ok=True)
    dist, version = registry.distribution(provider)
    provenance = {
        "plugin_version": f"{dist} {version}".strip(),
        "base_url": f"{EMULATOR_ROOT}/{provider}",
        "emulator_version": f"{EMULATOR_DIST} {importlib.metadata.version(EMULATOR_DIST)}",
        "emulator_seed": seed,
        "emulator_dialect": f"{type(dialect).__module__}.{type(dialect).__qualname__}",
    }
    written = []
    with contextlib.ExitStack() as stack:
        clock = CooperativeClock(start=wall.now())
        stack.callback(clock.close)  # last, once every emulator is closed
        # One emulator per setup, shared by the scenarios set up alike.
        emulators: dict[tuple[int | None, str | None], Emulator] = {}
        for scenario in scenarios:
            stage = meaning(scenario.name).stage
            setup = (stage.credits, stage.faults)
            if setup not in emulators:
                emulators[setup] = stack.enter_context(Emulator(
                    dialects=[dialect], clock=clock, seed=seed, faults=stage.faults,
                    credits=None if stage.credits is None else {provider: stage.credits},
                ))
            target = dest / scenario.cassette.name
            _record_emulated(
                emulators[setup], registry, provider, scenario, target, wall, provenance
            )
            click.echo(f"wrote {target} and its sidecar")
            written.append(target)
            if (folder.path / SUITE_FILE).exists() and not (dest / SUITE_FILE).exists():
                # The plugin's tolerance and bypass reasons hold whatever answered.
                shutil.copyfile(folder.path / SUITE_FILE, dest / SUITE_FILE)
    return written


def _record_emulated(
    emu: Emulator,
    registry: Registry,
    provider: str,
    scenario: Scenario,
    target: Path,
    wall: Clock,
    provenance: dict[str, Any],
) -> None:
    """Record one scenario from ``emu`` into ``target`` and write its sidecar beside it."""
    script, fields = _emulated_script(emu, scenario)
    base = emu.base_url(provider)
    click.echo(f"recording {provider}/{scenario.name} from the emulator at {base}")
    with Client(  # no job ledger: the emulator's jobs are nobody's
        registry=registry, clock=emu.clock, api_keys={provider: emu.key},
        base_urls={provider: base}, environ={}, ledger=False,
    ) as client:
        info = client.info(provider)
        rewrites = [
            (base, info.default_base_url.rstrip("/")),
            (emu.url, EMULATOR_ROOT),
            (urlsplit(emu.url).netloc, EMULATOR_HOST),
        ]
        scrubbers = Scrubbers(
            secrets=(emu.key, INVALID_KEY),
            rewrites=rewrites,
            secret_headers=(info.auth.header, *info.secret_headers),
        )
        if meaning(scenario.name).stage.submitted and script.sidecar.request is not None:
            # Outside the cassette: the job exists, but its answer is in no recording.
            staged = client.submit(provider, script.sidecar.request)
            click.echo(f"  staged job {staged.job_id}, whose submit answer is not recorded")
        expect = record_one(
            client, provider, script, emu.key, target, scrubbers, keep=_shows(scenario)
        )
    recorded_at = wall.now().astimezone(dt.timezone.utc).isoformat()
    write_sidecar(
        scenario.sidecar_path,
        target.with_name(target.stem + SIDECAR_SUFFIX),
        {
            **fields,
            "provenance": {"source": "emulator", "recorded_at": recorded_at, **provenance},
            "expect": expect,
        },
        scrubbers.secrets,
        rewrites,
    )
