"""Estimates from your own contract prices (the config file's), labelled "your price"."""

from __future__ import annotations

import datetime as dt

import attrs

from lipbridge.config.file import UserConfig, UserPrice
from lipbridge.models import CostEstimate, JobRequest, MediaDurations
from lipbridge.pricing import PriceTable
from lipbridge.rates import charge

YOUR_PRICE = "your price"  # the estimate's source.table_version, and its basis's start


def your_estimate(
    config: UserConfig,
    provider: str,
    model: str,
    price: UserPrice,
    request: JobRequest,
    durations: MediaDurations,
) -> CostEstimate:
    """``request`` priced at your price, by the same rules as a plugin's price table; its
    source is the config file (dated by its last change)."""
    try:
        as_of = dt.date.fromtimestamp(config.path.stat().st_mtime)
    except OSError:  # gone since it was read: the estimate still stands
        as_of = dt.date.today()
    table = PriceTable(
        provider=provider,
        unit=price.unit,
        rates={model: price.rate},
        source_url=str(config.path),
        as_of=as_of,
        version=YOUR_PRICE,
        usd_per_unit=price.usd_per_unit,
    )
    estimate = charge(table, model, price.rate, durations, request)
    basis = f"{YOUR_PRICE}: {estimate.basis}" if estimate.known else ""
    return attrs.evolve(estimate, basis=basis)


def describe(price: UserPrice) -> str:
    """Your price in words: ``0.04 USD per second of output, billed in steps of 1 s``."""
    rate = price.rate
    words = f"{rate.per_second} {price.unit} per second of {rate.per}"
    if rate.step is not None:
        words += f", billed in steps of {rate.step} s"
    if rate.minimum is not None:
        words += f", at least {rate.minimum} {price.unit}"
    if price.unit != "USD" and price.usd_per_unit is not None:
        words += f" (1 {price.unit} = {price.usd_per_unit} USD)"
    return words
