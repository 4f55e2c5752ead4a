"""The HTTP API against a real ``krystal serve`` (uvicorn on loopback), SQLite and PostgreSQL."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator

import httpx
import pytest
from live_server import LiveServer


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    """One server per database kind for the module; each test uses agents of its own."""
    folder = tmp_path_factory.mktemp("api")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'krystal.db'}"
    else:
        url = request.getfixturevalue("postgres").new_database(f"api{os.getpid()}")
    server = LiveServer(url, folder).start()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client
    server.kill()


def test_agents_decisions_and_rewards(api: httpx.Client) -> None:
    spec = {"name": "scaler", "preset": "server", "config": {"seed": 2}}
    created = api.post("/v1/agents", json=spec)
    assert created.status_code == 201, created.text
    assert created.json()["config"]["horizon"] == 8  # the preset's own setting
    assert api.post("/v1/agents", json=spec).status_code == 409
    names = [a["name"] for a in api.get("/v1/agents").json()["agents"]]
    assert names[0] == "default" and "scaler" in names

    decision = api.post("/v1/agents/scaler/decide", json={"observation": {"rps": 900.0}}).json()
    assert 1 <= decision["action"]["replicas"] <= 16 and decision["cycle"] == 0
    did = decision["decision_id"]
    reward = api.post("/v1/agents/scaler/rewards", json={"decision_id": did, "reward": 0.4})
    assert reward.status_code == 200 and reward.json()["learned"] is True
    repeat = api.post("/v1/agents/scaler/rewards", json={"decision_id": did, "reward": 0.4})
    assert repeat.status_code == 200 and repeat.json()["duplicate"] is True
    assert repeat.json()["td_error"] == reward.json()["td_error"]
    other = api.post("/v1/agents/scaler/rewards", json={"decision_id": did, "reward": 0.9})
    assert other.status_code == 409 and "already rewarded with 0.4" in other.json()["detail"]
    unknown = api.post("/v1/agents/scaler/rewards", json={"decision_id": "zzzzzzzz", "reward": 1})
    assert unknown.status_code == 404

    step = api.post(
        "/v1/agents/scaler/step",
        json={"observation": {"rps": 950.0}, "decision_id": None, "reward": None},
    ).json()
    nxt = api.post(
        "/v1/agents/scaler/step",
        json={
            "decision_id": step["decision"]["decision_id"],
            "reward": 0.5,
            "observation": {"rps": 1000.0},
        },
    ).json()
    assert nxt["reward"]["learned"] is True and nxt["decision"]["cycle"] == 2

    info = api.get("/v1/agents/scaler").json()
    assert (info["cycle"], info["decisions"], info["rewards"], info["pending"]) == (2, 3, 2, 1)
    recent = api.get("/v1/agents/scaler/decisions", params={"limit": 2}).json()["decisions"]
    assert [r["decision_id"] for r in recent][1] == step["decision"]["decision_id"]
    assert recent[1]["reward"] == 0.5
    assert api.get("/v1/agents/scaler/metrics").json()["cycle"] == 2

    assert api.delete("/v1/agents/scaler").status_code == 204
    assert api.get("/v1/agents/scaler").status_code == 404
    assert api.post("/v1/agents/scaler/decide", json={"observation": {"x": 1}}).status_code == 404


def test_bad_requests_name_the_field(api: httpx.Client) -> None:
    answer = api.post("/v1/agents/default/decide", json={"observation": {"x": "fast"}})
    assert answer.status_code == 422 and "observation" in str(answer.json()["detail"])
    answer = api.post("/v1/agents", json={"name": "bad name"})
    assert answer.status_code == 422 and answer.json()["detail"].startswith("name:")
    answer = api.post("/v1/agents", json={"name": "x1", "config": {"state_dims": 3}})
    assert answer.status_code == 422 and "state_dims: unknown setting" in answer.json()["detail"]
    answer = api.post("/v1/agents", json={"name": "x2", "preset": "spaceship"})
    assert answer.status_code == 422 and "domain: expected one of" in answer.json()["detail"]
    assert api.post("/v1/agents", json={"name": "blank"}).status_code == 201
    answer = api.post("/v1/agents/blank/decide", json={})
    assert answer.status_code == 409 and "observe" in answer.json()["detail"]
    answer = api.post("/v1/agents/blank/rewards", json={"decision_id": "x" * 10})
    assert answer.status_code == 422 and "reward" in str(answer.json()["detail"])
    names = {a["name"] for a in api.get("/v1/agents").json()["agents"]}
    assert not names & {"x1", "x2", "bad name"}


def test_a_body_over_the_limit_is_refused_unread(api: httpx.Client) -> None:
    big = b'{"observation": {"load": 0.5}, "padding": "' + b"x" * 2_000_000 + b'"}'
    for path in ("/v1/agents/default/decide", "/v1/agents", "/api/decide"):
        refused = api.post(path, content=big, headers={"content-type": "application/json"})
        assert refused.status_code == 413, (path, refused.text)
        assert refused.json()["detail"] == (
            f"request body: expected at most 1048576 bytes, got {len(big)}"
        )

    def chunks() -> Iterator[bytes]:  # no content-length: counted as it arrives
        yield b'{"observation": {"load": 0.5}, "padding": "'
        for _ in range(40):
            yield b"x" * 50_000

    for path in ("/v1/agents/default/decide", "/v1/agents"):
        chunked = api.post(path, content=chunks(), headers={"content-type": "application/json"})
        assert chunked.status_code == 413, (path, chunked.text)
        assert "expected at most 1048576 bytes" in chunked.json()["detail"]
    # the service goes on, and a body within the limit is read as ever
    fine = api.post("/v1/agents/default/decide", json={"observation": {"load": 0.5}})
    assert fine.status_code == 200, fine.text
    assert 'krystal_errors_total{status="413"} 5.0' in api.get("/metrics").text


def test_legacy_api_drives_the_default_agent(api: httpx.Client) -> None:
    assert api.post("/api/reset").json()["cycle"] == 0
    assert api.post("/api/reward", json={"reward": 1.0}).status_code == 409
    assert api.post("/api/observe", json={"fps": 0.7, "gpu_temp": 0.8}).json()["cycle"] == 0
    decision = api.post("/api/decide").json()
    assert len(decision["action"]) == 4 and all(0 <= a <= 1 for a in decision["action"])
    rewarded = api.post("/api/reward", json={"reward": 0.6}).json()
    assert rewarded["decision_id"] == decision["decision_id"] and rewarded["cycle"] == 1
    assert api.post("/api/decide", json={"observation": {"fps": 0.5}}).status_code == 200
    metrics = api.get("/api/metrics").json()
    assert metrics["cycle"] == 1 and metrics["metric_names"] == ["fps", "gpu_temp"]
    assert api.get("/api/uptime").json()["uptime_seconds"] > 0
    assert api.get("/api/agents").json() == api.get("/v1/agents").json()
    assert api.post("/api/reset").json()["cycle"] == 0
    assert api.get("/v1/agents/default").json()["cycle"] == 0


def test_health_metrics_and_openapi(api: httpx.Client) -> None:
    health = api.get("/health").json()
    assert health["status"] == "ok" and health["database"] == "ok"

    def scrape(name: str) -> float:
        text = api.get("/metrics").text
        found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
        return float(found.group(1)) if found else 0.0

    errors = 'krystal_errors_total{status="404"}'
    latency = "krystal_decide_latency_seconds_count"
    before = scrape(errors), scrape(latency)
    assert api.post("/v1/agents", json={"name": "metered"}).status_code == 201
    did = api.post("/v1/agents/metered/decide", json={"observation": {"x": 1}}).json()
    api.post("/v1/agents/metered/rewards", json={"decision_id": did["decision_id"], "reward": 1})
    api.post("/v1/agents/nobody/decide", json={"observation": {"x": 1}})
    assert scrape('krystal_decisions_total{agent="metered"}') == 1.0
    assert scrape('krystal_rewards_total{agent="metered",source="client"}') == 1.0
    assert scrape('krystal_agent_cycles{agent="metered"}') == 1.0
    assert (scrape(errors), scrape(latency)) == (before[0] + 1, before[1] + 1)
    phases = [
        scrape(f'krystal_agent_phase{{agent="metered",phase="{p}"}}')
        for p in ("SOLID", "LIQUID", "GAS", "PLASMA")
    ]
    assert sorted(phases) == [0.0, 0.0, 0.0, 1.0]
    spec = api.get("/openapi.json").json()
    for path in ("/v1/agents/{name}/decide", "/v1/agents/{name}/rewards", "/api/decide", "/health"):
        assert path in spec["paths"]


def test_access_control_by_role(db_url: str, serve: Callable[..., LiveServer]) -> None:
    from krystal.storage import Storage

    db = Storage(db_url)
    _, root = db.create_key("root", "superadmin")
    db.close()
    server = serve(db_url, auth=True)

    def client(token: str | None) -> httpx.Client:
        headers = {} if token is None else {"Authorization": f"Bearer {token}"}
        return httpx.Client(base_url=server.url, headers=headers, timeout=30)

    anonymous, admin = client(None), client(root)
    assert anonymous.get("/v1/agents").status_code == 401
    assert anonymous.get("/health").status_code == 200  # probes need no key
    assert client("krs_not-a-key").get("/v1/agents").status_code == 401
    tokens = {}
    for role in ("viewer", "operator", "admin"):
        made = admin.post("/v1/keys", json={"name": role, "role": role})
        assert made.status_code == 201
        tokens[role] = made.json()["token"]
    viewer, operator = client(tokens["viewer"]), client(tokens["operator"])
    assert viewer.get("/v1/agents").status_code == 200
    assert viewer.get("/metrics").status_code == 200
    denied = viewer.post("/v1/agents/default/decide", json={"observation": {"x": 1}})
    assert denied.status_code == 403 and "operator" in denied.json()["detail"]
    decided = operator.post("/v1/agents/default/decide", json={"observation": {"x": 1}})
    assert decided.status_code == 200
    assert operator.post("/v1/agents", json={"name": "mine"}).status_code == 403
    assert operator.get("/v1/keys").status_code == 403
    sub = client(tokens["admin"])
    assert sub.post("/v1/keys", json={"name": "r", "role": "superadmin"}).status_code == 422
    assert sub.get("/v1/whoami").json()["role"] == "admin"
    # X-API-Key works as well as a bearer token.
    by_header = httpx.get(server.url + "/v1/whoami", headers={"X-API-Key": tokens["viewer"]})
    assert by_header.json()["role"] == "viewer"
    listed = {k["name"]: k["id"] for k in admin.get("/v1/keys").json()["keys"]}
    assert admin.delete(f"/v1/keys/{listed['operator']}").status_code == 200
    after = operator.post("/v1/agents/default/decide", json={"observation": {"x": 1}})
    assert after.status_code == 401
    assert "token" not in str(admin.get("/v1/keys").json())
