"""``krystal health``: run :func:`krystal.health_check` and show each component."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from krystal.cli._console import EXIT_FAILURE, number, print_json, stdout

_STYLE = {"ok": "green", "degraded": "yellow", "fail": "bold red"}


def health(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the health report as one JSON object.")
    ] = False,
) -> None:
    """Check that every component of the installed Krystal works on this machine.

    Exits with status 1 when the overall status is "fail" ("degraded" still exits 0).
    """
    from krystal.agent import health_check

    report: dict[str, Any] = health_check()
    if as_json:
        print_json(report)
    else:
        _render(report)
    if report.get("status") == "fail":
        raise typer.Exit(EXIT_FAILURE)


def _render(report: dict[str, Any]) -> None:
    status = str(report.get("status"))
    table = Table(title="Krystal health", title_justify="left")
    table.add_column("component")
    table.add_column("status")
    table.add_column("ms", justify="right")
    table.add_column("detail", overflow="fold")
    for name, component in report.get("components", {}).items():
        state = str(component.get("status"))
        table.add_row(
            escape(str(name)),
            f"[{_STYLE.get(state, 'white')}]{escape(state)}[/]",
            number(component.get("elapsed_ms"), 3),
            escape(str(component.get("detail", ""))),
        )
    console = stdout()
    console.print(table)
    console.print(f"overall: [{_STYLE.get(status, 'white')}]{escape(status)}[/]")
