"""Price shapes of contract 1.4 (lipbridge.rates), with exact Decimal expectations: a
minimum charge, input lengths, steps, option multipliers, compute time as a range or a
reasoned unknown; first-party tables pricing exactly as before; estimates against bills."""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_CEILING, Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lipbridge_aihubmax
import lipbridge_aimlapi
import lipbridge_example
import lipbridge_foxapi
import lipbridge_jogg
import lipbridge_syncso
from lipbridge import BilledUsage, CostEstimate, JobRequest, SyncMode
from lipbridge.estimates import billed_problem
from lipbridge.plugin import ComputeTime, MediaDurations, Multiplier, PriceTable, Rate

D = Decimal
AS_OF = dt.date(2026, 12, 1)
REQUEST = JobRequest(video="https://cdn.invalid/v.mp4", audio="https://cdn.invalid/a.wav",
                     model="m")


def table(rate: Decimal | Rate, *, unit: str = "USD", **kw: Any) -> PriceTable:
    return PriceTable(provider="p", unit=unit, rates={"m": rate}, source_url="https://p.invalid",
                      as_of=AS_OF, version="v1", **kw)


def price(rate: Decimal | Rate, request: JobRequest = REQUEST, *, video: float | None = None,
          audio: float | None = None, output: float | None = None, **kw: Any) -> CostEstimate:
    lengths = MediaDurations(video_seconds=video, audio_seconds=audio, output_seconds=output)
    return table(rate, **kw).price(request, lengths)


# --- each shape --------------------------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "amount"), [
    (0, D("0.50")), (3, D("0.50")), (9.99, D("0.50")), (10, D("0.50")), (10.02, D("0.501")),
    (20, D("1.00")),
])  # fmt: skip
def test_a_minimum_charge_is_the_least_a_job_costs(seconds: float, amount: Decimal) -> None:
    estimate = price(Rate(per_second=D("0.05"), minimum=D("0.50")), output=seconds)
    assert estimate.amount == amount
    assert estimate.quantity == D(str(seconds))
    assert estimate.basis == "0.05 USD per second of output, at least 0.50 USD"


def test_input_lengths_are_priced_as_the_rate_says() -> None:
    lengths = {"video": 12.5, "audio": 4.25, "output": 4.25}
    by_video = price(Rate(per_second=D("0.02"), per="video"), **lengths)
    assert (by_video.amount, by_video.quantity) == (D("0.250"), D("12.5"))
    assert by_video.basis == "0.02 USD per second of input video"
    by_audio = price(Rate(per_second=D("0.02"), per="audio"), **lengths)
    assert (by_audio.amount, by_audio.quantity) == (D("0.0850"), D("4.25"))


def test_an_unknown_input_length_is_an_unknown_price_saying_which() -> None:
    estimate = price(Rate(per_second=D("0.02"), per="video"), output=4)
    assert estimate.amount is None
    assert estimate.unknown_reason == "the input video duration is not known"
    assert estimate.source is not None and estimate.compute_unit is None


@pytest.mark.parametrize(("seconds", "billed"), [
    (0, D(0)), (0.1, D(5)), (4.999, D(5)), (5, D(5)), (5.01, D(10)), (12, D(15)), (60, D(60)),
])  # fmt: skip
def test_the_billed_length_rounds_up_to_whole_steps(seconds: float, billed: Decimal) -> None:
    estimate = price(Rate(per_second=D("0.03"), step=D(5)), output=seconds)
    assert estimate.quantity == billed
    assert estimate.amount == billed * D("0.03")
    assert estimate.basis.endswith("billed in steps of 5 s")


def test_a_rate_honours_the_tables_whole_seconds_and_quantum() -> None:
    estimate = price(Rate(per_second=D(1) / D(125)), output=2.1, round_seconds_up=True,
                     quantum=D("0.01"))
    assert (estimate.quantity, estimate.amount) == (D(3), D("0.03"))  # 3/125 = 0.024 -> 0.03


