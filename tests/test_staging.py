"""Staging local media to the user's object storage (issue 15), against moto's S3 on
127.0.0.1: real uploads through s3fs, real presigned URLs fetched over HTTP.

moto checks neither a presigned URL's signature nor its expiry, so the lifetime is asserted
on the URL's own ``X-Amz-Expires``; each test has its own bucket and secrets of its own.
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import logging
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import s3fs
import urllib3
from botocore.exceptions import EndpointConnectionError
from conftest import FakeClock
from s3_server import ACCESS_KEY, SECRET_KEY, RefusingStore, S3Server

from lipbridge import ConfigurationError, InvalidRequest, StagingUnavailable
from lipbridge.redact import mask_url, mask_url_secrets
from lipbridge.staging import Staging

VIDEO = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 300  # about 75 KiB
PREFIX = "lipbridge/inputs"


def media(folder: Path, name: str, data: bytes = VIDEO) -> tuple[Path, str]:
    """A local file and its sha256, as the caller of ``stage`` has them."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def staging(s3: S3Server, bucket: str, lifetime: float = 24 * 3600) -> Staging:
    return Staging(f"s3://{bucket}/{PREFIX}", lifetime=lifetime, clock=FakeClock(),
                   storage_options={"endpoint_url": s3.url})


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def get(url: str) -> urllib3.BaseHTTPResponse:
    return urllib3.PoolManager(retries=False).request("GET", url, timeout=30)


