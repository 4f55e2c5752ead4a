"""``RemoteKrystal`` against a real ``krystal serve``: same loop as the local agent,
retries that cannot double-count, clear errors."""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from dropping_proxy import DroppingProxy
from live_server import LiveServer, free_port

from krystal import InputError, Krystal, KrystalConfig
from krystal._errors import CallOrderError
from krystal.client import AsyncRemoteKrystal, RemoteError, RemoteKrystal
from krystal.storage import Storage


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the module; each test drives agents of its own."""
    folder = tmp_path_factory.mktemp("client")
    live = LiveServer(f"sqlite:///{folder / 'k.db'}", folder).start()
    yield live
    live.kill()


def _agent(server: LiveServer, name: str) -> str:
    assert httpx.post(server.url + "/v1/agents", json={"name": name}).status_code == 201
    return name


def _observations(n: int) -> list[dict[str, float]]:
    rng = random.Random(5)
    return [{"fps": rng.random(), "gpu_temp": rng.random()} for _ in range(n)]


def test_remote_agent_runs_the_same_loop_as_a_local_one(server: LiveServer) -> None:
    space = {
        "quality": {"type": "choice", "options": ["low", "high"]},
        "scale": {"type": "float", "low": 0.5, "high": 1.0},
    }
    remote = RemoteKrystal.create(server.url, "twin", space=space, config={"seed": 9})
    local = Krystal(KrystalConfig(seed=9), space=space)
    for i, observation in enumerate(_observations(15)):
        assert remote.observe(observation).decide() == local.observe(observation).decide()
        assert remote.reward(i / 15) == pytest.approx(local.reward(i / 15), abs=1e-12)
    assert remote.cycle == local.cycle == 15
    assert remote.total_reward == pytest.approx(local.total_reward)
    assert remote.get_phase() == local.get_phase()
    assert remote.get_metrics()["cycle"] == 15
    assert remote.last_action == local.last_action
    remote.close()


def test_async_remote_agent_runs_the_same_loop(server: LiveServer) -> None:
    name = _agent(server, "async")

    async def run() -> list[object]:
        async with AsyncRemoteKrystal(server.url, name) as remote:
            actions = []
            for observation in _observations(5):
                actions.append(await remote.observe(observation).decide())
                await remote.reward(0.5)
            assert (await remote.info())["cycle"] == 5
            return actions

    # A loop of its own in a thread of its own: other tests (browser drivers) may leave
    # an event loop marked as running in the main thread.
    results: list[list[object]] = []
    worker = threading.Thread(target=lambda: results.append(asyncio.run(run())))
    worker.start()
    worker.join(60)
    actions = results[0]
    assert len(actions) == 5 and all(len(a) == 4 for a in actions)  # type: ignore[arg-type]


def test_async_deferred_rewards_go_with_the_next_decide(server: LiveServer) -> None:
    name = _agent(server, "async-deferred")

    async def run() -> dict[str, object]:
        async with AsyncRemoteKrystal(server.url, name, defer_rewards=True) as remote:
            for observation in _observations(5):
                await remote.observe(observation).decide()
                assert math.isnan(await remote.reward(0.5))
            assert await remote.flush() == remote.last_td_error
            assert await remote.flush() is None  # nothing left waiting
            return await remote.info()

    results: list[dict[str, object]] = []
    worker = threading.Thread(target=lambda: results.append(asyncio.run(run())))
    worker.start()
    worker.join(60)
    assert (results[0]["decisions"], results[0]["rewards"], results[0]["cycle"]) == (5, 5, 5)


def test_a_lost_reward_answer_is_retried_without_counting_twice(server: LiveServer) -> None:
    name = _agent(server, "lost-reward")
    proxy = DroppingProxy(server.port, "/rewards")
    remote = RemoteKrystal(proxy.url, name, retries=3, backoff=0.01)
    remote.observe({"x": 1.0}).decide()
    td_error = remote.reward(0.75)
    assert proxy.dropped == 1  # the first answer was lost after the server stored the reward
    info = httpx.get(f"{server.url}/v1/agents/{name}").json()
    assert (info["cycle"], info["rewards"], info["total_reward"]) == (1, 1, 0.75)
    recent = httpx.get(f"{server.url}/v1/agents/{name}/decisions").json()["decisions"]
    assert recent[0]["td_error"] == td_error  # the retry got the first answer again
    storage = Storage(server.db)
    agent_id = next(a.id for a in storage.load_agents() if a.name == name)
    assert storage.count_events(agent_id, kind="reward") == 1
    storage.close()
    proxy.close()


def test_a_lost_decide_answer_is_retried_as_the_same_decision(server: LiveServer) -> None:
    name = _agent(server, "lost-decide")
    proxy = DroppingProxy(server.port, "/decide")
    remote = RemoteKrystal(proxy.url, name, retries=2, backoff=0.01)
    action = remote.observe({"x": 1.0}).decide()
    assert proxy.dropped == 1
    info = httpx.get(f"{server.url}/v1/agents/{name}").json()
    assert info["decisions"] == 1 and info["pending"] == 1
    remote.reward(1.0)
    recent = httpx.get(f"{server.url}/v1/agents/{name}/decisions").json()["decisions"]
    assert recent[0]["action"] == action and recent[0]["reward"] == 1.0
    proxy.close()


def test_deferred_rewards_ride_on_the_next_decide_and_survive_a_lost_answer(
    server: LiveServer,
) -> None:
    space = {"replicas": {"type": "int", "low": 1, "high": 8}}
    RemoteKrystal.create(server.url, "deferred", space=space, config={"seed": 4}).close()
    proxy = DroppingProxy(server.port, "/step")
    remote = RemoteKrystal(proxy.url, "deferred", retries=3, backoff=0.01, defer_rewards=True)
    local = Krystal(KrystalConfig(seed=4), space=space)
    td_errors = []
    for i, observation in enumerate(_observations(12)):
        assert remote.observe(observation).decide() == local.observe(observation).decide()
        if i:  # the previous reward went with this decide, in one /step round trip
            assert remote.last_td_error == pytest.approx(td_errors[-1], abs=1e-12)
        assert math.isnan(remote.reward(i / 12))
        td_errors.append(local.reward(i / 12))
    assert proxy.dropped == 1  # one /step answer was lost after the server had done it
    assert remote.decide() == local.decide()  # no new metrics: the reward goes on its own
    assert remote.last_td_error == pytest.approx(td_errors[-1], abs=1e-12)
    remote.reward(1.0)
    remote.close()  # sends the reward still waiting
    info = httpx.get(f"{server.url}/v1/agents/deferred").json()
    assert (info["decisions"], info["rewards"], info["pending"]) == (13, 13, 0)
    assert info["cycle"] == local.cycle + 1 and remote.last_td_error == pytest.approx(
        local.reward(1.0), abs=1e-12
    )
    storage = Storage(server.db)
    agent_id = next(a.id for a in storage.load_agents() if a.name == "deferred")
    assert storage.count_events(agent_id, kind="reward") == 13  # none counted twice
    assert storage.count_events(agent_id, kind="decide") == 13
    storage.close()
    proxy.close()


def test_errors_are_clear(server: LiveServer) -> None:
    remote = RemoteKrystal(server.url, "default")
    with pytest.raises(CallOrderError, match="call decide"):
        remote.reward(1.0)
    with pytest.raises(InputError, match="objective: not supported"):
        remote.observe({"x": 1.0}).decide(objective=lambda a: 0.0)
    with pytest.raises(InputError, match="x: expected a finite number"):
        remote.observe({"x": float("nan")})
    with pytest.raises(RemoteError, match="no agent named 'ghost'") as missing:
        RemoteKrystal(server.url, "ghost").observe({"x": 1.0}).decide()
    assert missing.value.status == 404
    with pytest.raises(InputError, match="state_dims: unknown setting"):
        RemoteKrystal.create(server.url, "typo", config={"state_dims": 3})
    nowhere = RemoteKrystal(f"http://127.0.0.1:{free_port()}", retries=1, backoff=0.01)
    with pytest.raises(RemoteError, match="could not reach the Krystal service") as lost:
        nowhere.observe({"x": 1.0}).decide()
    assert lost.value.status == 0


def test_the_client_rides_through_the_writer_process_dying(
    serve: Callable[..., LiveServer], tmp_path: Path
) -> None:
    # The service answers 503 with Retry-After: 1 until its upkeep has started a new
    # writer process and reloaded the agent; honouring it, the default retries span that.
    server = serve(f"sqlite:///{tmp_path / 'k.db'}")
    name = _agent(server, "rides")
    rng = random.Random(3)
    with RemoteKrystal(server.url, name) as remote:
        remote.observe({"x": rng.random()}).decide()
        [writer] = server.writer_processes()
        writer.kill()
        started = time.monotonic()
        remote.reward(0.5)  # refused until the agent is reloaded, then learned
        waited = time.monotonic() - started
        for _ in range(3):
            remote.observe({"x": rng.random()}).decide()
            remote.reward(0.5)
        assert remote.cycle == 4
    assert waited >= 0.9  # it waited as asked, not 0.05 + 0.1 + 0.2 s
    assert [w.pid for w in server.writer_processes()] != [writer.pid]
