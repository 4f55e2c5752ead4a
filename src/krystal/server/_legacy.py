"""The project's earlier published API under ``/api``, served by the default agent."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request

from krystal.server import _schemas as s
from krystal.server._calls import committed
from krystal.server._routes import admin, operator, service_of, viewer

router = APIRouter(prefix="/api", tags=["legacy"])


def _default(request: Request) -> str:
    return service_of(request).settings.default_agent


@router.get("/metrics", dependencies=[viewer])
async def metrics(request: Request) -> dict[str, Any]:
    """The default agent's learning signals (``Krystal.get_metrics()``) and phase."""
    return s.json_safe(service_of(request).agent(_default(request)).metrics())  # type: ignore[no-any-return]


@router.get("/uptime", response_model=s.Uptime, dependencies=[viewer])
async def uptime(request: Request) -> Any:
    """When the service started and for how long it has run."""
    started = service_of(request).started_at
    return {"started_at": started, "uptime_seconds": time.time() - started}


@router.post("/observe", response_model=s.LegacyState, dependencies=[operator])
async def observe(body: s.Observation, request: Request) -> Any:
    """Record metrics (a JSON object of name -> number) on the default agent."""
    return await committed(service_of(request).observe(_default(request), body))


@router.post("/decide", response_model=s.LegacyDecision, dependencies=[operator])
async def decide(request: Request, body: s.LegacyDecide | None = None) -> Any:
    """The default agent's action for the latest metrics (or for ``observation``)."""
    observation = None if body is None else body.observation
    return await committed(service_of(request).decide(_default(request), observation))


@router.post("/reward", response_model=s.LegacyRewardResult, dependencies=[operator])
async def reward(body: s.LegacyReward, request: Request) -> Any:
    """Reward the default agent's latest decision; returns the TD error."""
    return await committed(service_of(request).reward_latest(_default(request), body.reward))


@router.post("/reset", response_model=s.LegacyState, dependencies=[admin])
async def reset(request: Request) -> Any:
    """Start the default agent's learner afresh."""
    return await committed(service_of(request).reset(_default(request)))


@router.get("/agents", response_model=s.AgentList, dependencies=[viewer])
async def agents(request: Request) -> dict[str, Any]:
    """Every hosted agent (the same list as ``GET /v1/agents``)."""
    return {"agents": [agent.summary() for agent in service_of(request).agents()]}