def python(code: str) -> list[str]:
    """The lines ``code`` prints, run in a fresh interpreter (nothing imported yet)."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


# --- uploads and URLs -----------------------------------------------------------------------


def test_the_presigned_url_serves_the_file_with_its_type(s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.new_bucket()
    path, sha = media(tmp_path, "Face.MP4")
    staged = staging(s3, bucket).stage(path, sha256=sha, media_type="video/mp4")

    assert staged.location == f"s3://{bucket}/{PREFIX}/{sha}.mp4"
    assert staged.url.startswith(f"{s3.url}/{bucket}/{PREFIX}/{sha}.mp4?")
    answer = get(staged.url)
    assert answer.status == 200
    assert answer.data == VIDEO
    assert answer.headers["Content-Type"] == "video/mp4"
    assert get(staged.url.partition("?")[0]).status == 403  # private: the signature grants it


def test_the_content_type_is_the_one_given_not_guessed(s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.new_bucket()
    path, sha = media(tmp_path, "speech.bin", b"RIFF....WAVEfmt " * 100)
    staged = staging(s3, bucket).stage(path, sha256=sha, media_type="audio/wav")
    assert staged.location.endswith(f"/{sha}.bin")
    assert get(staged.url).headers["Content-Type"] == "audio/wav"


def test_a_target_without_prefix_stages_at_the_bucket_root(s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.new_bucket()
    path, sha = media(tmp_path, "face.mp4")
    staged = Staging(f"s3://{bucket}", storage_options={"endpoint_url": s3.url}).stage(
        path, sha256=sha.upper(), media_type="video/mp4")
    assert staged.location == f"s3://{bucket}/{sha}.mp4"
    assert get(staged.url).data == VIDEO


def test_the_same_content_is_uploaded_once(s3: S3Server, tmp_path: Path) -> None:
    """Versioned, the bucket keeps every upload: one per content, however often it is staged,
    by whichever Staging (another process) and from whatever local name."""
    bucket = s3.new_bucket(versioned=True)
    first, sha = media(tmp_path / "a", "face.mp4")
    copy, _ = media(tmp_path / "b", "take-2.mp4")
    other, other_sha = media(tmp_path, "other.mp4", VIDEO[::-1])
    one, two = staging(s3, bucket), staging(s3, bucket)

    urls = [one.stage(first, sha256=sha, media_type="video/mp4"),
            one.stage(copy, sha256=sha, media_type="video/mp4"),
            two.stage(first, sha256=sha, media_type="video/mp4")]
    assert s3.uploads(bucket) == [f"{PREFIX}/{sha}.mp4"]
    assert {staged.location for staged in urls} == {f"s3://{bucket}/{PREFIX}/{sha}.mp4"}

    two.stage(other, sha256=other_sha, media_type="video/mp4")
    assert s3.uploads(bucket) == sorted([f"{PREFIX}/{sha}.mp4", f"{PREFIX}/{other_sha}.mp4"])


def test_an_object_of_another_size_under_the_key_is_replaced(
    s3: S3Server, tmp_path: Path
) -> None:
    """A partial object (an upload cut short by hand) is not taken for the file."""
    bucket = s3.new_bucket()
    path, sha = media(tmp_path, "face.mp4")
    s3.client().put_object(Bucket=bucket, Key=f"{PREFIX}/{sha}.mp4", Body=VIDEO[:100])
    staged = staging(s3, bucket).stage(path, sha256=sha, media_type="video/mp4")
    assert get(staged.url).data == VIDEO


def test_a_large_file_goes_up_in_parts(s3: S3Server, tmp_path: Path) -> None:
    """Over two parts' worth, the upload is multipart (memory holds two parts, not the file)."""
    bucket = s3.new_bucket()
    data = bytes(range(256)) * (11 * 2**20 // 256 + 1)
    path, sha = media(tmp_path, "long.mp4", data)
    staged = staging(s3, bucket).stage(path, sha256=sha, media_type="video/mp4")
    head = s3.client().head_object(Bucket=bucket, Key=f"{PREFIX}/{sha}.mp4")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"')  # three parts of 5 MiB at most
    assert hashlib.sha256(get(staged.url).data).hexdigest() == sha


# --- lifetime -------------------------------------------------------------------------------


def test_urls_live_24_hours_by_default_signed_with_sigv4(s3: S3Server, tmp_path: Path) -> None:
    bucket = s3.new_bucket()
    path, sha = media(tmp_path, "face.mp4")
    clock = FakeClock()
    staged = Staging(f"s3://{bucket}/{PREFIX}", clock=clock,
                     storage_options={"endpoint_url": s3.url}).stage(
        path, sha256=sha, media_type="video/mp4")
    signed = query(staged.url)
    assert signed["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert signed["X-Amz-Expires"] == "86400"
    assert staged.expires_at == clock.now() + dt.timedelta(hours=24)
    assert staged.expires_at.tzinfo == dt.timezone.utc


@pytest.mark.parametrize(("lifetime", "expires"), [(3600, "3600"), (604800, "604800"),
                                                   (90.9, "90")])
def test_a_custom_lifetime_is_signed_into_the_url(
    s3: S3Server, tmp_path: Path, lifetime: float, expires: str
) -> None:
    bucket = s3.new_bucket()
    path, sha = media(tmp_path, "face.mp4")
    work = staging(s3, bucket, lifetime=lifetime)
    staged = work.stage(path, sha256=sha, media_type="video/mp4")
    assert query(staged.url)["X-Amz-Expires"] == expires
    assert staged.expires_at == FakeClock().now() + dt.timedelta(seconds=int(expires))


def test_the_environment_sets_target_lifetime_and_endpoint(
    s3: S3Server, tmp_path: Path
) -> None:
    bucket = s3.new_bucket()
    path, sha = media(tmp_path, "face.mp4")
    work = Staging.from_environ({"LIPBRIDGE_STAGING": f" s3://{bucket}/{PREFIX}/ ",
                                 "LIPBRIDGE_STAGING_LIFETIME": "600",
                                 "LIPBRIDGE_STAGING_ENDPOINT_URL": s3.url})
    assert work is not None
    assert repr(work) == f"Staging('s3://{bucket}/{PREFIX}/')"
    staged = work.stage(path, sha256=sha, media_type="video/mp4")
    assert query(staged.url)["X-Amz-Expires"] == "600"
    assert staged.location == f"s3://{bucket}/{PREFIX}/{sha}.mp4"


@pytest.mark.parametrize("environ", [{}, {"LIPBRIDGE_STAGING": "  "},
                                     {"LIPBRIDGE_STAGING_LIFETIME": "600"}])
def test_no_target_means_no_staging(environ: dict[str, str]) -> None:
    assert Staging.from_environ(environ) is None


@pytest.mark.parametrize("lifetime", [0, -1, 0.5, 604801, float("nan"), float("inf"), True])
def test_a_lifetime_outside_1s_to_7_days_is_refused(lifetime: float) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Staging("s3://bucket/p", lifetime=lifetime)
    assert f"lifetime={lifetime!r} is not a lifetime" in str(caught.value)
    assert "allowed: 1 to 604800 seconds (7 days" in str(caught.value)


@pytest.mark.parametrize("raw", ["abc", "0", "1e9", "-5", "nan", "1 day"])
def test_a_bad_lifetime_in_the_environment_names_the_variable(raw: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        Staging.from_environ({"LIPBRIDGE_STAGING": "s3://bucket/p",
                              "LIPBRIDGE_STAGING_LIFETIME": raw})
    assert f"LIPBRIDGE_STAGING_LIFETIME={raw!r} is not a lifetime" in str(caught.value)
    assert "allowed: 1 to 604800 seconds" in str(caught.value)


# --- configuration errors -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("bucket/prefix", "has no protocol"),
        ("file:///tmp/staging", "uses protocol 'file'"),
        ("https://bucket.example/p", "uses protocol 'https'"),
        ("s3://", "has no bucket"),
        ("s3://My_Bucket/p", "has no valid bucket name"),
        ("s3://bucket/a//b", "has a prefix with"),
        ("s3://bucket/../up", "has a prefix with"),
        ("s3://bucket/p?x=1", "has a prefix with"),
    ],
)
def test_a_bad_target_is_refused_naming_the_setting(target: str, problem: str) -> None:
    for make, setting in ((lambda: Staging(target), "staging"),
                          (lambda: Staging.from_environ({"LIPBRIDGE_STAGING": target}),
                           "LIPBRIDGE_STAGING")):
        with pytest.raises(ConfigurationError) as caught:
            make()
        message = str(caught.value)
        assert f"{setting}={target!r} {problem}" in message
        assert "allowed: s3://bucket/prefix, gs://bucket/prefix or az://container/prefix" in message


def test_credentials_in_the_target_are_refused_and_not_shown() -> None:
    with pytest.raises(ConfigurationError) as caught:
        Staging(f"s3://{ACCESS_KEY}:{SECRET_KEY}@bucket/p")
    assert "holds credentials" in str(caught.value)
    assert SECRET_KEY not in str(caught.value) and SECRET_KEY not in repr(caught.value)


@pytest.mark.parametrize(
    ("target", "endpoint", "problem"),
    [
        ("s3://bucket/p", "http://minio.example:9000", "is plain http to a host other than"),
        ("s3://bucket/p", "minio.example", "has no scheme"),
        ("az://container/p", "https://acc.example", "cannot be used with LIPBRIDGE_STAGING="),
    ],
)
def test_a_bad_endpoint_is_refused(target: str, endpoint: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match="LIPBRIDGE_STAGING_ENDPOINT_URL=") as caught:
        Staging.from_environ({"LIPBRIDGE_STAGING": target,
                              "LIPBRIDGE_STAGING_ENDPOINT_URL": endpoint})
    assert problem in str(caught.value)


def test_a_missing_extra_says_how_to_install_it(tmp_path: Path) -> None:
    """In a process of its own, where each library is made uninstalled before fsspec runs."""
    path, sha = media(tmp_path, "face.mp4")
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from lipbridge.staging import Staging\n"
        "for target, module in (('s3://bucket/p', 's3fs'), ('gs://bucket/p', 'gcsfs'),\n"
        "                       ('az://container/p', 'adlfs')):\n"
        "    sys.modules[module] = None\n"
        "    try:\n"
        f"        Staging(target).stage(Path({str(path)!r}), sha256={sha!r}, "
        "media_type='video/mp4')\n"
        "    except Exception as exc:\n"
        "        print(type(exc).__name__, exc)\n"
    )
    assert python(code) == [
        f"ConfigurationError staging to {target} needs {module}, which is not installed: "
        f"pip install 'lipbridge[{extra}]'"
        for target, module, extra in (("s3://bucket/p", "s3fs", "s3"),
                                      ("gs://bucket/p", "gcsfs", "gcs"),
                                      ("az://container/p", "adlfs", "azure"))
    ]


