"""The pluggy markers. One project name serves as marker, entry-point prefix and hook prefix."""

from __future__ import annotations

import pluggy

PROJECT = "lipbridge"
PROVIDER_GROUP = "lipbridge.providers"
COMMAND_GROUP = "lipbridge.commands"  # one entry point per extension command, imported on use
EXTENSION_GROUP = "lipbridge.extensions"  # deprecated: lipbridge_add_commands, imported to list

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
