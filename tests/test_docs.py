"""Meta-tests: hooks, docs, exit codes and the README stay in sync (datasette's pattern)."""

from __future__ import annotations

import inspect
import re
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
