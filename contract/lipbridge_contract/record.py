"""Re-record scenarios: against the live API, or against the emulator.

The scenario's existing sidecar is the script (its request, or handle, and steps).
Live: real key, real clock, one job at a time; before anything is sent, the plugin's
own ``estimate_cost`` prices every submit and the total must fit ``--allow-spend``; the
sidecar gets live provenance. ``--emulator``: an in-process emulator on a virtual clock
answers, with its generated samples as the inputs, and nothing is spent; the recording
goes to ``--out`` with emulator provenance, and never replaces a documentation or live
cassette unless ``--replace`` says so. Both scrub each cassette as it is written (the
key, credential headers, anything :mod:`.scrub` recognises) and rewrite its base URL to
the provider's default, so replays match.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs
import click
import vcr
import yaml

from lipbridge import Client, LipbridgeError, Registry
from lipbridge.context import Clock, SystemClock
from lipbridge.convert import unstructure
from lipbridge.models import is_loopback
from lipbridge.plugin import MediaDurations
from lipbridge_contract.catalogue import meaning
from lipbridge_contract.cli import cassettes_option
from lipbridge_contract.replay import MATCH_ON, Observation, SafeYAML, run_steps
from lipbridge_contract.scenarios import (
    SIDECAR_SUFFIX,
    SUITE_FILE,
    CassetteDir,
    Scenario,
    ScenarioError,
    load_cassette_dir,
    parse_sidecar,
)
from lipbridge_contract.scrub import scrub_headers, scrub_text

if TYPE_CHECKING:  # the emulator (PyAV) loads only when recording from it
    from lipbridge_emulator import Emulator

INVALID_KEY = "lbcontract-deliberately-invalid-key"  # what auth_invalid is recorded with
# Stands for the emulator's http://127.0.0.1:<random port> in what is written, so no
# recording holds a port that meant something only while it ran (.invalid never resolves).
EMULATOR_HOST = "emulator.lipbridge.invalid"
EMULATOR_ROOT = f"http://{EMULATOR_HOST}"
EMULATOR_DIST = "lipbridge-emulator"
DEFAULT_OUT = Path("emulator-cassettes")
# Sample lengths when the script gives no durations: a short face video, longer speech.
SAMPLE_SECONDS = MediaDurations(video_seconds=3.0, audio_seconds=4.0)
Rewrites = Sequence[tuple[str, str]]  # (old, new), applied in order to everything written


class RecordRefused(click.ClickException):
    """Recording would break a safety rule (nothing was sent), or a recording does not show
    its scenario (nothing was written for it)."""


def _rewrite(text: str, rewrites: Rewrites) -> str:
    for old, new in rewrites:
        text = text.replace(old, new)
    return text


def _text(body: Any) -> str:
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)


def _scrubbers(
    secrets: Sequence[str], rewrites: Rewrites, secret_headers: Sequence[str]
) -> tuple[Callable[[Any], Any], Callable[[dict[str, Any]], dict[str, Any]]]:
    def clean(text: str) -> str:
        return scrub_text(_rewrite(text, rewrites), secrets)

    def request(req: Any) -> Any:
        req.uri = clean(req.uri)
        req.headers = scrub_headers(dict(req.headers), secret_headers)
        if req.body:
            req.body = clean(_text(req.body)).encode()
        return req

    def response(resp: dict[str, Any]) -> dict[str, Any]:
        headers = scrub_headers(dict(resp.get("headers") or {}), secret_headers)
        resp["headers"] = {
            name: [clean(str(v)) for v in values] if isinstance(values, list) else values
            for name, values in headers.items()
        }
        resp["body"] = {"string": clean(_text(resp.get("body", {}).get("string", b"")))}
        return resp

    return request, response


def plan_spend(
    client: Client, provider: str, scenarios: Sequence[Scenario], allow_unpriced: bool = False
) -> Decimal:
    """USD the submits would cost, by the plugin's own estimates; refuses what it can't
    price unless ``allow_unpriced`` (then the unpriced submits are listed, not counted)."""
    total = Decimal(0)
    for scenario in scenarios:
        request = scenario.sidecar.request
        if request is None or meaning(scenario.name).invalid_key:
            continue
        durations = scenario.sidecar.durations
        try:
            estimate = client.estimate_cost(
                provider,
                request,
                video_seconds=durations.video_seconds if durations else None,
                audio_seconds=durations.audio_seconds if durations else None,
            )
        except LipbridgeError as exc:
            raise RecordRefused(f"{scenario.name}: cannot price the submit: {exc}") from None
        if estimate.usd is None:
            why = estimate.unknown_reason or f"priced in {estimate.unit} with no USD rate"
            if not allow_unpriced:
                raise RecordRefused(
                    f"{scenario.name}: no USD estimate ({why}); refusing to spend "
                    "(--allow-unpriced records it anyway, outside the --allow-spend cap)"
                )
            click.echo(f"  {scenario.name}: not counted against --allow-spend: {why}")
            continue
        total += estimate.usd
    return total


def _observe(client: Client, provider: str, scenario: Scenario) -> dict[str, Any]:
    """Run the steps for real and return the sidecar's new ``expect`` section."""
    obs = Observation(scenario=scenario)
    error: LipbridgeError | None = None
    try:
        run_steps(
            obs,
            provider,
            lambda: client,
            wait_timeout=1800.0,
            # A job that reached the provider is billed: say how to find it at once.
            on_submit=lambda h: click.echo(f"  submitted job {h.job_id} (handle: {h.to_json()})"),
        )
    except LipbridgeError as exc:
        error = exc
    expect: dict[str, Any] = {"states": [s.state.value for s in obs.statuses]}
    if error is not None:
        expect["error"] = {
            "step": obs.error_step,
            "class": type(error).__name__,
            "retryable": error.retryable,
            **{
                name: getattr(error, name)
                for name in ("retry_after", "code")
                if getattr(error, name, None) is not None
            },
        }
    if obs.result is not None:
        expect["result"] = {
            k: v
            for k, v in unstructure(obs.result).items()
            if k in ("video_url", "duration_seconds", "billed") and v is not None
        }
    return expect


