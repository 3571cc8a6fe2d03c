"""A plugin module that cannot be imported, as when a plugin's own dependency is missing."""

raise ImportError("lipbridge_testbroken needs libfoo, which is not installed")
