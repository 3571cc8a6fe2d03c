"""AIHubMax (``https://api.aihubmax.com``): sync.so lip-sync resold on the task-unified gateway.

Declarations only; the wire mapping and hooks are :mod:`lipbridge_gateway`'s.
"""

from __future__ import annotations

import datetime as dt

from lipbridge.plugin import PriceTable
from lipbridge_gateway import UploadingGateway, sync_lipsync_models

DOCS = "https://docs.aihubmax.com/pages/en/api-manual/video-series/lipsync/lipsync-2"

plugin = UploadingGateway(
    name="aihubmax",
    display_name="AIHubMax",
    docs_url=DOCS,
    base_url="https://api.aihubmax.com",
    models=sync_lipsync_models(callback=False),  # the lipsync-2 schema has no callback_url
    api_key_env=("AIHUBMAX_API_KEY",),
    # No per-second lip-sync price is published: estimates are unknown, citing this page.
    prices=PriceTable(
        provider="aihubmax",
        unit="credits",
        rates={},
        source_url=DOCS,
        as_of=dt.date(2026, 11, 21),
        version="2026-11-21",
    ),
    request_fields="video_url",  # rev B, the only revision AIHubMax documents
)