def _scripts(folder: CassetteDir, names: Sequence[str]) -> list[Scenario]:
    scenarios = []
    for name in names:
        scenario = folder.get(name)
        if scenario is None:
            raise RecordRefused(
                f"{name}: no sidecar at {folder.path / (name + SIDECAR_SUFFIX)}; write its "
                "request (or handle) and steps first"
            )
        scenarios.append(scenario)
    return scenarios


def _record_one(
    client: Client,
    provider: str,
    scenario: Scenario,
    key: str,
    target: Path,
    scrubbers: tuple[Callable[[Any], Any], Callable[[dict[str, Any]], dict[str, Any]]],
    keep: Callable[[dict[str, Any]], str | None] = lambda expect: None,
) -> dict[str, Any]:
    """Run ``scenario`` through ``client`` under vcrpy and move the cassette to ``target``
    once it is complete, unless ``keep`` gives a reason not to; returns the observed
    ``expect``."""
    request_scrub, response_scrub = scrubbers
    recorder = vcr.VCR(
        record_mode="all",
        match_on=MATCH_ON,
        serializer="safe_yaml",
        decode_compressed_response=True,
        before_record_request=request_scrub,
        before_record_response=response_scrub,
    )
    recorder.register_serializer("safe_yaml", SafeYAML)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        staged = Path(tmp) / target.name
        with recorder.use_cassette(str(staged)):
            run_key = INVALID_KEY if meaning(scenario.name).invalid_key else key
            expect = _observe(_scenario_client(client, provider, scenario, run_key),
                              provider, scenario)
        if not staged.exists():
            raise RecordRefused(
                f"{scenario.name}: nothing was sent ({_outcome(expect)}); there is no "
                "exchange to record"
            )
        reason = keep(expect)
        if reason is not None:
            raise RecordRefused(f"{scenario.name}: {reason}; not written")
        os.replace(staged, target)
    return expect


