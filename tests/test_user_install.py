"""What a user installs: one plugin from the wheels brings the core and nothing else of
ours, its wheel carries its cassettes (certified from any directory), and the dev install
shows no example provider (only the test run sees it)."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib
from example_provider import user_environ
from shipped import cassettes

from lipbridge import Registry
from lipbridge.registry import discover

ROOT = Path(__file__).resolve().parent.parent
BUILD_WHEELS = ROOT / "scripts" / "build-wheels"
LENGTHS = ["--video-duration", "10", "--audio-duration", "10"]


def run(*args: str | Path, **env: str) -> subprocess.CompletedProcess[str]:
    """A command as a user's shell runs it: without the test run's example provider."""
    return subprocess.run([str(a) for a in args], env={**user_environ(), **env},
                          capture_output=True, text=True, timeout=120)


def ok(*args: str | Path, **env: str) -> str:
    done = run(*args, **env)
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done.stdout


def shipped_distributions() -> set[str]:
    """Every distribution in the repository but the example plugin, as wheel names spell it."""
    projects = [ROOT / "pyproject.toml", *ROOT.glob("*/pyproject.toml"),
                *ROOT.glob("plugins/*/pyproject.toml")]  # examples/example_plugin: not these
    return {tomllib.loads(p.read_text(encoding="utf-8"))["project"]["name"].replace("-", "_")
            for p in projects}


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheels scripts/build-wheels builds, as the README tells a user to build them."""
    dist = tmp_path_factory.mktemp("dist")
    ok(BUILD_WHEELS, dist, PYTHON=sys.executable)
    return dist


def ours(bin_folder: Path) -> set[str]:
    """The lipbridge distributions installed in the environment of ``bin_folder``."""
    listed = json.loads(ok(bin_folder / "pip", "list", "--format", "json"))
    return {d["name"].lower() for d in listed if d["name"].lower().startswith("lipbridge")}


@pytest.fixture(scope="module")
def jogg_alone(wheels: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """A fresh environment with ``pip install --no-index --find-links dist lipbridge-jogg``:
    its bin folder, and our distributions it got. The third-party dependencies, which a
    user gets from the package index, join the wheels first (the contract suite's too, for
    a later test), so the install itself reads nothing but the folder."""
    ok(sys.executable, "-m", "pip", "download", "--quiet", "--only-binary", ":all:",
       "--dest", wheels, "--find-links", wheels, "lipbridge-jogg", "lipbridge-contract")
    venv = tmp_path_factory.mktemp("venv")
    ok(sys.executable, "-m", "venv", venv)
    ok(venv / "bin" / "pip", "install", "--quiet", "--no-index", "--find-links", wheels,
       "lipbridge-jogg")
    return venv / "bin", ours(venv / "bin")


def test_build_wheels_builds_every_distribution_but_the_example(wheels: Path) -> None:
    built = {w.name.split("-")[0] for w in wheels.glob("*.whl")}
    assert built == shipped_distributions()
    assert {"lipbridge", "lipbridge_jogg", "lipbridge_contract"} <= built


def test_one_plugin_from_the_wheels_installs_the_core_and_nothing_else_of_ours(
    jogg_alone: tuple[Path, set[str]],
) -> None:
    assert jogg_alone[1] == {"lipbridge", "lipbridge-jogg"}


def test_the_one_plugin_is_listed_and_estimates(jogg_alone: tuple[Path, set[str]]) -> None:
    lipbridge = jogg_alone[0] / "lipbridge"
    providers = json.loads(ok(lipbridge, "providers", "--json"))
    assert [p["name"] for p in providers] == ["jogg"]
    estimate = json.loads(ok(lipbridge, "estimate", "jogg", *LENGTHS, "--json"))
    # JoggAI's documented rate: 1 credit per 125 s of output, rounded up to 0.01.
    assert (estimate["amount"], estimate["unit"], estimate["model"]) == ("0.08", "credits",
                                                                         "lipsync")


@pytest.mark.parametrize("provider", ["aihubmax", "aimlapi", "fal", "foxapi", "jogg",
                                      "replicate", "syncso"])
def test_each_plugin_wheel_carries_every_cassette_it_ships(wheels: Path, provider: str) -> None:
    [wheel] = wheels.glob(f"lipbridge_{provider}-*.whl")
    folder = f"lipbridge_{provider}/cassettes/"
    packed = {n for n in zipfile.ZipFile(wheel).namelist() if n.startswith(folder)}
    assert packed == {f"{folder}{provider}/{f.name}" for f in cassettes(provider).iterdir()}


def test_the_installed_wheel_certifies_from_any_directory(
    jogg_alone: tuple[Path, set[str]], wheels: Path, tmp_path: Path
) -> None:
    """The contract suite from the wheels beside the plugin, run outside the repository:
    it reads the cassettes installed with lipbridge-jogg."""
    ok(jogg_alone[0] / "pip", "install", "--quiet", "--no-index", "--find-links", wheels,
       "lipbridge-contract")
    done = subprocess.run([str(jogg_alone[0] / "lipbridge"), "contract", "jogg", "--json"],
                          cwd=tmp_path, env=user_environ(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    [report] = json.loads(done.stdout)["providers"]
    assert report["ok"]
    installed = Path(report["cassettes"])
    assert installed.parts[-3:] == ("lipbridge_jogg", "cassettes", "jogg")
    assert installed.is_relative_to(jogg_alone[0].parent)  # in the fresh environment


# ------------------------------------------------------------ the example is test-only

LIPBRIDGE = Path(sys.executable).parent / "lipbridge"  # the dev install's command
STALE = ("lipbridge-example is installed in this environment (requirements-dev.txt installed "
         "it before it became test-only): pip uninstall lipbridge-example")


def test_the_test_run_sees_the_example_provider() -> None:
    """The switch this file's other tests turn off: the suite's own tests rely on it."""
    assert "example" in Registry(discover(), environ={}).names()


def test_the_dev_install_lists_no_example_provider() -> None:
    providers = [p["name"] for p in json.loads(ok(LIPBRIDGE, "providers", "--json"))]
    assert "example" not in providers, STALE
    assert "jogg" in providers


def test_the_dev_install_estimates_all_without_the_example_provider() -> None:
    rows = json.loads(ok(LIPBRIDGE, "estimate", "--all", *LENGTHS, "--json"))
    compared = [row["provider"] for row in rows]
    assert "example" not in compared, STALE
    assert "jogg" in compared


def test_the_dev_install_has_no_example_provider_to_certify() -> None:
    done = run(LIPBRIDGE, "contract", "example")
    assert done.returncode == 2, STALE
    assert "not installed: example" in done.stderr
