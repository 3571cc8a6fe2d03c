"""The optional hook through which a provider plugin teaches the emulator its API."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lipbridge.markers import hookspec

if TYPE_CHECKING:
    from lipbridge_contract.emulator.dialect import Dialect


@hookspec(firstresult=True)
def lipbridge_emulator_dialect(provider: str) -> Dialect | None:
    """Return the emulator dialect for ``provider``, or None to use the built-in one.

    Optional and routed like the provider hooks. Import ``lipbridge_contract`` inside the
    implementation, so the plugin itself does not depend on the contract suite.
    """
