"""The live web dashboard of ``krystal serve``: NiceGUI pages on the service's own app.

Pages: ``/`` (agents with phase, recent mean reward and decision rate; tabs kept for the
generative platform's approvals and the LLM providers' status), ``/agents/{name}`` (live
charts of reward, phase and actions, and the recent decisions), ``/keys`` (API keys, for
admins) and ``/login``. They read the in-process :class:`~krystal.server.Service`
directly and refresh every second over NiceGUI's websocket; no page reload.

With authentication on, a browser logs in with an API key and has the key's role: a
viewer or operator sees the agents, an admin also manages keys (as on the API).

NiceGUI holds its pages and its server state per process, so one app per process gets
the dashboard: the first one :func:`mount_dashboard` is called with (``krystal serve``
builds exactly one). Needs the ``server`` extra.

>>> from krystal.server import ServerSettings, create_app
>>> app = create_app(ServerSettings(db="sqlite:///dashboard-example.db"))
>>> mount_dashboard(app) in (True, False)
True
"""

from __future__ import annotations

from krystal.server.dashboard._mount import DASHBOARD_PATHS, mount_dashboard

__all__ = ["DASHBOARD_PATHS", "mount_dashboard"]
