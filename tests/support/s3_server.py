"""A real S3-compatible server for the tests: moto's, on 127.0.0.1, one per test session.

moto speaks S3 over HTTP like any S3-compatible store, so staging and the end-to-end tests
drive s3fs, botocore and presigned URLs for real, with no internet. What it does not do:
check the signature or the expiry of a presigned URL (assert those on the URL itself), or
check credentials (its auth mode breaks presigned GETs, so it stays off). Its buckets live
in this process's memory for the whole session: each test makes its own with
:meth:`S3Server.new_bucket`.
"""

from __future__ import annotations

import itertools
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

# Not us-east-1: creating a bucket there with a LocationConstraint is refused.
REGION = "eu-west-1"
ACCESS_KEY = "AKIALIPBRIDGETEST000"
SECRET_KEY = "lipbridge-fake-s3-secret-0123456789abcdef"  # asserted absent from messages


class S3Server:
    """moto's S3 on a free port of 127.0.0.1."""

    def __init__(self) -> None:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self._names = itertools.count(1)
        self.url = ""

    def start(self) -> S3Server:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.url = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def client(self) -> Any:
        """A boto3 S3 client for setting up and inspecting buckets, with the fake keys."""
        return boto3.client("s3", endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)

    def new_bucket(self, *, versioned: bool = False) -> str:
        """A new, empty bucket; ``versioned`` keeps every upload, so tests can count them."""
        name = f"lipbridge-test-{next(self._names)}"
        client = self.client()
        client.create_bucket(Bucket=name,
                             CreateBucketConfiguration={"LocationConstraint": REGION})
        if versioned:
            client.put_bucket_versioning(Bucket=name,
                                         VersioningConfiguration={"Status": "Enabled"})
        return name

    def uploads(self, bucket: str) -> list[str]:
        """The key of every object version ever written to ``bucket`` (versioned buckets)."""
        versions = self.client().list_object_versions(Bucket=bucket).get("Versions", [])
        return sorted(v["Key"] for v in versions)


class RefusingStore:
    """An S3 endpoint on 127.0.0.1 refusing every request as S3 refuses unknown keys (403
    InvalidAccessKeyId), which moto, checking no credentials, never does."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        store = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def refuse(self) -> None:
                store.requests.append(f"{self.command} {self.path}")
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                body = (b"<Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id "
                        b"you provided does not exist in our records.</Message></Error>")
                self.send_response(403)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_HEAD = do_GET = do_PUT = do_POST = refuse

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> RefusingStore:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def fake_aws_environment(monkeypatch: pytest.MonkeyPatch, home: Path) -> None:
    """Only the fake keys for botocore to find: no profile, config file, session token,
    instance metadata or endpoint of this machine is read."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
                 "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ENDPOINT_URL",
                 "AWS_ENDPOINT_URL_S3", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "no-aws-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "no-aws-config"))
