"""The decide, reward and step calls as the event loop runs them, answered once committed.

Both ways into them share this module: the FastAPI routes (validated by pydantic, in the
OpenAPI document) and the hot path (:mod:`krystal.server._hot`), which takes the common
well-formed request without FastAPI's per-request machinery. So both answer the same.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from starlette.concurrency import run_in_threadpool

from krystal.server._errors import UnavailableError
from krystal.server._metrics import ServiceMetrics
from krystal.server._service import Service
from krystal.server._waiting import CommitWaiter

_commits = CommitWaiter()


async def committed(result: tuple[Any, Future[None] | None]) -> Any:
    """The response once its writes are committed; 503 if the database refused them."""
    response, future = result
    if future is not None:
        try:
            await _commits.wait(future)
        except Exception as exc:
            raise UnavailableError(f"database: the change was not stored ({exc}); retry") from exc
    return response


async def decide(
    service: Service,
    metrics: ServiceMetrics,
    name: str,
    observation: Mapping[str, float] | None,
    decision_id: str | None,
) -> dict[str, Any]:
    """Observe and decide on agent ``name``; the decision once it is committed."""
    started = time.perf_counter()
    response: dict[str, Any] = await committed(service.decide(name, observation, decision_id))
    metrics.decide_latency.observe(time.perf_counter() - started)
    return response


async def reward(service: Service, name: str, decision_id: str, value: float) -> dict[str, Any]:
    """Reward a decision; one no longer in memory is looked up off the event loop."""
    result = service.reward_in_memory(name, decision_id, value)
    if result is None:
        result = await run_in_threadpool(service.reward_from_log, name, decision_id, value)
    answer: dict[str, Any] = await committed(result)
    return answer


async def step(
    service: Service,
    metrics: ServiceMetrics,
    name: str,
    decision_id: str | None,
    value: float | None,
    observation: Mapping[str, float],
    next_decision_id: str | None,
) -> dict[str, Any]:
    """Reward the previous decision and decide anew; both once committed."""
    started = time.perf_counter()
    args = (name, decision_id, value, observation, next_decision_id)
    if _needs_lookup(service, name, decision_id):
        result = await run_in_threadpool(service.step, *args)
    else:
        result = service.step(*args)
    response: dict[str, Any] = await committed(result)
    metrics.decide_latency.observe(time.perf_counter() - started)
    return response


def _needs_lookup(service: Service, name: str, decision_id: str | None) -> bool:
    # A reward for a decision no longer in memory is answered from the database;
    # that lookup blocks, so it runs off the event loop.
    if decision_id is None:
        return False
    agent = service.agent(name)
    return decision_id not in agent.pending and decision_id not in agent.settled