def test_a_missing_local_file_or_a_bad_digest_is_refused(tmp_path: Path) -> None:
    work = Staging("s3://bucket/p")
    with pytest.raises(InvalidRequest, match=r"gone\.mp4' cannot be read: No such file"):
        work.stage(tmp_path / "gone.mp4", sha256="0" * 64, media_type="video/mp4")
    path, _ = media(tmp_path, "face.mp4")
    with pytest.raises(ValueError, match="is not a hex SHA-256 digest"):
        work.stage(path, sha256="../../etc", media_type="video/mp4")


# --- failures name the target, never a secret ----------------------------------------------


def assert_secret_absent(secret: str, error: Exception, caplog: pytest.LogCaptureFixture) -> None:
    for text in (str(error), repr(error), repr(error.args)):
        assert secret not in text
    assert caplog.records  # the storage libraries did log, at DEBUG
    for record in caplog.records:
        assert secret not in record.getMessage()
        assert secret not in (record.exc_text or "")


def test_a_missing_bucket_names_the_target_and_no_secret(
    s3: S3Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "lipbridge-staging-secret-for-the-missing-bucket"
    work = Staging("s3://no-such-bucket/p", storage_options={
        "endpoint_url": s3.url, "key": ACCESS_KEY, "secret": secret})
    path, sha = media(tmp_path, "face.mp4")
    with pytest.raises(ConfigurationError) as caught:
        work.stage(path, sha256=sha, media_type="video/mp4")
    assert str(caught.value).startswith(
        "staging to s3://no-such-bucket/p failed: bucket 'no-such-bucket' does not exist")
    assert "create it, or point LIPBRIDGE_STAGING at one that does" in str(caught.value)
    assert_secret_absent(secret, caught.value, caplog)
    assert secret not in repr(work)


def test_refused_credentials_name_the_target_and_no_secret(
    s3: S3Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """S3's 403 for keys it does not know (moto checks none, so another server says it)."""
    caplog.set_level(logging.DEBUG)
    path, sha = media(tmp_path, "face.mp4")
    with RefusingStore() as store, pytest.raises(ConfigurationError) as caught:
        Staging("s3://bucket/p", storage_options={"endpoint_url": store.url}).stage(
            path, sha256=sha, media_type="video/mp4")
    assert store.requests == [f"HEAD /bucket/p/{sha}.mp4"]  # refused at the first request
    message = str(caught.value)
    assert message.startswith("staging to s3://bucket/p was refused (PermissionError: ")
    assert "give s3fs credentials that may write and read 'bucket': AWS_ACCESS_KEY_ID" in message
    assert_secret_absent(SECRET_KEY, caught.value, caplog)


def test_no_credentials_say_where_to_put_them(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    path, sha = media(tmp_path, "face.mp4")
    with pytest.raises(ConfigurationError) as caught:
        staging(s3, s3.new_bucket()).stage(path, sha256=sha, media_type="video/mp4")
    message = str(caught.value)
    assert message.startswith("staging to s3://lipbridge-test-")
    assert "NoCredentialsError" in message
    assert "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE" in message


@pytest.mark.parametrize(
    "failure",
    [EndpointConnectionError(endpoint_url="https://s3.example"), TimeoutError("timed out"),
     OSError(errno.EBUSY, "Please reduce your request rate.")],
)
def test_transient_failures_are_retryable(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: Exception
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise failure

    monkeypatch.setattr(s3fs.S3FileSystem, "put_file", fail)
    bucket = s3.new_bucket()
    path, sha = media(tmp_path, "face.mp4")
    with pytest.raises(StagingUnavailable) as caught:
        staging(s3, bucket).stage(path, sha256=sha, media_type="video/mp4")
    assert caught.value.retryable
    assert str(caught.value).startswith(f"staging to s3://{bucket}/{PREFIX} failed for now (")
    assert str(caught.value).endswith("; try again later")


# --- what lipbridge shows -------------------------------------------------------------------


def test_signed_urls_are_masked_wherever_shown(
    s3: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SESSION_TOKEN", "lipbridge-fake-session-token-0123456789")
    bucket = s3.new_bucket()
    path, sha = media(tmp_path, "face.mp4")
    staged = staging(s3, bucket).stage(path, sha256=sha, media_type="video/mp4")
    signed = query(staged.url)
    hidden = [signed["X-Amz-Signature"], signed["X-Amz-Credential"],
              signed["X-Amz-Security-Token"]]

    assert mask_url(staged.url) == f"{s3.url}/{bucket}/{PREFIX}/{sha}.mp4?***"
    assert repr(staged) == (f"Staged(url='{s3.url}/{bucket}/{PREFIX}/{sha}.mp4?***', "
                            f"location='{staged.location}', expires_at={staged.expires_at!r})")
    in_text = mask_url_secrets(f"the provider could not fetch {staged.url}: 403")
    assert "X-Amz-Expires=86400" in in_text
    for value in hidden:
        assert value not in mask_url(staged.url)
        assert value not in repr(staged)
        assert value not in in_text
        assert value.partition("/")[0] not in in_text  # the access key id of the credential


def test_storage_options_show_nowhere(tmp_path: Path) -> None:
    """Not in the repr, and not in a message even where a library would echo them."""
    secret = "lipbridge-staging-secret-in-storage-options"
    work = Staging("s3://bucket/p", storage_options={
        "key": ACCESS_KEY, "username": "another-key",
        "client_kwargs": {"aws_session_token": secret},
    })
    assert repr(work) == "Staging('s3://bucket/p')"
    assert secret not in str(ConfigurationError(f"the library said: {secret}"))
    path, sha = media(tmp_path, "face.mp4")
    with pytest.raises(ConfigurationError) as caught:  # s3fs refuses key and username both
        work.stage(path, sha256=sha, media_type="video/mp4")
    assert str(caught.value) == (
        "staging to s3://bucket/p failed (KeyError: 'Supply either key or username, not both'); "
        "check LIPBRIDGE_STAGING and the storage options")


def test_importing_lipbridge_and_configuring_staging_loads_no_storage_library() -> None:
    code = (
        "import sys, lipbridge\n"
        "from lipbridge.staging import Staging\n"
        "Staging.from_environ({'LIPBRIDGE_STAGING': 's3://bucket/p'})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('fsspec', 's3fs', 'botocore', 'aiobotocore', 'boto3', 'gcsfs', 'adlfs', 'moto')))\n"
    )
    assert python(code) == ["[]"]
