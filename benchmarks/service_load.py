"""How much load does ``krystal serve`` take? Decide+reward pairs per second and latency.

Each run starts ``krystal serve`` on a free loopback port, on a fresh SQLite file or a
throwaway PostgreSQL cluster (``initdb``/``pg_ctl`` in a temp dir), creates one agent per
client (the ``server`` preset, with the pure-Python or the numpy reward model) and runs
``--clients`` concurrent clients on their own agents, each doing decide then reward
(``pairs``) or one ``/step`` round trip per pair (``step``), until ``--pairs`` pairs are
done or ``--max-seconds`` pass. It reports pairs per second, p50/p99 latency of each
request (at the client, from request sent to response read), the server's and the
client's CPU time, the server's resident memory after given numbers of logged events,
and checks that the database holds every acknowledged event.

Two kinds of run. Without a rate (``sqlite/numpy/pairs``) every client sends its next
request as soon as it has the answer to the last: that finds the most pairs per second
the service gives, and with 8 requests always in flight each one waits behind the other
seven, so the latency there is about 8 divided by the rate. With a rate
(``sqlite/numpy/pairs@1500``) the clients together start that many pairs per second, on a
fixed schedule: that is the latency a service sees at that load. A client that falls
behind (an answer came after its next pair was due) counts its latency from when the pair
was due, so the service's backlog is counted in full.

The load generator speaks HTTP/1.1 over keep-alive asyncio streams (on uvloop when it is
installed) with each request's head built once, rather than through httpx: on a 2-core
machine the client shares the CPU with the server, and a client that spends a few
hundred microseconds per request in its own machinery measures itself. Its CPU time is
reported next to the server's so the split is visible.

Each run is repeated (``--repeat``, interleaved with the other runs so that a burst of
other work on the machine hits them alike) and the repeat with the median pairs per second
is reported, with every repeat's figures beside it.

    python benchmarks/service_load.py                          # the default runs
    python benchmarks/service_load.py --runs sqlite/numpy/pairs@1500 --pairs 5000 --repeat 1

Loopback only, bounded in pairs and seconds; it stops the servers (and PostgreSQL) itself.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

RESULTS = Path(__file__).parent / "results"
HOST = "127.0.0.1"
DEFAULT_RUNS = (
    "sqlite/numpy/pairs@1500",
    "sqlite/numpy/step@1500",
    "sqlite/numpy/pairs@750",
    "sqlite/numpy/pairs",
    "sqlite/numpy/step",
    "sqlite/python/pairs",
    "postgresql/numpy/pairs@1500",
    "postgresql/numpy/pairs",
)
GOALS = {"decide_p50_ms": 2.0, "decide_p99_ms": 10.0, "pairs_per_second": 1500.0}


# -- servers -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _as_postgres(command: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root; the cluster belongs to the postgres user.
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@contextlib.contextmanager
def postgres_cluster(folder: Path) -> Iterator[str]:
    """A PostgreSQL cluster in ``folder`` on a free loopback port; yields its URL."""
    for tool in ("initdb", "pg_ctl"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: install PostgreSQL (scripts/system_deps.sh)")
    data = folder / "pgdata"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres")
        shutil.chown(data, "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres(["initdb", "-D", str(data), "-U", "krystal", "--auth=trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses={HOST} -p {port} -k {folder} -c fsync=on"
    subprocess.run(
        _as_postgres(
            ["pg_ctl", "-D", str(data), "-o", options, "-w", "-l", str(folder / "pg.log"), "start"]
        ),
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            _as_postgres(["createdb", "-h", HOST, "-p", str(port), "-U", "krystal", "krystal"]),
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg://krystal@{HOST}:{port}/krystal"
    finally:
        subprocess.run(
            _as_postgres(["pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
        )


@contextlib.contextmanager
def krystal_server(db: str, folder: Path) -> Iterator[tuple[str, int]]:
    """``krystal serve`` on ``db`` and a free port; yields (base URL, server pid)."""
    port = free_port()
    command = [
        sys.executable,
        "-c",
        "from krystal.cli import main; main()",
        "serve",
        "--port",
        str(port),
        "--db",
        db,
    ]
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://{HOST}:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"krystal serve exited: {(folder / 'server.log').read_text()}")
            with contextlib.suppress(OSError):
                status, _ = asyncio.run(_one_request(port, "GET", "/health", None))
                if status == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit("krystal serve did not become healthy within 60 s")
            time.sleep(0.2)
        yield base, process.pid
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


# -- the load generator ------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection that sends JSON and reads JSON."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._heads: dict[tuple[str, str], bytes] = {}

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(HOST, port)
        return cls(reader, writer)

    async def request(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        payload = b"" if body is None else json.dumps(body).encode()
        head = self._heads.get((method, path))
        if head is None:  # built once per route: only the length changes
            head = self._heads[method, path] = (
                f"{method} {path} HTTP/1.1\r\nHost: {HOST}\r\n"
                "Content-Type: application/json\r\nContent-Length: "
            ).encode()
        self.writer.write(b"%s%d\r\n\r\n%s" % (head, len(payload), payload))
        header = await self.reader.readuntil(b"\r\n\r\n")
        status = int(header[9:12])
        found = header.lower().find(b"\r\ncontent-length:")
        length = int(header[found + 17 : header.index(b"\r\n", found + 2)]) if found >= 0 else 0
        data = await self.reader.readexactly(length) if length else b""
        return status, json.loads(data) if data else None

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError):
            await self.writer.wait_closed()


async def _one_request(port: int, method: str, path: str, body: Any) -> tuple[int, Any]:
    connection = await Connection.open(port)
    try:
        return await connection.request(method, path, body)
    finally:
        await connection.close()


async def run_load(
    port: int,
    server_pid: int,
    clients: int,
    pairs: int,
    max_seconds: float,
    memory_at: list[int],
    warmup: int,
    learner: str = "python",
    mode: str = "pairs",
    rate: float | None = None,
) -> dict[str, Any]:
    """Drive ``clients`` loops, each on its own agent; latencies in seconds, memory in bytes.

    ``mode`` "pairs": a decide request, then a reward request; "step": one ``/step``
    request that rewards the previous decision and decides anew (one round trip a pair).
    ``rate``: pairs per second for all clients together, each client starting its pairs
    on a fixed schedule (a client behind it counts latency from when a pair was due);
    None: as fast as the answers come.
    """
    import psutil

    server = psutil.Process(server_pid)
    # the service's processes: the server and its writer (and multiprocessing's tracker)
    processes = [server, *server.children(recursive=True)]
    agents = [f"load-{i}" for i in range(clients)]
    for name in agents:
        spec = {"name": name, "preset": "server", "config": {"backend": learner}}
        status, body = await _one_request(port, "POST", "/v1/agents", spec)
        if status != 201:
            raise SystemExit(f"creating agent {name}: HTTP {status} {body}")
    times: dict[str, list[float]] = (
        {"decide": [], "reward": []} if mode == "pairs" else {"step": []}
    )
    memory: dict[int, int] = {}
    done = 0
    checkpoints = sorted(memory_at)
    deadline = time.monotonic() + max_seconds
    started = [0.0]
    rng = random.Random(0)
    # with a rate, client i starts its k-th pair at begin + (k + i / clients) * interval
    interval = clients / rate if rate else 0.0

    def observation() -> tuple[float, dict[str, float]]:
        load = rng.random()
        return load, {"load": load, "latency": 1.0 - load}

    def score(action: dict[str, Any], load: float) -> float:
        return 1.0 - abs(action["replicas"] / 16 - load)

    async def call(connection: Connection, path: str, body: Any, since: float) -> tuple[Any, float]:
        status, answer = await connection.request("POST", path, body)
        elapsed = time.perf_counter() - since
        if status != 200:
            raise RuntimeError(f"{path}: HTTP {status} {answer}")
        return answer, elapsed

    def count(elapsed: dict[str, float]) -> None:
        # each pair logs two events: the decision (with its observation) and the reward
        nonlocal done
        done += 1
        if done == warmup:
            started[0] = time.perf_counter()
        if done > warmup:
            for kind, seconds in elapsed.items():
                times[kind].append(seconds)
        while checkpoints and 2 * done >= checkpoints[0]:
            memory[checkpoints.pop(0)] = sum(p.memory_info().rss for p in processes)

    async def due(index: int, k: int) -> float:
        """Wait until pair ``k`` of client ``index`` is due; the time its latency counts from.

        That is when it was due if the client is behind (an earlier answer came late: the
        wait is the service's doing), else when the client woke up to send it (the event
        loop's timers wake up to a millisecond late: that wait is the load generator's).
        """
        if not rate:
            return time.perf_counter()
        at = begin + (k + index / clients) * interval
        wait = at - time.perf_counter()
        if wait <= 0:
            return at
        await asyncio.sleep(wait)
        return time.perf_counter()

    def more() -> bool:
        return done < pairs and time.monotonic() < deadline

    async def pairs_client(connection: Connection, index: int, name: str) -> None:
        k = 0
        while more():
            load, metrics = observation()
            since = await due(index, k)
            decision, decide_s = await call(
                connection, f"/v1/agents/{name}/decide", {"observation": metrics}, since
            )
            reward = {
                "decision_id": decision["decision_id"],
                "reward": score(decision["action"], load),
            }
            _, reward_s = await call(
                connection, f"/v1/agents/{name}/rewards", reward, time.perf_counter()
            )
            count({"decide": decide_s, "reward": reward_s})
            k += 1

    async def step_client(connection: Connection, index: int, name: str) -> None:
        load, metrics = observation()
        path = f"/v1/agents/{name}/step"
        answer, _ = await call(connection, path, {"observation": metrics}, time.perf_counter())
        k = 0
        while more():
            decision = answer["decision"]
            reward = score(decision["action"], load)
            load, metrics = observation()
            body = {
                "decision_id": decision["decision_id"],
                "reward": reward,
                "observation": metrics,
            }
            answer, step_s = await call(connection, path, body, await due(index, k))
            count({"step": step_s})
            k += 1

    async def client(index: int, name: str) -> None:
        connection = await Connection.open(port)
        try:
            await (pairs_client if mode == "pairs" else step_client)(connection, index, name)
        finally:
            await connection.close()

    cpu_before = [_cpu_seconds(p) for p in processes]
    own_before = time.process_time()
    wall_before = time.perf_counter()
    begin = wall_before + 0.05  # the schedule's start, when every client is connected
    await asyncio.gather(*(client(i, name) for i, name in enumerate(agents)))
    wall = time.perf_counter() - wall_before
    measured = time.perf_counter() - started[0] if started[0] else 0.0
    cpu_after = [_cpu_seconds(p) for p in processes]
    timed = max(0, done - warmup)
    server_cpu = sum(cpu_after) - sum(cpu_before)
    writer_cpu = server_cpu - (cpu_after[0] - cpu_before[0])
    client_cpu = time.process_time() - own_before
    return {
        "mode": mode,
        "learner": learner,
        "offered_pairs_per_second": rate,
        "pairs": done,
        "events": 2 * done,
        "timed_pairs": timed,
        "timed_seconds": measured,
        "pairs_per_second": timed / measured if measured > 0 else None,
        "wall_seconds": wall,
        "stopped_by": "pairs" if done >= pairs else "time limit",
        "server_cpu_seconds": server_cpu,
        "client_cpu_seconds": client_cpu,
        "server_cpu_ms_per_pair": 1000 * server_cpu / done if done else None,
        # of that, the writer process's part (the rest is the server's event loop)
        "writer_cpu_ms_per_pair": 1000 * writer_cpu / done if done else None,
        "client_cpu_ms_per_pair": 1000 * client_cpu / done if done else None,
        # of the CPU time both spent, the load generator's part
        "client_cpu_share": client_cpu / (client_cpu + server_cpu) if server_cpu else None,
        **{f"{kind}_latency_ms": _summary(samples) for kind, samples in times.items()},
        "rss_bytes_after_events": {str(k): v for k, v in sorted(memory.items())},
        "agents": agents,
        "_samples": times,
    }


def _cpu_seconds(process: Any) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _summary(samples: list[float]) -> dict[str, float] | None:
    if len(samples) < 2:
        return None
    ordered = sorted(samples)

    def at(q: float) -> float:
        return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "p50": at(0.50),
        "p90": at(0.90),
        "p99": at(0.99),
        "max": 1000 * ordered[-1],
        "mean": 1000 * statistics.fmean(ordered),
    }


def meets_goals(result: dict[str, Any]) -> dict[str, bool] | None:
    """Each of the issue's goals, met or not, for one run.

    A run on a schedule meets the rate goal when it was offered at least 1,500 pairs a
    second and kept up (finished within 1% of the schedule); a run flat out, when it
    reached 1,500.
    """
    # a step both rewards and decides, so its latency is held to the decide goals
    decide = result.get("decide_latency_ms") or result.get("step_latency_ms")
    if decide is None:
        return None
    achieved = result["pairs_per_second"] or 0.0
    offered = result.get("offered_pairs_per_second")
    if offered:
        rate_met = offered >= GOALS["pairs_per_second"] and achieved >= 0.99 * offered
    else:
        rate_met = achieved >= GOALS["pairs_per_second"]
    return {
        "decide_p50": decide["p50"] < GOALS["decide_p50_ms"],
        "decide_p99": decide["p99"] < GOALS["decide_p99_ms"],
        "pairs_per_second": rate_met,
    }


def count_events(db: str) -> dict[str, int]:
    """Events in the database by kind, read after the server stopped."""
    from krystal.storage import Storage

    storage = Storage(db)
    try:
        return {kind: storage.count_events(kind=kind) for kind in ("decide", "reward")}
    finally:
        storage.close()


def bench_run(run: Run, args: argparse.Namespace) -> dict[str, Any]:
    """One server on a fresh database of ``run.database``, loaded as ``run`` says."""
    folder = Path(tempfile.mkdtemp(prefix=f"krystal-load-{run.database}-"))
    try:
        with contextlib.ExitStack() as stack:
            if run.database == "sqlite":
                db = f"sqlite:///{folder / 'krystal.db'}"
            else:
                db = stack.enter_context(postgres_cluster(folder))
            with krystal_server(db, folder) as (base, pid):
                port = int(base.rsplit(":", 1)[1])
                print(f"{run.name}: server {base} (pid {pid})", file=sys.stderr, flush=True)
                result = _run_loop(
                    run_load(
                        port,
                        pid,
                        args.clients,
                        run.pairs or args.pairs,
                        args.max_seconds,
                        args.memory_at,
                        args.warmup,
                        run.learner,
                        run.mode,
                        run.rate,
                    )
                )
            stored = count_events(db)
        result["stored_events"] = stored
        result["all_acknowledged_stored"] = (
            stored["decide"] >= result["pairs"] and stored["reward"] >= result["pairs"]
        )
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run_loop(coroutine: Any) -> Any:
    """Run the load generator on uvloop when it is installed: less of the CPU it shares."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


