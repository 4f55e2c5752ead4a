"""Persistence of the service: agents, checkpoints, the event log and API keys.

SQLAlchemy 2 Core over SQLite (a WAL-mode file, the default) or PostgreSQL (psycopg 3),
with the schema kept by Alembic migrations shipped in this package and applied when a
:class:`Storage` is opened. Needs the ``server`` extra (``pip install "krystal-sdk[server]"``).

>>> import os, tempfile
>>> from krystal.storage import Storage
>>> db = Storage("sqlite:///" + os.path.join(tempfile.mkdtemp(), "krystal.db"))
>>> db.dialect, db.list_keys()
('sqlite', [])
>>> db.close()
"""

from krystal._imports import require

require("sqlalchemy", "server")

from krystal.storage._engine import create_engine, migrate, normalise_url  # noqa: E402
from krystal.storage._keys import ROLES, hash_token, new_token, role_rank  # noqa: E402
from krystal.storage._lease import DatabaseInUseError, ServingLease  # noqa: E402
from krystal.storage._process_writer import ProcessWriter  # noqa: E402
from krystal.storage._repository import (  # noqa: E402
    Storage,
    StoredAgent,
    StoredEvent,
    StoredKey,
    Write,
)
from krystal.storage._writer import CommitError, EventWriter  # noqa: E402

__all__ = [
    "ROLES",
    "CommitError",
    "DatabaseInUseError",
    "EventWriter",
    "ProcessWriter",
    "ServingLease",
    "Storage",
    "StoredAgent",
    "StoredEvent",
    "StoredKey",
    "Write",
    "create_engine",
    "hash_token",
    "migrate",
    "new_token",
    "normalise_url",
    "role_rank",
]
