"""Griffe extension (mkdocs.yml, mkdocstrings' ``extensions``): Sphinx roles as code.

The core's docstrings name other objects the Sphinx way (``:class:`~lipbridge.ledger.Ledger```),
which Markdown would show as the literal ``:class:`` followed by code. Each role becomes
the code it names: the last dotted part when the target starts with ``~``, as Sphinx
shows it, else the whole target. Not links: many targets are internal modules the site
does not document, and a link to nothing would fail the strict build.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|attr|exc|data|obj):`(~?)([^`]+)`")


def as_code(text: str) -> str:
    """``text`` with each Sphinx cross-reference role written as inline code."""

    def replace(match: re.Match[str]) -> str:
        short, target = match.group(1), match.group(2)
        return f"`{target.rsplit('.', 1)[-1] if short else target}`"

    return ROLE.sub(replace, text)


class SphinxRoles(griffe.Extension):
    """Rewrites each docstring's roles once the object tree is complete."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = as_code(obj.docstring.value)
