"""The tables: agents, their checkpoints, the event log and the API keys.

Times are Unix seconds (floats) and documents are JSON text, so the same schema reads
the same on SQLite and PostgreSQL. Each agent numbers its own events (``seq``): the
order in which they were applied to the agent in memory, which is the order a restart
replays them in.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

# SQLite only auto-increments an ``INTEGER PRIMARY KEY``; PostgreSQL gets a 64-bit serial.
_EventId = BigInteger().with_variant(Integer(), "sqlite")

agents = Table(
    "krystal_agents",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("spec", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

checkpoints = Table(
    "krystal_checkpoints",
    metadata,
    Column("agent_id", String(32), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("state", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

events = Table(
    "krystal_events",
    metadata,
    Column("id", _EventId, primary_key=True, autoincrement=True),
    Column("agent_id", String(32), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("decision_id", String(64), nullable=True),
    Column("reward", Float, nullable=True),
    Column("payload", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    UniqueConstraint("agent_id", "seq", name="uq_krystal_events_agent_seq"),
    Index("ix_krystal_events_decision", "decision_id"),
)

api_keys = Table(
    "krystal_api_keys",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("role", String(16), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
)
