"""Meta-tests: hooks, docs, exit codes and the README stay in sync (datasette's pattern)."""

from __future__ import annotations

import inspect
import re
import sys
from pathlib import Path

import pytest

from lipbridge import hookspecs
from lipbridge.cli import ExitCode

ROOT = Path(__file__).resolve().parent.parent
HOOKS = [name for name, fn in vars(hookspecs).items()
         if name.startswith("lipbridge_") and inspect.isfunction(fn)]


def signature(name: str) -> str:
    """``name(arg: Type, ...) -> Return`` from the spec's own (string) annotations."""
    sig = inspect.signature(getattr(hookspecs, name))
    params = ", ".join(f"{p.name}: {p.annotation}" for p in sig.parameters.values())
    return f"{name}({params}) -> {sig.return_annotation}"


def test_every_hook_is_documented_with_its_exact_signature() -> None:
    docs = (ROOT / "docs" / "hooks.md").read_text()
    for name in HOOKS:
        assert f"### `{signature(name)}`" in docs, f"docs/hooks.md lacks {signature(name)}"


def test_docs_describe_no_hook_that_does_not_exist() -> None:
    documented = re.findall(r"^### `(lipbridge_\w+)\(", (ROOT / "docs" / "hooks.md").read_text(),
                            flags=re.MULTILINE)
    assert sorted(documented) == sorted(HOOKS)


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_test(name: str) -> None:
    found = [*(ROOT / "tests").glob("test_*.py"), *(ROOT / "emulator" / "tests").glob("test_*.py")]
    tests = "\n".join(p.read_text() for p in found)
    assert re.search(rf"def test_hook_{name}\w*\(", tests), f"no test_hook_{name}* test"


def test_exit_codes_are_documented() -> None:
    docs = (ROOT / "docs" / "cli.md").read_text()
    for code in ExitCode:
        assert re.search(rf"^\| {code.value} \| `{code.name}` \|", docs, flags=re.MULTILINE), code


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"```sh\n(.+?)\n```", readme, flags=re.DOTALL)
    assert len(commands) >= 2
    test_command = commands[1].strip()
    assert test_command in ci


def test_every_contract_check_is_documented_in_order() -> None:
    from lipbridge_contract.checks import CHECKS

    docs = (ROOT / "docs" / "contract.md").read_text()
    documented = re.findall(r"^### `([a-z-]+)`", docs, flags=re.MULTILINE)
    assert documented == [check.id for check in CHECKS]


def test_every_contract_check_has_a_failing_case() -> None:
    """Each check id is named by a broken-variant or doctored-cassette test that fails it."""
    from lipbridge_contract.checks import CHECKS

    tests = "\n".join(
        (ROOT / "tests" / name).read_text()
        for name in ("test_contract_suite.py", "test_contract_checks.py")
    )
    untested = [c.id for c in CHECKS if f'"{c.id}"' not in tests]
    assert untested == []


# --- docs/hooks.md for plugin authors --------------------------------------------------------

DOCUMENTED_MODELS = ["ProviderInfo", "ModelCapabilities", "InputLimits", "AuthScheme",
                     "JobRequest", "JobHandle", "JobStatus", "JobResult", "BilledUsage",
                     "CostEstimate", "PriceTable"]


def hooks_section(heading: str) -> str:
    """The text under a heading of docs/hooks.md, up to the next heading of any level."""
    docs = (ROOT / "docs" / "hooks.md").read_text()
    assert f"\n{heading}\n" in docs, f"docs/hooks.md lacks the heading {heading!r}"
    return re.split(r"^#", docs.split(f"\n{heading}\n", 1)[1], flags=re.MULTILINE)[0]


def table_names(text: str) -> list[str]:
    """The first cell of each table row, where it is one `name`."""
    return re.findall(r"^\| `(\w+)` \|", text, flags=re.MULTILINE)


@pytest.mark.parametrize("name", DOCUMENTED_MODELS)
def test_every_public_field_of_the_plugin_models_is_documented(name: str) -> None:
    import attrs

    import lipbridge
    import lipbridge.plugin

    cls = getattr(lipbridge.plugin, name, None) or getattr(lipbridge, name)
    fields = [f.name for f in attrs.fields(cls) if not f.name.startswith("_")]
    assert table_names(hooks_section(f"### `{name}`")) == fields


def test_every_field_of_the_call_context_is_documented() -> None:
    import attrs

    from lipbridge.plugin import CallContext

    documented = table_names(hooks_section("## The call context: `ctx`"))
    assert documented == [f.name for f in attrs.fields(CallContext)]


def test_the_status_table_is_the_one_the_core_applies() -> None:
    from lipbridge.http import STATUS_ERRORS

    rows = re.findall(r"^\| (\d{3}) \| `(\w+)`", hooks_section("### HTTP statuses and errors"),
                      flags=re.MULTILINE)
    assert {int(status): cls for status, cls in rows} == {
        status: cls.__name__ for status, cls in STATUS_ERRORS.items()
    }


@pytest.mark.filterwarnings("error::DeprecationWarning")
def test_the_minimal_plugin_in_the_docs_runs_a_job(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plugin in docs/hooks.md, installed as written, submits and polls to a result."""
    import json

    from conftest import FakeClock, make_registry, write_dist

    from lipbridge import Client, InsufficientCredits, JobRequest, JobState
    from lipbridge_contract.harness import ScriptedTransport
    from lipbridge_contract.testing import answer

    code = re.search(r"```python\n(.+?)```", hooks_section("## A complete minimal plugin"),
                     flags=re.DOTALL)
    assert code is not None
    (site / "lipbridge_acme.py").write_text(code.group(1))
    write_dist(site, "lipbridge-acme", {"acme": "lipbridge_acme"})
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, "lipbridge_acme", raising=False)
    transport = ScriptedTransport([
        answer({"id": "job 1"}, status=201),
        answer({"status": "running"}),
        answer({"status": "DONE", "video_url": "https://cdn.acme.invalid/out.mp4"}),
    ])
    client = Client(registry=make_registry(site), transport=transport, clock=FakeClock(),
                    api_keys={"acme": "acme-test-key"}, environ={})
    request = JobRequest(video="https://a.invalid/face.mp4", audio="https://a.invalid/s.wav")
    handle = client.submit("acme", request)
    result = client.wait(handle, timeout=600)

    assert (handle.job_id, handle.model) == ("job 1", "acme-1")
    assert result.video_url == "https://cdn.acme.invalid/out.mp4"
    sent = transport.sent
    assert [(r.method, r.url) for r in sent[:2]] == [
        ("POST", "https://api.acme.invalid/v1/jobs"),
        ("GET", "https://api.acme.invalid/v1/jobs/job%201"),
    ]
    assert json.loads(sent[0].body or b"") == {"video_url": request.video,
                                               "audio_url": request.audio}
    assert client.info("acme").status_words["done"] is JobState.SUCCEEDED
    transport.responses = [answer({"error": {"message": "no credits", "code": "C1"}}, 402)]
    with pytest.raises(InsufficientCredits, match="no credits"):
        client.submit("acme", request)


@pytest.mark.parametrize("page", ["async.md", "batch.md", "jobs.md"])
def test_the_python_examples_of_the_job_pages_compile(page: str) -> None:
    text = (ROOT / "docs" / page).read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks, f"{page} has no Python example"
    for block in blocks:
        compile(block, page, "exec")
