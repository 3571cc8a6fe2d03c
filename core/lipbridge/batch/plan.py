"""A batch's plan: each row checked against its providers and priced, before anything
is sent, and the totals a budget is held to.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from attrs import define, field, frozen

from lipbridge.batch.manifest import Row, RowProblem
from lipbridge.client import Client
from lipbridge.errors import (
    ConfigurationError,
    InvalidRequest,
    LipbridgeError,
    UnsupportedCapability,
    UnsupportedOption,
)
from lipbridge.models import CostEstimate

# A provider that cannot run a row's options is skipped for the next one, at planning
# time, without sending anything; any other problem makes the row invalid.
SKIPPABLE = (UnsupportedOption, UnsupportedCapability)


@frozen(kw_only=True)
class RowPlan:
    """Where a row will go first, and what it should cost there."""

    row: Row
    providers: tuple[str, ...]  # the row's providers that can run it, in order
    estimate: CostEstimate | None = None  # on providers[0]
    skipped: tuple[tuple[str, str], ...] = ()  # (provider, why) of those that cannot


@define(kw_only=True)
class ProviderTotal:
    provider: str
    rows: int = 0
    amounts: dict[str, Decimal] = field(factory=dict)  # per unit
    usd: Decimal = Decimal(0)
    unknown: int = 0  # rows with no price, or no price in USD


class BudgetExceeded(InvalidRequest):
    """The known total is over ``--max-cost``, or unknown prices were not allowed."""


def plan_rows(client: Client, rows: Sequence[Row]) -> tuple[list[RowPlan], list[RowProblem]]:
    """Check every row against each of its providers, offline, and price it."""
    plans: list[RowPlan] = []
    problems: list[RowProblem] = []
    for row in rows:
        usable: list[str] = []
        skipped: list[tuple[str, str]] = []
        problem: RowProblem | None = None
        for provider in row.providers:
            try:
                client.prepare(provider, row.request)
            except SKIPPABLE as exc:
                skipped.append((provider, exc.message))
                continue
            except ConfigurationError:
                raise  # a missing key is the setup's problem, not each row's
            except LipbridgeError as exc:
                field_ = getattr(exc, "field", None) or "provider"
                problem = RowProblem(line=row.line, field=field_, message=exc.message)
                break
            usable.append(provider)
        if problem is None and not usable:
            why = "; ".join(f"{p}: {reason}" for p, reason in skipped)
            problem = RowProblem(
                line=row.line, field="provider", message=f"no provider can run it ({why})"
            )
        if problem is not None:
            problems.append(problem)
            continue
        try:
            estimate = _estimate(client, usable[0], row)
        except LipbridgeError as exc:
            problems.append(RowProblem(
                line=row.line, field=getattr(exc, "field", None) or "row", message=exc.message
            ))
            continue
        plans.append(RowPlan(
            row=row, providers=tuple(usable), estimate=estimate, skipped=tuple(skipped)
        ))
    return plans, problems


def _estimate(client: Client, provider: str, row: Row) -> CostEstimate:
    """The row's price on ``provider``; local files are measured once however many rows
    use them (one video, 40 voices: the client keeps each probe)."""
    try:
        return client.estimate_cost(provider, row.request)
    except InvalidRequest as exc:
        if exc.field in ("video_seconds", "audio_seconds"):  # URLs: lengths unknown offline
            info = client.info(provider)
            model = row.request.model or info.default_model
            return CostEstimate.unknown(provider, model, exc.message)
        raise


def totals(plans: Sequence[RowPlan]) -> list[ProviderTotal]:
    """What the plan should cost per first-choice provider, per unit and in USD."""
    by: dict[str, ProviderTotal] = {}
    for plan in plans:
        total = by.setdefault(plan.providers[0], ProviderTotal(provider=plan.providers[0]))
        total.rows += 1
        estimate = plan.estimate
        if estimate is None or estimate.amount is None:
            total.unknown += 1
            continue
        unit = estimate.unit
        total.amounts[unit] = total.amounts.get(unit, Decimal(0)) + estimate.amount
        if estimate.usd is None:
            total.unknown += 1
        else:
            total.usd += estimate.usd
    return [by[name] for name in sorted(by)]


def check_budget(
    sums: Sequence[ProviderTotal], *, max_usd: Decimal | None, allow_unknown: bool
) -> None:
    """Refuse to start over budget, or with rows whose price is unknown unless allowed.

    An unknown price is never taken as zero: running such rows is the user's explicit
    choice, with or without a budget.
    """
    unknown = sum(t.unknown for t in sums)
    if unknown and not allow_unknown:
        raise BudgetExceeded(
            f"{unknown} row(s) have no known price in USD; nothing was sent: pass "
            "--allow-unknown-cost to run them anyway",
            field="max_cost",
        )
    if max_usd is not None:
        known = sum((t.usd for t in sums), Decimal(0))
        if known > max_usd:
            raise BudgetExceeded(
                f"the known total is ${known.normalize():f}, over --max-cost "
                f"${max_usd.normalize():f}; nothing was sent",
                field="max_cost",
            )
