"""``/keys``: API keys for admins: create one with a role (its token is shown once), list,
revoke. The same rules as the API: a key may grant and revoke roles up to its own."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import run, ui

from krystal._errors import KrystalError
from krystal.server._auth import Principal
from krystal.server.dashboard._frame import (
    current,
    forbidden,
    open_page,
    to_login,
)
from krystal.server.dashboard._session import allows
from krystal.storage import ROLES

_COLUMNS = [
    {"name": "name", "label": "Label", "field": "name", "align": "left", "sortable": True},
    {"name": "role", "label": "Role", "field": "role", "align": "left", "sortable": True},
    {"name": "id", "label": "Key id", "field": "id", "align": "left"},
    {"name": "created", "label": "Created (UTC)", "field": "created", "align": "left"},
    {"name": "actions", "label": "", "field": "id"},
]

_REVOKE_CELL = (
    '<q-td :props="props"><q-btn flat dense color="negative" label="Revoke" '
    ":data-testid=\"'revoke-' + props.row.name\" "
    "@click=\"() => $parent.$emit('revoke', props.row)\" /></q-td>"
)


def key_rows() -> list[dict[str, Any]]:
    """The active keys as table rows, oldest first."""
    storage = current().service.storage
    assert storage is not None
    return [
        {
            "id": key.id,
            "name": key.name,
            "role": key.role,
            "created": time.strftime("%Y-%m-%d %H:%M", time.gmtime(key.created_at)),
        }
        for key in storage.list_keys()
    ]


def grantable(principal: Principal) -> list[str]:
    """The roles ``principal`` may give a new key (its own and below).

    >>> grantable(Principal("admin", "k", "ops"))
    ['viewer', 'operator', 'admin']
    """
    return [role for role in ROLES if allows(principal, role)]


@ui.page("/keys", title="Krystal · API keys")
async def keys_page(request: Request) -> RedirectResponse | None:
    principal = await open_page(request)
    if principal is None:
        return to_login(request)
    if not allows(principal, "admin"):
        forbidden(principal, "admin")
        return None
    service = current().service
    ui.label("API keys").classes("text-h5 q-mt-sm")
    if not service.settings.auth:
        ui.label(
            "Keys are not checked while authentication is off; the ones made here take "
            "effect when the service runs with --auth."
        ).classes("text-grey-8")
    with ui.card().classes("w-full"):
        ui.label("New key").classes("text-subtitle1")
        with ui.row().classes("items-end"):
            label = ui.input("Label", placeholder="e.g. game-server").props("data-testid=key-label")
            roles = grantable(principal)
            role = ui.select(roles, value=roles[0], label="Role").props("data-testid=key-role")
            create = ui.button("Create key").props("data-testid=key-create")
        error = ui.label("").classes("text-negative").props("data-testid=key-error")
        created = ui.column().classes("w-full")
    table = ui.table(columns=_COLUMNS, rows=await run.io_bound(key_rows), row_key="id")
    table.classes("w-full q-mt-md").props("data-testid=keys-table flat bordered")
    table.add_slot("body-cell-actions", _REVOKE_CELL)

    async def reload() -> None:
        table.rows = await run.io_bound(key_rows)
        table.update()

    async def on_create() -> None:
        error.set_text("")
        created.clear()
        try:
            key, token = await run.io_bound(
                service.create_key, (label.value or "").strip(), role.value, principal.role
            )
        except KrystalError as exc:
            error.set_text(str(exc))
            return
        with created, ui.card().classes("w-full bg-green-1"):
            ui.label(
                f"Key {key.name!r} ({key.role}) created. Copy the token now: it is shown "
                "only once and cannot be recovered."
            )
            with ui.row().classes("items-center"):
                ui.label(token).classes(
                    "font-mono text-body1 bg-grey-2 q-pa-sm rounded-borders"
                ).props("data-testid=new-token")
                ui.button(icon="content_copy", on_click=lambda: ui.clipboard.write(token)).props(
                    "flat dense"
                )
        label.set_value("")
        await reload()

    async def on_revoke(event: Any) -> None:
        row = event.args
        with ui.dialog() as dialog, ui.card():
            ui.label(
                f"Revoke the key {row['name']!r} ({row['role']})? Clients using it "
                "lose access at once."
            )
            with ui.row():
                ui.button("Cancel", on_click=lambda: dialog.submit(False)).props("flat")
                ui.button("Revoke", color="negative", on_click=lambda: dialog.submit(True)).props(
                    "data-testid=confirm-revoke"
                )
        if not await dialog:
            return
        try:
            await run.io_bound(service.revoke_key, row["id"], principal.role)
        except KrystalError as exc:
            ui.notify(str(exc), type="negative")
        else:
            created.clear()  # the token shown may be the one just revoked
            ui.notify(f"Key {row['name']!r} revoked.", type="positive")
        await reload()

    create.on_click(on_create)
    table.on("revoke", on_revoke)
    return None
