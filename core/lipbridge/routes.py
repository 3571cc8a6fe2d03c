"""Which way each local input file of a submit reaches the provider.

Tried in this order (docs/local-media.md): the provider's own upload API (its plugin's
``lipbridge_upload``), an inline ``data:`` URI where the model takes one, the user's
staging storage where one is configured; otherwise an error naming them, raised before
anything is uploaded or sent. Remote URLs and data URIs are left as they are.

The choice (:meth:`MediaRouter.plan`) probes the files and sends nothing, so a batch's
plan or a dry run never uploads; :meth:`MediaRouter.resolve` then uploads or stages what
needs it, just before the job's intent is recorded. An upload is written to the ledger as
soon as it succeeds and reused for the same content (sha256) and destination while it
stays valid long enough, so a file is uploaded once per provider however many jobs use
it, and a crash before the submit does not upload it again. A lock per content and
destination (striped) keeps concurrent submits (a batch's rows) from uploading one file
twice at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import attrs
from attrs import frozen

from lipbridge.errors import STAGING_ARG, UnsupportedOption
from lipbridge.ledger.records import MediaRoute, Route
from lipbridge.media import Probe, digest, probe_file, probe_seconds
from lipbridge.models import JobRequest, ModelCapabilities, ProviderInfo, shown
from lipbridge.redact import mask_url
from lipbridge.staging import ENV_TARGET, Staging
from lipbridge.uploads import LocalMedia
from lipbridge.validation import local_path

if TYPE_CHECKING:
    from lipbridge.client import Client
    from lipbridge.ledger.media import LedgerMedia, StoredUpload

log = logging.getLogger("lipbridge.routes")

# An upload is reused only while it stays valid this long after the submit (or the
# job's wait timeout, when longer): the provider may fetch the file only when the job
# starts, and a queue can be long.
REUSE_MARGIN = dt.timedelta(hours=1)
# An upload whose provider gives no expiry is reused for this long after it was made,
# since "not documented" may still mean "deleted after a while".
UNDATED_REUSE = dt.timedelta(hours=24)

# Probes and digests kept per client, the oldest dropped past this many (a service that
# sees a stream of distinct files must not grow without end).
REMEMBERED = 4096
# Uploads of one content to one destination are serialised by one of this many locks.
STRIPES = 256

StagingChoice = Staging | str | bool | None
K = TypeVar("K")
V = TypeVar("V")
OnRoute = Callable[[MediaRoute], None]


@frozen(kw_only=True)
class Planned:
    """One local input and the route chosen for it."""

    field: str
    ref: str
    probe: Probe
    route: Route


def local_inputs(request: JobRequest) -> Iterator[tuple[str, str, Path]]:
    """(field, ref as given, path) of each of the request's inputs that is a local file."""
    for field in ("video", "audio"):
        ref = getattr(request, field)
        path = local_path(ref) if ref else None
        if path is not None:
            yield field, ref, path


def with_references(request: JobRequest, references: Mapping[str, str]) -> JobRequest:
    """``request`` with the local paths of these fields replaced by their references."""
    return attrs.evolve(
        request,
        video=references.get("video", request.video),
        audio=references.get("audio", request.audio),
    )


