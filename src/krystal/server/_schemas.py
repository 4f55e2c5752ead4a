"""Request and response bodies of the HTTP API (they make up the OpenAPI document)."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

Finite = Annotated[float, Field(allow_inf_nan=False)]
Observation = dict[str, Finite]
Action = list[float] | dict[str, Any]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AgentCreate(_Body):
    """A new agent: a preset, a named action space and/or KrystalConfig settings."""

    name: str = Field(description="1-64 letters, digits, '_', '-' or '.'.", examples=["autoscaler"])
    preset: str | None = Field(default=None, description="game, server, ml or iot.")
    space: dict[str, dict[str, Any]] | None = Field(
        default=None,
        description='Named knobs, e.g. {"replicas": {"type": "int", "low": 1, "high": 8}}.',
    )
    config: dict[str, Any] | None = Field(default=None, description="KrystalConfig fields.")


class AgentInfo(BaseModel):
    """An agent's spec, phase and counters."""

    name: str
    preset: str | None
    space: dict[str, dict[str, Any]] | None
    config: dict[str, Any]
    created_at: float
    phase: str
    cycle: int
    total_reward: float
    decisions: int
    rewards: int
    default_rewards: int
    pending: int
    mean_reward: float | None
    recent_mean_reward: float | None
    decision_rate: float = Field(description="Decisions per second over the last minute.")


class AgentList(BaseModel):
    """Every hosted agent."""

    agents: list[AgentInfo]


class DecideRequest(_Body):
    """Metrics to observe (optional if the agent observed before) and an optional id."""

    observation: Observation | None = Field(default=None, examples=[{"latency_ms": 120.0}])
    decision_id: str | None = Field(
        default=None,
        description="Your own id (8-64 of A-Z a-z 0-9 _ -) makes a retried decide safe: "
        "the same id returns the same decision.",
    )


class Decision(BaseModel):
    """A decision waiting for its reward."""

    agent: str
    decision_id: str
    action: Action
    phase: str
    cycle: int
    created_at: float


class RewardRequest(_Body):
    """The reward of one decision."""

    decision_id: str
    reward: Finite


class RewardResult(BaseModel):
    """What the reward did: ``learned`` is false for a duplicate or a superseded decision."""

    agent: str
    decision_id: str
    reward: float
    duplicate: bool
    learned: bool
    td_error: float | None
    cycle: int


class StepRequest(_Body):
    """Reward the previous decision (both fields, or neither) and decide on new metrics."""

    decision_id: str | None = None
    reward: Finite | None = None
    observation: Observation
    next_decision_id: str | None = None


class StepResult(BaseModel):
    """The reward's result (null when none was given) and the new decision."""

    reward: RewardResult | None
    decision: Decision


class DecisionRecord(BaseModel):
    """A recent decision with its reward once known."""

    decision_id: str
    action: Action
    phase: str
    cycle: int
    created_at: float
    reward: float | None
    source: str | None = Field(description="client, or default when the wait ran out.")
    td_error: float | None
    rewarded_at: float | None
    superseded: bool


class DecisionList(BaseModel):
    """Recent decisions, newest first."""

    decisions: list[DecisionRecord]


class KeyCreate(_Body):
    """A new API key."""

    name: str = Field(min_length=1, max_length=100, examples=["ci"])
    role: str = Field(examples=["operator"], description="viewer, operator, admin or superadmin.")


class KeyInfo(BaseModel):
    """A key as stored (the token is never shown again)."""

    id: str
    name: str
    role: str
    created_at: float
    revoked_at: float | None


class KeyCreated(KeyInfo):
    """A new key with its token: shown this once."""

    token: str


class KeyList(BaseModel):
    """The active keys."""

    keys: list[KeyInfo]


class Identity(BaseModel):
    """The caller's role."""

    role: str
    key_id: str | None
    name: str


class Health(BaseModel):
    """Liveness and readiness."""

    status: str
    database: str
    agents: int
    uptime_seconds: float


class ErrorBody(BaseModel):
    """An error answer: what was wrong (for a malformed request, one entry per field)."""

    detail: str | list[dict[str, Any]]


#: The error answers every operation may give, documented on each (``create_app``).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not valid JSON."},
    401: {"model": ErrorBody, "description": "Authentication is on and no active key was sent."},
    403: {"model": ErrorBody, "description": "The key's role is too low for this operation."},
    404: {"model": ErrorBody, "description": "No such agent, decision or key, or it expired."},
    409: {"model": ErrorBody, "description": "Conflicts with what is stored, or out of order."},
    422: {"model": ErrorBody, "description": "A field has the wrong type or value."},
    503: {"model": ErrorBody, "description": "The database did not store it; nothing changed."},
}


class LegacyDecide(_Body):
    """The published API's decide: optional metrics, then the action."""

    observation: Observation | None = None


class LegacyDecision(BaseModel):
    """The published API's decision: the action list (or dict) and the phase."""

    action: Action
    phase: str
    cycle: int
    decision_id: str


class LegacyReward(_Body):
    """The published API's reward: for the default agent's latest decision."""

    reward: Finite


class LegacyRewardResult(BaseModel):
    """The TD error, as ``Krystal.reward`` returns it."""

    td_error: float
    cycle: int
    decision_id: str


class LegacyState(BaseModel):
    """The default agent after an observe or a reset."""

    agent: str
    cycle: int
    phase: str


class Uptime(BaseModel):
    """How long the service has been up."""

    started_at: float
    uptime_seconds: float


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats (also nested) replaced by None.

    >>> json_safe({"a": [1.0, float("inf")], "b": float("nan")})
    {'a': [1.0, None], 'b': None}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value
