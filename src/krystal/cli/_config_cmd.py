"""``krystal config``: show the effective settings and check config files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from krystal._errors import ConfigError, MissingExtraError
from krystal.cli._console import EXIT_FAILURE, fail, print_json, stdout

config_app = typer.Typer(
    help=(
        "Show and check Krystal settings. Priority, lowest first: defaults < config file "
        "(krystal.yaml, krystal.yml or krystal.toml in the current directory, or --config) "
        "< .env < KRYSTAL_* environment variables."
    ),
    no_args_is_help=True,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="Config file (.yaml, .yml or .toml); default: krystal.* in the current directory.",
        dir_okay=False,
    ),
]


@config_app.command()
def show(
    config: ConfigOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the settings as one JSON object.")
    ] = False,
) -> None:
    """Show every effective setting, its value and where that value came from.

    The source is "default", the config file's path, ".env" or the environment
    variable's name.
    """
    try:
        from krystal.config import explain_settings, find_config_file

        rows = explain_settings(config)
        config_file = config if config is not None else find_config_file()
    except (ConfigError, MissingExtraError) as exc:
        fail(str(exc))
    if as_json:
        print_json(
            {
                "config_file": None if config_file is None else str(config_file),
                "settings": [
                    {"key": key, "value": value, "source": source} for key, value, source in rows
                ],
            }
        )
        return
    table = Table(title="Krystal settings", title_justify="left")
    table.add_column("key")
    table.add_column("value")
    table.add_column("source")
    for key, value, source in rows:
        style = "dim" if source == "default" else "cyan"
        table.add_row(escape(key), escape(str(value)), f"[{style}]{escape(source)}[/]")
    console = stdout()
    console.print(table)
    used = "none found" if config_file is None else str(config_file)
    console.print(f"config file: {escape(used)}")


@config_app.command()
def validate(
    file: Annotated[Path, typer.Argument(help="Config file to check (.yaml, .yml or .toml).")],
) -> None:
    """Check one config file on its own; exit 1 listing each problem as FILE: key: message."""
    try:
        from krystal.config import validate_config_file

        issues = validate_config_file(file)
    except MissingExtraError as exc:
        fail(str(exc))
    if not issues:
        typer.echo(f"{file}: valid")
        return
    for issue in issues:
        typer.echo(str(issue))
    raise typer.Exit(EXIT_FAILURE)
