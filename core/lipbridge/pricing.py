"""Output length from the sync mode, and the price-table helper plugins price with.

Prices are data: a table cites its source and date, lives in the plugin, and is never
fetched at import or call time, so estimates work offline and are reproducible.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal

from attrs import field, frozen

from lipbridge.models import CostEstimate, JobRequest, MediaDurations, PriceSource, SyncMode
from lipbridge.rates import Rate, charge

# Which input decides the output length, per sync mode.
_FOLLOWS_AUDIO = (SyncMode.BOUNCE, SyncMode.LOOP, SyncMode.REMAP)


def output_seconds(
    mode: SyncMode | None, video_seconds: float | None, audio_seconds: float | None
) -> float | None:
    """bounce/loop/remap: the audio's length; cut_off: the shorter; silence: the video's."""
    if mode is None:
        return None
    if mode in _FOLLOWS_AUDIO:
        return audio_seconds
    if mode is SyncMode.SILENCE:
        return video_seconds
    if video_seconds is None or audio_seconds is None:
        return None
    return min(video_seconds, audio_seconds)


def needed_inputs(mode: SyncMode | None) -> tuple[str, ...]:
    if mode in _FOLLOWS_AUDIO:
        return ("audio",)
    if mode is SyncMode.SILENCE:
        return ("video",)
    return ("video", "audio")


@frozen(kw_only=True)
class PriceTable:
    """Per-model prices in ``unit`` (credits or a currency): a ``Decimal`` per second of
    output, or a :class:`~lipbridge.rates.Rate` (contract 1.4) for the other shapes."""

    provider: str
    unit: str
    rates: Mapping[str, Decimal | Rate] = field(hash=False)
    source_url: str
    as_of: dt.date
    version: str
    usd_per_unit: Decimal | None = None
    basis: str = "per second of output"
    round_seconds_up: bool = False  # bill whole seconds, as PixVerse does
    quantum: Decimal | None = None  # round the amount up to this step, e.g. 0.01

    @property
    def source(self) -> PriceSource:
        return PriceSource(url=self.source_url, as_of=self.as_of, table_version=self.version)

    def rate(self, model: str) -> Decimal | Rate | None:
        """``model``'s price: its own (a ``name@version`` may have one), else its base
        model's, else None."""
        found = self.rates.get(model)
        base, mark, _ = model.rpartition("@")
        return self.rates.get(base) if found is None and mark else found

    def rounded(self, amount: Decimal) -> Decimal:
        """``amount`` rounded up to the table's ``quantum``, if it has one."""
        if self.quantum is None:
            return amount
        return amount.quantize(self.quantum, rounding=ROUND_CEILING)

    def price(self, request: JobRequest, durations: MediaDurations) -> CostEstimate:
        """``request`` priced by its model's rate: what ``lipbridge_estimate_cost`` returns.
        A :class:`~lipbridge.rates.Rate` reads the lengths it prices from ``durations``
        and its multipliers from the request; a ``Decimal`` prices the output."""
        return self._estimate(request.model or "", durations, request)

    def estimate(self, model: str, seconds: float | None) -> CostEstimate:
        """``model`` priced for ``seconds`` of output (no options, no input lengths)."""
        return self._estimate(model, MediaDurations(output_seconds=seconds), None)

    def _estimate(
        self, model: str, durations: MediaDurations, request: JobRequest | None
    ) -> CostEstimate:
        rate = self.rate(model)
        if isinstance(rate, Rate):
            return charge(self, model, rate, durations, request)
        seconds = durations.output_seconds
        if rate is None:
            return CostEstimate.unknown(
                self.provider,
                model,
                f"no published price for {model} in {self.source_url} (as of {self.as_of})",
                self.unit,
            )
        if seconds is None:
            return CostEstimate.unknown(
                self.provider, model, "the output duration is not known", self.unit
            )
        quantity = Decimal(str(seconds))
        if self.round_seconds_up:
            quantity = quantity.to_integral_value(rounding=ROUND_CEILING)
        amount = self.rounded(quantity * rate)
        usd = None if self.usd_per_unit is None else amount * self.usd_per_unit
        return CostEstimate(
            provider=self.provider,
            model=model,
            amount=amount,
            unit=self.unit,
            usd=usd,
            basis=self.basis,
            quantity=quantity,
            source=self.source,
        )
