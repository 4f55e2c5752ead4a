"""Real services for the tests: ``krystal serve`` in a subprocess on a free loopback port,
and a throwaway PostgreSQL cluster started with the machine's initdb/pg_ctl.

The fixtures at the end are imported by the conftest of each folder that needs them
(tests/server, tests/storage, tests/client, tests/cli).
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import krystal

SOURCE_ROOT = str(Path(krystal.__file__).resolve().parent.parent)
SERVE = "from krystal.cli import main; main()"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def source_env(**extra: str) -> dict[str, str]:
    """This environment, with this source tree first on PYTHONPATH and no KRYSTAL_* set."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("KRYSTAL_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [SOURCE_ROOT, env.get("PYTHONPATH")]))
    env.update(extra)
    return env


class LiveServer:
    """``krystal serve`` on a free port; ``start``, ``stop`` (SIGTERM) or ``kill`` (SIGKILL)."""

    def __init__(self, db: str, folder: Path, *, auth: bool = False, **settings: str) -> None:
        self.db = db
        self.folder = folder
        self.auth = auth
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = source_env(**{f"KRYSTAL_SERVER_{k.upper()}": v for k, v in settings.items()})
        self.process: subprocess.Popen[bytes] | None = None
        self.log = folder / f"serve-{self.port}.log"

    def start(self, timeout: float = 60.0) -> LiveServer:
        """Start the process and wait until it answers /health."""
        args = ["serve", "--port", str(self.port), "--db", self.db]
        args.append("--auth" if self.auth else "--no-auth")
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-c", SERVE, *args],
                cwd=self.folder,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"krystal serve exited early:\n{self.output()}")
            try:
                if httpx.get(self.url + "/health", timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"krystal serve did not become ready:\n{self.output()}")

    def stop(self) -> None:
        """A graceful stop (SIGTERM), as a supervisor would do."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def kill(self) -> None:
        """``kill -9``: no shutdown code runs."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def output(self) -> str:
        """What the process printed so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def writer_processes(self) -> list[Any]:
        """The server's writer processes (psutil processes; normally one)."""
        import psutil

        assert self.process is not None
        children = psutil.Process(self.process.pid).children()
        return [c for c in children if "_process_writer" in " ".join(c.cmdline())]


def find_pg_bin() -> Path | None:
    """The newest /usr/lib/postgresql/*/bin holding initdb and pg_ctl, or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    return Path(found[-1]).parent if found else None


class PostgresCluster:
    """A throwaway cluster in a temporary folder on a free port, trust auth on 127.0.0.1.

    initdb refuses to run as root, so as root the cluster belongs to ``nobody``: its
    folder is handed over and the server programs run with that user id.
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="krystal-pg-"))
        self.data = self.folder / "data"
        self._user: int | None = None
        self._group: int | None = None
        if os.geteuid() == 0:
            import pwd

            nobody = pwd.getpwnam("nobody")
            self._user, self._group = nobody.pw_uid, nobody.pw_gid
            os.chown(self.folder, self._user, self._group)

    def _run(self, *args: str) -> None:
        subprocess.run(
            list(args),
            check=True,
            capture_output=True,
            cwd=self.folder,
            user=self._user,
            group=self._group,
            timeout=120,
        )

    def start(self) -> PostgresCluster:
        """initdb, then pg_ctl start (waits until it accepts connections)."""
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            "-c fsync=off -c max_connections=50"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "pg.log"),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip
        return self

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of one database of the cluster."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self, name: str) -> str:
        """Create a database and return its URL."""
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the cluster at once and remove its folder."""
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


_names = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """A PostgreSQL cluster for the session (skipped only when initdb is missing)."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.skip("no PostgreSQL here: /usr/lib/postgresql/*/bin/initdb not found")
    cluster = PostgresCluster(bin_dir).start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'krystal.db'}"
    cluster: PostgresCluster = request.getfixturevalue("postgres")
    return cluster.new_database(f"t{os.getpid()}_{next(_names)}")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """``serve(db, auth=False, reward_wait="60")`` starts ``krystal serve``; killed after."""
    started: list[LiveServer] = []

    def start(db: str, **options: object) -> LiveServer:
        server = LiveServer(db, tmp_path, **options)  # type: ignore[arg-type]
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.kill()
