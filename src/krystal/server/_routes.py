"""The ``/v1`` API: agents, the decide/reward loop, recent decisions, keys."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from krystal.server import _calls
from krystal.server import _schemas as s
from krystal.server._auth import Principal, requires
from krystal.server._calls import committed
from krystal.server._service import Service

router = APIRouter(prefix="/v1")

viewer = Depends(requires("viewer"))
operator = Depends(requires("operator"))
admin = Depends(requires("admin"))


def service_of(request: Request) -> Service:
    """The app's :class:`Service`."""
    return request.app.state.service  # type: ignore[no-any-return]


@router.get("/agents", response_model=s.AgentList, dependencies=[viewer])
async def list_agents(request: Request) -> dict[str, Any]:
    """Every hosted agent with its phase and counters."""
    return {"agents": [agent.summary() for agent in service_of(request).agents()]}


@router.post("/agents", response_model=s.AgentInfo, status_code=201, dependencies=[admin])
async def create_agent(body: s.AgentCreate, request: Request) -> Any:
    """Create an agent from a preset, a named action space and/or config settings."""
    service = service_of(request)
    result = service.create_agent(body.name, body.preset, body.space, body.config)
    return await committed(result)


@router.get("/agents/{name}", response_model=s.AgentInfo, dependencies=[viewer])
async def get_agent(name: str, request: Request) -> Any:
    """One agent: spec, phase, cycle, counters, recent mean reward, decision rate."""
    return service_of(request).agent(name).summary()


@router.delete("/agents/{name}", status_code=204, dependencies=[admin])
async def delete_agent(name: str, request: Request) -> Response:
    """Delete an agent with its checkpoints and events."""
    await committed(service_of(request).delete_agent(name))
    return Response(status_code=204)


@router.post("/agents/{name}/decide", response_model=s.Decision, dependencies=[operator])
async def decide(name: str, body: s.DecideRequest, request: Request) -> Any:
    """Observe the metrics (if given) and return a decision to reward later by its id."""
    metrics = request.app.state.metrics
    return await _calls.decide(
        service_of(request), metrics, name, body.observation, body.decision_id
    )


@router.post("/agents/{name}/rewards", response_model=s.RewardResult, dependencies=[operator])
async def reward(name: str, body: s.RewardRequest, request: Request) -> Any:
    """Reward a decision: a repeat with the same value is answered again (200), a repeat
    with another value is 409, an unknown or expired id 404."""
    return await _calls.reward(service_of(request), name, body.decision_id, body.reward)


@router.post("/agents/{name}/step", response_model=s.StepResult, dependencies=[operator])
async def step(name: str, body: s.StepRequest, request: Request) -> Any:
    """Reward the previous decision and decide on new metrics in one round trip."""
    return await _calls.step(
        service_of(request),
        request.app.state.metrics,
        name,
        body.decision_id,
        body.reward,
        body.observation,
        body.next_decision_id,
    )


@router.get("/agents/{name}/metrics", dependencies=[viewer])
async def agent_metrics(name: str, request: Request) -> dict[str, Any]:
    """The agent's learning signals (``Krystal.get_metrics()``), phase and phase history."""
    return s.json_safe(service_of(request).agent(name).metrics())  # type: ignore[no-any-return]


@router.get("/agents/{name}/decisions", response_model=s.DecisionList, dependencies=[viewer])
async def recent_decisions(
    name: str, request: Request, limit: Annotated[int, Query(ge=1, le=256)] = 50
) -> Any:
    """The agent's latest decisions, newest first, with their rewards once known."""
    return {"decisions": service_of(request).agent(name).recent_decisions(limit)}


@router.get("/whoami", response_model=s.Identity)
async def whoami(principal: Annotated[Principal, viewer]) -> Any:
    """The role of the key in use (``superadmin``/``local`` when auth is off)."""
    return principal._asdict()


@router.get("/keys", response_model=s.KeyList, dependencies=[admin])
async def list_keys(request: Request) -> Any:
    """The active API keys (ids, labels, roles; never the tokens)."""
    storage = service_of(request).storage
    assert storage is not None
    keys = await run_in_threadpool(storage.list_keys)
    return {"keys": [key._asdict() for key in keys]}


@router.post("/keys", response_model=s.KeyCreated, status_code=201)
async def create_key(
    body: s.KeyCreate, request: Request, principal: Annotated[Principal, admin]
) -> Any:
    """Create a key of at most the caller's role; its token is in this answer only."""
    key, token = await run_in_threadpool(
        service_of(request).create_key, body.name, body.role, principal.role
    )
    return {**key._asdict(), "token": token}


@router.delete("/keys/{key_id}", response_model=s.KeyInfo)
async def revoke_key(key_id: str, request: Request, principal: Annotated[Principal, admin]) -> Any:
    """Revoke a key (at most the caller's role); it stops working at once."""
    key = await run_in_threadpool(service_of(request).revoke_key, key_id, principal.role)
    return {**key._asdict(), "revoked_at": time.time()}
