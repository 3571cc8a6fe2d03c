"""Error mapping: recorded error scenarios, then generated responses of every kind."""

from __future__ import annotations

import contextlib
import functools
import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hypothesis import strategies as st

from lipbridge import JobHandle, JobStatus, LipbridgeError, ProviderError
from lipbridge.plugin import CallContext, LocalMedia, Response, UploadedMedia
from lipbridge.validation import validate
from lipbridge_contract.catalogue import (
    CATALOGUE,
    FIND_HOOK,
    FIND_JOBS,
    SUCCESS,
    UPLOAD,
    UPLOAD_HOOK,
)
from lipbridge_contract.checks.base import Check, Verdict, examples, file_gate, needs_scenario
from lipbridge_contract.checks.explore import explore
from lipbridge_contract.checks.lifecycle import foreign_cause, replay_problems
from lipbridge_contract.harness import LogCapture
from lipbridge_contract.replay import local_media

if TYPE_CHECKING:
    from lipbridge_contract.run import SuiteRun

def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _errors(run: SuiteRun) -> Verdict:
    problems: list[str] = []
    notes: list[str] = []
    checked = 0
    for standard in CATALOGUE:
        must, name = standard.error, standard.name
        if must is None or file_gate(
            needs_scenario(run, name, f"error mapping ({must.__name__})"), problems, notes
        ):
            continue
        scenario = run.scenario(name)
        assert scenario is not None
        expected = scenario.sidecar.expect.error
        if expected is None or not issubclass(expected.cls, must):
            got = expected.cls.__name__ if expected else "no error"
            problems.append(
                f"{name}: the sidecar expects {got}; this scenario means {must.__name__}"
            )
        if standard.retry_after and (expected is None or expected.retry_after is None):
            problems.append(f"{name}: the sidecar must give the recorded retry_after")
    for name, obs in run.observations.items():
        if replay_problems(obs):
            continue  # the lifecycle check reports it
        expected, exc = obs.scenario.sidecar.expect.error, obs.error
        foreign = foreign_cause(exc)
        if foreign is not None:
            problems.append(
                f"{name}: the plugin raised {_describe(foreign)} (not a lipbridge error); the "
                f"client had to wrap it as {type(exc).__name__}"
            )
        if expected is None or exc is None:
            continue
        checked += 1
        if type(exc) is not expected.cls:
            problems.append(
                f"{name}: raised {_describe(exc)}; the sidecar expects {expected.cls.__name__}"
            )
            continue
        retryable = bool(getattr(exc, "retryable", False))
        if expected.retryable is not None and retryable != expected.retryable:
            problems.append(f"{name}: retryable is {retryable}, expected {expected.retryable}")
        if expected.retry_after is not None:
            after = getattr(exc, "retry_after", None)
            if after is None or not math.isclose(after, expected.retry_after, abs_tol=1e-6):
                problems.append(
                    f"{name}: retry_after is {after!r}; the recorded Retry-After gives "
                    f"{expected.retry_after:g}"
                )
        if expected.code is not None and getattr(exc, "code", None) != expected.code:
            problems.append(
                f"{name}: error code is {getattr(exc, 'code', None)!r}, expected {expected.code!r}"
            )
        problems += [
            f"{name}: the error message {str(exc)!r} does not contain {piece!r}"
            for piece in expected.message_contains
            if piece not in str(exc)
        ]
    detail = f"{checked} error scenarios" + (f"; {'; '.join(notes)}" if notes else "")
    return Verdict.of(problems, detail)


def _seed_bodies(run: SuiteRun) -> list[bytes]:
    return [i.body for i in run.all_recorded() if i.body] or [b'{"id":"x","status":"done"}']


def _json_values() -> st.SearchStrategy[Any]:
    leaves = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False)
        | st.text(max_size=12)
    )
    return st.recursive(
        leaves,
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=8,
    )


