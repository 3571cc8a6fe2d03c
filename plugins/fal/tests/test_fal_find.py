"""Finding a fal request whose submit answer was lost: the platform API's listing on its
own host (with the key: a declared API of fal's), paged, matched on the submitted input,
and following a base URL pointed at an emulator."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from lipbridge import JobRequest, PluginContractError, ProviderProtocolError
from lipbridge.hosts import api_http
from lipbridge.plugin import ProviderInfo
from lipbridge_contract.testing import TEST_KEY, answer, scripted_client

SINCE = dt.datetime(2026, 1, 22, 9, 40, tzinfo=dt.timezone.utc)
REQUEST = JobRequest(
    video="https://example.com/face.mp4",
    audio="https://example.com/speech.wav",
    sync_mode="cut_off",
)
INPUT = {"video_url": REQUEST.video, "audio_url": REQUEST.audio, "sync_mode": "cut_off"}


def item(rid: str, sent: str, given: Any = INPUT) -> dict[str, Any]:
    return {
        "request_id": rid,
        "endpoint_id": "fal-ai/sync-lipsync/v2",
        "sent_at": sent,
        "json_input": given,
        "status_code": 200,
    }


def page(*items: dict[str, Any], cursor: str | None = None) -> dict[str, Any]:
    return {"items": list(items), "next_cursor": cursor, "has_more": cursor is not None}


def test_the_listing_is_asked_on_the_platform_host_with_the_key_and_paged() -> None:
    client, transport = scripted_client(
        "fal",
        answer(page(item("a", "2026-01-22T09:50:00Z", {**INPUT, "video_url": "x"}), cursor="Mg==")),
        answer(page(item("b", "2026-01-22T09:46:10Z"), item("c", "2026-01-22T09:41:00Z", None))),
    )
    found = client.find_jobs("fal", REQUEST, SINCE)
    assert [(h.job_id, h.created_at.isoformat()) for h in found] == [
        ("b", "2026-01-22T09:46:10+00:00")
    ]
    first, second = transport.sent
    parts = urlsplit(first.url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "api.fal.ai",
        "/v1/models/requests/by-endpoint",
    )
    assert parse_qs(parts.query) == {
        "endpoint_id": ["fal-ai/sync-lipsync/v2"],
        "start": ["2026-01-22T09:40:00Z"],
        "limit": ["100"],
        "expand": ["payloads"],
    }
    assert first.headers["Authorization"] == f"Key {TEST_KEY}"
    assert parse_qs(urlsplit(second.url).query)["cursor"] == ["Mg=="]


def test_requests_before_since_and_other_inputs_are_passed_over() -> None:
    client, _ = scripted_client(
        "fal",
        answer(
            page(
                item("old", "2026-01-22T09:39:59Z"),
                item("other", "2026-01-22T09:45:00Z", {**INPUT, "sync_mode": "loop"}),
            )
        ),
    )
    assert client.find_jobs("fal", REQUEST, SINCE) == []


def test_a_listing_without_items_is_the_providers_fault() -> None:
    client, _ = scripted_client("fal", answer({"requests": []}))
    with pytest.raises(ProviderProtocolError, match="no items list"):
        client.find_jobs("fal", REQUEST, SINCE)


def test_an_emulator_base_url_receives_the_listing_too() -> None:
    base = "http://127.0.0.1:8123/fal"
    client, transport = scripted_client(
        "fal", answer(page()), environ={"LIPBRIDGE_FAL_BASE_URL": base}
    )
    client.find_jobs("fal", REQUEST, SINCE)
    assert transport.sent[0].url.startswith(f"{base}/v1/models/requests/by-endpoint?")


def test_an_undeclared_host_gets_no_key() -> None:
    client, _ = scripted_client("fal")
    info = client.info("fal")
    ctx = client.context("fal", info)
    with pytest.raises(PluginContractError, match=r"not among ProviderInfo\.api_base_urls"):
        api_http(ctx, info, "https://evil.example.com")
    bare = ProviderInfo(**{**_fields(info), "api_base_urls": ()})
    with pytest.raises(PluginContractError):
        api_http(ctx, bare, "https://api.fal.ai")


def _fields(info: ProviderInfo) -> dict[str, Any]:
    import attrs

    return {f.name: getattr(info, f.name) for f in attrs.fields(ProviderInfo)}
