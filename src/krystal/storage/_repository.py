"""``Storage``: every read and write the service makes, in one place, over SQLAlchemy Core.

The hot-path writes (events, checkpoints, agents created or deleted) go through
:class:`~krystal.storage.EventWriter`, which applies them with :meth:`Storage.apply` in
batches; everything here is also usable on its own, e.g. by ``krystal keys``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

from krystal._errors import InputError
from krystal.storage import _models as m
from krystal.storage._engine import create_engine
from krystal.storage._keys import ROLES, hash_token, new_token, role_rank

_WAL_PAGES = 10_000
_EVENT_COLUMNS = ("agent_id", "seq", "kind", "decision_id", "reward", "payload", "created_at")


class StoredAgent(NamedTuple):
    """An agent row with its latest checkpoint (``seq`` -1 and ``state`` None if none)."""

    id: str
    name: str
    spec: str
    created_at: float
    seq: int
    state: str | None


class StoredEvent(NamedTuple):
    """One row of the event log."""

    seq: int
    kind: str
    decision_id: str | None
    reward: float | None
    payload: str
    created_at: float


class StoredKey(NamedTuple):
    """An API key as stored (never the token itself)."""

    id: str
    name: str
    role: str
    created_at: float
    revoked_at: float | None


class Write(NamedTuple):
    """One write for :meth:`Storage.apply`: ``kind`` is event, checkpoint, agent or delete."""

    kind: str
    row: dict[str, Any]


class Storage:
    """The service's database: SQLite file by default, PostgreSQL by URL.

    >>> import tempfile, os
    >>> db = Storage("sqlite:///" + os.path.join(tempfile.mkdtemp(), "k.db"))
    >>> key, token = db.create_key("ci", "operator")
    >>> db.key_for_token(token).role, db.key_for_token("krs_wrong")
    ('operator', None)
    >>> db.close()
    """

    def __init__(self, url: str, migrate: bool = True) -> None:
        import sqlalchemy

        self._sa = sqlalchemy
        self.engine = create_engine(url, migrate)
        self.url = self.engine.url.render_as_string(hide_password=True)
        # The writer's connection, kept between batches: checking one out of the pool for
        # each commit (with PostgreSQL's pre-ping, a round trip) cost more than the commit.
        self._connection: Any = None
        self._apply_lock = threading.Lock()
        compiled = sqlalchemy.insert(m.events).compile(
            dialect=self.engine.dialect, column_keys=list(_EVENT_COLUMNS)
        )
        self._insert_events = str(compiled)
        self._event_order = compiled.positiontup if compiled.positional else None

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return str(self.engine.dialect.name)

    def close(self) -> None:
        """Release every pooled connection."""
        with self._apply_lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None
        self.engine.dispose()

    def ping(self) -> None:
        """Run a trivial query; raises if the database cannot be reached."""
        with self.engine.connect() as connection:
            connection.execute(self._sa.text("SELECT 1"))

    # -- batched writes ------------------------------------------------------------

    def apply(self, writes: Sequence[Write]) -> None:
        """Apply ``writes`` in order in one transaction (all or nothing)."""
        with self._apply_lock:
            for attempt in (1, 2):
                connection = self._connection or self._writer_connection()
                self._connection = None
                try:
                    self._write(connection, writes)
                except self._sa.exc.DBAPIError as exc:
                    connection.close()  # rolls back
                    # The kept connection died (a database restart): nothing of this
                    # batch reached the database, so it is safe to send it again.
                    if attempt == 1 and exc.connection_invalidated:
                        continue
                    raise
                except BaseException:
                    connection.close()
                    raise
                try:
                    connection.commit()
                except BaseException:
                    connection.close()
                    raise
                self._connection = connection
                return

    def _writer_connection(self) -> Any:
        connection = self.engine.connect()
        if self.dialect == "sqlite":
            # The commits leave most of the WAL to :meth:`checkpoint`, which the service
            # runs on another thread every second: copying pages back into the database
            # (and its fsync) inside a commit held up every request of that batch. They
            # still checkpoint at 10,000 pages (40 MB), which bounds the WAL: a passive
            # checkpoint alone never lets a busy writer start the WAL over.
            connection.exec_driver_sql(f"PRAGMA wal_autocheckpoint={_WAL_PAGES}")
            connection.commit()
        return connection

    def checkpoint(self) -> None:
        """Copy what the SQLite WAL holds back into the database, without waiting on the
        writer (a passive checkpoint); nothing to do on PostgreSQL."""
        if self.dialect == "sqlite":
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def _write(self, connection: Any, writes: Sequence[Write]) -> None:
        sa = self._sa
        start = 0
        while start < len(writes):
            kind = writes[start].kind
            end = start
            while end < len(writes) and writes[end].kind == kind:
                end += 1
            rows = [write.row for write in writes[start:end]]
            if kind == "event":
                # the statement compiled once, straight to the driver: most batches are
                # only events, and SQLAlchemy's per-execute work was most of their cost
                order = self._event_order
                params = rows if order is None else [tuple(r[c] for c in order) for r in rows]
                connection.exec_driver_sql(self._insert_events, params)
            elif kind == "agent":
                connection.execute(sa.insert(m.agents), rows)
            elif kind == "checkpoint":
                for row in rows:
                    self._upsert_checkpoint(connection, row)
            elif kind == "delete":
                for row in rows:
                    self._delete_agent(connection, row["agent_id"])
            else:
                raise ValueError(f"unknown write kind {kind!r}")
            start = end

    def _upsert_checkpoint(self, connection: Any, row: dict[str, Any]) -> None:
        sa = self._sa
        done = connection.execute(
            sa.update(m.checkpoints)
            .where(m.checkpoints.c.agent_id == row["agent_id"])
            .values(seq=row["seq"], state=row["state"], created_at=row["created_at"])
        )
        if done.rowcount == 0:
            connection.execute(sa.insert(m.checkpoints), [row])

    def _delete_agent(self, connection: Any, agent_id: str) -> None:
        sa = self._sa
        connection.execute(sa.delete(m.events).where(m.events.c.agent_id == agent_id))
        connection.execute(sa.delete(m.checkpoints).where(m.checkpoints.c.agent_id == agent_id))
        connection.execute(sa.delete(m.agents).where(m.agents.c.id == agent_id))

    # -- agents and events ---------------------------------------------------------

    def load_agents(self) -> list[StoredAgent]:
        """Every agent with its latest checkpoint, oldest agent first."""
        sa = self._sa
        query = (
            sa.select(
                m.agents.c.id,
                m.agents.c.name,
                m.agents.c.spec,
                m.agents.c.created_at,
                m.checkpoints.c.seq,
                m.checkpoints.c.state,
            )
            .select_from(
                m.agents.outerjoin(m.checkpoints, m.checkpoints.c.agent_id == m.agents.c.id)
            )
            .order_by(m.agents.c.created_at, m.agents.c.name)
        )
        with self.engine.connect() as connection:
            return [
                StoredAgent(
                    r.id, r.name, r.spec, r.created_at, -1 if r.seq is None else r.seq, r.state
                )
                for r in connection.execute(query)
            ]

    def events_after(self, agent_id: str, seq: int) -> Iterator[StoredEvent]:
        """The agent's events with a sequence number above ``seq``, in order."""
        sa = self._sa
        e = m.events.c
        query = (
            sa.select(e.seq, e.kind, e.decision_id, e.reward, e.payload, e.created_at)
            .where(e.agent_id == agent_id, e.seq > seq)
            .order_by(e.seq)
        )
        with self.engine.connect() as connection:
            for row in connection.execute(query).yield_per(1000):
                yield StoredEvent(*row)

    def history(self, agent_id: str, up_to: int, decisions: int) -> list[StoredEvent]:
        """The agent's decide, reward and reset events from its ``decisions``-th latest
        decision at or before ``up_to`` through ``up_to``, in order (for monitoring)."""
        sa = self._sa
        e = m.events.c
        mine = (e.agent_id == agent_id, e.seq <= up_to)
        first = (
            sa.select(e.seq)
            .where(*mine, e.kind == "decide")
            .order_by(e.seq.desc())
            .limit(1)
            .offset(max(0, decisions - 1))
        )
        query = (
            sa.select(e.seq, e.kind, e.decision_id, e.reward, e.payload, e.created_at)
            .where(*mine, e.kind.in_(("decide", "reward", "reset")))
            .order_by(e.seq)
        )
        with self.engine.connect() as connection:
            start = connection.execute(first).scalar()
            if start is not None:
                query = query.where(e.seq >= start)
            return [StoredEvent(*row) for row in connection.execute(query)]

    def last_seq(self, agent_id: str) -> int:
        """The agent's highest event sequence number (-1 if it has none)."""
        sa = self._sa
        with self.engine.connect() as connection:
            value = connection.execute(
                sa.select(sa.func.max(m.events.c.seq)).where(m.events.c.agent_id == agent_id)
            ).scalar()
        return -1 if value is None else int(value)

    def decision_events(self, agent_id: str, decision_id: str) -> list[StoredEvent]:
        """The logged events of one decision (its decide and, once rewarded, its reward)."""
        sa = self._sa
        e = m.events.c
        query = (
            sa.select(e.seq, e.kind, e.decision_id, e.reward, e.payload, e.created_at)
            .where(e.decision_id == decision_id, e.agent_id == agent_id)
            .order_by(e.seq)
        )
        with self.engine.connect() as connection:
            return [StoredEvent(*row) for row in connection.execute(query)]

    def count_events(self, agent_id: str | None = None, kind: str | None = None) -> int:
        """How many events are logged (optionally of one agent and/or one kind)."""
        sa = self._sa
        query = sa.select(sa.func.count()).select_from(m.events)
        if agent_id is not None:
            query = query.where(m.events.c.agent_id == agent_id)
        if kind is not None:
            query = query.where(m.events.c.kind == kind)
        with self.engine.connect() as connection:
            return int(connection.execute(query).scalar() or 0)

    # -- API keys ------------------------------------------------------------------

    def create_key(self, name: str, role: str) -> tuple[StoredKey, str]:
        """Create a key; returns it with its token (shown once: only the hash is stored)."""
        role_rank(role)
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            raise InputError(f"name: expected a label of 1 to 100 characters, got {name!r}")
        key_id, token = new_token()
        key = StoredKey(key_id, name.strip(), role, time.time(), None)
        row = key._asdict() | {"token_hash": hash_token(token)}
        with self.engine.begin() as connection:
            connection.execute(self._sa.insert(m.api_keys), [row])
        return key, token

    def key_for_token(self, token: str) -> StoredKey | None:
        """The active (not revoked) key whose token this is, or None."""
        sa = self._sa
        k = m.api_keys.c
        query = sa.select(k.id, k.name, k.role, k.created_at, k.revoked_at).where(
            k.token_hash == hash_token(token), k.revoked_at.is_(None)
        )
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else StoredKey(*row)

    def list_keys(self, include_revoked: bool = False) -> list[StoredKey]:
        """The keys, oldest first (revoked ones too with ``include_revoked``)."""
        sa = self._sa
        k = m.api_keys.c
        query = sa.select(k.id, k.name, k.role, k.created_at, k.revoked_at).order_by(
            k.created_at, k.id
        )
        if not include_revoked:
            query = query.where(k.revoked_at.is_(None))
        with self.engine.connect() as connection:
            return [StoredKey(*row) for row in connection.execute(query)]

    def get_key(self, key_id: str) -> StoredKey | None:
        """One key by id (revoked or not), or None."""
        sa = self._sa
        k = m.api_keys.c
        query = sa.select(k.id, k.name, k.role, k.created_at, k.revoked_at).where(k.id == key_id)
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        return None if row is None else StoredKey(*row)

    def revoke_key(self, key_id: str) -> bool:
        """Revoke a key; False if there is no active key with that id."""
        sa = self._sa
        k = m.api_keys.c
        with self.engine.begin() as connection:
            done = connection.execute(
                sa.update(m.api_keys)
                .where(k.id == key_id, k.revoked_at.is_(None))
                .values(revoked_at=time.time())
            )
        return bool(done.rowcount)


__all__ = ["ROLES", "Storage", "StoredAgent", "StoredEvent", "StoredKey", "Write"]
