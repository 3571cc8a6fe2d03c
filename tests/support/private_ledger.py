"""A pytest plugin for every test folder: no test reads or writes the user's job ledger,
keys file or config file.

Loaded by ``-p private_ledger`` in the pytest configuration, so that it covers the core's,
the plugins', the emulator's and the examples' tests alike.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def private_ledger(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path_factory.mktemp("data")
    monkeypatch.setenv("LIPBRIDGE_LEDGER", str(folder / "jobs.sqlite"))
    monkeypatch.setenv("XDG_DATA_HOME", str(folder))  # where the default path would be
    # The keys and config files: a developer's own keys never reach a test.
    monkeypatch.setenv("LIPBRIDGE_USER_DIR", str(folder / "user"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder / "config"))
    for variable in ("LIPBRIDGE_KEYS_PATH", "LIPBRIDGE_CONFIG_PATH"):
        monkeypatch.delenv(variable, raising=False)
