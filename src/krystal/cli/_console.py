"""Output helpers shared by the commands: consoles, JSON, errors and exit codes.

Results go to stdout (a Rich table, or one JSON document with ``--json``); progress
bars and errors go to stderr, so ``krystal demo --json > run.json`` stays parseable.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from krystal._errors import ConfigError, MissingExtraError

if TYPE_CHECKING:
    from krystal.config import KrystalSettings

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def stdout() -> Console:
    """A console on standard output (created per call so test runners can capture it)."""
    return Console(highlight=False)


def stderr() -> Console:
    """A console on standard error, for progress bars and messages."""
    return Console(stderr=True, highlight=False)


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    """Print ``error: message`` on stderr and exit with ``code``."""
    stderr().print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    raise typer.Exit(code)


def finite(value: Any) -> Any:
    """``value`` with non-finite floats (also nested) replaced by None, for strict JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def print_json(data: Any) -> None:
    """Write ``data`` to stdout as one strict JSON document (NaN and inf become null)."""
    typer.echo(json.dumps(finite(data), indent=2, allow_nan=False, default=str))


def load_settings(config_path: Path | None) -> KrystalSettings:
    """The layered settings, or exit 1 with the config problem (or missing extra)."""
    try:
        from krystal.config import load_settings as load

        return load(config_path)
    except (ConfigError, MissingExtraError) as exc:
        fail(str(exc))


def number(value: Any, digits: int = 4) -> str:
    """A table cell for a number: fixed significant digits, ``n/a`` for None or NaN."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if abs(value) >= 10**digits:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"


@contextlib.contextmanager
def krystal_logging(level: str, *, capture: bool) -> Iterator[list[str]]:
    """Route the ``krystal`` logger for one command; restore it afterwards.

    With ``capture`` (``--json`` runs, whose stderr stays silent) records are collected
    into the yielded list for the JSON document; otherwise Rich prints them on stderr.
    """
    from rich.logging import RichHandler

    records: list[str] = []
    logger = logging.getLogger("krystal")
    handler: logging.Handler = (
        _ListHandler(records)
        if capture
        else RichHandler(console=stderr(), show_path=False, show_time=False)
    )
    saved_level, saved_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    try:
        yield records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved_level)
        logger.propagate = saved_propagate


class _ListHandler(logging.Handler):
    def __init__(self, records: list[str]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(f"{record.levelname}: {record.getMessage()}")
