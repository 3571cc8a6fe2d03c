"""Local media staged to the user's own object storage, for providers that only fetch URLs.

A provider with no upload API of its own and no inline data URIs can still take a local
file: lipbridge uploads it to a bucket the user names (``LIPBRIDGE_STAGING`` or
``Client(staging=...)``) and sends the provider a presigned GET URL. The storage is
reached through fsspec and its S3, GCS or Azure library, installed as an extra and
imported on first use only, so that nobody who never stages pays for importing them.

Keys are content addressed (``<prefix>/<sha256><suffix>``): a file already staged, by
this process or another, is not uploaded again. Credentials are whatever the storage
library finds by itself (environment, profiles, instance roles) or ``storage_options``;
lipbridge never reads or shows them, and every error names the target, never a secret.
"""

from __future__ import annotations

import datetime as dt
import errno
import importlib
import logging
import math
import re
import threading
from collections.abc import Callable, Mapping
from contextlib import suppress
from pathlib import Path
from typing import Any

from attrs import field, frozen

from lipbridge.context import Clock, SystemClock
from lipbridge.errors import (
    ConfigurationError,
    InvalidRequest,
    LipbridgeError,
    StagingUnavailable,
)
from lipbridge.models import shown
from lipbridge.redact import mask_url, register
from lipbridge.urls import parse_url

log = logging.getLogger("lipbridge.staging")

ENV_TARGET = "LIPBRIDGE_STAGING"
ENV_LIFETIME = "LIPBRIDGE_STAGING_LIFETIME"
ENV_ENDPOINT = "LIPBRIDGE_STAGING_ENDPOINT_URL"

DEFAULT_LIFETIME = 24 * 3600.0
# The longest a presigned URL may live: S3 SigV4 and GCS V4 signatures both stop at 7 days.
MAX_LIFETIME = 7 * 24 * 3600

# Multipart uploads in parts of S3's minimum size, two in flight: the upload holds about
# 20 MiB however large the file (the libraries' defaults read up to 500 MiB at once).
PART_BYTES = 5 * 2**20
PARTS_IN_FLIGHT = 2

_SHA256 = re.compile(r"[0-9a-f]{64}")
# Storage options holding credentials, registered with the redactor so no message shows them.
_SECRET_OPTION = re.compile(r"key|secret|token|password|credential|connection_string|sas")
# Failures matched by class name (in the exception's MRO), so that no storage library is
# imported here: network trouble and throttling may pass, missing credentials will not.
_TRANSIENT = frozenset(
    {"ConnectionError", "TimeoutError", "HTTPClientError", "ClientConnectionError",
     "ServiceRequestError", "ServiceResponseError"}
)
_NO_CREDENTIALS = frozenset(
    {"NoCredentialsError", "PartialCredentialsError", "DefaultCredentialsError",
     "ClientAuthenticationError"}
)
# s3fs's codes for 503 SlowDown and 500 InternalError.
_BUSY_ERRNOS = frozenset({errno.EBUSY, getattr(errno, "EREMOTEIO", errno.EIO)})


@frozen
class _Backend:
    """What differs between the storage libraries lipbridge stages through."""

    extra: str
    library: str
    credentials: str  # where the library finds them, for error messages
    endpoint: bool  # whether it takes ``endpoint_url`` (S3-compatible and fake servers)
    # ``put_file`` keywords setting the Content-Type and bounding memory, in its spelling.
    upload: Callable[[str], dict[str, Any]]


_S3 = _Backend(
    "s3", "s3fs",
    "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or the machine's role",
    endpoint=True,
    upload=lambda media_type: {"ContentType": media_type, "chunksize": PART_BYTES,
                               "max_concurrency": PARTS_IN_FLIGHT},
)
_GCS = _Backend(
    "gcs", "gcsfs",
    "GOOGLE_APPLICATION_CREDENTIALS naming a service account key (presigning needs one)",
    endpoint=True,
    upload=lambda media_type: {"content_type": media_type, "chunksize": PART_BYTES},
)
_AZURE = _Backend(
    "azure", "adlfs",
    "AZURE_STORAGE_ACCOUNT_NAME with AZURE_STORAGE_ACCOUNT_KEY, or "
    "AZURE_STORAGE_CONNECTION_STRING (presigning needs the account key)",
    endpoint=False,
    upload=lambda media_type: {"content_settings": {"content_type": media_type},
                               "max_concurrency": PARTS_IN_FLIGHT},
)
_BACKENDS = {"s3": _S3, "s3a": _S3, "gs": _GCS, "gcs": _GCS, "az": _AZURE, "abfs": _AZURE,
             "abfss": _AZURE}
