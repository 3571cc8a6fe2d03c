"""Where a contract run spends its time: each scenario's replay, each check, a full certify.

    python benchmarks/contract_speed.py [PROVIDER ...] [--cassettes DIR]
                                        [--strictness low|high] [--repeat N]

Without arguments it measures the example plugin against the cassettes it ships
(examples/example_plugin/lipbridge_example/cassettes).
Each figure is the median of ``--repeat`` runs, with its ratio to the ``hygiene`` check:
a scan of the cassette files that needs neither the plugin nor a replay, so it is a
fixed yardstick for one cassette directory.

A check is timed on a fresh ``SuiteRun`` whose plugin is already loaded and whose
scenarios are already replayed, so its figure is the check's own work; the replays
are timed one scenario at a time. ``certify`` is a whole run on a fresh ``SuiteRun``,
every replay and every check, as ``lipbridge contract`` does it (the plugin module is
already imported, so interpreter start and imports are not in it).
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from lipbridge import Registry
from lipbridge.registry import discover
from lipbridge_contract import CHECKS, Check, SuiteRun, Verdict, certify, run_check
from lipbridge_contract.replay import replay

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "support"))
from example_provider import example_path  # noqa: E402  (tests/support: not installed)

EXAMPLE_CASSETTES = ROOT / "examples" / "example_plugin" / "lipbridge_example" / "cassettes"
BASELINE = "hygiene"
TIMES = "\N{MULTIPLICATION SIGN}"


def median_seconds(action: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def prepared(provider: str, root: Path, strictness: str, registry: Registry) -> SuiteRun:
    """A fresh run with the plugin loaded and every scenario replayed (untimed)."""
    run = SuiteRun(provider, root, strictness, registry=registry)
    _ = run.info, run.observations
    return run


def check_once(runs: list[SuiteRun], check: Check) -> Verdict:
    """One check on the next unused prepared run, so no check sees another's state."""
    return run_check(runs.pop(), check)


def certify_once(provider: str, root: Path, strictness: str, registry: Registry) -> None:
    certify(SuiteRun(provider, root, strictness, registry=registry))


def measure(
    provider: str, root: Path, strictness: str, repeat: int, registry: Registry
) -> list[tuple[str, float]]:
    rows: list[tuple[str, float]] = []
    run = prepared(provider, root, strictness, registry)
    for scenario in run.scenarios:
        one = functools.partial(replay, scenario, registry, provider, run.key)
        rows.append((f"replay {scenario.name}", median_seconds(one, repeat)))
    rows.append(("replays, sum", sum(seconds for _, seconds in rows)))
    for check in CHECKS:
        fresh = [prepared(provider, root, strictness, registry) for _ in range(repeat)]
        each = functools.partial(check_once, fresh, check)
        rows.append((f"check {check.id}", median_seconds(each, repeat)))
    whole = functools.partial(certify_once, provider, root, strictness, registry)
    rows.append(("certify, full run", median_seconds(whole, repeat)))
    return rows


def render(provider: str, strictness: str, repeat: int, rows: list[tuple[str, float]]) -> None:
    wanted = f"check {BASELINE}"
    label, base = next(
        ((name, s) for name, s in rows if name == wanted), min(rows, key=lambda row: row[1])
    )
    width = max(len(name) for name, _ in rows)
    print(f"{provider} (strictness {strictness}, median of {repeat})")
    print(f"{'':<{width}}  {'ms':>9}  {TIMES} {label.removeprefix('check ')}")
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds * 1000:9.1f}  {seconds / base:9.1f}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("providers", nargs="*", help="default: every installed provider in DIR")
    parser.add_argument("--cassettes", type=Path, default=EXAMPLE_CASSETTES, metavar="DIR")
    parser.add_argument("--strictness", choices=("low", "high"), default="high")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.repeat < 1 or not args.cassettes.is_dir():
        parser.error("--repeat must be at least 1 and --cassettes an existing directory")
    # The example plugin is never installed; the tests' site directory makes it so here.
    site = tempfile.TemporaryDirectory(prefix="lipbridge-example-site-")
    sys.path[:0] = example_path(Path(site.name))
    registry = Registry(discover(), environ={})
    installed = registry.names()
    names = args.providers or [
        p.name for p in sorted(args.cassettes.iterdir()) if p.name in installed
    ]
    unknown = [name for name in names if name not in installed]
    if not names or unknown:
        parser.error(f"not installed: {unknown}" if unknown else f"no provider in {args.cassettes}")
    for provider in names:
        rows = measure(provider, args.cassettes, args.strictness, args.repeat, registry)
        render(provider, args.strictness, args.repeat, rows)


if __name__ == "__main__":
    main()