def test_multipliers_apply_to_matching_options_and_request_fields() -> None:
    rate = Rate(per_second=D("0.05"), multipliers=(
        Multiplier(option="model", value="lipsync-2-pro", factor=D(5) / D(3)),
        Multiplier(option="sync_mode", value="bounce", factor=D(2)),
        Multiplier(option="hd", value=True, factor=D("1.5")),
    ))
    plain = price(rate, output=6)
    assert plain.amount == D("0.30")
    pro = price(rate, attrs.evolve(REQUEST, options={"model": "lipsync-2-pro"}), output=6)
    assert pro.amount == D("0.30") * (D(5) / D(3))
    assert pro.basis.endswith(", x1.666666666666666666666666667 for model='lipsync-2-pro'")
    both = price(rate, attrs.evolve(REQUEST, options={"model": "lipsync-2-pro"},
                                    sync_mode=SyncMode.BOUNCE), output=6)
    assert both.amount == D("0.30") * (D(5) / D(3)) * D(2)
    one = price(rate, attrs.evolve(REQUEST, options={"hd": 1}), output=6)  # 1 is not True
    assert one.amount == D("0.30")
    hd = price(rate, attrs.evolve(REQUEST, options={"hd": True}), output=6, quantum=D("0.01"))
    assert hd.amount == D("0.45")


def test_multipliers_come_before_the_minimum_and_the_quantum_last() -> None:
    rate = Rate(per_second=D("0.01"), minimum=D("0.10"),
                multipliers=(Multiplier(option="tier", value="pro", factor=D(3)),))
    request = attrs.evolve(REQUEST, options={"tier": "pro"})
    assert price(rate, request, output=2).amount == D("0.10")  # 0.06 raised to the minimum
    assert price(rate, request, output=5, quantum=D("0.1")).amount == D("0.2")  # 0.15 -> 0.2


def test_compute_time_with_a_known_range_is_a_range() -> None:
    rate = Rate(per_second=D("0.0014"), compute=ComputeTime(
        low=D(2), high=D(6), reason="2 to 6 GPU-seconds per output second on the model page"))
    estimate = price(rate, output=10, usd_per_unit=D(1))
    assert (estimate.low, estimate.amount) == (D("0.0280"), D("0.0840"))
    assert (estimate.low_usd, estimate.usd) == (D("0.0280"), D("0.0840"))
    assert estimate.quantity == D(60)  # GPU-seconds, the range's top
    assert (estimate.compute_unit, estimate.compute_rate) == ("GPU-second", D("0.0014"))
    assert estimate.basis == (
        "0.0014 USD per GPU-second, 2 to 6 of them per second of output (2 to 6 GPU-seconds "
        "per output second on the model page)")


def test_compute_seconds_round_up_to_the_rates_steps() -> None:
    rate = Rate(per_second=D("0.001"), step=D(1),
                compute=ComputeTime(low=D(2), high=D(2), reason="measured"))
    estimate = price(rate, output=10.3)
    assert (estimate.quantity, estimate.low, estimate.amount) == (D(21), D("0.021"), D("0.021"))


def test_compute_time_of_a_whole_job_is_a_range_whatever_the_length() -> None:
    rate = Rate(per_second=D("0.000975"), compute=ComputeTime(
        low=D(100), high=D(133), per_job=True,
        reason="L40S; the model page: typically completes within 133 seconds"))
    estimate = price(rate)  # no length known, none needed
    assert (estimate.low, estimate.amount, estimate.quantity) == (
        D("0.097500"), D("0.129675"), D(133))
    assert estimate.basis.startswith("0.000975 USD per GPU-second, 100 to 133 of them per job")


def test_compute_time_without_a_range_is_a_reasoned_unknown() -> None:
    rate = Rate(per_second=D("0.0014"),
                compute=ComputeTime(reason="the model page gives no run time"))
    estimate = price(rate, output=10)
    assert estimate.amount is None
    assert estimate.unknown_reason == (
        "priced per GPU-second at 0.0014 USD: the model page gives no run time")
    assert (estimate.compute_unit, estimate.compute_rate) == ("GPU-second", D("0.0014"))


