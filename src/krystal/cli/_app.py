"""The Typer application: the command groups, each in its own module, plus ``version``.

Exit codes for every command: 0 success, 1 failure (a failed health check, an invalid
config file), 2 usage error (unknown option, invalid value such as an unknown domain).
"""

from __future__ import annotations

import platform
from typing import Annotated

import typer

from krystal.cli import _bench, _config_cmd, _demo, _health, _keys, _llm, _serve
from krystal.cli._console import print_json, stdout

app = typer.Typer(
    name="krystal",
    help=(
        "Krystal: adaptive intelligence for live systems. Learns online which knob "
        "settings to use, from a zero-dependency core.\n\n"
        "Exit codes: 0 ok, 1 failure, 2 usage error."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.command()
def version(
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON object instead.")] = False,
) -> None:
    """Show the installed krystal-sdk version and the Python it runs on."""
    from krystal import __version__

    info = {
        "name": "krystal-sdk",
        "version": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
    if as_json:
        print_json(info)
        return
    stdout().print(f"krystal-sdk {__version__} (Python {info['python']}, {info['platform']})")


app.command(name="health")(_health.health)
app.command(name="demo")(_demo.demo)
app.command(name="bench")(_bench.bench)
app.add_typer(_config_cmd.config_app, name="config")
app.add_typer(_llm.llm_app, name="llm")
app.command(name="serve")(_serve.serve)
app.add_typer(_keys.keys_app, name="keys")