_ALLOWED_TARGETS = "s3://bucket/prefix, gs://bucket/prefix or az://container/prefix"


@frozen
class Staged:
    """A staged file: the URL to hand the provider, where it lives, and until when."""

    url: str = field(repr=lambda url: repr(mask_url(url)))  # presigned GET: a bearer secret
    location: str  # e.g. s3://bucket/prefix/<sha256>.mp4, no credentials
    expires_at: dt.datetime  # aware UTC


def _target(text: str, setting: str) -> tuple[str, str, str]:
    """``(protocol, bucket, prefix)`` of a staging target, or ConfigurationError naming
    ``setting``, the value and what is allowed."""
    protocol, sep, rest = text.partition("://")
    bucket, _, prefix = rest.partition("/")
    prefix = prefix.strip("/")
    if not sep or protocol not in _BACKENDS:
        problem = f"uses protocol {protocol!r}" if sep else "has no protocol"
    elif "@" in bucket:
        problem = "holds credentials (give them to the storage library instead)"
    elif not re.fullmatch(r"[a-z0-9][a-z0-9._-]*[a-z0-9]", bucket):
        problem = "has no valid bucket name" if bucket else "has no bucket"
    elif re.search(r"[?#\s\x00-\x1f\x7f]|//|(^|/)\.\.?(/|$)", prefix):
        problem = "has a prefix with a query, whitespace, an empty part or a dot part"
    else:
        return protocol, bucket, prefix
    raise ConfigurationError(f"{setting}={shown(text)} {problem}; allowed: {_ALLOWED_TARGETS}")


def _lifetime(value: object, setting: str) -> int:
    """Whole seconds a presigned URL lives (``value`` may be the environment's text), or
    ConfigurationError naming ``setting``."""
    number: object = value
    if isinstance(value, str):
        with suppress(ValueError):
            number = float(value)
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        number = None
    if number is None or not math.isfinite(number) or not 1 <= number <= MAX_LIFETIME:
        raise ConfigurationError(
            f"{setting}={shown(value)} is not a lifetime lipbridge can sign; allowed: 1 to "
            f"{MAX_LIFETIME} seconds (7 days, the longest a presigned URL lives)"
        )
    return int(number)


def _register_secrets(options: Mapping[str, Any]) -> None:
    """Make the redactor scrub every credential-like storage option from messages and logs."""
    for name, value in options.items():
        if isinstance(value, Mapping):
            _register_secrets(value)
        elif isinstance(value, str) and _SECRET_OPTION.search(name.lower()):
            register(value)


