"""Results of a run: per provider, per check; rendered as a matrix or as JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from attrs import frozen
from rich.console import Console
from rich.table import Table

from lipbridge_contract.checks import CHECKS, FAIL, PASS, SKIP, Check, Verdict, VerdictStatus
from lipbridge_contract.harness import NetworkBlocked, UnrecordedRequest
from lipbridge_contract.run import SuiteRun

_STYLE = {PASS: "[green]pass[/]", FAIL: "[bold red]FAIL[/]"}


@frozen
class CheckResult:
    check: str
    status: VerdictStatus
    detail: str


@frozen
class ProviderReport:
    provider: str
    strictness: str
    cassettes: str
    results: tuple[CheckResult, ...]
    bypasses: tuple[tuple[str, str], ...] = ()  # (suite.yaml key, reason) the checks relied on
    # "<scenario>: <caveat>" for bodies the documentation does not show (assumed, quoted)
    provenance: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return all(r.status is not FAIL for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        return {
            "provider": self.provider,
            "strictness": self.strictness,
            "cassettes": self.cassettes,
            "ok": self.ok,
            "bypasses": dict(self.bypasses),
            "provenance": list(self.provenance),
            "checks": {
                r.check: {"status": r.status.value, "detail": r.detail} for r in self.results
            },
        }


def run_check(run: SuiteRun, check: Check) -> Verdict:
    """One check's verdict; a check that crashes is a failure, not an abort."""
    if check.needs_plugin and run.info is None:
        return Verdict(SKIP, "the plugin does not load (see load)")
    try:
        with run.watch.watching(profile=False):  # a plugin that sleeps never slows the suite
            return check.run(run)
    except (Exception, UnrecordedRequest, NetworkBlocked) as exc:
        return Verdict(FAIL, f"the check could not finish: {type(exc).__name__}: {exc}")


def certify(run: SuiteRun, checks: Sequence[Check] = CHECKS) -> ProviderReport:
    verdicts = [(c.id, run_check(run, c)) for c in checks]
    results = tuple(CheckResult(name, v.status, v.detail) for name, v in verdicts)
    return ProviderReport(
        provider=run.provider,
        strictness=run.strictness.value,
        cassettes=str(run.dir.path),
        results=results,
        bypasses=tuple(run.bypassed.items()),
        provenance=tuple(
            f"{s.name}: {line}" for s in run.scenarios for line in s.sidecar.provenance.caveats()
        ),
    )


def render(reports: Sequence[ProviderReport], console: Console) -> None:
    """Checks down, providers across; then every failure and skip with its reason, and
    every written bypass reason a check relied on, even one behind a pass, and every body
    the documentation does not show: a pass rests on them too."""
    table = Table(title=f"lipbridge contract ({reports[0].strictness if reports else '-'})")
    table.add_column("check")
    for report in reports:
        table.add_column(report.provider, justify="center")
    for row in zip(*(report.results for report in reports), strict=True):
        cells = [result.status for result in row]
        table.add_row(row[0].check, *(_STYLE.get(c, f"[yellow]{c.value}[/]") for c in cells))
    console.print(table)
    for report in reports:
        for result in report.results:
            if result.status is not PASS:
                title = f"{report.provider} / {result.check}"
                _section(console, title, result.status.value, result.detail.splitlines())
    for report in reports:
        bypasses = [f"{key}: {reason}" for key, reason in report.bypasses]
        _section(console, f"{report.provider} / bypassed", "suite.yaml", bypasses)
        _section(
            console, f"{report.provider} / not shown by the documentation", "sidecars",
            report.provenance,
        )


def _section(console: Console, title: str, where: str, lines: Sequence[str]) -> None:
    """A titled list below the table; nothing when it is empty."""
    if lines:
        console.print(f"[bold]{title}[/] ({where}):", highlight=False)
    for line in lines:
        console.print(f"  {line}", highlight=False, markup=False)