def looks_like_emulator(base_url: str, provider: str) -> bool:
    """A loopback base URL at ``/<provider>``: where ``lipbridge emulator`` mounts it."""
    parts = urlsplit(base_url)
    local = is_loopback(parts.hostname) or parts.hostname in ("0.0.0.0", "::")  # --host 0.0.0.0
    return local and parts.path.rstrip("/") == f"/{provider}"


def record_scenarios(
    client: Client,
    provider: str,
    root: Path,
    names: Sequence[str],
    allow_spend: Decimal,
    environ: dict[str, str] | os._Environ[str] = os.environ,
    allow_ci: bool = False,
    allow_unpriced: bool = False,
) -> list[Path]:
    """Record ``names`` live into ``root/provider``; returns the cassettes written."""
    if environ.get("CI", "").lower() == "true" and not allow_ci:
        raise RecordRefused("CI=true: recording spends money; pass --allow-ci to insist")
    info = client.info(provider)
    live_base = client.base_url(provider, info)
    if looks_like_emulator(live_base, provider):
        raise RecordRefused(
            f"the base URL {live_base} is where the lipbridge emulator mounts {provider}; "
            "its answers are not live ones: record from it with --emulator (provenance emulator)"
        )
    scenarios = _scripts(load_cassette_dir(root / provider), names)
    spend = plan_spend(client, provider, scenarios, allow_unpriced)
    if spend > allow_spend:
        raise RecordRefused(
            f"the submits are estimated at ${spend}; --allow-spend is ${allow_spend}"
        )
    key = client.context(provider, info).credentials.require()
    dist, version = client.registry.distribution(provider)
    rewrites = [(live_base.rstrip("/"), info.default_base_url.rstrip("/"))]
    secret_headers = (info.auth.header, *info.secret_headers)
    written = []
    for scenario in scenarios:
        click.echo(f"recording {provider}/{scenario.name} against {live_base}")
        scrubbers = _scrubbers([key, INVALID_KEY], rewrites, secret_headers)
        expect = _record_one(client, provider, scenario, key, scenario.cassette, scrubbers)
        provenance = {
            "source": "live",
            "recorded_at": client.clock.now().astimezone(dt.timezone.utc).isoformat(),
            "plugin_version": f"{dist} {version}".strip(),
            "base_url": live_base,
        }
        _write_sidecar(
            scenario.sidecar_path,
            scenario.sidecar_path,
            {"provenance": provenance, "expect": expect},
            [key, INVALID_KEY],
        )
        written.append(scenario.cassette)
    return written


def _scenario_client(client: Client, provider: str, scenario: Scenario, key: str) -> Client:
    """The user's client setup with the scenario's settings (and, for auth_invalid, a key
    the provider must refuse)."""
    return Client(
        registry=client.registry,
        transport=client.transport,
        clock=client.clock,
        api_keys={provider: key},
        base_urls={provider: client.base_url(provider, client.info(provider))},
        settings={provider: scenario.sidecar.settings},
        environ={},
    )


