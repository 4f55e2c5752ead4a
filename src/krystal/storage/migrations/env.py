"""Alembic environment: runs on the connection handed over by :func:`krystal.storage.migrate`."""

from alembic import context

from krystal.storage._models import metadata


def _run() -> None:
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


# Only inside an Alembic run; importing the module (e.g. for doctests) does nothing.
if getattr(context, "config", None) is not None:
    _run()
