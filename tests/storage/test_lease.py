"""One service at a time on a database: the serving lease, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from live_server import source_env

from krystal.storage import DatabaseInUseError, ServingLease, Storage

# A process that takes the lease, says so, and waits to be killed.
_HOLDER = """
import sys, time
from krystal.storage import ServingLease, Storage
lease = ServingLease.take(Storage(sys.argv[1]))
print("held", flush=True)
time.sleep(120)
"""


def _take_within(storage: Storage, seconds: float) -> ServingLease:
    # PostgreSQL lets a session's locks go once it notices the client is gone.
    deadline = time.monotonic() + seconds
    while True:
        try:
            return ServingLease.take(storage)
        except DatabaseInUseError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_a_second_lease_is_refused_until_the_first_is_released(db_url: str) -> None:
    storage = Storage(db_url)
    lease = ServingLease.take(storage)
    with pytest.raises(DatabaseInUseError, match="is already being served by") as refused:
        ServingLease.take(storage)
    message = str(refused.value)
    assert message.startswith("db: ") and "another database" in message
    if storage.dialect == "sqlite":  # the lock file names the process holding it
        assert f"process {os.getpid()} " in message
    else:
        assert "PostgreSQL session" in message
    lease.release()
    lease.release()  # again: nothing
    ServingLease.take(storage).release()
    storage.close()


def test_a_killed_service_leaves_the_lease_free(db_url: str) -> None:
    storage = Storage(db_url)  # migrated here, so the holder's start is quick
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, db_url],
        stdout=subprocess.PIPE,
        env=source_env(),
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        with pytest.raises(DatabaseInUseError, match=f"process {holder.pid} |PostgreSQL"):
            ServingLease.take(storage)
        os.kill(holder.pid, signal.SIGKILL)  # no clean-up runs
        holder.wait(30)
        _take_within(storage, 30).release()  # a restart after a crash is never refused
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(30)
        storage.close()