class MediaRouter:
    """Probes a client's local inputs, chooses their routes, and uploads or stages them.

    ``staging`` is a :class:`Staging`, a target such as ``s3://bucket/prefix``, False for
    none, or None for ``LIPBRIDGE_STAGING`` in ``environ`` (read when a file first needs
    it, so that a malformed setting fails only what would use it).
    """

    def __init__(
        self, client: Client, staging: StagingChoice, environ: Mapping[str, str]
    ) -> None:
        self._client = client
        self._staging_choice = staging
        self._environ = environ
        self._staging: Staging | None = None
        self._staging_read = False
        self._probes: dict[tuple[object, ...], Probe] = {}
        self._digests: dict[tuple[str, int, int], str] = {}
        self._stripes = [threading.Lock() for _ in range(STRIPES)]
        self._lock = threading.Lock()

    @property
    def staging(self) -> Staging | None:
        """The staging storage, or None; a malformed ``LIPBRIDGE_STAGING`` raises here."""
        with self._lock:
            if not self._staging_read:
                choice = self._staging_choice
                if isinstance(choice, Staging):
                    self._staging = choice
                elif isinstance(choice, str):
                    self._staging = Staging(choice, clock=self._client.clock)
                elif choice is None or choice is True:
                    self._staging = Staging.from_environ(self._environ)
                self._staging_read = True
            return self._staging

    # -- probing ------------------------------------------------------------------------------

    def probe(self, ref: str, path: Path, field: str, info: ProviderInfo,
              caps: ModelCapabilities) -> Probe:
        """:func:`~lipbridge.media.probe_file`, once per file version and model."""
        where = f"{info.name}/{caps.name}"
        try:
            stat = path.stat()
        except OSError:
            stat = None  # probe_file says what is wrong
        key = (str(path), field, stat and stat.st_size, stat and stat.st_mtime_ns,
               caps.limits, where)
        found = self._probes.get(key) if stat else None
        if found is None:
            found = probe_file(ref, path, field=field, limits=caps.limits, where=where)
            self._remember(self._probes, key, found)
        return found

    def check(self, info: ProviderInfo, request: JobRequest) -> None:
        """Probe every local input of a validated request, for an estimate: no route is
        needed, since nothing is sent."""
        caps = info.model(request.model)
        for field, ref, path in local_inputs(request):
            self.probe(ref, path, field, info, caps)

    def seconds(self, info: ProviderInfo, request: JobRequest, field: str) -> float:
        """The length of a local input, as probed (PyAV is needed here)."""
        ref = getattr(request, field)
        path = local_path(ref)
        assert path is not None
        found = self.probe(ref, path, field, info, info.model(request.model))
        return found.duration if found.duration is not None else probe_seconds(path, field)

    # -- choosing -----------------------------------------------------------------------------

    def plan(self, provider: str, info: ProviderInfo, request: JobRequest) -> list[Planned]:
        """Each local input of a validated request with its route, then probed; sends
        nothing. A file with no route is refused before it is read."""
        caps = info.model(request.model)
        planned = []
        for field, ref, path in local_inputs(request):
            route = self._choose(provider, caps, field, ref)
            planned.append(Planned(field=field, ref=ref, route=route,
                                   probe=self.probe(ref, path, field, info, caps)))
        return planned

    def _choose(self, provider: str, caps: ModelCapabilities, field: str, ref: str) -> Route:
        if self._client.registry.implements(provider, "lipbridge_upload"):
            return Route.UPLOAD
        if caps.local_files:  # the probe held the file to the model's size limit already
            return Route.INLINE
        if self.staging is not None:
            return Route.STAGED
        raise UnsupportedOption(
            f"{field}={shown(ref)} is a local file, and {provider}/{caps.name} cannot take it: "
            f"{provider} has no upload API lipbridge knows of, takes no inline data URIs, and "
            "no staging storage is configured",
            field=field,
            allowed=["http", "https"],
            hint=(
                f"set {ENV_TARGET}=s3://bucket/prefix (pip install 'lipbridge[s3]'; gs:// and "
                "az:// work too)",
                STAGING_ARG,
                ", or give an http(s) URL",
            ),
        )

    # -- uploading ----------------------------------------------------------------------------

    def resolve(
        self,
        provider: str,
        info: ProviderInfo,
        request: JobRequest,
        *,
        ledger: LedgerMedia | None,
        valid_for: float | None = None,
        on_route: OnRoute | None = None,
    ) -> tuple[JobRequest, tuple[MediaRoute, ...]]:
        """The request to send (local paths replaced by what each route gives) and the
        routes taken. Uploads are reused from ``ledger`` when valid for ``valid_for``
        seconds (at least :data:`REUSE_MARGIN`), and recorded there."""
        margin = max(REUSE_MARGIN, dt.timedelta(seconds=valid_for or 0))
        changes: dict[str, str] = {}
        routes = []
        for planned in self.plan(provider, info, request):
            if planned.route is Route.INLINE:  # the plugin inlines the path it is given
                route = MediaRoute(field=planned.field, path=planned.ref, route=Route.INLINE,
                                   size=planned.probe.size)
            else:
                route, changes[planned.field] = self._put(provider, planned, ledger, margin)
            log.info("%s", route.describe())
            if on_route is not None:
                on_route(route)
            routes.append(route)
        return with_references(request, changes), tuple(routes)

    def _put(
        self, provider: str, planned: Planned, ledger: LedgerMedia | None, margin: dt.timedelta
    ) -> tuple[MediaRoute, str]:
        """Upload or stage one file, or reuse an upload of it that is still valid."""
        from lipbridge.ledger.media import StoredUpload

        media = self._local_media(planned)
        staging = self.staging if planned.route is Route.STAGED else None
        target = staging.target if staging is not None else provider
        now = self._client.clock.now()
        with self._lock_for((media.sha256, planned.route, target)):
            stored: StoredUpload | None = None
            if ledger is not None:
                stored = ledger.reusable_upload(
                    media.sha256, planned.route, target,
                    valid_until=now + margin, undated_since=now - UNDATED_REUSE,
                )
            reused = stored is not None
            if stored is None:
                if staging is not None:
                    staged = staging.stage(media.path, sha256=media.sha256,
                                           media_type=media.media_type)
                    stored = StoredUpload(reference=staged.url, location=staged.location,
                                          expires_at=staged.expires_at)
                else:
                    uploaded = self._client.upload(provider, media)
                    stored = StoredUpload(reference=uploaded.reference, location=None,
                                          expires_at=uploaded.expires_at)
                if ledger is not None:
                    ledger.record_upload(
                        sha256=media.sha256, route=planned.route, target=target,
                        uploaded=stored, size=media.size, media_type=media.media_type,
                        path=planned.ref,
                    )
        route = MediaRoute(
            field=planned.field, path=planned.ref, route=planned.route, size=media.size,
            sha256=media.sha256, target=stored.location or target,
            reference=mask_url(stored.reference), expires_at=stored.expires_at, reused=reused,
        )
        return route, stored.reference

    def _local_media(self, planned: Planned) -> LocalMedia:
        """The probed file with its sha256, hashed once per file version."""
        probe = planned.probe
        stat = probe.path.stat()
        key = (str(probe.path), stat.st_size, stat.st_mtime_ns)
        sha256 = self._digests.get(key)
        if sha256 is None:
            sha256 = digest(probe.path)[1]
            self._remember(self._digests, key, sha256)
        return LocalMedia(path=probe.path, kind=planned.field, media_type=probe.media_type,
                          size=probe.size, sha256=sha256, duration=probe.duration)

    def _lock_for(self, key: tuple[str, Route, str]) -> threading.Lock:
        return self._stripes[hash(key) % STRIPES]

    def _remember(self, cache: dict[K, V], key: K, value: V) -> None:
        with self._lock:
            if len(cache) >= REMEMBERED:
                del cache[next(iter(cache))]
            cache[key] = value
