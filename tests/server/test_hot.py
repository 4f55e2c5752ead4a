"""The hot path answers decide/reward/step exactly as the validated FastAPI routes would.

Each request is sent twice to the same in-process app: once with the hot path in front
and once with it switched off (the routes answer), and the answers must agree; requests
that change nothing are compared whole, decisions by their fields and types.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from krystal.server import ServerSettings, create_app
from krystal.server import _schemas as s


class _Client:
    """A test client for one app, able to switch the hot path off, counting what it passes on."""

    def __init__(self, client: TestClient) -> None:
        self.http = client
        self.app: Any = client.app
        self.hot = self.app.hot_path
        self.passed_on: list[str] = []
        route = self.hot.app

        async def spy(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                self.passed_on.append(scope["path"])
            await route(scope, receive, send)

        self.hot.app = spy

    def post(self, path: str, body: Any, hot: bool = True, **options: Any) -> Any:
        self.app.hot_path = self.hot if hot else None
        try:
            if isinstance(body, (bytes, str)):
                headers = {"content-type": "application/json", **options.pop("headers", {})}
                return self.http.post(path, content=body, headers=headers, **options)
            return self.http.post(path, json=body, **options)
        finally:
            self.app.hot_path = self.hot


@pytest.fixture
def client(tmp_path: Path) -> Iterator[_Client]:
    app = create_app(ServerSettings(db=f"sqlite:///{tmp_path / 'k.db'}"))
    with TestClient(app) as http:
        http.post("/v1/agents", json={"name": "scaler", "preset": "server", "config": {"seed": 3}})
        yield _Client(http)


def _same_shape(fast: dict[str, Any], slow: dict[str, Any]) -> None:
    """Same fields with values of the same JSON types (ids and times differ)."""
    assert fast.keys() == slow.keys()
    for key in fast:
        a, b = fast[key], slow[key]
        if isinstance(a, dict) and isinstance(b, dict):
            _same_shape(a, b)
        else:
            assert type(a) is type(b) or {type(a), type(b)} <= {int, float}, (key, a, b)


def test_plain_requests_take_the_hot_path_and_answer_like_the_routes(client: _Client) -> None:
    observation = {"observation": {"load": 0.4, "latency": 120}}
    fast = client.post("/v1/agents/scaler/decide", observation)
    slow = client.post("/v1/agents/scaler/decide", observation, hot=False)
    assert fast.status_code == slow.status_code == 200
    assert fast.headers["content-type"] == slow.headers["content-type"] == "application/json"
    _same_shape(fast.json(), slow.json())
    s.Decision.model_validate_json(fast.content, strict=True)
    # the slow one superseded the fast one: it is the one the learner credits
    rewarded = client.post(
        "/v1/agents/scaler/rewards", {"decision_id": slow.json()["decision_id"], "reward": 1}
    )
    assert rewarded.status_code == 200 and rewarded.json()["learned"] is True
    again = client.post(
        "/v1/agents/scaler/rewards", {"decision_id": slow.json()["decision_id"], "reward": 1.0}
    )
    repeat_slow = client.post(
        "/v1/agents/scaler/rewards",
        {"decision_id": slow.json()["decision_id"], "reward": 1.0},
        hot=False,
    )
    assert again.json() == repeat_slow.json() and again.json()["duplicate"] is True
    assert again.json()["td_error"] == rewarded.json()["td_error"]

    first = client.post("/v1/agents/scaler/step", {"observation": {"load": 0.2}}).json()
    step = {"decision_id": first["decision"]["decision_id"], "reward": 0.5}
    fast = client.post("/v1/agents/scaler/step", {**step, "observation": {"load": 0.3}})
    s.StepResult.model_validate_json(fast.content, strict=True)
    slow = client.post(
        "/v1/agents/scaler/step",
        {
            "decision_id": fast.json()["decision"]["decision_id"],
            "reward": 0.25,
            "observation": {"load": 0.1},
        },
        hot=False,
    )
    _same_shape(fast.json(), slow.json())
    assert fast.json()["reward"]["learned"] is True
    assert client.passed_on == []  # the hot path answered every plain request itself
    info = client.http.get("/v1/agents/scaler").json()
    assert (info["decisions"], info["rewards"], info["cycle"]) == (5, 3, 3)


# Bodies that change nothing (refused, or about a missing agent or decision): both ways
# must give the same status and the same body, field by field.
REFUSED = [
    ("decide", {"observation": {"load": "fast"}}),
    ("decide", b'{"observation": {"load": Infinity}}'),
    ("decide", {"observation": [1, 2]}),
    ("decide", {"observation": {"load": 1}, "extra": 1}),
    ("decide", {"observation": {"load": 1}, "decision_id": 12345678}),
    ("decide", {"observation": {"load": 1}, "decision_id": "bad id!"}),
    ("decide", [1, 2, 3]),
    ("decide", b"{not json"),
    ("decide", b""),
    ("decide", b'{"observation": {"load": NaN}}'),
    ("decide", b'{"observation": {"load": 1e400}}'),
    ("rewards", {"decision_id": "x" * 10}),
    ("rewards", {"reward": 1.0}),
    ("rewards", {"decision_id": "x" * 10, "reward": None}),
    ("rewards", {"decision_id": "x" * 10, "reward": 1.0}),
    ("rewards", {"decision_id": "", "reward": 1.0}),
    ("rewards", {"decision_id": "x" * 10, "reward": "lots"}),
    ("step", {"decision_id": "x" * 10, "reward": 0.5}),
    ("step", {"observation": {"load": 1}, "reward": 0.5}),
    ("step", {"observation": {"load": 1}, "decision_id": "x" * 10, "reward": 0.5}),
    ("step", {"observation": {"load": 1}, "next_decision_id": "no!"}),
]


@pytest.mark.parametrize(("kind", "body"), REFUSED)
def test_refused_requests_get_the_routes_own_answer(client: _Client, kind: str, body: Any) -> None:
    for agent in ("scaler", "nobody"):
        path = f"/v1/agents/{agent}/{kind}"
        fast, slow = client.post(path, body), client.post(path, body, hot=False)
        assert (fast.status_code, fast.json()) == (slow.status_code, slow.json()), path
        assert fast.status_code in (404, 409, 422), (path, fast.status_code, fast.text)
    info = client.http.get("/v1/agents/scaler").json()
    assert (info["decisions"], info["rewards"]) == (0, 0)


def test_service_errors_are_answered_and_counted_like_the_routes(client: _Client) -> None:
    client.post("/v1/agents", b'{"name": "blank"}')  # never observed: decide is 409
    for hot in (True, False):
        answer = client.post("/v1/agents/blank/decide", {}, hot=hot)
        assert answer.status_code == 409 and "observe" in answer.json()["detail"]
    decision = client.post("/v1/agents/scaler/decide", {"observation": {"load": 0.5}}).json()
    body = {"decision_id": decision["decision_id"], "reward": 0.5}
    assert client.post("/v1/agents/scaler/rewards", body).status_code == 200
    conflict = client.post("/v1/agents/scaler/rewards", {**body, "reward": 0.7})
    assert conflict.status_code == 409 and "already rewarded with 0.5" in conflict.json()["detail"]
    assert "/v1/agents/scaler/rewards" not in client.passed_on
    metrics = client.http.get("/metrics").text
    assert 'krystal_errors_total{status="409"} 3.0' in metrics


def test_unusual_but_valid_bodies_go_to_the_route_and_are_accepted(client: _Client) -> None:
    decision = client.post(
        "/v1/agents/scaler/decide", b'{"observation": {"load": "0.5", "latency": true}}'
    )
    assert decision.status_code == 200, decision.text
    assert client.passed_on == ["/v1/agents/scaler/decide"]
    did = decision.json()["decision_id"]
    body = f'{{"decision_id": "{did}", "reward": "0.75"}}'
    rewarded = client.post(
        "/v1/agents/scaler/rewards", body, headers={"content-type": "application/json"}
    )
    assert rewarded.status_code == 200 and rewarded.json()["reward"] == 0.75
    # another content type is the route's to judge, and it refuses it
    other = client.http.post(
        "/v1/agents/scaler/decide",
        content=b'{"observation": {}}',
        headers={"content-type": "text/plain"},
    )
    assert other.status_code == 422
    assert client.passed_on[-1] == "/v1/agents/scaler/decide"


def test_with_auth_only_a_cached_operator_key_takes_the_hot_path(tmp_path: Path) -> None:
    app = create_app(ServerSettings(db=f"sqlite:///{tmp_path / 'k.db'}", auth=True))
    with TestClient(app) as http:
        service = app.state.service
        _, admin = service.create_key("admin", "admin", "superadmin")
        _, viewer = service.create_key("viewer", "viewer", "superadmin")
        _, operator = service.create_key("op", "operator", "superadmin")
        client = _Client(http)
        path, body = "/v1/agents/default/decide", {"observation": {"load": 0.5}}
        for headers in ({}, {"Authorization": "Bearer krs_wrong"}, {"X-API-Key": viewer}):
            fast = client.post(path, body, headers=headers)
            slow = client.post(path, body, hot=False, headers=headers)
            assert fast.status_code == slow.status_code and fast.json() == slow.json()
            assert fast.status_code in (401, 403)
        assert len(client.passed_on) == 3
        for headers in ({"Authorization": f"Bearer {operator}"}, {"X-API-Key": admin}):
            assert client.post(path, body, headers=headers).status_code == 200
        assert len(client.passed_on) == 3
        # a key revoked through the service stops working at once on the hot path too
        key_id = next(k.id for k in service.storage.list_keys() if k.name == "op")
        service.revoke_key(key_id, "superadmin")
        answer = client.post(path, body, headers={"Authorization": f"Bearer {operator}"})
        assert answer.status_code == 401
