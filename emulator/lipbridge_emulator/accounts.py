"""Each emulated provider's credit balance, billed as jobs are accepted."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from decimal import Decimal

DEFAULT_CREDITS = Decimal(10) ** 9


class Accounts:
    def __init__(
        self, providers: Iterable[str], credits: Mapping[str, Decimal | int] | None = None
    ) -> None:
        self._balances = {name: DEFAULT_CREDITS for name in providers}
        self._balances.update({k: Decimal(v) for k, v in (credits or {}).items()})
        self._lock = threading.Lock()

    def bill(self, provider: str, charge: Decimal) -> Decimal | None:
        """Take ``charge`` from the balance; when it does not cover it (or is spent),
        take nothing and return the balance."""
        with self._lock:
            balance = self._balances.get(provider, Decimal(0))
            if charge > balance or balance <= 0:
                return balance
            self._balances[provider] = balance - charge
            return None

    def set(self, provider: str, amount: Decimal | int | str) -> None:
        with self._lock:
            self._balances[provider] = Decimal(amount)

    def balances(self) -> dict[str, Decimal]:
        with self._lock:
            return dict(self._balances)
