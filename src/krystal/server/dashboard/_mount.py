"""Mounting NiceGUI on the service's FastAPI app without changing how the API answers.

``ui.run_with`` mounts NiceGUI at ``/`` behind the app's own routes, where it would take
every request no route matched: an unknown ``/v1/...`` path would get an HTML page
instead of a JSON 404, and a wrong method an HTML page instead of a 405. So the mount is
replaced by one that takes only the dashboard's own paths (listed below), placed first
so that ``/`` is the dashboard; everything else reaches the API's router as before.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from fastapi import FastAPI
from starlette.routing import Match, Mount
from starlette.types import Scope

logger = logging.getLogger("krystal.server")

#: The paths the dashboard answers: exact paths, then prefixes (NiceGUI's own files and
#: websocket live under ``/_nicegui``).
DASHBOARD_PATHS = ("/", "/login", "/logout", "/keys", "/favicon.ico")
_PREFIXES = ("/agents/", "/_nicegui")

_mounted: list[FastAPI] = []


def is_dashboard_path(path: str) -> bool:
    """Whether a request path belongs to the dashboard rather than the API.

    >>> [is_dashboard_path(p) for p in ("/", "/agents/a1", "/v1/agents", "/docs")]
    [True, True, False, False]
    """
    return path in DASHBOARD_PATHS or path.startswith(_PREFIXES)


class _DashboardMount(Mount):
    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] in ("http", "websocket") and not is_dashboard_path(scope["path"]):
            return Match.NONE, {}
        return super().matches(scope)


def mount_dashboard(app: FastAPI) -> bool:
    """Serve the dashboard at ``/`` of ``app`` (its service: ``app.state.service``).

    Returns True when ``app`` has the dashboard, False when another app of this process
    has it already (NiceGUI is one per process) and ``app`` keeps its API only.
    """
    if _mounted:
        if _mounted[0] is not app:
            logger.warning("the dashboard is already mounted on another app of this process")
        return _mounted[0] is app
    from nicegui import core, ui

    from krystal.server.dashboard import _agent, _keys, _login, _overview  # noqa: F401 (pages)
    from krystal.server.dashboard._frame import Dashboard, install

    install(Dashboard(app.state.service))
    ui.run_with(
        app,
        title="Krystal",
        favicon="💎",
        mount_path="/",
        # one signed cookie identifies the browser; its secret lives as long as the process
        storage_secret=secrets.token_urlsafe(32),
        binding_refresh_interval=None,
        show_welcome_message=False,
    )
    routes: list[Any] = app.router.routes
    mount = next(r for r in reversed(routes) if isinstance(r, Mount) and r.app is core.app)
    routes.remove(mount)
    routes.insert(0, _DashboardMount("/", app=core.app, name="dashboard"))
    _mounted.append(app)
    return True
