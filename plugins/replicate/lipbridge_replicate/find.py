"""Finding a prediction whose create answer was lost: Replicate's prediction list.

``GET /v1/predictions?created_after=<ISO>&created_before=<ISO>`` "Get a paginated list of
all predictions created by the user or organization ... It will return 100 records per
page", "sorted with the most recent prediction first", as ``{"next", "previous",
"results"}``; ``created_after`` includes predictions "created at or after this date-time",
``created_before`` those "created before" it (the prediction reference, and the clients
generated from its OpenAPI spec). Each result is a prediction with ``id``, ``model``,
``version``, ``input`` and ``created_at``.

A result is the lost create when it ran the model (and, for a pinned version, the version)
the create named, and its ``input`` holds every field the create sent, as sent. Replicate
removes API predictions' inputs an hour after they finish (``data_removed``), so a
prediction found later has nothing to match and is not returned: the core then asks the
user rather than guessing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any

from lipbridge import JobHandle, JobRequest, ProviderError
from lipbridge.plugin import (
    CallContext,
    CallKind,
    ModelCapabilities,
    Response,
    malformed,
    text,
    timestamp,
)
from lipbridge_replicate.wire import NAME, PREDICTIONS, create, read

# The window after ``since`` a lost create can have been made in: the core's since is its
# record of the submit less ten minutes of clock skew, and the create is sent at once.
# An hour covers both and any retries; predictions past it are someone else's.
WINDOW = dt.timedelta(hours=1)
# At 100 a page, 10 pages are 1000 predictions in the window: past that the list is not
# read to its end (bounded work), and the lookup says so instead of missing a match.
MAX_PAGES = 10


def window(since: dt.datetime) -> dict[str, str]:
    """The list's query: ``since`` (to the second, rounded down) to ``since`` + WINDOW."""
    start = since.astimezone(dt.timezone.utc).replace(microsecond=0)
    return {"created_after": _iso(start), "created_before": _iso(start + WINDOW)}


def find(
    request: JobRequest,
    since: dt.datetime,
    ctx: CallContext,
    caps: ModelCapabilities,
    default_base_url: str,
) -> list[JobHandle]:
    """The predictions made from ``request`` at or after ``since``, newest first;
    ``default_base_url`` is the API's own, which ``next`` URLs are re-based from."""
    _, body = create(request, caps)
    if since.tzinfo is None:
        since = since.replace(tzinfo=dt.timezone.utc)
    return [
        JobHandle(provider=ctx.provider, job_id=job_id, created_at=created, model=request.model)
        for job_id, created, prediction in _listed(since, ctx, default_base_url)
        if created >= since and made_from(prediction, body["input"], caps)
    ]


def made_from(
    prediction: Mapping[str, Any], sent: Mapping[str, Any], caps: ModelCapabilities
) -> bool:
    """Whether ``prediction`` ran ``caps``'s model (its pinned version, if it has one) on
    every input field the create sent. An official model runs its latest version, so only
    its name is compared."""
    if prediction.get("model") != (caps.native_id or caps.name):
        return False
    if caps.version is not None and prediction.get("version") != caps.version:
        return False
    listed = prediction.get("input")
    if not isinstance(listed, Mapping):  # removed after the hour, or never shown
        return False
    return all(key in listed and listed[key] == value for key, value in sent.items())


def _listed(
    since: dt.datetime, ctx: CallContext, default_base_url: str
) -> Iterator[tuple[str, dt.datetime, Mapping[str, Any]]]:
    """Every prediction of the window, page by page: ``next`` is followed on the
    configured base URL only (``ctx.http.rebase`` refuses another host), at most
    MAX_PAGES pages."""
    response = ctx.http.get(PREDICTIONS, kind=CallKind.POLL, params=window(since))
    for page in range(1, MAX_PAGES + 1):
        data = read(response, ctx)
        results = data.get("results")
        if not isinstance(results, list):
            raise _protocol(response, "without a results list")
        for item in results:
            yield _entry(response, item)
        following = text(data.get("next"))
        if following is None:
            return
        if page == MAX_PAGES:
            break
        url = ctx.http.rebase(following, default_base_url)
        response = ctx.http.get(url, kind=CallKind.POLL)
    raise ProviderError(
        f"more than {MAX_PAGES} pages of predictions were created within {WINDOW} of "
        f"{since.isoformat()}; the lookup stops there rather than read them all. Find "
        "the prediction on the dashboard and reconcile the job by its id",
        provider=NAME,
    )


def _entry(response: Response, item: object) -> tuple[str, dt.datetime, Mapping[str, Any]]:
    """A listed prediction's id and creation time (both required), and the prediction."""
    if not isinstance(item, Mapping):
        raise _protocol(response, "with a result that is not an object")
    job_id, created = text(item.get("id")), timestamp(item.get("created_at"))
    if job_id is None or created is None:
        raise _protocol(response, "with a result lacking its id or created_at")
    return job_id, created, item


def _protocol(response: Response, what: str) -> ProviderError:
    return malformed(response, what, provider=NAME)


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
