"""Price shapes beyond a flat rate per second of output (contract 1.4): a model's
:class:`Rate` in a ``PriceTable`` prices the output, the input video or the input audio by
the second, in steps, with a minimum charge and multipliers for options; or prices compute
time (a GPU-second) as a range, or as an unknown that says why.

Every amount is exact ``Decimal`` arithmetic, rounded only where the provider rounds: the
billed length up to a ``step``, the amount up to the table's ``quantum``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from attrs import field, frozen

from lipbridge.models import CostEstimate, JobRequest, MediaDurations

if TYPE_CHECKING:
    from lipbridge.pricing import PriceTable

Per = Literal["output", "video", "audio"]
_LENGTHS = {"output": "output", "video": "input video", "audio": "input audio"}
# JobRequest fields a multiplier may name besides the provider options.
_REQUEST_FIELDS = ("sync_mode", "active_speaker", "temperature")


def _decimal(
    least: Decimal, *, above: bool = False
) -> Callable[[object, Any, Any], None]:
    """A validator: a Decimal (never a float, which is not exact) >= ``least``, or > it."""

    def check(_: object, attribute: Any, value: Decimal | None) -> None:
        if value is None:
            return
        if not isinstance(value, Decimal) or not value.is_finite():
            raise ValueError(
                f"{attribute.name}={value!r}; prices are exact: give a Decimal, e.g. "
                "Decimal('0.05')"
            )
        if value < least or (above and value == least):
            raise ValueError(f"{attribute.name}={value}; allowed: {'>' if above else '>='} {least}")

    return check


def _check_per(_: object, __: object, value: object) -> None:
    if value not in _LENGTHS:
        raise ValueError(f"per={value!r}; allowed: {', '.join(map(repr, _LENGTHS))}")


def _same(given: object, wanted: object) -> bool:
    """JSON equality: ``True`` is not ``1``, ``1`` is ``1.0``."""
    if isinstance(given, bool) or isinstance(wanted, bool):
        return given is wanted
    return given == wanted


@frozen(kw_only=True)
class Multiplier:
    """The price times ``factor`` when the request's ``option`` is ``value``: a "pro"
    choice, a higher resolution. ``option`` names a provider option, or one of the
    ``JobRequest`` fields ``sync_mode``, ``active_speaker`` and ``temperature``."""

    option: str
    value: str | int | float | bool
    factor: Decimal = field(validator=_decimal(Decimal(0), above=True))

    def applies(self, request: JobRequest | None) -> bool:
        if request is None:
            return False
        if self.option in request.options:
            return _same(request.options[self.option], self.value)
        if self.option in _REQUEST_FIELDS:
            given = getattr(request, self.option)
            return _same(getattr(given, "value", given), self.value)  # a SyncMode's word
        return False


@frozen(kw_only=True)
class ComputeTime:
    """Pricing by compute time: the rate is per ``unit`` (a GPU-second), and one second of
    the measured length takes from ``low`` to ``high`` of them (``per_job``: a whole job
    does, as Replicate's model pages say "typically completes within 133 s"), where that
    is known. ``reason`` says where the range comes from, or why it is not known (shown
    with the estimate either way)."""

    reason: str
    low: Decimal | None = field(default=None, validator=_decimal(Decimal(0)))
    high: Decimal | None = field(default=None, validator=_decimal(Decimal(0)))
    per_job: bool = False
    unit: str = "GPU-second"

    def span(self, seconds: Decimal | None) -> list[Decimal] | None:
        """The compute seconds a job takes, least and most, for ``seconds`` of the measured
        length; None when that is not known."""
        if self.low is None or self.high is None:
            return None
        if self.per_job:
            return [self.low, self.high]
        return None if seconds is None else [seconds * self.low, seconds * self.high]

    def __attrs_post_init__(self) -> None:
        if (self.low is None) != (self.high is None):
            raise ValueError("ComputeTime takes both low and high, or neither")
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"ComputeTime low={self.low} is above high={self.high}")
        if not self.reason.strip():
            raise ValueError("ComputeTime needs its reason")


def _multipliers(value: Iterable[Multiplier]) -> tuple[Multiplier, ...]:
    """A tuple of multipliers, from any iterable (typed, so callers' types are checked)."""
    return tuple(value)


@frozen(kw_only=True)
class Rate:
    """One model's price: ``per_second`` of the ``per`` length (the output, the input
    video or the input audio), or of compute time when ``compute`` is set.

    The billed length is rounded up to a whole ``step`` (5 s: 0 to 5 s bill 5 s; the
    table's ``round_seconds_up`` is a step of 1 s), priced, multiplied by each
    multiplier the request matches, raised to the ``minimum`` charge, and rounded up to
    the table's ``quantum``.
    """

    per_second: Decimal = field(validator=_decimal(Decimal(0)))
    per: Per = field(default="output", validator=_check_per)
    step: Decimal | None = field(default=None, validator=_decimal(Decimal(0), above=True))
    minimum: Decimal | None = field(default=None, validator=_decimal(Decimal(0)))
    multipliers: tuple[Multiplier, ...] = field(default=(), converter=_multipliers)
    compute: ComputeTime | None = None


def _steps(seconds: Decimal, step: Decimal | None) -> Decimal:
    """``seconds`` rounded up to a whole number of ``step``s (exactly: divmod is exact)."""
    if step is None:
        return seconds
    whole, rest = divmod(seconds, step)
    return (whole + (1 if rest else 0)) * step


def charge(
    table: PriceTable,
    model: str,
    rate: Rate,
    durations: MediaDurations,
    request: JobRequest | None,
) -> CostEstimate:
    """``model``'s price under ``rate``: a point, a range (compute time with a known
    range), or unknown with the reason."""
    compute = rate.compute
    marks: dict[str, Any] = {}
    if compute is not None:
        marks = {"compute_unit": compute.unit, "compute_rate": rate.per_second}
    seconds = getattr(durations, f"{rate.per}_seconds")
    measured = None if seconds is None or not math.isfinite(seconds) else Decimal(str(seconds))
    if compute is not None:
        ends = compute.span(measured)
    else:
        ends = None if measured is None else [measured]
    if ends is None:
        why = f"the {_LENGTHS[rate.per]} duration is not known"
        if compute is not None and compute.low is None:
            why = f"priced per {compute.unit} at {rate.per_second} {table.unit}: {compute.reason}"
        return CostEstimate(
            provider=table.provider, model=model, amount=None, unit=table.unit,
            unknown_reason=why, source=table.source, **marks,
        )
    step = rate.step or (Decimal(1) if table.round_seconds_up else None)
    quantities = [_steps(quantity, step) for quantity in ends]
    applied = [m for m in rate.multipliers if m.applies(request)]
    factor = math.prod((m.factor for m in applied), start=Decimal(1))
    amounts = [
        table.rounded(max(quantity * rate.per_second * factor, rate.minimum or Decimal(0)))
        for quantity in quantities
    ]
    usd = [None if table.usd_per_unit is None else a * table.usd_per_unit for a in amounts]
    return CostEstimate(
        provider=table.provider,
        model=model,
        amount=amounts[-1],
        unit=table.unit,
        usd=usd[-1],
        basis=_basis(table, rate, step, applied),
        quantity=quantities[-1],
        source=table.source,
        low=amounts[0] if compute is not None else None,
        low_usd=usd[0] if compute is not None else None,
        **marks,
    )


def _basis(table: PriceTable, rate: Rate, step: Decimal | None, applied: list[Multiplier]) -> str:
    """How the estimate was made, in words: what is priced, in what steps, from what."""
    length = f"second of {_LENGTHS[rate.per]}"
    compute = rate.compute
    if compute is None:
        words = f"{rate.per_second} {table.unit} per {length}"
    else:
        words = (
            f"{rate.per_second} {table.unit} per {compute.unit}, {compute.low} to "
            f"{compute.high} of them per {'job' if compute.per_job else length} "
            f"({compute.reason})"
        )
    if step is not None:
        words += f", billed in steps of {step}" + (" s" if compute is None else "")
    if rate.minimum is not None:
        words += f", at least {rate.minimum} {table.unit}"
    return words + "".join(f", x{m.factor} for {m.option}={m.value!r}" for m in applied)