def _write_sidecar(
    source: Path,
    dest: Path,
    changes: dict[str, Any],
    secrets: list[str],
    rewrites: Rewrites = (),
) -> None:
    """The script at ``source`` with ``changes`` (provenance, the observed outcome, ...)
    written to ``dest``, rewritten and scrubbed like the cassette."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data.update(changes)
    data["expect"] = data.pop("expect")  # what happened reads last, after what was sent
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    dest.write_text(scrub_text(_rewrite(text, rewrites), secrets), encoding="utf-8")


# -- recording from the emulator --------------------------------------------------------------


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


def _outcome(expect: dict[str, Any]) -> str:
    states, error = expect.get("states") or [], expect.get("error")
    if error:
        return f"{error['class']} at {error['step']}"
    return f"no error, ending {states[-1]}" if states else "no error"


def _shows(scenario: Scenario) -> Callable[[dict[str, Any]], str | None]:
    """Whether an emulator recording ends as its script says (the error class and step,
    or the last state); the emulator stages only some scenarios, and a recording that
    does not show its scenario would mislead whoever replays it."""
    want = scenario.sidecar.expect
    wanted = _outcome({
        "states": [s.value for s in want.states],
        "error": want.error and {"class": want.error.cls.__name__, "step": want.error.step},
    })

    def check(expect: dict[str, Any]) -> str | None:
        got = _outcome(expect)
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
    from lipbridge_emulator import Emulator, VirtualClock
    from lipbridge_emulator.dialects import installed_dialects

    registry = registry if registry is not None else Registry()
    wall = wall or SystemClock()
    folder = load_cassette_dir(root / provider)
    scenarios = _scripts(folder, names)
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
        clock = VirtualClock(start=wall.now())
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
    with Client(
        registry=registry, clock=emu.clock, api_keys={provider: emu.key},
        base_urls={provider: base}, environ={},
    ) as client:
        info = client.info(provider)
        rewrites = [
            (base, info.default_base_url.rstrip("/")),
            (emu.url, EMULATOR_ROOT),
            (urlsplit(emu.url).netloc, EMULATOR_HOST),
        ]
        secrets = [emu.key, INVALID_KEY]
        expect = _record_one(
            client, provider, script, emu.key, target,
            _scrubbers(secrets, rewrites, (info.auth.header, *info.secret_headers)),
            keep=_shows(scenario),
        )
    recorded_at = wall.now().astimezone(dt.timezone.utc).isoformat()
    _write_sidecar(
        scenario.sidecar_path,
        target.with_name(target.stem + SIDECAR_SUFFIX),
        {
            **fields,
            "provenance": {"source": "emulator", "recorded_at": recorded_at, **provenance},
            "expect": expect,
        },
        secrets,
        rewrites,
    )


def _misused(given: dict[str, bool]) -> str:
    return ", ".join(name for name, used in given.items() if used)


@click.command("record")
@click.argument("provider")
@click.option("--scenario", "names", multiple=True, required=True, help="Repeat for several.")
@click.option(
    "--allow-spend",
    type=Decimal,
    default=None,
    help="USD the submits may cost, by the plugin's own estimate (live only; required).",
)
@cassettes_option
@click.option("--allow-ci", is_flag=True, help="Record even when CI=true.")
@click.option(
    "--allow-unpriced",
    is_flag=True,
    help="Also record submits the plugin cannot price in USD (not counted in the cap).",
)
@click.option(
    "--emulator",
    "use_emulator",
    is_flag=True,
    help="Record from an in-process emulator instead: provenance emulator, no key, no spend.",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"With --emulator: where the recordings go [default: {DEFAULT_OUT}].",
)
@click.option(
    "--replace",
    is_flag=True,
    help="With --emulator: overwrite documentation or live cassettes in --out.",
)
@click.option("--seed", type=int, default=None, help="With --emulator: its seed [default: 0].")
def record(
    provider: str,
    names: tuple[str, ...],
    allow_spend: Decimal | None,
    root: Path,
    allow_ci: bool,
    allow_unpriced: bool,
    use_emulator: bool,
    out: Path | None,
    replace: bool,
    seed: int | None,
) -> None:
    """Re-record scenarios against the live API (spends real money), or from the emulator."""
    if use_emulator:
        live_only = {"--allow-spend": allow_spend is not None, "--allow-ci": allow_ci,
                     "--allow-unpriced": allow_unpriced}
        if any(live_only.values()):
            raise click.UsageError(f"{_misused(live_only)}: live recording only, not --emulator")
        record_from_emulator(
            provider, root, out or DEFAULT_OUT, names, replace=replace, seed=seed or 0
        )
        return
    emulator_only = {"--out": out is not None, "--replace": replace, "--seed": seed is not None}
    if any(emulator_only.values()):
        raise click.UsageError(f"{_misused(emulator_only)}: only with --emulator")
    if allow_spend is None:
        raise click.UsageError("--allow-spend USD is required to record live")
    with Client() as client:
        written = record_scenarios(
            client, provider, root, names, allow_spend,
            allow_ci=allow_ci, allow_unpriced=allow_unpriced,
        )
    for path in written:
        click.echo(f"wrote {path} and its sidecar")
