"""The example provider, for the test run only.

``examples/example_plugin`` is the worked example for plugin authors. It is never installed
(requirements-dev.txt leaves it out), so a user's ``lipbridge providers``, ``estimate --all``
and ``contract`` never meet it. The tests see it as an installed provider through a
test-only site directory: a dist-info written from the example's own pyproject.toml (the
entry point plugin authors read is the one the tests load), on ``sys.path`` for the tests
and on ``PYTHONPATH`` for the commands they start, with the example's source folder beside
it. Loaded as a pytest plugin (``-p example_provider`` in the pytest configuration);
``user_environ()`` is the environment without it, as a user's shell has it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # lipbridge depends on tomli before 3.11
    import tomli as tomllib

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "example_plugin"
GROUP = "lipbridge.providers"
_state: dict[str, str | None] = {}


def write_dist(root: Path, name: str, entry_points: dict[str, str], version: str = "1.0") -> Path:
    """A minimal installed distribution (dist-info) declaring provider entry points."""
    info = root / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = [f"[{GROUP}]", *(f"{k} = {v}" for k, v in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return root


def example_path(site: Path) -> list[str]:
    """Make the example an installed provider for whoever puts the returned entries on
    its path: its dist-info (written into ``site``) and its source folder."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    write_dist(site, project["name"], project["entry-points"][GROUP], project["version"])
    return [str(site), str(EXAMPLE)]


def user_environ() -> dict[str, str]:
    """``os.environ`` as the user had it before this test run added the example."""
    environ = dict(os.environ)
    environ.pop("PYTHONPATH", None)
    if _state.get("PYTHONPATH") is not None:
        environ["PYTHONPATH"] = str(_state["PYTHONPATH"])
    return environ


def pytest_configure(config: pytest.Config) -> None:
    site = tempfile.mkdtemp(prefix="lipbridge-example-site-")
    entries = example_path(Path(site))
    _state.update(site=site, PYTHONPATH=os.environ.get("PYTHONPATH"))
    sys.path[:0] = entries
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [*entries, _state["PYTHONPATH"]]))


def pytest_unconfigure(config: pytest.Config) -> None:
    site = _state.pop("site", None)
    if site is None:
        return
    sys.path[:] = [p for p in sys.path if p not in (site, str(EXAMPLE))]
    before = _state.pop("PYTHONPATH")
    if before is None:
        os.environ.pop("PYTHONPATH", None)
    else:
        os.environ["PYTHONPATH"] = before
    shutil.rmtree(site, ignore_errors=True)