class Run(NamedTuple):
    """One kind of run: ``DATABASE/LEARNER/MODE[@RATE]``."""

    name: str
    database: str
    learner: str
    mode: str
    rate: float | None
    pairs: int | None = None  # None: --pairs


def parse_run(text: str) -> Run:
    """``sqlite/numpy/pairs@1500`` -> its parts; ValueError naming what is wrong."""
    spec, _, rate = text.partition("@")
    parts = spec.split("/")
    if (
        len(parts) != 3
        or parts[0] not in ("sqlite", "postgresql")
        or parts[1] not in ("python", "numpy")
        or parts[2] not in ("pairs", "step")
    ):
        raise ValueError(
            f"expected DATABASE/LEARNER/MODE[@RATE] such as sqlite/numpy/pairs@1500, got {text!r}"
        )
    try:
        offered = float(rate) if rate else None
    except ValueError:
        raise ValueError(f"expected a number of pairs per second after @, got {text!r}") from None
    if offered is not None and offered <= 0:
        raise ValueError(f"expected a positive number of pairs per second, got {text!r}")
    return Run(text, parts[0], parts[1], parts[2], offered)


def repeated(runs: list[Run], repeat: int, args: argparse.Namespace) -> dict[str, Any]:
    """Every run ``repeat`` times, interleaved; per run the repeat with the median rate."""
    done: dict[str, list[dict[str, Any]]] = {run.name: [] for run in runs}
    for _ in range(repeat):
        for run in runs:
            done[run.name].append(bench_run(run, args))
    results = {}
    for name, tries in done.items():
        ranked = sorted(tries, key=lambda r: r["pairs_per_second"] or 0.0)
        chosen = dict(ranked[(len(ranked) - 1) // 2])
        chosen["repeats"] = [_headline(r) for r in tries]
        results[name] = chosen
    return results


def _headline(result: dict[str, Any]) -> dict[str, Any]:
    """A repeat's main figures: rate, latency percentiles, CPU per pair."""
    out = {"pairs_per_second": result["pairs_per_second"]}
    for kind in ("decide", "reward", "step"):
        summary = result.get(f"{kind}_latency_ms")
        if summary:
            out[f"{kind}_p50_ms"] = summary["p50"]
            out[f"{kind}_p99_ms"] = summary["p99"]
    out["server_cpu_ms_per_pair"] = result["server_cpu_ms_per_pair"]
    out["client_cpu_ms_per_pair"] = result["client_cpu_ms_per_pair"]
    return out


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def breakdown(pairs: int, clients: int) -> dict[str, Any]:
    """Where a pair's server CPU goes, measured piece by piece (milliseconds per pair).

    The learner alone (observe, decide and reward on a ``server`` preset agent), the
    service in this process without HTTP (on an event loop as in the server: ``clients``
    tasks doing decide then reward on SQLite, commits included), a bare HTTP request to a
    FastAPI route (``GET /health/live``, the cheapest) and one the hot path answers (a
    decide for an agent that does not exist: 404) on a running ``krystal serve``.
    """
    out: dict[str, Any] = {"pairs": pairs, "clients": clients}
    for learner in ("python", "numpy"):
        out[f"learner_{learner}_ms_per_pair"] = _learner_cpu(learner, pairs)
        cpu, rate = _service_cpu(learner, pairs, clients)
        out[f"service_{learner}_ms_per_pair"] = cpu
        out[f"service_{learner}_pairs_per_second"] = rate
    out["http_bare_request_ms"] = _http_cpu(pairs, clients, "/health/live", None, 200)
    # a decide for an agent that does not exist: parsed and refused by the hot path (404),
    # no learner, no commit: what the hot path costs above a bare request
    nobody = {"observation": {"load": 0.5, "latency": 0.5}}
    out["http_hot_path_request_ms"] = _http_cpu(
        pairs, clients, "/v1/agents/nobody/decide", nobody, 404
    )
    out["agent_sizes"] = [
        {"state_dim": s, "action_dim": a, "backend": b, "ms_per_pair": _size_cpu(s, a, b)}
        for s, a, b in AGENT_SIZES
    ]
    return out


#: (state_dim, action_dim, backend) at and beyond the service's size limits
AGENT_SIZES = ((32, 8, "python"), (32, 8, "numpy"), (32, 16, "numpy"), (64, 16, "numpy"))


def _size_cpu(state_dim: int, action_dim: int, backend: str, pairs: int = 20) -> float:
    """CPU milliseconds of one observe+decide+reward on an agent of that size."""
    from krystal import Krystal, KrystalConfig

    rng = random.Random(2)
    config = KrystalConfig(state_dim=state_dim, action_dim=action_dim, seed=1, backend=backend)
    agent = Krystal(config)
    names = [f"m{i}" for i in range(state_dim)]
    started = 0.0
    for i in range(pairs + 5):
        if i == 5:
            started = time.process_time()  # finer than os.times(): these are few pairs
        agent.observe({name: rng.random() for name in names})
        agent.decide()
        agent.reward(rng.random())
    return 1000 * (time.process_time() - started) / pairs


def _learner_cpu(learner: str, pairs: int, warmup: int = 200) -> float:
    from krystal import create_server_optimizer

    rng = random.Random(1)
    agent = create_server_optimizer(seed=0, backend=learner)
    started = 0.0
    for i in range(pairs + warmup):
        if i == warmup:
            started = _cpu()
        agent.observe({"load": rng.random(), "latency": rng.random()})
        agent.decide()
        agent.reward(rng.random())
    return 1000 * (_cpu() - started) / pairs


def _service_cpu(learner: str, pairs: int, clients: int) -> tuple[float, float]:
    """The service as the server runs it, minus HTTP: on an event loop, commits in its
    writer process (whose CPU counts too), ``clients`` tasks doing decide then reward
    through the calls the routes use."""
    import psutil

    from krystal.server import ServerSettings, Service, _calls
    from krystal.server._metrics import ServiceMetrics

    folder = Path(tempfile.mkdtemp(prefix="krystal-breakdown-"))
    service = Service(ServerSettings(db=f"sqlite:///{folder / 'krystal.db'}"))
    metrics = ServiceMetrics(service)
    per_client = pairs // clients

    async def client(i: int) -> None:
        rng = random.Random(i)
        for _ in range(per_client):
            metrics_now = {"load": rng.random(), "latency": rng.random()}
            decision = await _calls.decide(service, metrics, f"b{i}", metrics_now, None)
            await _calls.reward(service, f"b{i}", decision["decision_id"], rng.random())

    async def run() -> tuple[float, float]:
        await asyncio.to_thread(service.start, asyncio.get_running_loop())
        try:
            for i in range(clients):
                _, created = service.create_agent(f"b{i}", "server", None, {"backend": learner})
                assert created is not None
                await asyncio.wrap_future(created)
            writer = psutil.Process(getattr(service.writer, "pid", None))
            started, wall = _cpu() + _cpu_seconds(writer), time.perf_counter()
            await asyncio.gather(*(client(i) for i in range(clients)))
            return _cpu() + _cpu_seconds(writer) - started, time.perf_counter() - wall
        finally:
            await asyncio.to_thread(service.stop)

    try:
        cpu, wall = _run_loop(run())
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return 1000 * cpu / (per_client * clients), per_client * clients / wall


def _http_cpu(requests: int, clients: int, path: str, body: Any, expected: int) -> float:
    """Server CPU milliseconds per request of one kind, ``clients`` connections at once."""
    import psutil

    folder = Path(tempfile.mkdtemp(prefix="krystal-breakdown-"))
    per_client = requests // clients
    method = "GET" if body is None else "POST"

    async def load(port: int, server: Any) -> float:
        connections = [await Connection.open(port) for _ in range(clients)]

        async def loop(connection: Connection) -> None:
            for _ in range(per_client):
                status, _ = await connection.request(method, path, body)
                if status != expected:
                    raise RuntimeError(f"{path}: HTTP {status}, expected {expected}")

        before = server.cpu_times()
        await asyncio.gather(*(loop(c) for c in connections))
        after = server.cpu_times()
        for connection in connections:
            await connection.close()
        used = (after.user + after.system) - (before.user + before.system)
        return 1000 * used / (clients * per_client)

    try:
        with krystal_server(f"sqlite:///{folder / 'krystal.db'}", folder) as (base, pid):
            return _run_loop(load(int(base.rsplit(":", 1)[1]), psutil.Process(pid)))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def plot(results: dict[str, Any], path: Path) -> None:
    """Latency distributions (log scale) per backend and request, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    kinds = [
        k for k in ("decide", "reward", "step") if any(k in r["_samples"] for r in results.values())
    ]
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    width = max(7.0, 5.5 * len(kinds))
    figure, axes = plt.subplots(1, len(kinds), figsize=(width, 4.2), sharey=True)
    axes = [axes] if len(kinds) == 1 else list(axes)
    for axis, kind in zip(axes, kinds):
        for backend, result in results.items():
            samples = sorted(1000 * x for x in result["_samples"].get(kind, []))
            if not samples:
                continue
            fractions = [(i + 1) / len(samples) for i in range(len(samples))]
            summary = result[f"{kind}_latency_ms"]
            axis.plot(
                samples,
                fractions,
                label=f"{backend} (p50 {summary['p50']:.2f} ms, p99 {summary['p99']:.2f} ms)",
            )
        for limit, style in ((GOALS["decide_p50_ms"], ":"), (GOALS["decide_p99_ms"], "--")):
            if kind in ("decide", "step"):
                axis.axvline(limit, color="grey", linestyle=style, linewidth=1)
        axis.set_xscale("log")
        axis.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        axis.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        axis.xaxis.set_minor_formatter(NullFormatter())
        axis.set_xlabel(f"{kind} latency at the client (ms, log scale)")
        axis.set_title(f"{kind}: cumulative share of requests")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8, loc="lower right")
    axes[0].set_ylabel("share of requests at or below")
    figure.suptitle(
        "krystal serve, 8 concurrent clients, decide+reward (grey: the p50 and p99 goals)",
        fontsize=10,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--runs",
        default=",".join(DEFAULT_RUNS),
        help="comma-separated DATABASE/LEARNER/MODE[@RATE]: sqlite or postgresql; the agents' "
        "reward-model backend python or numpy; pairs (decide, then reward) or step (one /step "
        "round trip a pair); @RATE: pairs per second on a fixed schedule (none: flat out)",
    )
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--pairs", type=int, default=20_000, help="decide+reward pairs per run")
    parser.add_argument("--warmup", type=int, default=1000, help="pairs left out of the timings")
    parser.add_argument("--max-seconds", type=float, default=60.0, help="per run")
    parser.add_argument("--repeat", type=int, default=3, help="times each run is repeated")
    parser.add_argument(
        "--memory-run",
        default="sqlite/numpy/step",
        help="the run, made once with enough pairs to log the largest --memory-at events, "
        "that reads the server's memory; '' for none",
    )
    parser.add_argument(
        "--memory-at",
        default="10000,25000,50000,75000,100000",
        help="logged event counts at which the server's RSS is read",
    )
    parser.add_argument(
        "--breakdown-pairs",
        type=int,
        default=4000,
        help="pairs for the CPU breakdown (learner, service without HTTP, bare HTTP); 0: none",
    )
    parser.add_argument("--out", default=str(RESULTS / "service_load.json"))
    parser.add_argument("--plot", default=str(RESULTS / "service_load.png"), help="'' for none")
    args = parser.parse_args()
    args.memory_at = [int(x) for x in args.memory_at.split(",") if x]
    try:
        runs = [parse_run(r.strip()) for r in args.runs.split(",") if r.strip()]
        memory_run = parse_run(args.memory_run) if args.memory_run else None
    except ValueError as exc:
        parser.error(f"--runs: {exc}")
    if args.warmup >= args.pairs:
        parser.error("--warmup: expected fewer warm-up pairs than --pairs")
    if args.repeat < 1:
        parser.error("--repeat: expected at least 1")

    # the breakdown first: it is short, and a failure there should not waste the runs
    parts = breakdown(args.breakdown_pairs, args.clients) if args.breakdown_pairs else None
    results = repeated(runs, args.repeat, args)
    memory = None
    if memory_run is not None:
        # two events a pair: enough pairs to reach the largest count, in thrice the time
        enough = max([args.pairs, *(-(-count // 2) for count in args.memory_at)])
        long_run = memory_run._replace(pairs=enough)
        longer = argparse.Namespace(**{**vars(args), "max_seconds": 3 * args.max_seconds})
        memory = bench_run(long_run, longer)
        del memory["_samples"]
    if args.plot:
        plot(results, Path(args.plot))
    for result in results.values():
        del result["_samples"]
    report = {
        "command": " ".join(["python", "benchmarks/service_load.py", *sys.argv[1:]]),
        "clients": args.clients,
        "repeat": args.repeat,
        "goals": GOALS,
        "results": results,
        "meets_goals": {name: meets_goals(result) for name, result in results.items()},
        "memory_run": memory,
        "breakdown_ms": parts,
        "environment": {
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
        },
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
