"""``create_app``: the FastAPI application of ``krystal serve``."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.encoders import jsonable_encoder
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from krystal._version import __version__
from krystal.server import _legacy, _routes
from krystal.server import _schemas as s
from krystal.server._auth import requires
from krystal.server._errors import KNOWN_ERRORS, retry_headers, status_of
from krystal.server._hot import HotPath
from krystal.server._limits import BodyLimit
from krystal.server._metrics import ServiceMetrics
from krystal.server._service import Service
from krystal.server._settings import ServerSettings

#: Generation-1 collections between full ones (CPython's default is 10).
_FULL_COLLECTION_AFTER = 100


class _ServiceApp(FastAPI):
    """The FastAPI app with :class:`~krystal.server._hot.HotPath` in front of everything,
    behind :class:`~krystal.server._limits.BodyLimit`.

    In front of FastAPI's own middleware too (error pages, telemetry): for the requests
    it answers, those layers cost about as much again as the hot path.
    """

    hot_path: HotPath | None = None
    body_limit: BodyLimit | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.body_limit is None:
            await self._dispatch(scope, receive, send)
        else:
            await self.body_limit(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.hot_path is None:
            await super().__call__(scope, receive, send)
        else:
            await self.hot_path(scope, receive, send)


def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """The service as an ASGI app; the database opens when the app starts (lifespan).

    ``app.state.service`` is the :class:`Service` (agents, keys, storage) and
    ``app.state.metrics`` the Prometheus registry.

    >>> app = create_app(ServerSettings(db="sqlite:///example.db"))
    >>> paths = app.openapi()["paths"]
    >>> sorted(paths["/v1/agents/{name}/decide"]), "/api/reward" in paths
    (['post'], True)
    """
    settings = ServerSettings() if settings is None else settings
    settings.check_bind()
    service = Service(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(service.start, asyncio.get_running_loop())
        # What exists now (the app, the dashboard, the restored agents) lives as long as
        # the process. Frozen, it is out of the collector's sight: a full collection under
        # load no longer walks it, which took tens of milliseconds, the slowest requests
        # of a benchmark run.
        frozen = gc.get_freeze_count()
        gc.collect()
        gc.freeze()
        # A full collection still walks everything made since (the agents' buffers, the
        # dashboard's history): a pause of several milliseconds on the event loop, every
        # few seconds under load. Ten times fewer of them; the cyclic garbage they would
        # have freed (little: requests make few cycles) waits longer.
        thresholds = gc.get_threshold()
        gc.set_threshold(thresholds[0], thresholds[1], _FULL_COLLECTION_AFTER)
        try:
            yield
        finally:
            await run_in_threadpool(service.stop)
            gc.set_threshold(*thresholds)
            if frozen == 0:  # else the embedding program froze objects of its own: leave them
                gc.unfreeze()  # what this app froze can be collected once it is gone

    app = _ServiceApp(
        title="Krystal",
        version=__version__,
        description="Hosted Krystal agents: observe, decide, reward over HTTP.",
        lifespan=lifespan,
        responses=s.ERROR_RESPONSES,
    )
    app.state.service = service
    app.state.settings = settings
    app.state.metrics = metrics = ServiceMetrics(service)
    app.include_router(_routes.router)
    app.include_router(_legacy.router)
    app.hot_path = HotPath(partial(FastAPI.__call__, app), service, metrics)
    app.body_limit = BodyLimit(app._dispatch, settings.max_body, metrics)

    async def known_error(request: Request, exc: Exception) -> JSONResponse:
        status = status_of(exc)
        metrics.errors.labels(str(status)).inc()
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=retry_headers(status))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        metrics.errors.labels(str(exc.status_code)).inc()
        return await http_exception_handler(request, exc)

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        metrics.errors.labels("422").inc()
        # FastAPI's own answer, except that a non-finite number the client sent (JSON's
        # Infinity or NaN, echoed back as the input) is null rather than a failed answer
        errors = s.json_safe(jsonable_encoder(exc.errors()))
        return JSONResponse({"detail": errors}, status_code=422)

    for kind in KNOWN_ERRORS:
        app.add_exception_handler(kind, known_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid_request)

    @app.get("/health", response_model=s.Health, responses={503: {"model": s.Health}})
    async def health() -> Any:
        """Readiness: the database answers and commits succeed (503 otherwise)."""
        problem = await run_in_threadpool(service.check_database)
        body = {
            "status": "ok" if problem is None else "unavailable",
            "database": "ok" if problem is None else problem,
            "agents": len(service.agents()),
            "uptime_seconds": _uptime(service),
        }
        return JSONResponse(body, status_code=200 if problem is None else 503)

    @app.get("/health/live", response_model=s.Health)
    async def live() -> Any:
        """Liveness: the process answers (the database is not checked)."""
        return {
            "status": "ok",
            "database": "not checked",
            "agents": len(service.agents()),
            "uptime_seconds": _uptime(service),
        }

    @app.get(
        "/metrics",
        response_class=Response,
        dependencies=[Depends(requires("viewer"))],
        responses={
            200: {"content": {"text/plain": {"schema": {"type": "string"}}}},
            401: s.ERROR_RESPONSES[401],
            403: s.ERROR_RESPONSES[403],
        },
    )
    async def prometheus() -> Response:
        """Prometheus metrics: decisions, rewards, decide latency, phase per agent, errors."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def index() -> dict[str, str]:
        return {
            "service": "krystal",
            "docs": "/docs",
            "openapi": "/openapi.json",
            "health": "/health",
        }

    from krystal.server.dashboard import mount_dashboard  # the dashboard takes "/"

    mount_dashboard(app)
    return app


def create_app_from_environment() -> FastAPI:
    """The app for ``uvicorn --factory`` (``krystal serve --reload``): settings from the
    ``KRYSTAL_SERVER_*`` variables that ``krystal serve`` sets."""
    env = os.environ
    return create_app(
        ServerSettings(
            db=env.get("KRYSTAL_SERVER_DB", ServerSettings.db),
            host=env.get("KRYSTAL_SERVER_HOST", ServerSettings.host),
            port=int(env.get("KRYSTAL_SERVER_PORT", ServerSettings.port)),
            auth=env.get("KRYSTAL_SERVER_AUTH", "false").lower() in ("1", "true", "yes"),
            reward_wait=float(env.get("KRYSTAL_SERVER_REWARD_WAIT", ServerSettings.reward_wait)),
            default_reward=float(
                env.get("KRYSTAL_SERVER_DEFAULT_REWARD", ServerSettings.default_reward)
            ),
            max_body=int(env.get("KRYSTAL_SERVER_MAX_BODY", ServerSettings.max_body)),
        )
    )


def _uptime(service: Service) -> float:
    import time

    return time.time() - service.started_at
