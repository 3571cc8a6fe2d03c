"""FoxAPI (``https://api.foxapi.cc``): sync.so lip-sync resold on the task-unified gateway.

Declarations only; the wire mapping and hooks are :mod:`lipbridge_gateway`'s.
"""

from __future__ import annotations

import datetime as dt

from lipbridge.plugin import PriceTable
from lipbridge_gateway import CallingBackGateway, sync_lipsync_models

DOCS = "https://docs.foxapi.cc/pages/en/api-manual/video-series/lipsync/lipsync-2"

plugin = CallingBackGateway(
    name="foxapi",
    display_name="FoxAPI",
    docs_url=DOCS,
    base_url="https://api.foxapi.cc",
    models=sync_lipsync_models(callback=True),  # the original page documents callback_url
    api_key_env=("FOXAPI_API_KEY",),
    # No per-second lip-sync price is published: estimates are unknown, citing this page.
    prices=PriceTable(
        provider="foxapi",
        unit="credits",
        rates={},
        source_url=DOCS,
        as_of=dt.date(2026, 11, 21),
        version="2026-11-21",
    ),
    request_fields="video_url",  # rev B, the current EN page; "video" is rev A (the seed)
)
