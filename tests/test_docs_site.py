"""The documentation site (mkdocs.yml) builds with ``--strict``, and strict really fails it.

The build runs as CI runs everything: from the tests. A broken link, a missing anchor, a
page left out of the nav or an API reference to nothing is a warning, and ``--strict``
turns it into a failed build; the negative cases below prove that on a copy of docs/
with one fault added, so the guard is tested rather than assumed. Nothing is fetched:
the theme's web fonts are off and no plugin downloads anything.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # Material's banner, printed on every build

# Builds the repository's mkdocs.yml with another docs folder (the CLI has no option for it).
BUILD_WITH_DOCS = """
import logging, sys
from mkdocs.commands.build import build
from mkdocs.config import load_config
from mkdocs.exceptions import Abort
logging.basicConfig(format="%(levelname)s %(message)s")
try:
    build(load_config("mkdocs.yml", docs_dir=sys.argv[1], site_dir=sys.argv[2], strict=True))
except Abort as failed:
    sys.exit(str(failed))
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_site_builds_with_strict(tmp_path: Path) -> None:
    site = tmp_path / "site"
    built = run("-m", "mkdocs", "build", "--strict", "--site-dir", str(site))

    assert built.returncode == 0, built.stderr
    assert "WARNING" not in built.stderr, built.stderr
    # The API reference is generated from the docstrings...
    api = (site / "python-api" / "index.html").read_text(encoding="utf-8")
    assert "Validation happens first; nothing is sent for an invalid request." in api
    # Sphinx roles in the docstrings read as code (mkdocs_ext/sphinx_roles.py), not as
    # ":class:" followed by code.
    assert "a <code>Ledger</code>" in api
    assert ":class:" not in api
    # ...and each plugin README is a page, its links rewritten to the site's pages.
    for readme in ROOT.glob("plugins/*/README.md"):
        assert (site / "providers" / readme.parent.name / "index.html").is_file(), readme
    foxapi = (site / "providers" / "foxapi" / "index.html").read_text(encoding="utf-8")
    assert 'href="../gateway/#uploads"' in foxapi
    assert 'href="../../callbacks/"' in foxapi
    # Nothing in the site loads from another host at view time either: no web fonts.
    assert "fonts.googleapis.com" not in (site / "index.html").read_text(encoding="utf-8")


def build_with(tmp_path: Path, faults: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Build a copy of docs/ with each of ``faults`` (page -> text) appended to its page."""
    docs = shutil.copytree(ROOT / "docs", tmp_path / "docs")
    for page, text in faults.items():
        with (docs / page).open("a", encoding="utf-8") as out:
            out.write(f"\n\n{text}\n")
    return run("-c", BUILD_WITH_DOCS, str(docs), str(tmp_path / "site"))


def test_strict_fails_on_a_broken_link_a_missing_anchor_and_a_page_left_out(
    tmp_path: Path,
) -> None:
    built = build_with(
        tmp_path,
        {
            "quickstart.md": "See [the missing page](no-such-page.md) and "
            "[a missing section](jobs.md#no-such-section).",
            "left-out.md": "# A page the nav does not list",
        },
    )

    assert built.returncode != 0
    for reported in (
        "contains a link 'no-such-page.md', but the target is not found",
        "contains a link 'jobs.md#no-such-section', but the doc 'jobs.md' does not contain "
        "an anchor '#no-such-section'",
        'not included in the "nav" configuration:\n  - left-out.md',
    ):
        assert reported in built.stderr, built.stderr
    # Those three and nothing else: the copy itself builds.
    assert "Aborted with 3 warnings in strict mode!" in built.stderr, built.stderr


def test_strict_fails_on_an_api_reference_to_nothing(tmp_path: Path) -> None:
    built = build_with(tmp_path, {"python-api.md": "::: lipbridge.client.NoSuchClass"})

    assert built.returncode != 0
    assert "Could not collect 'lipbridge.client.NoSuchClass'" in built.stderr, built.stderr


def test_a_plugin_readme_links_to_the_site_pages_and_nothing_else_moves() -> None:
    """mkdocs_ext/provider_pages.py rewrites links to docs/ and to other plugins; any other
    relative link is left as written, for --strict to report."""
    path = ROOT / "mkdocs_ext" / "provider_pages.py"
    spec = importlib.util.spec_from_file_location("provider_pages", path)
    assert spec is not None and spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    text = (
        "[the gateway](../gateway#uploads), [its README](../gateway/README.md), "
        "[callbacks](../../docs/callbacks.md), [cassettes](lipbridge_foxapi/cassettes/foxapi), "
        '[titled](../gateway "the gateway"), [fal](https://fal.ai/models), [up](#install)'
    )

    assert hooks.rewrite_links(text, "foxapi", {"foxapi", "gateway"}) == (
        "[the gateway](gateway.md#uploads), [its README](gateway.md), "
        "[callbacks](../callbacks.md), [cassettes](lipbridge_foxapi/cassettes/foxapi), "
        '[titled](gateway.md "the gateway"), [fal](https://fal.ai/models), [up](#install)'
    )
