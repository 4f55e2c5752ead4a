"""``/login`` and ``/logout``: an API key opens the dashboard for this browser session."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import run, ui

from krystal.server.dashboard._frame import current, session_id
from krystal.server.dashboard._session import check_key


def _safe_next(target: str | None) -> str:
    # Only paths of this site: an open redirect would let a link send the user elsewhere.
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


@ui.page("/login", title="Krystal · log in")
async def login_page(request: Request, next: str | None = None, expired: int = 0) -> None:
    dashboard = current()
    sid = session_id(request)
    target = _safe_next(next)
    with ui.column().classes("absolute-center items-stretch").style("width: 26rem"):
        ui.label("Krystal").classes("text-h4")
        if not dashboard.service.settings.auth:
            ui.label("Authentication is off on this service: no key is needed.")
            ui.link("Open the dashboard", target).props("data-testid=open-dashboard")
            return
        ui.label("Log in with an API key (krystal keys create --role viewer).").classes(
            "text-grey-8"
        )
        if expired:
            ui.label("The key in use is no longer valid; log in again.").classes(
                "text-negative"
            ).props("data-testid=login-expired")
        token = ui.input("API key", password=True, password_toggle_button=True).props(
            "data-testid=api-key autofocus"
        )
        message = ui.label("").classes("text-negative").props("data-testid=login-error")

        async def submit() -> None:
            value = (token.value or "").strip()
            if not value:
                message.set_text("Enter an API key.")
                return
            principal = await run.io_bound(check_key, dashboard.service, value)
            if principal is None:
                message.set_text("That key is not valid: it is unknown or has been revoked.")
                return
            dashboard.sessions.log_in(sid, value)
            ui.navigate.to(target)

        token.on("keydown.enter", submit)
        ui.button("Log in", on_click=submit).props("data-testid=login")


@ui.page("/logout", title="Krystal · log out")
def logout_page(request: Request) -> RedirectResponse:
    current().sessions.log_out(session_id(request))
    return RedirectResponse("/login", status_code=303)
