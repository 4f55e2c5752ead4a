"""``ServingLease``: one service at a time on a database.

A service keeps its agents in memory and numbers each agent's events itself, so two
services on one database would both host every agent, each numbering events from what it
alone has seen: their writes would collide, and a reward one of them acknowledged would
be unknown to the other. A service therefore takes a lease on its database when it
starts and holds it while it runs: an exclusive lock on a file beside the SQLite
database (``<file>.serving``, which also names the process holding it) or a PostgreSQL
advisory lock held by one connection. Both go with the process, ``kill -9`` included
(the kernel drops the file lock, PostgreSQL the session's lock), so a restart after a
crash is never refused; a second service gets :class:`DatabaseInUseError`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

from krystal._errors import ConfigError
from krystal.storage._repository import Storage

#: The advisory lock's key on PostgreSQL ("krystal" in ASCII): advisory locks are per
#: database, so one key serves every database on a server.
ADVISORY_KEY = 0x6B72797374616C


class DatabaseInUseError(ConfigError):
    """Another service is serving this database (the message says which)."""


class ServingLease:
    """The right to serve ``storage``'s database until :meth:`release`.

    >>> import os, tempfile
    >>> db = Storage("sqlite:///" + os.path.join(tempfile.mkdtemp(), "k.db"))
    >>> lease = ServingLease.take(db)
    >>> try:
    ...     ServingLease.take(db)
    ... except DatabaseInUseError as exc:
    ...     print(f"already being served by process {os.getpid()} " in str(exc))
    True
    >>> lease.release(); ServingLease.take(db).release(); db.close()
    """

    def __init__(self, release: Callable[[], None]) -> None:
        self._release: Callable[[], None] | None = release

    @classmethod
    def take(cls, storage: Storage) -> ServingLease:
        """Take the lease, or raise :class:`DatabaseInUseError` if a service holds it."""
        if storage.dialect == "sqlite":
            return cls._lock_file(storage)
        return cls._advisory_lock(storage)

    def release(self) -> None:
        """Give the lease up (again: nothing)."""
        release, self._release = self._release, None
        if release is not None:
            release()

    @classmethod
    def _lock_file(cls, storage: Storage) -> ServingLease:
        try:
            import fcntl
        except ImportError:  # no flock on this platform: serve without the guard
            return cls(lambda: None)
        path = f"{storage.engine.url.database}.serving"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise _in_use(storage, f"process {holder} (it holds {path})") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))

        def release() -> None:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

        return cls(release)

    @classmethod
    def _advisory_lock(cls, storage: Storage) -> ServingLease:
        import sqlalchemy as sa  # the storage layer's own dependency, loaded already

        key = {"key": ADVISORY_KEY}
        connection: Any = storage.engine.connect()  # held for as long as the lease
        try:
            taken = connection.execute(sa.text("SELECT pg_try_advisory_lock(:key)"), key).scalar()
            holder = None
            if not taken:
                holder = connection.execute(
                    sa.text(
                        "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                        "AND ((classid::bigint << 32) | objid::bigint) = :key"
                    ),
                    key,
                ).scalar()
            connection.commit()  # a session lock outlives the transaction: none stays open
        except BaseException:
            connection.close()
            raise
        if not taken:
            connection.close()
            raise _in_use(storage, f"the service with PostgreSQL session {holder}")

        def release() -> None:
            with contextlib.suppress(Exception):  # a dropped connection has let go already
                connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), key)
                connection.commit()
            connection.close()

        return cls(release)


def _in_use(storage: Storage, holder: str) -> DatabaseInUseError:
    return DatabaseInUseError(
        f"db: {storage.url} is already being served by {holder}; stop that service, or "
        "give this one another database (two services on one database would both host "
        "every agent)"
    )
