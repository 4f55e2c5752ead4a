"""``EventWriter``: one thread that commits every write, many at a time (group commit).

Callers submit writes and get a future that completes once the transaction holding them
has committed; the service acknowledges a request only then, so an acknowledged reward
is in the database. While one batch commits, new writes queue up and go together in the
next transaction, so the cost of a commit (an fsync on SQLite) is shared by every
request that arrived meanwhile instead of being paid once per request. A single writer
also keeps each agent's events in the order they were applied in memory.

Every write of a batch shares the batch's one future: a busy service makes thousands of
writes a second, and a future per write (a lock and a condition each) was a good part of
what a request cost and of what the service kept in memory.

Once a batch is not committed, its agents are *behind*: the service holds in memory
changes the database lacks. Every later batch with a write for such an agent is refused
too, whole and without touching the database, until the service has reloaded the agent
and taken it out of :attr:`BatchCommitter.failed_agents`. So each agent's stored events
stay exactly a prefix of what it did: a batch that queued behind a failed one cannot be
committed after it (a PostgreSQL connection that drops and comes back, a lock that times
out once) and leave a gap, or a checkpoint of a state the log does not reach.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future

from krystal.storage._repository import Storage, Write

logger = logging.getLogger("krystal.storage")

_MAX_BATCH = 2000


class CommitError(RuntimeError):
    """A batch was not committed (its message says why)."""


def written_agents(writes: Sequence[Write]) -> set[str]:
    """The ids of the agents that ``writes`` are about.

    >>> sorted(written_agents([Write("event", {"agent_id": "a"}), Write("agent", {"id": "b"})]))
    ['a', 'b']
    """
    return {agent for agent in map(_agent_of, writes) if isinstance(agent, str)}


def behind(writes: Sequence[Write], failed: set[str]) -> str | None:
    """The first agent in ``failed`` that ``writes`` change, else None. A deletion does
    not count: it removes everything of the agent, whatever the database held.

    >>> behind([Write("delete", {"agent_id": "a"}), Write("event", {"agent_id": "b"})], {"a", "b"})
    'b'
    """
    if not failed:
        return None
    for write in writes:
        agent = _agent_of(write)
        if write.kind != "delete" and agent in failed:
            return str(agent)
    return None


def _agent_of(write: Write) -> object:
    # events, checkpoints and deletions name the agent by agent_id, its creation by id
    return write.row.get("agent_id", write.row.get("id"))


def refusal(agent: str) -> CommitError:
    """The error of a batch refused because ``agent`` is behind the database."""
    return CommitError(
        f"agent {agent}: an earlier change to it was not stored, so later ones are not "
        "either until it has been reloaded from the database"
    )


class BatchCommitter:
    """What both writers share: batches of writes, each with one future, committed in order.

    A subclass says how a new batch gets committed (:meth:`_wake`) and then calls
    :meth:`_commit_queued` from its committing thread or loop.
    """

    _storage: Storage  # what :meth:`_commit` applies the writes to

    def __init__(self) -> None:
        self.batches = 0
        self.writes = 0
        self.last_error: BaseException | None = None
        self._lock = threading.Lock()
        self._queue: deque[tuple[list[Write], Future[None]]] = deque()  # the last one is open
        self._newest: Future[None] | None = None
        self._closed = False
        #: Agents with a write in a batch that was not committed: what the service holds
        #: in memory for them is ahead of the database. A later batch with a write for
        #: one of them is refused (see the module docstring) until it is discarded here.
        self.failed_agents: set[str] = set()

    def submit(self, writes: Sequence[Write]) -> Future[None]:
        """Queue ``writes`` (applied in order); the future completes once they are committed."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the event writer is closed")
            opened = not self._queue or len(self._queue[-1][0]) >= _MAX_BATCH
            if opened:
                self._newest = Future()
                self._queue.append(([], self._newest))
            batch, future = self._queue[-1]
            batch.extend(writes)
        if opened:
            self._wake()
        return future

    def barrier(self) -> Future[None] | None:
        """A future that completes once everything submitted so far is committed (None if
        it is already): for answering a repeated request only after its original is stored.
        """
        newest = self._newest
        return None if newest is None or newest.done() else newest

    def _wake(self) -> None:
        raise NotImplementedError

    def _commit_queued(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    return
                writes, future = self._queue.popleft()
            self._commit(writes, future)

    def _note_failed(self, writes: Sequence[Write]) -> None:
        self.failed_agents |= written_agents(writes)

    def _commit(self, writes: list[Write], future: Future[None]) -> None:
        agent = behind(writes, self.failed_agents)
        if agent is not None:
            self._refused(writes, future, refusal(agent))
            return
        try:
            self._storage.apply(writes)
        except Exception as exc:
            logger.exception("could not commit %d writes", len(writes))
            self._refused(writes, future, exc)
            return
        self._committed(writes, future)

    def _committed(self, writes: Sequence[Write], future: Future[None]) -> None:
        self.last_error = None
        self.batches += 1
        self.writes += len(writes)
        future.set_result(None)

    def _refused(self, writes: Sequence[Write], future: Future[None], error: Exception) -> None:
        self._note_failed(writes)
        self.last_error = error
        future.set_exception(error)


class EventWriter(BatchCommitter):
    """Commit :class:`Write` batches on a background thread; see the module docstring.

    >>> import os, tempfile, time
    >>> db = Storage("sqlite:///" + os.path.join(tempfile.mkdtemp(), "w.db"))
    >>> writer = EventWriter(db)
    >>> row = {"agent_id": "a1", "seq": 0, "kind": "observe", "decision_id": None,
    ...        "reward": None, "payload": "{}", "created_at": time.time()}
    >>> writer.submit([Write("event", row)]).result(timeout=10)
    >>> writer.close(); db.count_events("a1")
    1
    """

    def __init__(self, storage: Storage) -> None:
        super().__init__()
        self._storage = storage
        self._ready = threading.Condition(self._lock)
        self._thread = threading.Thread(target=self._run, name="krystal-writer", daemon=True)
        self._thread.start()

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then stop the thread."""
        with self._lock:
            self._closed = True
            self._ready.notify()
        self._thread.join(timeout)

    def _wake(self) -> None:
        with self._lock:
            self._ready.notify()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._ready.wait()
                if not self._queue:  # closed, and everything committed
                    return
            self._commit_queued()
