"""The Krystal service: hosted agents over HTTP (FastAPI), persisted (SQLite/PostgreSQL).

Needs the ``server`` extra: ``pip install "krystal-sdk[server]"``. ``krystal serve`` runs
:func:`create_app` under uvicorn; any ASGI server can run it too.

From inside the process (a dashboard mounted on the same app, a test, a benchmark),
everything is reached through ``app.state.service``, a :class:`Service`, once the app
has started (its lifespan opens the database):

- agents: ``service.agents()`` lists the :class:`HostedAgent` objects and
  ``service.agent(name)`` finds one; ``agent.summary()`` gives phase, cycle, counters,
  recent mean reward and decision rate, ``agent.metrics()`` the learner's signals and
  phase history; ``service.decide/reward/step/create_agent/delete_agent`` do what the
  API does (each returns ``(response, future)``: the future completes on commit, which
  inside a running app happens on its event loop, so from the loop ``await
  asyncio.wrap_future(future)``, never ``future.result()``);
- recent events: ``agent.recent_decisions(limit)`` returns the latest decisions, newest
  first, each with its action, phase, reward, source, TD error and times (the last
  :data:`RECENT_DECISIONS` are kept in memory; the full log is in the database);
- keys: ``service.storage.list_keys()``, ``service.create_key(name, role, by_role)``
  (returns the key and its token, shown once) and ``service.revoke_key(id, by_role)``;
  ``service.settings.auth`` says whether keys are required;
- Prometheus: ``app.state.metrics.registry``.

>>> from krystal.server import ServerSettings, create_app
>>> app = create_app(ServerSettings(db="sqlite:///krystal-example.db"))
>>> app.state.service.settings.reward_wait
60.0
"""

from krystal._imports import require

require("fastapi", "server")

from krystal.server._app import create_app, create_app_from_environment  # noqa: E402
from krystal.server._errors import (  # noqa: E402
    ConflictError,
    NotFoundError,
    ServiceError,
    UnavailableError,
)
from krystal.server._hosted import RECENT_DECISIONS, SETTLED_CACHE, HostedAgent  # noqa: E402
from krystal.server._service import Service  # noqa: E402
from krystal.server._settings import ServerSettings  # noqa: E402

__all__ = [
    "RECENT_DECISIONS",
    "SETTLED_CACHE",
    "ConflictError",
    "HostedAgent",
    "NotFoundError",
    "ServerSettings",
    "Service",
    "ServiceError",
    "UnavailableError",
    "create_app",
    "create_app_from_environment",
]
