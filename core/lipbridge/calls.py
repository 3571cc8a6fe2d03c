"""What a plugin's HTTP calls are and what they read: :class:`CallKind` and :class:`Response`.

Plain values, kept apart from the HTTP stack that sends the calls (:mod:`lipbridge.http`,
:mod:`lipbridge.transport`, which re-export them): a plugin imports them when it loads,
and loading plugins (``lipbridge providers``) must not pay for urllib3.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from lipbridge.errors import ProviderProtocolError, excerpt


class CallKind(str, enum.Enum):
    SUBMIT = "submit"
    POLL = "poll"
    CANCEL = "cancel"
    ESTIMATE = "estimate"
    UPLOAD = "upload"  # a local file to the provider's own storage, before the submit

    @property
    def idempotent(self) -> bool:
        return self is not CallKind.SUBMIT


@frozen(kw_only=True)
class Response:
    """A read response. Header names are lower-cased.

    ``truncated``: the body went past the transport's limit; ``body`` holds its start.
    """

    method: str
    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def json(self, provider: str = "") -> Any:
        """The parsed body; a non-JSON body is a :class:`ProviderProtocolError`."""
        import json  # imported here: loading plugins, which import this module, reads none

        try:
            return json.loads(self.body)
        except (ValueError, RecursionError):
            raise ProviderProtocolError(
                f"{self.method} {self.url} answered HTTP {self.status} with a non-JSON body",
                provider=provider,
                http_status=self.status,
                body_excerpt=excerpt(self.body),
            ) from None

    def excerpt(self) -> str:
        return excerpt(self.body)
