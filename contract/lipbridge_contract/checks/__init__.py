"""Every contract check, in report order. Ids are documented in docs/contract.md.

Check objects are named in capitals (``CANCEL`` in ``checks.cancel``), so importing one
here never hides its submodule: ``lipbridge_contract.checks.cancel`` stays the module.
"""

from __future__ import annotations

from lipbridge_contract.checks.base import FAIL, PASS, SKIP, Check, Verdict, VerdictStatus
from lipbridge_contract.checks.callback import CALLBACKS
from lipbridge_contract.checks.cancel import CANCEL
from lipbridge_contract.checks.cost import COST
from lipbridge_contract.checks.errors import ERROR_FUZZ, ERRORS
from lipbridge_contract.checks.find import FIND
from lipbridge_contract.checks.lifecycle import LIFECYCLE, OUTPUT, RESUME
from lipbridge_contract.checks.load import CAPABILITIES, LOAD
from lipbridge_contract.checks.preflight import PREFLIGHT
from lipbridge_contract.checks.secrets import SECRETS_CANARY
from lipbridge_contract.checks.static import HYGIENE, SECRETS_STATIC
from lipbridge_contract.checks.timing import TIMING
from lipbridge_contract.checks.upload import UPLOADS
from lipbridge_contract.checks.wire import ENCODING, STATUS_MAP

CHECKS: tuple[Check, ...] = (
    LOAD,
    CAPABILITIES,
    PREFLIGHT,
    ENCODING,
    STATUS_MAP,
    LIFECYCLE,
    ERRORS,
    ERROR_FUZZ,
    CANCEL,
    FIND,
    UPLOADS,
    CALLBACKS,
    COST,
    SECRETS_STATIC,
    SECRETS_CANARY,
    TIMING,
    RESUME,
    OUTPUT,
    HYGIENE,
)

__all__ = ["CHECKS", "FAIL", "PASS", "SKIP", "Check", "Verdict", "VerdictStatus"]
