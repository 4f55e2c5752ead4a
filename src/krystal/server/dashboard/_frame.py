"""What every dashboard page shares: the service it shows, the login check, the header."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import run, ui

from krystal.server._auth import Principal
from krystal.server.dashboard._session import Sessions, allows, principal_of

if TYPE_CHECKING:
    from krystal.server._service import Service

#: Seconds between live refreshes of an open page.
REFRESH_SECONDS = 1.0


@dataclass
class Dashboard:
    """The service behind the dashboard of this process, and its logged-in browsers."""

    service: Service
    sessions: Sessions = field(default_factory=Sessions)


_current: list[Dashboard] = []


def install(dashboard: Dashboard) -> None:
    """Make ``dashboard`` the one the pages show (one per process: NiceGUI is global)."""
    _current[:] = [dashboard]


def current() -> Dashboard:
    """The dashboard the pages show."""
    return _current[0]


def session_id(request: Request) -> str:
    """The browser's session id (NiceGUI's signed session cookie)."""
    return str(request.session["id"])


async def who(request: Request) -> Principal | None:
    """The principal of this browser, checked against the keys now."""
    dashboard = current()
    return await run.io_bound(
        principal_of, dashboard.service, dashboard.sessions, session_id(request)
    )


def to_login(request: Request) -> RedirectResponse:
    """Send a browser that is not logged in to the login page, coming back here after."""
    return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)


def header(principal: Principal) -> None:
    """The top bar: title, navigation (keys only for admins), who is logged in."""
    service = current().service
    with ui.header().classes("items-center bg-slate-800 q-px-md q-py-sm"):
        ui.link("Krystal", "/").classes("text-h6 text-white no-underline q-mr-lg")
        ui.link("Agents", "/").classes("text-white q-mr-md").props("data-testid=nav-agents")
        if allows(principal, "admin"):
            ui.link("API keys", "/keys").classes("text-white q-mr-md").props("data-testid=nav-keys")
        ui.link("API docs", "/docs").classes("text-white q-mr-md")
        ui.space()
        ui.label(f"{principal.name} · {principal.role}").classes("text-white q-mr-md").props(
            "data-testid=whoami"
        )
        if service.settings.auth:
            ui.link("Log out", "/logout").classes("text-white").props("data-testid=logout")
    if not service.settings.auth:
        with ui.row().classes("w-full bg-amber-1 text-amber-10 q-pa-sm rounded-borders"):
            ui.label(
                "Authentication is off: anyone who can reach this address acts as superadmin. "
                "Start the service with --auth to require API keys."
            )


async def open_page(request: Request) -> Principal | None:
    """Start a page: who is asking, with the header drawn and the key checked live.

    None means the browser must log in first (answer with :func:`to_login`).
    """
    principal = await who(request)
    if principal is not None:
        header(principal)
        keep_checking(request)
    return principal


def forbidden(principal: Principal, role: str) -> None:
    """The page body for a key whose role is too low (the API would answer 403)."""
    ui.label(
        f"This page needs the {role} role; the key in use ({principal.name}) has {principal.role}."
    ).classes("text-h6 text-negative q-mt-lg").props("data-testid=forbidden")
    ui.link("Back to the agents", "/")


def keep_checking(request: Request) -> None:
    """Leave the page for the login form as soon as the key stops being valid."""
    dashboard = current()
    sid = session_id(request)

    async def check() -> None:
        principal = await run.io_bound(principal_of, dashboard.service, dashboard.sessions, sid)
        if principal is None:
            ui.navigate.to("/login?expired=1")

    if dashboard.service.settings.auth:
        ui.timer(REFRESH_SECONDS, check)
