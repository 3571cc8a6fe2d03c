"""Replicate's Standard Webhooks signature: the published test vector, and every refusal.
The contract suite certifies the documented webhooks from
``lipbridge_replicate/cassettes/replicate/callback*``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from lipbridge import CallbackRejected, ConfigurationError, JobState
from lipbridge.context import EPOCH
from lipbridge.plugin import CallbackUpdate
from lipbridge_contract.testing import scripted_client
from lipbridge_replicate.webhooks import signature

# The Standard Webhooks test vector the research notes re-verified.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG = "msg_p5jXN8AQM9LWM0D4loKWxJek"
NOW = str(int(EPOCH.timestamp()))  # the scripted client's clock stands there
BODY = json.dumps(
    {
        "id": "gm3qorzdhgbfurvjtvhg6dckhu",
        "model": "sync/lipsync-2",
        "status": "processing",
        "logs": "a\nb\n",
    }
).encode()


def test_the_published_vector() -> None:
    key = base64.b64decode(SECRET.split("_")[1])
    got = signature(key, MSG, "1614265330", b'{"test": 2432232314}')
    assert f"v1,{got}" == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def sign(body: bytes, stamp: str = NOW, secret: str = SECRET) -> dict[str, str]:
    """The scheme, computed here independently of the plugin."""
    key = base64.b64decode(secret.split("_")[1])
    mac = hmac.new(key, f"{MSG}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": MSG,
        "webhook-timestamp": stamp,
        "webhook-signature": f"v1,bm90IHRoaXMgb25l v1,{base64.b64encode(mac).decode()}",
    }


def parse(
    headers: dict[str, str], body: bytes = BODY, secret: str | None = SECRET
) -> CallbackUpdate:
    environ = {} if secret is None else {"LIPBRIDGE_REPLICATE_WEBHOOK_SECRET": secret}
    client = scripted_client("replicate", environ=environ)[0]
    return client.parse_callback("replicate", headers, body)


def test_a_signed_prediction_reads_as_a_poll_would() -> None:
    update = parse(sign(BODY))
    assert (update.job_id, update.status.state, update.verified) == (
        "gm3qorzdhgbfurvjtvhg6dckhu",
        JobState.RUNNING,
        True,
    )
    assert update.status.logs == ("a", "b")


@pytest.mark.parametrize(
    ("headers", "secret", "error"),
    [
        (sign(BODY), "whsec_b3RoZXIgc2VjcmV0", CallbackRejected),  # another secret
        (sign(BODY), "not base64!", CallbackRejected),
        (sign(BODY, stamp=str(int(NOW) - 3601)), SECRET, CallbackRejected),  # an hour old
        ({**sign(BODY), "webhook-timestamp": "soon"}, SECRET, CallbackRejected),
        ({}, SECRET, CallbackRejected),
        (sign(BODY), None, ConfigurationError),
    ],
)
def test_refusals(headers: dict[str, str], secret: str | None, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse(headers, secret=secret)


def test_an_altered_body_is_refused() -> None:
    with pytest.raises(CallbackRejected):
        parse(sign(BODY), body=BODY.replace(b"processing", b"succeeded"))


def test_a_signed_body_that_is_no_prediction_is_refused() -> None:
    with pytest.raises(CallbackRejected, match="not a Replicate prediction"):
        parse(sign(b"[1, 2]"), body=b"[1, 2]")
