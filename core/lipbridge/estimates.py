"""A price for one request, and whether what the provider billed bears it out.

Money is ``Decimal`` throughout; an unknown price is explicit (with its reason), never 0.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from attrs import frozen

if TYPE_CHECKING:
    from lipbridge.models import BilledUsage


@frozen(kw_only=True)
class PriceSource:
    """Where a price came from, so a stale table is visible."""

    url: str
    as_of: dt.date
    table_version: str


@frozen(kw_only=True)
class CostEstimate:
    """A price for one request. An unknown price is explicit, never zero."""

    provider: str
    model: str
    amount: Decimal | None
    unit: str
    usd: Decimal | None = None
    basis: str = ""
    quantity: Decimal | None = None  # what was priced, e.g. output seconds
    source: PriceSource | None = None
    unknown_reason: str | None = None
    # A range (contract 1.4): at least ``low``, at most ``amount``; usd for each end.
    low: Decimal | None = None
    low_usd: Decimal | None = None
    # A price that follows compute time: ``compute_rate`` (in ``unit``) per ``compute_unit``.
    compute_unit: str | None = None
    compute_rate: Decimal | None = None

    def __attrs_post_init__(self) -> None:
        if (self.amount is None) == (self.unknown_reason is None):
            raise ValueError("a cost estimate has either an amount or an unknown_reason")
        if self.amount is not None and self.amount < 0:
            raise ValueError("a cost cannot be negative")
        if self.low is not None and (self.amount is None or not 0 <= self.low <= self.amount):
            raise ValueError("a cost range needs 0 <= low <= amount")
        if self.low_usd is not None and (self.low is None or self.usd is None):
            raise ValueError("low_usd needs low and usd")
        if (self.compute_unit is None) != (self.compute_rate is None):
            raise ValueError("compute_unit and compute_rate go together")

    @property
    def known(self) -> bool:
        return self.amount is not None

    @classmethod
    def unknown(cls, provider: str, model: str, reason: str, unit: str = "") -> CostEstimate:
        return cls(provider=provider, model=model, amount=None, unit=unit, unknown_reason=reason)


def billed_problem(
    estimate: CostEstimate, billed: BilledUsage, tolerance: Decimal = Decimal(0)
) -> str | None:
    """Why ``billed`` does not bear out ``estimate``, or None when it does: the contract
    suite's cost check asks this of each bill its cassettes record.

    The units must match and the bill lie within the estimate (its amount, or its
    ``low``..``amount`` range), give or take ``tolerance`` (a fraction of the bill). A bill
    in the estimate's ``compute_unit`` is priced at ``compute_rate`` first; when such an
    estimate is unknown, every compute-time bill bears it out, since how long a job
    computes is known only once it ran.
    """
    amount = billed.amount
    if estimate.compute_rate is not None and billed.unit == estimate.compute_unit:
        if estimate.amount is None:
            return None
        amount = billed.amount * estimate.compute_rate
    elif estimate.amount is None:
        return (
            f"billed {billed.amount} {billed.unit}, but the estimate is unknown "
            f"({estimate.unknown_reason})"
        )
    elif estimate.unit != billed.unit:
        return f"estimate in {estimate.unit}, billed in {billed.unit}"
    low = estimate.amount if estimate.low is None else estimate.low
    slack = tolerance * abs(amount)
    if low - slack <= amount <= estimate.amount + slack:
        return None
    priced = f"{estimate.amount}" if estimate.low is None else f"{low} to {estimate.amount}"
    bill = f"{billed.amount}" if amount is billed.amount else f"{billed.amount} {billed.unit}"
    return (
        f"estimate {priced} {estimate.unit}, billed {bill}; the declared tolerance is "
        f"{tolerance:%}"
    )
