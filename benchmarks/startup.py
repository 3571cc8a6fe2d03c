"""Start-up cost of the ``lipbridge`` command, against importing its own dependencies.

    python benchmarks/startup.py [--repeat N] [--plugins N]

Each side is a fresh child process; the sides take turns, ``--repeat`` rounds, and each
figure is a median. Wall time and CPU (user + system) come from the child's resource
usage, its peak RSS from GNU time. Sides:

* ``import deps``: ``python -c "import urllib3, pluggy, attrs, cattrs"``, the floor any
  program built on lipbridge's dependencies pays; the ratios are against it;
* ``lipbridge --help`` and ``lipbridge providers`` with the plugins installed here;
* the same with ``--plugins`` (20) more plugin distributions, small generated ones, in a
  temporary site directory on ``PYTHONPATH`` (the other sides get an empty one).

Targets: each command at most 1.5x the floor's time and 35 MiB of peak RSS; with 20 more
plugins at most 1.1x the time with the installed ones.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from _common import TIMES, median, table

TARGET_RATIO = 1.5
TARGET_RSS_MIB = 35.0
TARGET_MORE_PLUGINS = 1.1
DEPS = "import urllib3, pluggy, attrs, cattrs"
GNU_TIME = "/usr/bin/time"

PLUGIN = '''\
"""A generated provider plugin for benchmarks/startup.py: it describes itself, no more."""

from lipbridge import SyncMode
from lipbridge.plugin import ModelCapabilities, ProviderInfo, hookimpl

NAME = "{name}"


@hookimpl
def lipbridge_provider_info(provider):
    return ProviderInfo(
        name=NAME,
        display_name=NAME.title(),
        docs_url="https://docs.{name}.invalid",
        contract_version="1.0",
        default_base_url="https://api.{name}.invalid",
        models=(ModelCapabilities(name="lipsync", sync_modes=frozenset({{SyncMode.LOOP}})),),
        default_model="lipsync",
    )


@hookimpl
def lipbridge_submit(provider, request, ctx):
    raise NotImplementedError


@hookimpl
def lipbridge_poll(provider, handle, ctx):
    raise NotImplementedError
'''


def fake_plugins(site: Path, count: int) -> None:
    """``count`` installed plugin distributions (dist-info and module) under ``site``."""
    for i in range(count):
        name = f"bench{i:02d}"
        module = f"lipbridge_{name}"
        (site / f"{module}.py").write_text(PLUGIN.format(name=name))
        info = site / f"lipbridge_{name}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: lipbridge-{name}\nVersion: 1.0\n"
        )
        (info / "entry_points.txt").write_text(f"[lipbridge.providers]\n{name} = {module}\n")


def lipbridge_command() -> list[str]:
    """The installed console script, as a user runs it."""
    script = Path(sys.executable).with_name("lipbridge")
    if not script.exists():
        raise SystemExit(f"{script} is missing: install the workspace first (see README)")
    return [str(script)]


def run_once(argv: Sequence[str], env: dict[str, str], peak: Path) -> tuple[float, float, float]:
    """One child's wall seconds, CPU seconds and peak RSS in MiB; it must succeed.

    The peak comes from GNU time, which forks the command from its own small process:
    a child forked from this one would inherit its size in ``ru_maxrss``.
    """
    start = time.perf_counter()
    timed = [GNU_TIME, "-f", "%M", "-o", str(peak), *argv]
    child = subprocess.Popen(timed, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)  # GNU time's usage includes the command's
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        again = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        raise SystemExit(f"{' '.join(argv)} exited {again.returncode}:\n{again.stderr}")
    return wall, usage.ru_utime + usage.ru_stime, int(peak.read_text().split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="rounds (20)")
    parser.add_argument("--plugins", type=int, default=20, help="plugins added (20)")
    args = parser.parse_args()
    if args.repeat < 1 or args.plugins < 1:
        parser.error("--repeat and --plugins must be at least 1")
    lipbridge = lipbridge_command()
    if not Path(GNU_TIME).exists():
        raise SystemExit(f"{GNU_TIME} (GNU time) is missing: it measures the peak RSS")
    installed = len(metadata.entry_points(group="lipbridge.providers"))
    with tempfile.TemporaryDirectory() as work:
        empty, more, peak = Path(work, "empty"), Path(work, "more"), Path(work, "peak")
        empty.mkdir()
        more.mkdir()
        fake_plugins(more, args.plugins)
        plain = {**os.environ, "PYTHONPATH": str(empty)}
        crowded = {**os.environ, "PYTHONPATH": str(more)}
        many = f"{installed + args.plugins} plugins"
        sides = {
            "import deps": ([sys.executable, "-c", DEPS], plain),
            "lipbridge --help": ([*lipbridge, "--help"], plain),
            "lipbridge providers": ([*lipbridge, "providers"], plain),
            f"--help, {many}": ([*lipbridge, "--help"], crowded),
            f"providers, {many}": ([*lipbridge, "providers"], crowded),
        }
        figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in sides}
        for argv, env in sides.values():  # untimed: warm the disk cache
            run_once(argv, env, peak)
        for i in range(args.repeat):
            order = list(sides.items())
            for name, (argv, env) in order if i % 2 == 0 else order[::-1]:
                figures[name].append(run_once(argv, env, peak))
    wall = {name: median([f[0] for f in runs]) * 1000 for name, runs in figures.items()}
    cpu = {name: median([f[1] for f in runs]) * 1000 for name, runs in figures.items()}
    rss = {name: median([f[2] for f in runs]) for name, runs in figures.items()}
    floor = wall["import deps"]
    print(
        f"start-up, {installed} installed plugins and {args.plugins} more "
        f"(median of {args.repeat}, sides alternating)"
    )
    table(
        ["side", "wall ms", f"{TIMES} deps", "CPU ms", "peak RSS MiB"],
        [
            [name, f"{wall[name]:.1f}", f"{wall[name] / floor:.2f}", f"{cpu[name]:.1f}",
             f"{rss[name]:.1f}"]
            for name in sides
        ],
    )
    commands = [name for name in sides if name != "import deps"]
    worst = max(wall[name] / floor for name in commands)
    heaviest = max(rss[name] for name in commands)
    growth = max(
        wall[f"--help, {many}"] / wall["lipbridge --help"],
        wall[f"providers, {many}"] / wall["lipbridge providers"],
    )
    print()
    print(
        f"worst {TIMES} deps {worst:.2f} (target: at most {TARGET_RATIO}); peak RSS "
        f"{heaviest:.1f} MiB (target: at most {TARGET_RSS_MIB:g}); {many} "
        f"{TIMES} {installed} plugins {growth:.2f} (target: at most {TARGET_MORE_PLUGINS})"
    )


if __name__ == "__main__":
    main()
