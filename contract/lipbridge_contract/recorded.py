"""A cassette's interactions as plain data, read with the safe YAML loader.

vcrpy replays cassettes; the checks also need to read them directly (to compare request
bodies, scan for secrets, and reuse recorded responses as fuzzing seeds).
"""

from __future__ import annotations

import email.parser
import email.policy
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from attrs import field, frozen

from lipbridge.plugin import Response


class CassetteFormatError(Exception):
    """The file is not a vcrpy version-1 cassette the safe loader can read."""


@frozen(kw_only=True)
class FormPart:
    """One part of a ``multipart/form-data`` body: a text field, or a file with its name."""

    filename: str | None
    content_type: str | None  # as the part declares it; None when it declares none
    data: bytes


def form_parts(content_type: str | None, body: bytes | None) -> dict[str, FormPart] | None:
    """A ``multipart/form-data`` body's parts by name, as a server reads them; None for
    any other body. Boundaries differ at every send, so forms compare part by part."""
    if not content_type or content_type.partition(";")[0].strip().lower() != (
        "multipart/form-data"
    ):
        return None
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + (body or b""))
    if not message.is_multipart():
        return None
    parts = {}
    for part in message.iter_parts():
        data = part.get_payload(decode=True)
        parts[str(part.get_param("name", header="content-disposition"))] = FormPart(
            filename=part.get_filename(),
            content_type=part.get_content_type() if "content-type" in part else None,
            data=data if isinstance(data, bytes) else b"",
        )
    return parts


def _text(body: Any) -> bytes:
    if isinstance(body, Mapping):
        body = body.get("string")
    if body is None:
        return b""
    return body if isinstance(body, bytes) else str(body).encode()


def _headers(raw: Any) -> dict[str, str]:
    if not isinstance(raw, Mapping):
        return {}
    out = {}
    for name, value in raw.items():
        values = value if isinstance(value, list) else [value]
        out[str(name).lower()] = ", ".join(str(v) for v in values)
    return out


@frozen(kw_only=True)
class Interaction:
    method: str
    uri: str
    request_headers: Mapping[str, str] = field(hash=False)
    request_body: bytes
    status: int
    headers: Mapping[str, str] = field(hash=False)
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.uri).path

    def json(self) -> Any:
        """The response body parsed, or None when it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def response(self) -> Response:
        return Response(
            method=self.method,
            url=self.uri,
            status=self.status,
            headers=self.headers,
            body=self.body,
        )


def load_raw(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CassetteFormatError(f"{path.name}: not loadable with yaml.safe_load: {exc}") from None


def load_interactions(path: Path) -> list[Interaction]:
    data = load_raw(path)
    if not isinstance(data, Mapping) or data.get("version") != 1:
        raise CassetteFormatError(f"{path.name}: not a vcrpy cassette (version 1)")
    items = data.get("interactions")
    if not isinstance(items, list):
        raise CassetteFormatError(f"{path.name}: 'interactions' must be a list")
    out = []
    for n, item in enumerate(items):
        try:
            request, response = item["request"], item["response"]
            out.append(
                Interaction(
                    method=str(request["method"]).upper(),
                    uri=str(request["uri"]),
                    request_headers=_headers(request.get("headers")),
                    request_body=_text(request.get("body")),
                    status=int(response["status"]["code"]),
                    headers=_headers(response.get("headers")),
                    body=_text(response.get("body")),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise CassetteFormatError(f"{path.name}: interaction {n} is malformed: {exc}") from None
    return out
