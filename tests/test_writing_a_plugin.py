"""docs/writing-a-plugin.md, followed step by step, ends in a plugin certified at high.

The page's file blocks (each names its path on its first line) are written into an empty
folder; the four refused-submit scenarios its table describes are made from
``rate_limited`` as the page says; the plugin is installed as a distribution (a dist-info
whose entry points are the page's pyproject's) and certified in-process, offline.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import tomllib
import yaml
from conftest import make_registry, write_dist

from lipbridge_contract import CHECKS, SuiteRun, certify

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "writing-a-plugin.md"
STANDARD = {"success", "job_failed", "auth_invalid", "insufficient_credits", "rate_limited",
            "invalid_request", "job_not_found", "provider_unavailable"}
OPTIONAL = {"cancel", "find-jobs", "upload", "callback"}


def page_files() -> dict[str, str]:
    """Each fenced toml/python/yaml block whose first line is ``# <path>``, by path."""
    blocks = re.findall(r"```(?:toml|python|yaml)\n# (\S+)\n(.*?)```", PAGE.read_text(),
                        flags=re.DOTALL)
    files = {path: f"# {path}\n{body}" for path, body in blocks}
    assert len(files) == len(blocks), "two blocks name the same file"
    return files


def refused_submits() -> list[dict[str, str]]:
    """The rows of the page's table of refused submits."""
    rows = re.findall(r"^\| `(\w+)` \| `(\d{3}) ([^`]+)` \| `(\{.+?\})` \| `(\w+)` \| `(\w+)` \|$",
                      PAGE.read_text(), flags=re.MULTILINE)
    keys = ("scenario", "code", "message", "body", "raises", "error_code")
    return [dict(zip(keys, row, strict=True)) for row in rows]


def write_refused_submit(folder: Path, row: dict[str, str]) -> None:
    """Copy rate_limited's cassette and sidecar, changed as the page says."""
    cassette = yaml.safe_load((folder / "rate_limited.yaml").read_text())
    response = cassette["interactions"][0]["response"]
    response["status"] = {"code": int(row["code"]), "message": row["message"]}
    response["headers"].pop("Retry-After")
    response["body"] = {"string": row["body"]}
    (folder / f"{row['scenario']}.yaml").write_text(yaml.safe_dump(cassette))
    sidecar = yaml.safe_load((folder / "rate_limited.sidecar.yaml").read_text())
    sidecar["description"] = f"A submit Acme refuses with {row['code']} {row['message']}."
    sidecar["expect"]["error"] = {"step": "submit", "class": row["raises"],
                                  "code": row["error_code"]}
    (folder / f"{row['scenario']}.sidecar.yaml").write_text(yaml.safe_dump(sidecar))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Steps 1, 2 and 5: the empty folder filled from the page."""
    folder = tmp_path / "lipbridge-acme"
    folder.mkdir()
    for path, text in page_files().items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text)
    rows = refused_submits()
    assert [r["scenario"] for r in rows] == ["auth_invalid", "insufficient_credits",
                                             "invalid_request", "provider_unavailable"]
    for row in rows:
        write_refused_submit(folder / "cassettes" / "acme", row)
    return folder


def test_the_page_names_its_files_and_every_standard_scenario(project: Path) -> None:
    assert {"pyproject.toml", "lipbridge_acme.py", "tests/test_contract.py"} <= set(page_files())
    written = {p.name.removesuffix(".sidecar.yaml") for p in (project / "cassettes" / "acme")
               .glob("*.sidecar.yaml")}
    assert written == STANDARD


def test_the_plugin_of_the_page_is_certified_at_high(
    project: Path, site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Step 3 (installed: a dist-info with the pyproject's entry points) and step 6."""
    meta = tomllib.loads((project / "pyproject.toml").read_text())["project"]
    entry_points = meta["entry-points"]["lipbridge.providers"]
    assert entry_points == {"acme": "lipbridge_acme"}
    write_dist(site, meta["name"], entry_points, version=meta["version"])
    monkeypatch.syspath_prepend(str(project))
    monkeypatch.delitem(sys.modules, "lipbridge_acme", raising=False)

    report = certify(SuiteRun("acme", project / "cassettes", "high",
                              registry=make_registry(site)))

    verdicts = {r.check: r.status for r in report.results}
    details = {r.check: r.detail for r in report.results if r.status != "pass"}
    assert verdicts == {c.id: "pass" for c in CHECKS}, details
    assert report.ok
    for result in report.results:  # the page: these pass, saying the plugin has no such part
        if result.check in OPTIONAL:
            assert "no model" in result.detail or "not implemented" in result.detail, result
