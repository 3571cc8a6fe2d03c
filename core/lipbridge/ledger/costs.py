"""What the ledger's jobs cost: estimated against billed, per unit, never an unknown as 0."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from attrs import define, field

from lipbridge.errors import InvalidRequest
from lipbridge.ledger.records import LocalState

GROUPINGS = ("provider", "model", "day")
# Jobs the provider may have billed: it accepted them, or may have (unknown).
_BILLABLE = frozenset(
    {s.value for s in LocalState if s.accepted} | {LocalState.UNKNOWN.value}
)


@define(kw_only=True)
class CostLine:
    """One group's jobs: sums per unit (credits, USD, ...) and how many are unknown."""

    key: str
    jobs: int = 0
    estimated: dict[str, Decimal] = field(factory=dict)
    estimated_usd: Decimal = Decimal(0)
    unknown_estimates: int = 0  # jobs with no price, or no estimate in USD
    billed: dict[str, Decimal] = field(factory=dict)
    billed_usd: Decimal = Decimal(0)
    not_billed: int = 0  # jobs whose bill the provider did not report (or not yet)


def cost_lines(rows: Iterable[tuple[Any, ...]], by: str) -> list[CostLine]:
    """Group ``Ledger.cost_rows()`` by provider, model or day (UTC)."""
    if by not in GROUPINGS:
        raise InvalidRequest(
            f"by={by!r} is not a grouping; allowed: {', '.join(GROUPINGS)}", field="by"
        )
    lines: dict[str, CostLine] = {}
    for provider, model, day, state, est, est_unit, est_usd, bill, bill_unit, bill_usd in rows:
        if state not in _BILLABLE:
            continue
        key = {"provider": provider, "model": f"{provider}/{model or '-'}", "day": day}[by]
        line = lines.setdefault(key, CostLine(key=key))
        line.jobs += 1
        if est is None:
            line.unknown_estimates += 1
        else:
            line.estimated[est_unit] = line.estimated.get(est_unit, Decimal(0)) + Decimal(est)
            if est_usd is not None:
                line.estimated_usd += Decimal(est_usd)
        if bill is None:
            line.not_billed += 1
        else:
            line.billed[bill_unit] = line.billed.get(bill_unit, Decimal(0)) + Decimal(bill)
            if bill_usd is not None:
                line.billed_usd += Decimal(bill_usd)
    return [lines[k] for k in sorted(lines)]
