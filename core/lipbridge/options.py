"""Provider options: what ``JobRequest.options`` may hold (JSON values, sent as given), and
which of them a model sends in the request's envelope rather than in its input.

Replicate's create call, for one, is ``{"version", "input": {...}, "webhook",
"webhook_events_filter"}``: the model's own fields go in ``input``, while
``webhook_events_filter`` belongs beside it. A model declares such names in
``ModelCapabilities.envelope_options`` and its plugin builds the two parts with
:func:`split_options`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from lipbridge.errors import InvalidRequest

# Options are sent as JSON; deeper nesting is a mistake (or a cycle), not a real option.
OPTION_MAX_DEPTH = 32


def _shown(value: object) -> str:
    from lipbridge.models import shown  # models builds on this module

    return shown(value)


def check_json(value: object, path: str, depth: int) -> None:
    """``value`` is what ``json.dumps`` sends faithfully: finite, string-keyed, not too deep."""
    if depth > OPTION_MAX_DEPTH and isinstance(value, (dict, list, tuple)):
        raise InvalidRequest(
            f"{path} is nested more than {OPTION_MAX_DEPTH} levels deep; allowed: JSON values "
            f"up to {OPTION_MAX_DEPTH} levels",
            field=path,
        )
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidRequest(
            f"{path}={value!r} is not a finite number; allowed: JSON numbers (no NaN or Infinity)",
            field=path,
        )
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidRequest(
                    f"{path} has the key {_shown(key)}; allowed: string keys", field=path
                )
            check_json(item, f"{path}.{key}", depth + 1)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            check_json(item, f"{path}[{index}]", depth + 1)
    elif value is not None and not isinstance(value, (str, int, float)):
        raise InvalidRequest(
            f"{path}={_shown(value)} is a {type(value).__name__}; allowed: JSON values (null, "
            "true, false, numbers, strings, lists and dicts with string keys)",
            field=path,
        )


def check_options(_: object, __: object, value: object) -> None:
    if not isinstance(value, Mapping):
        raise InvalidRequest(
            f"options={_shown(value)} is not a mapping; allowed: a dict of JSON values",
            field="options",
        )
    check_json(dict(value), "options", 0)  # any mapping on top; json.dumps sends it as a dict


def option_names(names: Iterable[str]) -> frozenset[str]:
    """``ModelCapabilities.envelope_options`` as a set of non-empty names (a lone string
    would be read as its letters, so it is refused)."""
    if isinstance(names, str):
        raise ValueError(f"envelope_options={names!r}; allowed: a collection of option names")
    found = frozenset(names)
    bad = sorted(repr(name) for name in found if not isinstance(name, str) or not name.strip())
    if bad:
        raise ValueError(f"envelope_options holds {', '.join(bad)}; allowed: option names")
    return found


def split_options(
    options: Mapping[str, Any], envelope: Collection[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``options`` as (the model's input, the request's envelope): the names in
    ``envelope`` (the model's ``envelope_options``) go to the envelope, the rest to the
    input. Build each part with ``request_body``, so neither can override a field that a
    ``JobRequest`` field maps to."""
    inputs = {name: value for name, value in options.items() if name not in envelope}
    outer = {name: value for name, value in options.items() if name in envelope}
    return inputs, outer
