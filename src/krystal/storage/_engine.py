"""Engines for the two supported databases, and the migrations run at start-up.

SQLite (the default, a single file) runs in WAL mode with ``synchronous=NORMAL``: a commit
is on disk once it returns as far as a crashed *process* is concerned (a ``kill -9``
loses nothing committed; only a power cut may lose the last transactions), and readers
never block the writer. PostgreSQL is reached with psycopg 3.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from krystal._errors import ConfigError
from krystal._imports import require

_MIGRATIONS = Path(__file__).resolve().parent / "migrations"
_EXAMPLES = "sqlite:///krystal.db or postgresql+psycopg://user@host:5432/dbname"


def normalise_url(url: str) -> Any:
    """Parse a database URL; ``postgresql://`` means psycopg 3; other databases are refused.

    >>> str(normalise_url("postgresql://kr@db/krystal"))
    'postgresql+psycopg://kr@db/krystal'
    >>> normalise_url("mysql://db/x")
    Traceback (most recent call last):
    ...
    krystal._errors.ConfigError: db: expected a SQLite or PostgreSQL URL ...
    """
    sqlalchemy = require("sqlalchemy", "server")
    try:
        parsed = sqlalchemy.engine.make_url(url)
    except (sqlalchemy.exc.ArgumentError, ValueError, TypeError):
        raise ConfigError(f"db: expected a database URL such as {_EXAMPLES}, got {url!r}") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return parsed
    if backend == "sqlite":
        if parsed.database in (None, "", ":memory:"):
            raise ConfigError(
                f"db: the service needs a database file (an in-memory SQLite database is "
                f"private to one connection), got {url!r}; use e.g. sqlite:///krystal.db"
            )
        return parsed
    raise ConfigError(f"db: expected a SQLite or PostgreSQL URL such as {_EXAMPLES}, got {url!r}")


def create_engine(url: str, migrate_schema: bool = True) -> Any:
    """An engine for ``url`` (see :func:`normalise_url`), migrated to the latest schema
    unless ``migrate_schema`` is false (a second process on a database opened already)."""
    sqlalchemy = require("sqlalchemy", "server")
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
        engine = sqlalchemy.create_engine(
            parsed, connect_args={"timeout": 30.0, "check_same_thread": False}
        )
        sqlalchemy.event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = sqlalchemy.create_engine(
            parsed, pool_size=8, max_overflow=8, pool_pre_ping=True, pool_recycle=1800
        )
    if migrate_schema:
        migrate(engine)
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def migrate(engine: Any) -> None:
    """Bring the database behind ``engine`` to the newest schema (Alembic migrations)."""
    require("alembic", "server")
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
