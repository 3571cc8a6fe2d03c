"""Batches: many jobs from a manifest, planned and priced before anything is sent, run
within caps, each attempt a job in the ledger, resumable after any crash.

See docs/batch.md. :func:`open_batch` records (or finds again) a batch in the ledger;
:class:`~lipbridge.batch.runner.BatchRun` runs it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from lipbridge.batch.manifest import Row
from lipbridge.errors import InvalidRequest
from lipbridge.ledger.store import Ledger


def row_json(row: Row) -> str:
    """A row as the ledger keeps it: canonical JSON of its request, providers, output."""
    from lipbridge.convert import unstructure

    return json.dumps(
        {
            "line": row.line,
            "providers": list(row.providers),
            "request": unstructure(row.request),
            "output": row.output,
        },
        sort_keys=True,
    )


def row_of(text: str) -> Row:
    from lipbridge.convert import structure
    from lipbridge.models import JobRequest

    data = json.loads(text)
    return Row(
        line=data["line"],
        request=structure(data["request"], JobRequest),
        providers=tuple(data["providers"]),
        output=data["output"],
    )


def open_batch(
    ledger: Ledger,
    rows: Sequence[Row],
    source: str,
    settings: Mapping[str, Any],
    *,
    refuse_changed: bool = False,
) -> tuple[str, bool]:
    """The batch these rows make, and whether it was started before: the same rows
    (same requests, providers and outputs) continue the same batch.

    With ``refuse_changed``, rows from a ``source`` that an earlier batch ran with other
    rows are refused: as a new batch they could submit again rows it already ran.
    """
    texts = [(row.line, row_json(row)) for row in rows]
    fingerprint = hashlib.sha256("\n".join(text for _, text in texts).encode()).hexdigest()
    found = ledger.find_batch(fingerprint)
    if found is not None:
        return found, True
    earlier = ledger.latest_batch_from(source) if refuse_changed else None
    if earlier is not None:
        raise InvalidRequest(
            f"{source} has changed since batch {earlier} ran it; as a new batch it could "
            f"submit again rows that batch already ran (and paid for): continue that one "
            f"with `lipbridge batch resume {earlier}`, or pass --new-batch to start anew",
            field="manifest",
        )
    return ledger.create_batch(fingerprint, source, settings, texts), False
