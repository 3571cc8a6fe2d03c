"""The Temporal connection's settings: options over LIPBRIDGE_TEMPORAL_* variables,
checked before anything connects; the Cloud API key is a secret like a provider's. And
the providers a worker serves: only those it has a key for."""

from __future__ import annotations

import logging
from pathlib import Path

import click
import pytest

from lipbridge import Client
from lipbridge.errors import ConfigurationError
from lipbridge.redact import scrub
from lipbridge_temporal.cli import providers_of
from lipbridge_temporal.config import TemporalConfig

API_KEY = "tcld-ApiKeyThatMustNeverBeShown-0123456789"


def test_options_win_over_the_environment_and_the_namespace_defaults() -> None:
    env = {"LIPBRIDGE_TEMPORAL_ADDRESS": "env:7233", "LIPBRIDGE_TEMPORAL_NAMESPACE": "envns"}
    assert TemporalConfig.resolve(environ=env).namespace == "envns"
    given = TemporalConfig.resolve(address="127.0.0.1:7000", environ=env)
    assert (given.address, given.namespace) == ("127.0.0.1:7000", "envns")
    assert TemporalConfig.resolve(address="h:1", environ={}).namespace == "default"
    assert TemporalConfig.resolve(address="h:1", environ={}).tls() is False


@pytest.mark.parametrize(
    ("address", "why"),
    [
        (None, "no Temporal address"),
        ("localhost", "is not HOST:PORT"),
        ("h:99999", "is not HOST:PORT"),
        (":7233", "is not HOST:PORT"),
    ],
)
def test_a_bad_address_is_refused_naming_it(address: str | None, why: str) -> None:
    with pytest.raises(ConfigurationError, match=why):
        TemporalConfig.resolve(address=address, environ={})


def test_tls_needs_a_certificate_and_its_key_that_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="both a certificate and its key"):
        TemporalConfig.resolve(address="h:1", tls_cert=str(tmp_path / "c.pem"), environ={})
    cert = tmp_path / "c.pem"
    cert.write_text("cert")
    with pytest.raises(ConfigurationError, match=r"TLS_KEY: .* is not a readable file"):
        TemporalConfig.resolve(
            address="h:1", tls_cert=str(cert), tls_key=str(tmp_path / "k.pem"), environ={}
        )


def test_the_api_key_turns_tls_on_and_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    env = {
        "LIPBRIDGE_TEMPORAL_ADDRESS": "ns.acct.tmprl.cloud:7233",
        "LIPBRIDGE_TEMPORAL_API_KEY": API_KEY,
    }
    config = TemporalConfig.resolve(environ=env)
    assert config.api_key == API_KEY
    assert config.tls() is True
    assert API_KEY not in repr(config)
    assert API_KEY not in scrub(f"rejected key {API_KEY}")  # registered with the scrubber
    with caplog.at_level(logging.DEBUG, logger="lipbridge"):
        logging.getLogger("lipbridge.temporal").warning("connecting with %s", API_KEY)
    assert API_KEY not in caplog.text
    with pytest.raises(ConfigurationError, match="printable ASCII") as refused:
        TemporalConfig.resolve(address="h:1", api_key="bad key\n" + API_KEY, environ={})
    assert API_KEY not in str(refused.value)


def test_a_worker_serves_only_the_providers_it_has_a_key_for() -> None:
    client = Client(environ={"LIPBRIDGE_FOXAPI_API_KEY": "fox-key-0123456789"}, ledger=False)
    assert providers_of(client, None) == ["foxapi"]
    assert providers_of(client, "foxapi") == ["foxapi"]
    with pytest.raises(ConfigurationError, match="no API key for provider 'syncso'"):
        providers_of(client, "foxapi,syncso")  # named without a key: refused, not skipped
    with pytest.raises(click.BadParameter, match="nope not installed"):
        providers_of(client, "nope")