def _mutated(body: bytes, draw: Any) -> bytes:
    """A recorded JSON body with one value replaced or one key removed, anywhere in it."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    paths: list[list[Any]] = []

    def walk(node: Any, path: list[Any]) -> None:
        paths.append(path)
        items = (
            node.items()
            if isinstance(node, dict)
            else enumerate(node)
            if isinstance(node, list)
            else ()
        )
        for key, child in items:
            walk(child, [*path, key])

    walk(data, [])
    path = draw(st.sampled_from(paths))
    if not path:
        return json.dumps(draw(_json_values())).encode()
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    if isinstance(parent, dict) and draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = draw(_json_values())
    return json.dumps(data).encode()


@st.composite
def responses(draw: Any, seeds: list[bytes]) -> Response:
    status = draw(
        st.sampled_from(
            [200, 201, 202, 204, 400, 401, 402, 403, 404, 409, 422, 429, 500, 502, 503, 504]
        )
        | st.integers(100, 599)
    )
    seed = draw(st.sampled_from(seeds))
    kind = draw(st.sampled_from(["seed", "truncated", "mutated", "json", "binary", "odd"]))
    if kind == "seed":
        body = seed
    elif kind == "truncated":
        body = seed[: draw(st.integers(0, max(0, len(seed) - 1)))]
    elif kind == "mutated":
        body = _mutated(seed, draw)
    elif kind == "json":
        body = json.dumps(draw(_json_values())).encode()
    elif kind == "binary":
        body = draw(st.binary(max_size=64))
    else:
        body = draw(st.sampled_from([b"", b"null", b"[]", b"{}", b"{", b"<html>502</html>"]))
    headers = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "content-type": st.sampled_from(["application/json", "text/html", "text/plain"]),
                "retry-after": st.sampled_from(
                    ["0", "1", "30", "-5", "soon", "1e9", "Wed, 21 Oct 2015 07:28:00 GMT"]
                ),
            },
        )
    )
    return Response(
        method="GET", url="https://fuzz.invalid", status=status, headers=headers, body=body
    )


# A plugin hook called with the call context, its other arguments already bound.
Hook = Callable[[CallContext], object]
# What each fuzzed hook must return.
RETURNS: dict[str, type] = {
    "submit": JobHandle, "poll": JobStatus, "find": list, "upload": UploadedMedia
}


def _attempt(run: SuiteRun, name: str, hook: Hook, response: Response) -> str | None:
    """Feed one response to the plugin's hook; say what went wrong, if anything."""
    assert run.info is not None
    client, _, _ = run.scripted(response)
    try:
        got = hook(client.context(run.provider, run.info))
    except ProviderError as exc:
        if run.key in str(exc) or run.key in repr(exc):
            return f"{name}: the API key appears in {type(exc).__name__}"
        return None
    except Exception as exc:
        return (
            f"{name}: {_describe(exc)} escaped for HTTP {response.status} body "
            f"{response.body[:120]!r}"
        )
    want = RETURNS[name]
    if not isinstance(got, want) or (
        isinstance(got, list) and not all(isinstance(h, JobHandle) for h in got)
    ):
        return f"{name}: returned {got!r:.120} for HTTP {response.status}"
    if response.status >= 400:
        return (
            f"{name}: returned a {want.__name__} for an HTTP {response.status} answer "
            f"{response.body[:120]!r}; an error status must raise"
        )
    return None


def _find_hook(run: SuiteRun) -> Hook | None:
    """The find hook with a recorded lookup's request (validated, as the core passes it)
    and ``since``, where the plugin implements it."""
    finds = [s for s in run.scenarios if s.sidecar.finds]
    if not finds or not run.implements(FIND_HOOK):
        return None
    scenario = run.scenario(FIND_JOBS.name) or finds[0]
    since = scenario.sidecar.since
    assert run.info is not None and scenario.sidecar.request is not None and since is not None
    try:
        request = validate(run.info, scenario.sidecar.request)
    except LipbridgeError:  # an invalid recorded request: capabilities says so
        return None
    return lambda ctx: run.registry.find_jobs(run.provider, request, since, ctx)


def _upload_hook(run: SuiteRun, stack: contextlib.ExitStack) -> Hook | None:
    """The upload hook with a recorded upload's file (written for the fuzzing's length),
    where the plugin implements it. Every request of an upload gets the same answer."""
    uploads = [s for s in run.scenarios if s.sidecar.uploads]
    if not uploads or not run.implements(UPLOAD_HOOK):
        return None
    scenario = run.scenario(UPLOAD.name) or uploads[0]
    assert scenario.sidecar.media is not None
    media: LocalMedia = stack.enter_context(local_media(scenario.sidecar.media))
    return lambda ctx: run.registry.upload(run.provider, media, ctx)


def _fuzz(run: SuiteRun) -> Verdict:
    success = run.scenario(SUCCESS.name)
    handle = run.sample_handle()
    hooks: dict[str, Hook] = {"poll": lambda ctx: run.registry.poll(run.provider, handle, ctx)}
    request = success.sidecar.request if success is not None else None
    if request is not None:
        hooks["submit"] = lambda ctx: run.registry.submit(run.provider, request, ctx)
    finder = _find_hook(run)
    if finder is not None:
        hooks["find"] = finder
    problems: list[str] = []
    notes: list[str] = []
    counts = []
    strategy = responses(_seed_bodies(run))
    with contextlib.ExitStack() as stack, LogCapture().installed() as logs:
        uploader = _upload_hook(run, stack)
        if uploader is not None:
            hooks["upload"] = uploader
        for name, hook in hooks.items():
            problem, tried = explore(
                strategy,
                examples(run),
                functools.partial(_attempt, run, name, hook),
            )
            counts.append(f"{tried} {name}")
            if problem:
                problems.append(problem)
    if any(run.key in line for line in logs.messages):
        problems.append("the API key appears in a log record")
    if "submit" not in hooks:
        file_gate(needs_scenario(run, SUCCESS.name, "submit fuzzing"), problems, notes)
    listed = " and ".join([", ".join(counts[:-1]), counts[-1]] if len(counts) > 2 else counts)
    return Verdict.of(problems, "; ".join([f"{listed} responses generated", *notes]))


ERRORS = Check("errors", "Error mapping of recorded scenarios", _errors)
ERROR_FUZZ = Check("error-fuzz", "Error mapping of generated responses", _fuzz)