class Staging:
    """Uploads local files to ``target`` and presigns them for ``lifetime`` seconds."""

    def __init__(
        self,
        target: str,
        *,
        lifetime: float = DEFAULT_LIFETIME,
        clock: Clock | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._protocol, self._bucket, self._prefix = _target(target, "staging")
        self.target = target
        self.lifetime = _lifetime(lifetime, "lifetime")
        self.clock: Clock = clock or SystemClock()
        self._backend = _BACKENDS[self._protocol]
        options = dict(storage_options or {})
        _register_secrets(options)
        if self._backend is _S3:  # SigV4, which every region accepts, not botocore's SigV2
            options["config_kwargs"] = {"signature_version": "s3v4",
                                        **options.get("config_kwargs", {})}
        self._options = options
        self._filesystem: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Staging | None:
        """The staging ``LIPBRIDGE_STAGING*`` describes, or None when it is not set."""
        target = environ.get(ENV_TARGET, "").strip()
        if not target:
            return None
        protocol = _target(target, ENV_TARGET)[0]
        raw = environ.get(ENV_LIFETIME, "").strip()
        lifetime = _lifetime(raw, ENV_LIFETIME) if raw else DEFAULT_LIFETIME
        options: dict[str, Any] = {}
        if endpoint := environ.get(ENV_ENDPOINT, "").strip():
            if not _BACKENDS[protocol].endpoint:
                raise ConfigurationError(
                    f"{ENV_ENDPOINT}={shown(endpoint)} cannot be used with {ENV_TARGET}="
                    f"{shown(target)}; allowed: only with s3:// or gs:// targets"
                )
            parse_url(endpoint, field=ENV_ENDPOINT, local_http_only=True,
                      error=ConfigurationError)
            options["endpoint_url"] = endpoint
        return cls(target, lifetime=lifetime, storage_options=options)

    def __repr__(self) -> str:
        return f"Staging({self.target!r})"

    def stage(self, path: Path, *, sha256: str, media_type: str) -> Staged:
        """Upload ``path`` unless its content is there already, and presign it.

        ``sha256`` is the file's hex digest, computed by the caller who has read the file
        anyway; it names the object, so one file is uploaded once however often it is used.
        """
        digest = sha256.lower()
        if not _SHA256.fullmatch(digest):
            raise ValueError(f"sha256={sha256!r} is not a hex SHA-256 digest")
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise InvalidRequest(f"{str(path)!r} cannot be read: {exc.strerror or exc}") from None
        key = "/".join(filter(None, (self._prefix, digest + path.suffix.lower())))
        remote = f"{self._bucket}/{key}"
        location = f"{self._protocol}://{remote}"
        fs = self._fs()
        try:
            if self._holds(fs, remote, size):
                log.debug("%s already staged at %s", path, location)
            else:
                fs.put_file(str(path), remote, **self._backend.upload(media_type))
                log.info("staged %s (%d bytes) at %s", path, size, location)
            signed_at = self.clock.now().astimezone(dt.timezone.utc)
            url = fs.sign(remote, expiration=self.lifetime)
        except Exception as exc:
            raise self._failure(exc) from None
        return Staged(url=url, location=location,
                      expires_at=signed_at + dt.timedelta(seconds=self.lifetime))

    def _fs(self) -> Any:
        """The storage library's filesystem, built on first use (importing it is slow)."""
        with self._lock:
            if self._filesystem is None:
                try:  # importlib: fsspec has no type information
                    fsspec = importlib.import_module("fsspec")
                    self._filesystem = fsspec.filesystem(
                        self._protocol, skip_instance_cache=True, **self._options
                    )
                except ImportError:
                    raise ConfigurationError(
                        f"staging to {self.target} needs {self._backend.library}, which is not "
                        f"installed: pip install 'lipbridge[{self._backend.extra}]'"
                    ) from None
                except Exception as exc:  # some libraries look for credentials right away
                    raise self._failure(exc) from None
            return self._filesystem

    @staticmethod
    def _holds(fs: Any, remote: str, size: int) -> bool:
        """Whether ``remote`` exists with ``size`` bytes: content addressed, so it is ours."""
        try:
            return bool(fs.info(remote)["size"] == size)
        except FileNotFoundError:
            return False

    def _failure(self, exc: Exception) -> LipbridgeError:
        """The lipbridge error for a storage library's failure, saying how to fix it."""
        names = {cls.__name__ for cls in type(exc).__mro__}
        cause = f"{type(exc).__name__}: {exc}"
        if names & _NO_CREDENTIALS or isinstance(exc, PermissionError):
            return ConfigurationError(
                f"staging to {self.target} was refused ({cause}); give {self._backend.library} "
                f"credentials that may write and read {self._bucket!r}: "
                f"{self._backend.credentials}"
            )
        if isinstance(exc, FileNotFoundError):
            return ConfigurationError(
                f"staging to {self.target} failed: bucket {self._bucket!r} does not exist "
                f"({cause}); create it, or point {ENV_TARGET} at one that does"
            )
        if names & _TRANSIENT or (isinstance(exc, OSError) and exc.errno in _BUSY_ERRNOS):
            return StagingUnavailable(
                f"staging to {self.target} failed for now ({cause}); try again later"
            )
        return ConfigurationError(
            f"staging to {self.target} failed ({cause}); check {ENV_TARGET} and the storage "
            "options"
        )
