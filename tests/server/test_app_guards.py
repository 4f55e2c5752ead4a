"""Around the routes: the request body limit, and Retry-After on a 503 (live: test_api.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.exceptions import HTTPException

from krystal import ConfigError
from krystal.server import ServerSettings
from krystal.server._limits import BodyLimit


def _run(app: Any, limit: int, scope: dict[str, Any], chunks: list[bytes]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    queue = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]

    async def receive() -> dict[str, Any]:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(BodyLimit(app, limit)(scope, receive, send))
    return sent


async def _reads_all(scope: Any, receive: Any, send: Any) -> None:
    total = 0
    while True:
        message = await receive()
        total += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(total).encode()})


def test_a_declared_length_over_the_limit_is_answered_without_calling_the_app() -> None:
    called = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        called.append(scope)

    scope = {"type": "http", "headers": [(b"content-length", b"5000")]}
    sent = _run(app, 1024, scope, [b"x" * 5000])
    assert not called and sent[0]["status"] == 413
    assert (b"connection", b"close") in sent[0]["headers"]
    assert sent[1]["body"] == b'{"detail":"request body: expected at most 1024 bytes, got 5000"}'


def test_a_body_without_a_length_is_counted_as_it_is_read() -> None:
    scope: dict[str, Any] = {"type": "http", "headers": []}
    within = _run(_reads_all, 1024, scope, [b"x" * 600, b"x" * 400])
    assert within[0]["status"] == 200 and within[1]["body"] == b"1000"
    over = _run(_reads_all, 1024, scope, [b"x" * 600, b"x" * 600])
    assert over[0]["status"] == 413 and len(over) == 2


def test_once_an_answer_has_started_an_overflow_is_not_answered_twice() -> None:
    async def streams_then_reads(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await receive()
        await receive()

    scope: dict[str, Any] = {"type": "http", "headers": []}
    with pytest.raises(HTTPException) as raised:
        _run(streams_then_reads, 1024, scope, [b"x" * 600, b"x" * 600])
    assert raised.value.status_code == 413


def test_other_connections_pass_through_and_the_limit_is_checked() -> None:
    seen = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    _run(app, 1024, {"type": "websocket", "headers": []}, [])
    _run(app, 1024, {"type": "lifespan"}, [])
    assert seen == ["websocket", "lifespan"]
    with pytest.raises(ConfigError, match="max_body: expected a number of bytes >= 1024"):
        ServerSettings(max_body=10)
    with pytest.raises(ConfigError, match="max_body"):
        ServerSettings(max_body=True)  # type: ignore[arg-type]


def test_a_503_from_a_route_asks_the_client_to_retry_after_a_second(tmp_path: Any) -> None:
    from fastapi.testclient import TestClient

    from krystal.server import UnavailableError, create_app

    app = create_app(ServerSettings(db=f"sqlite:///{tmp_path / 'k.db'}"))

    @app.get("/unavailable")
    async def unavailable() -> None:
        raise UnavailableError("database: busy; retry")

    with TestClient(app) as http:
        answer = http.get("/unavailable")
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
        assert "retry-after" not in http.get("/v1/agents/nobody").headers  # a 404: no
