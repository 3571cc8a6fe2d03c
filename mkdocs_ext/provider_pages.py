"""mkdocs hook (mkdocs.yml ``hooks:``): each plugin's README as a page of the site.

``plugins/<name>/README.md`` becomes ``providers/<name>.md``, read where it is, so the
site never holds a copy that could drift. A README's relative links are written for its
place in the repository; they are rewritten for the page's place in the site: a link to
``docs/X`` goes to the page ``X``, a link to another plugin (its folder or its README)
to that plugin's page. Any other relative link is left alone, so ``mkdocs build
--strict`` reports it as a link to a missing page rather than the site hiding it.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.livereload import LiveReloadServer
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ROOT / "plugins"
# A Markdown inline link's target: ](target) or ](target "title").
LINK = re.compile(r"(?<=\]\()([^)\s#]*)(#[^)\s]*)?(?=[)\s])")


def readmes() -> list[Path]:
    """Every plugin README, in name order (the site's providers/ pages)."""
    return sorted(PLUGINS.glob("*/README.md"))


def site_target(repo_path: str, plugins: set[str]) -> str | None:
    """The site page (relative to the docs root) for a repository path, if there is one."""
    parts = repo_path.strip("/").split("/")
    if parts[0] == "docs" and len(parts) > 1:
        return "/".join(parts[1:])
    is_plugin = parts[0] == "plugins" and len(parts) > 1 and parts[1] in plugins
    if is_plugin and (len(parts) == 2 or parts[2:] == ["README.md"]):
        return f"providers/{parts[1]}.md"
    return None


def rewrite_links(text: str, name: str, plugins: set[str]) -> str:
    """``text`` (plugins/<name>/README.md) with its links pointing at the site's pages."""
    page_dir = "providers"

    def replace(match: re.Match[str]) -> str:
        path, fragment = match.group(1), match.group(2) or ""
        if not path or "://" in path or path.startswith(("/", "mailto:")):
            return match.group(0)
        target = site_target(posixpath.normpath(f"plugins/{name}/{path}"), plugins)
        if target is None:
            return match.group(0)
        return posixpath.relpath(target, page_dir) + fragment

    return LINK.sub(replace, text)


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add providers/<name>.md for each plugin README."""
    found = readmes()
    plugins = {readme.parent.name for readme in found}
    for readme in found:
        name = readme.parent.name
        text = rewrite_links(readme.read_text(encoding="utf-8"), name, plugins)
        files.append(File.generated(config, f"providers/{name}.md", content=text))
    return files


def on_serve(server: LiveReloadServer, config: MkDocsConfig, builder: object) -> None:
    """``mkdocs serve`` rebuilds when a plugin README changes, as for a page in docs/."""
    for readme in readmes():
        server.watch(str(readme))
