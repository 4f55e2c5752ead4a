"""The ``krystal`` command (needs the ``cli`` extra: Typer, Rich, pydantic-settings).

``main()`` is the console-script entry point. Typer and Rich are imported only when it
runs, so ``import krystal.cli`` costs nothing; without them it prints the command that
installs them and exits with status 1.
"""

import sys

from krystal._errors import MissingExtraError
from krystal._imports import require

__all__ = ["main"]


def main() -> None:
    """Run the ``krystal`` command line (``krystal --help`` lists the commands)."""
    try:
        require("typer", "cli")
        require("rich", "cli")
        from krystal.cli._app import app
    except MissingExtraError as exc:
        sys.stderr.write(f"krystal: {exc}\n")
        raise SystemExit(1) from None
    app(prog_name="krystal")
