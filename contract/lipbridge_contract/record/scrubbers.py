"""What the recorder does to every exchange before vcrpy writes it.

Each request and response is rewritten (the base URL recorded against becomes the
provider's default, so replays match) and scrubbed (the keys, credential headers and
anything :mod:`lipbridge_contract.scrub` recognises become ``[REDACTED]``). The sidecar
gets the same treatment, so the two files never disagree about a URL or leak a key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from attrs import frozen

from lipbridge_contract.scrub import scrub_headers, scrub_text

Rewrites = Sequence[tuple[str, str]]  # (old, new), applied in order to everything written


def clean(text: str, secrets: Sequence[str], rewrites: Rewrites = ()) -> str:
    """``text`` rewritten, then scrubbed of ``secrets`` and every secret pattern. Each
    rewrite applies URL-encoded too: a URL sent as a query parameter (a lookup by input
    URL) is written the way the replay will send it."""
    for old, new in rewrites:
        text = text.replace(old, new).replace(quote(old, safe=""), quote(new, safe=""))
    return scrub_text(text, secrets)


def _text(body: Any) -> str:
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)


@frozen(kw_only=True)
class Scrubbers:
    """vcrpy's ``before_record_request`` and ``before_record_response`` hooks."""

    secrets: Sequence[str]
    rewrites: Rewrites
    secret_headers: Sequence[str]  # the plugin's auth header and its own secret headers

    def _clean(self, text: str) -> str:
        return clean(text, self.secrets, self.rewrites)

    def request(self, req: Any) -> Any:
        req.uri = self._clean(req.uri)
        req.headers = scrub_headers(dict(req.headers), self.secret_headers)
        if req.body:
            req.body = self._clean(_text(req.body)).encode()
        return req

    def response(self, resp: dict[str, Any]) -> dict[str, Any]:
        headers = scrub_headers(dict(resp.get("headers") or {}), self.secret_headers)
        resp["headers"] = {
            name: [self._clean(str(v)) for v in values] if isinstance(values, list) else values
            for name, values in headers.items()
        }
        body = resp.get("body", {}).get("string", b"")
        resp["body"] = {"string": self._clean(_text(body))}
        return resp

