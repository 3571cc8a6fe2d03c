"""The project's static checks run with the tests: ruff everywhere, mypy strict on the core,
the contract suite and the provider plugins."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=240)


def test_ruff_is_clean() -> None:
    result = run("ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_on_the_core_contract_suite_and_plugins() -> None:
    result = run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
