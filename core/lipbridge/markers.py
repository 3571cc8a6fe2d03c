"""The pluggy markers. One project name serves as marker, entry-point prefix and hook prefix."""

from __future__ import annotations

import pluggy

PROJECT = "lipbridge"
PROVIDER_GROUP = "lipbridge.providers"
EXTENSION_GROUP = "lipbridge.extensions"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
