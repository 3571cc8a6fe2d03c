"""Where the Temporal cluster is and how to reach it: address, namespace, TLS (mTLS
certificate and key, a CA) and Temporal Cloud's API key, from options or
``LIPBRIDGE_TEMPORAL_*`` variables. The API key is a secret: registered with lipbridge's
scrubber when read, never in a repr, a log line or a workflow's history."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from attrs import field, frozen

from lipbridge.errors import ConfigurationError
from lipbridge.redact import register

if TYPE_CHECKING:
    from temporalio.client import Client as TemporalClient
    from temporalio.client import TLSConfig

ENV = "LIPBRIDGE_TEMPORAL_"
DEFAULT_NAMESPACE = "default"


@frozen(kw_only=True)
class TemporalConfig:
    """How to connect. ``tls_cert``/``tls_key``: mTLS (self-hosted or Cloud's
    certificates); ``tls_ca``: a private CA; ``api_key``: Temporal Cloud's key (TLS on)."""

    address: str
    namespace: str = DEFAULT_NAMESPACE
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    api_key: str | None = field(default=None, repr=lambda key: "***" if key else "None")

    @classmethod
    def resolve(
        cls,
        *,
        address: str | None = None,
        namespace: str | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        tls_ca: str | None = None,
        api_key: str | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> TemporalConfig:
        """Options win over ``LIPBRIDGE_TEMPORAL_ADDRESS``, ``_NAMESPACE``, ``_TLS_CERT``,
        ``_TLS_KEY``, ``_TLS_CA`` and ``_API_KEY``; checked before anything connects."""

        def pick(value: str | None, name: str) -> str | None:
            chosen = value if value else environ.get(ENV + name, "").strip()
            return chosen or None

        where = pick(address, "ADDRESS")
        if where is None:
            raise ConfigurationError(
                f"no Temporal address: give --temporal HOST:PORT or set {ENV}ADDRESS"
            )
        host, sep, port = where.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigurationError(
                f"Temporal address {where!r} is not HOST:PORT (such as 127.0.0.1:7233 or "
                "NS.ACCOUNT.tmprl.cloud:7233)"
            )
        cert, key = pick(tls_cert, "TLS_CERT"), pick(tls_key, "TLS_KEY")
        if (cert is None) != (key is None):
            raise ConfigurationError(
                f"TLS needs both a certificate and its key ({ENV}TLS_CERT and {ENV}TLS_KEY, "
                "or --tls-cert and --tls-key); one was given"
            )
        secret = pick(api_key, "API_KEY")
        if secret is not None:
            if any(not 0x21 <= ord(c) <= 0x7E for c in secret):
                raise ConfigurationError(
                    f"{ENV}API_KEY holds a character no API key has (allowed: printable "
                    "ASCII without spaces)"
                )
            register(secret)  # scrubbed from every lipbridge message and log from now on
        paths = [Path(p).expanduser() if p else None for p in (cert, key, pick(tls_ca, "TLS_CA"))]
        for path, name in zip(paths, ("TLS_CERT", "TLS_KEY", "TLS_CA"), strict=True):
            if path is not None and not path.is_file():
                raise ConfigurationError(f"{ENV}{name}: {path} is not a readable file")
        return cls(
            address=where,
            namespace=pick(namespace, "NAMESPACE") or DEFAULT_NAMESPACE,
            tls_cert=paths[0],
            tls_key=paths[1],
            tls_ca=paths[2],
            api_key=secret,
        )

    def tls(self) -> bool | TLSConfig:
        """TLS as the SDK takes it: on with certificates, a CA or an API key, else off."""
        from temporalio.client import TLSConfig

        if self.tls_cert is None and self.tls_ca is None:
            return self.api_key is not None  # Temporal Cloud's API keys need TLS
        return TLSConfig(
            server_root_ca_cert=self.tls_ca.read_bytes() if self.tls_ca else None,
            client_cert=self.tls_cert.read_bytes() if self.tls_cert else None,
            client_private_key=self.tls_key.read_bytes() if self.tls_key else None,
        )

    async def connect(self) -> TemporalClient:
        from temporalio.client import Client

        return await Client.connect(
            self.address, namespace=self.namespace, api_key=self.api_key, tls=self.tls()
        )
