"""``kill -9`` mid-load: every acknowledged reward is in the database, agents resume."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from live_server import LiveServer

from krystal.storage import Storage

AGENTS = ("crash-a", "crash-b", "crash-c")
CLIENTS = 6


def _drive(url: str, agent: str, seed: int, acked: list[tuple[str, str, float, int]]) -> None:
    """decide -> reward until the server goes away; record every acknowledged reward."""
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=5) as client:
        while True:
            try:
                observation = {"load": rng.random(), "queue": rng.random()}
                decision = client.post(
                    f"/v1/agents/{agent}/decide", json={"observation": observation}
                )
                decision.raise_for_status()
                did, value = decision.json()["decision_id"], round(rng.uniform(-1, 1), 6)
                answer = client.post(
                    f"/v1/agents/{agent}/rewards", json={"decision_id": did, "reward": value}
                )
                answer.raise_for_status()
            except httpx.HTTPError:
                return  # the server was killed: this reward was never acknowledged
            acked.append((agent, did, value, answer.json()["cycle"]))


def test_acknowledged_rewards_survive_kill_9(db_url: str, serve: Callable[..., LiveServer]) -> None:
    server = serve(db_url)
    with httpx.Client(base_url=server.url, timeout=10) as admin:
        for i, name in enumerate(AGENTS):
            created = admin.post("/v1/agents", json={"name": name, "config": {"seed": i}})
            assert created.status_code == 201
    acked: list[tuple[str, str, float, int]] = []
    threads = [
        threading.Thread(target=_drive, args=(server.url, AGENTS[i % len(AGENTS)], i, acked))
        for i in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    # Kill mid-load: after a second and 60 acknowledged rewards (at most 15 s on a slow
    # machine), while every client is between requests or inside one.
    started = time.monotonic()
    while time.monotonic() - started < 15 and (time.monotonic() - started < 1.0 or len(acked) < 60):
        time.sleep(0.02)
    server.kill()  # SIGKILL: no shutdown hook, no final checkpoint
    for thread in threads:
        thread.join(30)
    assert len(acked) >= 20, f"too little load before the kill: {len(acked)} rewards"

    storage = Storage(db_url)
    ids = {agent.name: agent.id for agent in storage.load_agents()}
    missing = []
    for agent, did, value, _ in acked:
        stored = [e.reward for e in storage.decision_events(ids[agent], did) if e.kind == "reward"]
        if stored != [value]:
            missing.append((agent, did, value, stored))
    storage.close()
    assert missing == []

    restarted = LiveServer(db_url, server.folder).start()
    try:
        with httpx.Client(base_url=restarted.url, timeout=10) as client:
            for name in AGENTS:
                before = client.get(f"/v1/agents/{name}").json()
                acknowledged = [cycle for agent, _, _, cycle in acked if agent == name]
                assert before["cycle"] >= max(acknowledged, default=0)
                assert before["rewards"] >= len(acknowledged)
                did = client.post(
                    f"/v1/agents/{name}/decide", json={"observation": {"load": 0.5}}
                ).json()["decision_id"]
                answer = client.post(
                    f"/v1/agents/{name}/rewards", json={"decision_id": did, "reward": 0.1}
                ).json()
                assert answer["learned"] and answer["cycle"] == before["cycle"] + 1
    finally:
        restarted.stop()


def test_a_dead_writer_process_acknowledges_nothing_and_is_replaced(
    serve: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = serve(f"sqlite:///{tmp_path / 'k.db'}")
    writers = server.writer_processes()
    assert len(writers) == 1
    with httpx.Client(base_url=server.url, timeout=10) as client:
        first = client.post("/v1/agents/default/decide", json={"observation": {"x": 1.0}})
        assert first.status_code == 200
        writers[0].kill()  # a zombie until the server reaps it, but its pipe is closed
        reward = {"decision_id": first.json()["decision_id"], "reward": 0.5}
        lost = client.post("/v1/agents/default/rewards", json=reward)
        assert lost.status_code == 503, lost.text  # learned in memory, not stored
        assert "writer process has stopped" in lost.json()["detail"]
        assert lost.headers["retry-after"] == "1"  # the upkeep replaces it within that
        again = client.post("/v1/agents/default/rewards", json=reward)
        assert again.status_code == 503, again.text  # so a retry is not acknowledged
        # Within the upkeep's period a new writer starts and the agent is reloaded from
        # the database, where the decision still waits for its reward.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            retried = client.post("/v1/agents/default/rewards", json=reward)
            if retried.status_code == 200:
                break
            assert retried.status_code == 503, retried.text
            time.sleep(0.2)
        assert retried.status_code == 200, retried.text
        assert retried.json()["cycle"] == 1
        assert client.get("/health").status_code == 200
        replaced = server.writer_processes()
        assert len(replaced) == 1 and replaced[0].pid != writers[0].pid
    server.stop()
    stored = Storage(f"sqlite:///{tmp_path / 'k.db'}")
    kinds = [e.kind for e in stored.events_after(_default_agent_id(stored), -1)]
    assert kinds.count("reward") == 1  # the retried reward, once
    stored.close()


def _default_agent_id(stored: Storage) -> str:
    return next(a.id for a in stored.load_agents() if a.name == "default")


def test_the_writer_process_does_not_outlive_a_killed_server(
    serve: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = serve(f"sqlite:///{tmp_path / 'k.db'}")
    assert server.process is not None
    [writer] = server.writer_processes()
    server.kill()
    writer.wait(30)  # it sees its pipe close and exits; psutil raises on a timeout
    assert not writer.is_running()