def test_a_model_version_has_its_own_rate_or_its_models() -> None:
    prices = PriceTable(provider="p", unit="USD", source_url="https://p.invalid", as_of=AS_OF,
                        version="v1", rates={"m": D("0.05"), "m@v2": Rate(per_second=D("0.07"))})
    assert prices.estimate("m@v1", 10).amount == D("0.50")
    assert prices.estimate("m@v2", 10).amount == D("0.70")
    assert prices.estimate("m@v1", 10).model == "m@v1"
    assert prices.estimate("n@v1", 10).unknown_reason == (
        f"no published price for n@v1 in https://p.invalid (as of {AS_OF})")


def test_price_of_a_flat_rate_is_its_estimate_for_the_output() -> None:
    flat = table(D("0.05"), round_seconds_up=True)
    lengths = MediaDurations(video_seconds=3, audio_seconds=9.2, output_seconds=9.2)
    assert flat.price(REQUEST, lengths) == flat.estimate("m", 9.2)
    assert flat.price(REQUEST, lengths).amount == D("0.50")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"per_second": 0.05}, "give a Decimal"),
    ({"per_second": D(-1)}, ">= 0"),
    ({"per_second": D("NaN")}, "give a Decimal"),
    ({"per_second": D(1), "step": D(0)}, "> 0"),
    ({"per_second": D(1), "minimum": D("-0.1")}, ">= 0"),
    ({"per_second": D(1), "per": "frames"}, "allowed: 'output', 'video', 'audio'"),
])  # fmt: skip
def test_a_rate_is_exact_and_sensible(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Rate(**kwargs)


def test_compute_time_and_multipliers_are_checked() -> None:
    with pytest.raises(ValueError, match="both low and high"):
        ComputeTime(low=D(1), reason="r")
    with pytest.raises(ValueError, match="above high"):
        ComputeTime(low=D(3), high=D(2), reason="r")
    with pytest.raises(ValueError, match="needs its reason"):
        ComputeTime(reason=" ")
    with pytest.raises(ValueError, match="> 0"):
        Multiplier(option="a", value=1, factor=D(0))


def test_a_cost_range_is_ordered_and_compute_marks_go_together() -> None:
    base = {"provider": "p", "model": "m", "unit": "USD"}
    with pytest.raises(ValueError, match="low <= amount"):
        CostEstimate(**base, amount=D(1), low=D(2))
    with pytest.raises(ValueError, match="low <= amount"):
        CostEstimate(**base, amount=None, unknown_reason="r", low=D(0))
    with pytest.raises(ValueError, match="go together"):
        CostEstimate(**base, amount=D(1), compute_unit="GPU-second")
    with pytest.raises(ValueError, match="low_usd needs"):
        CostEstimate(**base, amount=D(1), low=D(1), low_usd=D(1))


RATES = st.builds(
    Rate,
    per_second=st.decimals(min_value=0, max_value=10, places=4),
    step=st.none() | st.sampled_from([D(1), D(5), D("0.5")]),
    minimum=st.none() | st.decimals(min_value=0, max_value=5, places=2),
    compute=st.none() | st.builds(ComputeTime, low=st.just(D(1)), high=st.just(D(3)),
                                  reason=st.just("r")),
)


@settings(max_examples=60, deadline=None)
@given(rate=RATES, a=st.floats(0, 10_000), b=st.floats(0, 10_000))
def test_a_rates_price_never_decreases_as_the_length_grows(rate: Rate, a: float, b: float) -> None:
    short, long = sorted((a, b))
    cheap, dear = price(rate, output=short), price(rate, output=long)
    assert cheap.amount is not None and dear.amount is not None
    assert cheap.amount <= dear.amount
    assert (cheap.low or cheap.amount) <= (dear.low or dear.amount)


# --- first-party tables price exactly as in contract 1.3 ---------------------------------------


def legacy_estimate(prices: PriceTable, model: str, seconds: float | None) -> CostEstimate:
    """PriceTable.estimate as lipbridge 1.3 computed it, kept here verbatim."""
    rate = prices.rates.get(model)
    if rate is None:
        return CostEstimate.unknown(
            prices.provider, model,
            f"no published price for {model} in {prices.source_url} (as of {prices.as_of})",
            prices.unit)
    if seconds is None:
        return CostEstimate.unknown(prices.provider, model, "the output duration is not known",
                                    prices.unit)
    assert isinstance(rate, Decimal)
    quantity = Decimal(str(seconds))
    if prices.round_seconds_up:
        quantity = quantity.to_integral_value(rounding=ROUND_CEILING)
    amount = quantity * rate
    if prices.quantum is not None:
        amount = amount.quantize(prices.quantum, rounding=ROUND_CEILING)
    usd = None if prices.usd_per_unit is None else amount * prices.usd_per_unit
    return CostEstimate(provider=prices.provider, model=model, amount=amount, unit=prices.unit,
                        usd=usd, basis=prices.basis, quantity=quantity, source=prices.source)


FIRST_PARTY = {
    "foxapi": lipbridge_foxapi.plugin.prices,
    "aihubmax": lipbridge_aihubmax.plugin.prices,
    "aimlapi": lipbridge_aimlapi.PRICES,
    "jogg": lipbridge_jogg.PRICES,
    "syncso": lipbridge_syncso.PRICES,
    "example": lipbridge_example.PRICES,
}
SECONDS = [None, 0, 0.001, 0.5, 1, 2.000001, 4, 10.7, 125, 126.3, 3599.99, 86400]


@pytest.mark.parametrize("name", list(FIRST_PARTY))
def test_every_first_party_table_prices_exactly_as_before(name: str) -> None:
    prices = FIRST_PARTY[name]
    for model in [*prices.rates, "no-such-model"]:
        for seconds in SECONDS:
            assert prices.estimate(model, seconds) == legacy_estimate(prices, model, seconds)
            lengths = MediaDurations(video_seconds=7, audio_seconds=seconds,
                                     output_seconds=seconds)
            request = attrs.evolve(REQUEST, model=model, options={"anything": 1})
            assert prices.price(request, lengths) == legacy_estimate(prices, model, seconds)


# --- an estimate against what was billed -------------------------------------------------------

POINT = CostEstimate(provider="p", model="m", amount=D("1.00"), unit="USD")
RANGE = attrs.evolve(POINT, low=D("0.40"), compute_unit="GPU-second", compute_rate=D("0.01"))
REASONED = CostEstimate(provider="p", model="m", amount=None, unit="USD",
                        unknown_reason="priced per GPU-second", compute_unit="GPU-second",
                        compute_rate=D("0.01"))


def bill(amount: str, unit: str = "USD") -> BilledUsage:
    return BilledUsage(amount=D(amount), unit=unit)


@pytest.mark.parametrize(("estimate", "billed", "tolerance", "problem"), [
    (POINT, bill("1.00"), D(0), None),
    (POINT, bill("1.04"), D("0.05"), None),
    (POINT, bill("1.20"), D("0.05"),
     "estimate 1.00 USD, billed 1.20; the declared tolerance is 5%"),
    (POINT, bill("100", "credits"), D(0), "estimate in USD, billed in credits"),
    (CostEstimate.unknown("p", "m", "no price", "USD"), bill("1"), D(0),
     "billed 1 USD, but the estimate is unknown (no price)"),
    (RANGE, bill("0.40"), D(0), None),
    (RANGE, bill("0.70"), D(0), None),
    (RANGE, bill("1.10"), D(0),
     "estimate 0.40 to 1.00 USD, billed 1.10; the declared tolerance is 0%"),
    (RANGE, bill("55", "GPU-second"), D(0), None),  # 55 GPU-seconds are 0.55 USD
    (RANGE, bill("30", "GPU-second"), D(0),
     "estimate 0.40 to 1.00 USD, billed 30 GPU-second; the declared tolerance is 0%"),
    (REASONED, bill("1234", "GPU-second"), D(0), None),  # compute time: known once it ran
    (REASONED, bill("1", "USD"), D(0),
     "billed 1 USD, but the estimate is unknown (priced per GPU-second)"),
])  # fmt: skip
def test_billed_problem_says_where_a_bill_does_not_bear_out_the_estimate(
    estimate: CostEstimate, billed: BilledUsage, tolerance: Decimal, problem: str | None
) -> None:
    assert billed_problem(estimate, billed, tolerance) == problem
