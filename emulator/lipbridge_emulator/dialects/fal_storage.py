"""fal.ai's storage API's signed upload, for the fal dialect: ``POST
/storage/upload/initiate?storage_type=...`` (``Authorization: Key``) with ``{"file_name",
"content_type"}`` -> ``{"upload_url", "file_url"}``, then a PUT of the bytes to
``upload_url`` under that content type (fal-js's storage client; fal_client's fallback).
Served under the same mount as the queue, so a base URL pointed at the emulator takes it.

The emulator's choices where fal is silent: the signed URL lives an hour (a signed PUT's
usual lifetime); a missing or empty ``file_name``/``content_type`` is a 422 in the
model-error shape; ``X-Fal-Object-Lifecycle: {"expiration_duration_seconds": N}`` (fal's
media-expiration page) sets how long the file is served, and without it the file is kept.
"""

from __future__ import annotations

import datetime as dt
import json

from lipbridge_emulator.dialect import Reply, Request, UploadSpec, UploadView

INITIATE_PATH = "/storage/upload/initiate"
SIGNED_FOR = dt.timedelta(hours=1)


def parse_upload(request: Request) -> UploadSpec | Reply:
    try:
        body = request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return _invalid("body", "value is not a valid dict")
    for name in ("file_name", "content_type"):
        if not isinstance(body.get(name), str) or not body[name].strip():
            return _invalid(name, "field required")
    lifetime = None
    try:
        chosen = json.loads(request.headers.get("x-fal-object-lifecycle", "null"))
        seconds = chosen.get("expiration_duration_seconds") if isinstance(chosen, dict) else None
    except ValueError:
        seconds = None
    if isinstance(seconds, int) and not isinstance(seconds, bool) and seconds > 0:
        lifetime = dt.timedelta(seconds=seconds)
    name = body["file_name"].replace("\\", "/").rsplit("/", 1)[-1] or "upload.bin"
    return UploadSpec(
        name=name, content_type=body["content_type"], put_within=SIGNED_FOR, lifetime=lifetime
    )


def uploaded(upload: UploadView) -> Reply:
    return Reply.json(200, {"upload_url": upload.put_url, "file_url": upload.url})


def _invalid(field: str, message: str) -> Reply:
    loc = ["body"] if field == "body" else ["body", field]
    return Reply.json(422, {"detail": [{"loc": loc, "msg": message, "type": "value_error"}]})
