"""``krystal keys``: create, list and revoke the service's API keys, on its database.

They work on the database directly, so the first key (``--role superadmin``) can be made
before the service ever runs with ``--auth``. A token is printed once, at creation; only
its hash is stored.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from krystal._errors import ConfigError, InputError, MissingExtraError
from krystal.cli._config_cmd import ConfigOption
from krystal.cli._console import EXIT_USAGE, fail, load_settings, print_json, stderr, stdout

if TYPE_CHECKING:
    from krystal.storage import Storage, StoredKey

keys_app = typer.Typer(
    help="API keys of the service: roles viewer < operator < admin < superadmin.",
    no_args_is_help=True,
)

DbOption = Annotated[
    str | None,
    typer.Option(help="Database URL (default: the server_db setting, sqlite:///krystal.db)."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def _open(db: str | None, config: Any) -> Storage:
    settings = load_settings(config)
    try:
        from krystal.storage import Storage

        return Storage(db or settings.server_db)
    except MissingExtraError as exc:
        fail(str(exc))
    except ConfigError as exc:
        fail(str(exc), EXIT_USAGE)


def _row(key: StoredKey) -> dict[str, Any]:
    return key._asdict()


def _when(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


@keys_app.command()
def create(
    role: Annotated[str, typer.Option(help="viewer, operator, admin or superadmin.")],
    name: Annotated[str, typer.Option(help="A label to recognise the key by.")] = "cli",
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Create a key and print its token (shown this once)."""
    storage = _open(db, config)
    try:
        key, token = storage.create_key(name, role)
    except InputError as exc:
        fail(str(exc), EXIT_USAGE)
    finally:
        storage.close()
    if as_json:
        print_json({**_row(key), "token": token})
        return
    stderr().print(
        f"created key {key.id} ({key.role}, {escape(key.name)}); the token is shown once:"
    )
    stdout().print(token, soft_wrap=True, markup=False)


@keys_app.command(name="list")
def list_keys(
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """List the keys (ids, labels, roles; never tokens)."""
    storage = _open(db, config)
    try:
        keys = storage.list_keys(include_revoked=include_revoked)
    finally:
        storage.close()
    if as_json:
        print_json({"keys": [_row(key) for key in keys]})
        return
    table = Table(title="API keys", title_justify="left")
    for column in ("id", "name", "role", "created", "revoked"):
        table.add_column(column)
    for key in keys:
        table.add_row(
            key.id, escape(key.name), key.role, _when(key.created_at), _when(key.revoked_at)
        )
    stdout().print(table)


@keys_app.command()
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (from `krystal keys list`).")],
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Revoke a key; a running service stops accepting it within a second."""
    storage = _open(db, config)
    try:
        if not storage.revoke_key(key_id):
            fail(f"key: no active key with id {key_id!r}")
    finally:
        storage.close()
    stdout().print(f"revoked key {key_id}")
