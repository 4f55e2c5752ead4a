"""``EventWriter``: one thread that commits every write, many at a time (group commit).

Callers submit writes and get a future that completes once the transaction holding them
has committed; the service acknowledges a request only then, so an acknowledged reward
is in the database. While one batch commits, new writes queue up and go together in the
next transaction, so the cost of a commit (an fsync on SQLite) is shared by every
request that arrived meanwhile instead of being paid once per request. A single writer
also keeps each agent's events in the order they were applied in memory.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from krystal.storage._repository import Storage, Write

logger = logging.getLogger("krystal.storage")

_STOP = object()
_MAX_BATCH = 2000


Batch = list[tuple[list[Write], "Future[None]"]]


class BatchCommitter:
    """What both writers share: commit a batch in one transaction, settle its futures."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage
        self.batches = 0
        self.writes = 0
        self.last_error: BaseException | None = None

    def _commit(self, batch: Batch) -> None:
        writes = [write for group, _ in batch for write in group]
        try:
            self._storage.apply(writes)
        except Exception as exc:
            logger.exception("could not commit %d writes", len(writes))
            self.last_error = exc
            for _, future in batch:
                future.set_exception(exc)
            return
        self.last_error = None
        self.batches += 1
        self.writes += len(writes)
        for _, future in batch:
            future.set_result(None)


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
        super().__init__(storage)
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="krystal-writer", daemon=True)
        self._thread.start()

    def submit(self, writes: Sequence[Write]) -> Future[None]:
        """Queue ``writes`` (applied in order); the future completes once they are committed."""
        future: Future[None] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the event writer is closed")
            self._queue.put((list(writes), future))
        return future

    def close(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then stop the thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            item = self._queue.get()
            batch: Batch = []
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    batch.append(item)  # type: ignore[arg-type]
                if len(batch) >= _MAX_BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._commit(batch)
